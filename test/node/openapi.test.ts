/**
 * The OpenAPI document: valid OpenAPI 3.1 (checked with a maintained validator),
 * every served route documented and every documented route served, and the
 * upstream's schema names kept so generated clients stay compatible.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";

interface Document {
	openapi: string;
	paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
	components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

async function documentOf(): Promise<Document> {
	const res = await app.request("/openapi.json");
	expect(res.status).toBe(200);
	return (await res.json()) as Document;
}

/** Routes that are pages or their files, not API operations (`/` redirects to the dashboard). */
const UNDOCUMENTED = (path: string) =>
	path === "/" || path === "/dashboard" || path.startsWith("/dashboard/") || path.startsWith("/docs/");

describe("OpenAPI document", () => {
	it("is valid OpenAPI 3.1", async () => {
		const doc = await documentOf();
		expect(doc.openapi).toBe("3.1.0");
		const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
		expect(result.errors ?? []).toEqual([]);
		expect(result.valid).toBe(true);
	});

	it("documents every route the app serves, and serves every documented route", async () => {
		const doc = await documentOf();
		const served = new Set(
			app.routes
				.filter((r) => r.method !== "ALL" && !UNDOCUMENTED(r.path))
				.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
		);
		const documented = new Set(
			Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`)),
		);
		expect([...served].filter((r) => !documented.has(r)).sort()).toEqual([]);
		expect([...documented].filter((r) => !served.has(r)).sort()).toEqual([]);
	});

	it("names the Agent surface's schemas as the SDK names them", async () => {
		const doc = await documentOf();
		for (const name of [
			"ResponseCreateParams",
			"Response",
			"OutputItem",
			"ResponsesUsage",
			"ErrorInfo",
			"ResponseCancelResponse",
			"ResponseWebhookEvent",
			"AgentError",
		]) {
			expect(doc.components.schemas, name).toHaveProperty(name);
		}
	});

	it("keeps the upstream's schema names for the Perplexity-compatible operations", async () => {
		const doc = await documentOf();
		for (const name of [
			"AsyncApiChatCompletionsRequest",
			"AsyncApiChatCompletionsResponse",
			"ApiChatCompletionsRequest",
			"CompletionResponse",
			"ListAsyncApiChatCompletionsResponse",
			"AsyncApiChatCompletionsResponseSummary",
			"HTTPValidationError",
			"ValidationError",
		]) {
			expect(doc.components.schemas).toHaveProperty(name);
		}
		const created = JSON.stringify(doc.paths["/async/chat/completions"]?.post);
		expect(created).toContain("#/components/schemas/");
		expect(JSON.stringify(doc.components.schemas.RelayAsyncChatCompletion)).toContain(
			"#/components/schemas/AsyncApiChatCompletionsResponse",
		);
		expect(doc.components.securitySchemes).toHaveProperty("bearerAuth");
	});

	it("shows result_url on both surfaces' events, and error_message on delivery attempts", async () => {
		const doc = await documentOf();
		const text = (name: string) => JSON.stringify(doc.components.schemas[name]);
		for (const event of ["WebhookEvent", "ResponseWebhookEvent"]) {
			expect(text(event), event).toContain('"result_url"');
			expect(text(event), event).toContain("MAX_PUSH_BYTES");
		}
		expect(text("DeliveryAttempt")).toContain('"error_message"');
		expect(doc.paths["/v1/results/{id}"]?.get?.responses).toHaveProperty("403");
	});

	it("documents the operations endpoints and the metadata search of both list endpoints", async () => {
		const doc = await documentOf();
		const op = (path: string, method: string) =>
			(doc.paths[path] as Record<string, { parameters?: { name: string; in: string; style?: string }[] }>)?.[method];
		expect(JSON.stringify(op("/v1/stats", "get"))).toContain("#/components/schemas/OpsStats");
		expect(JSON.stringify(op("/v1/deliveries/recover", "post"))).toContain("#/components/schemas/RecoverReport");
		expect(JSON.stringify(op("/v1/deliveries/recover", "post"))).toContain("#/components/schemas/RecoverDeliveries");
		expect(JSON.stringify(op("/v1/hooks/{id}/test", "post"))).toContain("#/components/schemas/HookTestReport");
		for (const path of ["/async/chat/completions", "/v1/async/sonar", "/v1/responses"]) {
			const metadata = op(path, "get")?.parameters?.find((p) => p.name === "metadata");
			expect(metadata, path).toMatchObject({ in: "query", style: "deepObject" });
		}
		// Who ran a job upstream, on GET of both surfaces.
		expect(JSON.stringify(doc.components.schemas.RelayAsyncChatCompletion)).toContain("UpstreamOrigin");
		expect(JSON.stringify(doc.components.schemas.Response)).toContain("UpstreamOrigin");
	});

	it("describes an example for each operation", async () => {
		const doc = await documentOf();
		for (const [path, ops] of Object.entries(doc.paths)) {
			for (const [method, op] of Object.entries(ops)) {
				expect(op, `${method} ${path}`).toHaveProperty("summary");
				expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
			}
		}
	});

	it("serves an interactive viewer at /docs that loads the document", async () => {
		const res = await app.request("/docs");
		expect(res.status).toBe(200);
		const html = await res.text();
		expect(html).toContain("/openapi.json");
		expect(html.toLowerCase()).toContain("swagger");
	});
});
