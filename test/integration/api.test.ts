/**
 * The HTTP contract: validation (422 HTTPValidationError with the right loc),
 * the other errors, authentication, tenant isolation, idempotency and the list
 * endpoint, on both path families.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";
import { HTTPValidationError, ListAsyncApiChatCompletionsResponse } from "../../src/schemas/perplexity.ts";
import { TENANT_A, TENANT_B, TENANT_LIST } from "./constants.ts";
import { createJob, driveUntil, jobStub, makeCreateBody, relay, unique, upstreamRunsFor } from "./helpers.ts";

const PATHS = ["/async/chat/completions", "/v1/async/sonar"] as const;

async function post(body: unknown, path: string = PATHS[0], key: string | null = TENANT_A.key) {
	return relay(path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) }, key);
}

async function expect422(res: Response, loc: (string | number)[]) {
	expect(res.status).toBe(422);
	const body = HTTPValidationError.parse(await res.json());
	expect(body.detail?.map((d) => d.loc)).toContainEqual(loc);
	for (const d of body.detail ?? []) expect(d.msg).toBeTruthy();
}

const withRequest = (patch: Record<string, unknown>) => {
	const body = makeCreateBody();
	return { ...body, request: { ...(body.request as object), ...patch } };
};

describe("validation", () => {
	it.each([
		["missing messages", { request: { model: "sonar" } }, ["body", "request", "messages"]],
		["missing request", { callback_url: null }, ["body", "request"]],
		[
			"a bad role",
			withRequest({ messages: [{ role: "robot", content: "hi" }] }),
			["body", "request", "messages", 0, "role"],
		],
		["max_tokens 0", withRequest({ max_tokens: 0 }), ["body", "request", "max_tokens"]],
		["max_tokens 128001", withRequest({ max_tokens: 128_001 }), ["body", "request", "max_tokens"]],
		["n 11", withRequest({ n: 11 }), ["body", "request", "n"]],
		["stream true", withRequest({ stream: true }), ["body", "request", "stream"]],
		[
			"a bad search_recency_filter",
			withRequest({ search_recency_filter: "decade" }),
			["body", "request", "search_recency_filter"],
		],
		[
			"a bad content chunk",
			withRequest({ messages: [{ role: "user", content: [{ type: "audio_url" }] }] }),
			["body", "request", "messages", 0, "content"],
		],
		["an unknown callback event", { ...makeCreateBody(), callback_events: ["done"] }, ["body", "callback_events", 0]],
		["metadata that is not an object", { ...makeCreateBody(), metadata: [1, 2] }, ["body", "metadata"]],
	] as const)("answers 422 for %s", async (_name, body, loc) => {
		await expect422(await post(body), [...loc]);
	});

	it("answers 422 for metadata over 4 KiB", async () => {
		await expect422(await post({ ...makeCreateBody(), metadata: { blob: "x".repeat(4100) } }), ["body", "metadata"]);
	});

	it("accepts metadata of exactly 4 KiB", async () => {
		const blob = "x".repeat(4096 - JSON.stringify({ blob: "" }).length);
		expect((await post({ ...makeCreateBody(), metadata: { blob } })).status).toBe(200);
	});

	it("accepts the text and image chunk variants, response_format and web_search_options", async () => {
		const res = await post(
			withRequest({
				messages: [
					{ role: "system", content: "Be brief." },
					{
						role: "user",
						content: [
							{ type: "text", text: `${unique("q")} [[emu:steps=1]]` },
							{ type: "image_url", image_url: { url: "https://example.com/a.png" } },
							{ type: "image_url", image_url: "https://example.com/b.png" },
						],
					},
				],
				response_format: { type: "json_schema", json_schema: { schema: { type: "object" } } },
				web_search_options: { search_context_size: "high", user_location: { country: "FR" } },
				search_domain_filter: ["example.com"],
				search_recency_filter: "week",
				max_tokens: 128_000,
				n: 1,
			}),
		);
		expect(res.status).toBe(200);
	});

	it("validates every chunk variant and tools against the seed schema, then refuses what the Agent API cannot run", async () => {
		// Schema-valid (the seeds define them), so the 422 names each one with the Agent API's reason, not a shape error.
		const res = await post(
			withRequest({
				messages: [
					{
						role: "user",
						content: [
							{ type: "text", text: `${unique("q")} [[emu:steps=1]]` },
							{ type: "file_url", file_url: "https://example.com/a.txt", file_name: "a.txt" },
							{ type: "pdf_url", pdf_url: { url: "https://example.com/a.pdf" } },
							{ type: "video_url", video_url: { url: "https://example.com/a.mp4", frame_interval: 10 } },
						],
					},
				],
				tools: [
					{
						type: "function",
						function: { name: "f", description: "d", parameters: { type: "object", properties: {} } },
					},
				],
				n: 10,
			}),
		);
		expect(res.status).toBe(422);
		const { detail } = (await res.json()) as { detail: { loc: (string | number)[]; msg: string }[] };
		expect(detail.map((d) => d.loc.join(".")).sort()).toEqual([
			"body.request.messages.0.content.1.type",
			"body.request.messages.0.content.2.type",
			"body.request.messages.0.content.3.type",
			"body.request.n",
			"body.request.tools",
		]);
		expect(detail.map((d) => d.loc.join("."))).toEqual([
			expect.any(String),
			expect.any(String),
			"body.request.messages.0.content.1.type",
			"body.request.messages.0.content.2.type",
			"body.request.messages.0.content.3.type",
		]);
		expect(detail.every((d) => d.msg.includes("not supported"))).toBe(true);
	});

	it("answers 422 on a non-https callback_url when private callbacks are off", async () => {
		const strictEnv = { ...env, ALLOW_PRIVATE_CALLBACKS: "false" };
		// callback_events ["started"] with a job that is final on its first poll: no event is ever sent,
		// so the accepted https URL below is never contacted (tests talk to loopback only).
		const request = (callback: string) =>
			new Request("https://relay.test/async/chat/completions", {
				method: "POST",
				headers: { authorization: `Bearer ${TENANT_A.key}`, "content-type": "application/json" },
				body: JSON.stringify({ ...makeCreateBody(), callback_url: callback, callback_events: ["started"] }),
			});
		const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
		const res = await app.fetch(request("http://hooks.example.com/in"), strictEnv, ctx);
		await expect422(res, ["body", "callback_url"]);
		const https = await app.fetch(request("https://hooks.example.com/in"), strictEnv, ctx);
		expect(https.status).toBe(200);
	});

	it.each([
		["0", "0"],
		["101", "101"],
		["not a number", "abc"],
	])("answers 422 on list limit %s", async (_name, limit) => {
		await expect422(await relay(`/async/chat/completions?limit=${limit}`), ["query", "limit"]);
	});

	it("answers 422 on a next_token that is not one of ours", async () => {
		await expect422(await relay("/v1/async/sonar?next_token=garbage"), ["query", "next_token"]);
	});
});

describe("other errors", () => {
	it("answers 400 on malformed JSON", async () => {
		const res = await post("{not json");
		expect(res.status).toBe(400);
		expect(await res.json()).toEqual({ detail: expect.stringContaining("Malformed JSON") });
	});

	it("parses JSON sent without a JSON content-type (curl -d)", async () => {
		const res = await relay("/async/chat/completions", {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded" },
			body: JSON.stringify(makeCreateBody()),
		});
		expect(res.status).toBe(200);
	});

	it("answers 413 on a body over MAX_BODY_BYTES", async () => {
		const res = await post(withRequest({ messages: [{ role: "user", content: "x".repeat(70_000) }] }));
		expect(res.status).toBe(413);
		expect(((await res.json()) as { detail: string }).detail).toContain("exceeds");
	});

	it.each([
		["without a key", null],
		["with a wrong key", "wrong-key"],
		["with a key of the right length", "acme-kez"],
	])("answers 401 %s", async (_name, key) => {
		for (const path of PATHS) {
			const res = await relay(path, {}, key);
			expect(res.status).toBe(401);
			expect(await res.json()).toEqual({ detail: expect.any(String) });
		}
		expect((await post(makeCreateBody(), PATHS[0], key)).status).toBe(401);
	});

	it("answers 404 for a malformed job id, on both path families", async () => {
		for (const id of ["nope", "0".repeat(64), "%00", "a".repeat(500)]) {
			for (const path of PATHS) {
				const res = await relay(`${path}/${id}`);
				expect(res.status).toBe(404);
				expect(await res.json()).toEqual({ detail: expect.any(String) });
			}
		}
	});

	it("refuses a misspelt or unknown top-level field with a 422 naming the field it likely meant, keeping nothing", async () => {
		for (const path of PATHS) {
			const question = unique("typo");
			const body = { ...makeCreateBody({ question }), callbackUrl: "https://example.com/hook", colour: "blue" };
			const res = await post(body, path);
			expect(res.status).toBe(422);
			expect(((await res.json()) as { detail: unknown[] }).detail).toEqual([
				{
					loc: ["body", "callbackUrl"],
					msg: "unknown field callbackUrl: did you mean callback_url?",
					type: "extra_forbidden",
				},
				{ loc: ["body", "colour"], msg: "unknown field colour", type: "extra_forbidden" },
			]);
			expect(await upstreamRunsFor(question)).toHaveLength(0);
		}
		const ask = await relay("/v1/ask", {
			method: "POST",
			body: JSON.stringify({ query: "q", callback_uri: "https://example.com/hook" }),
		});
		expect(ask.status).toBe(422);
		expect(((await ask.json()) as { detail: { msg: string }[] }).detail[0]?.msg).toBe(
			"unknown field callback_uri: did you mean callback_url?",
		);
	});

	it("refuses callback_events without a callback_url: they would choose among pushes that never happen", async () => {
		const question = unique("events");
		const res = await post({ ...makeCreateBody({ question }), callback_events: ["completed"] });
		expect(res.status).toBe(422);
		expect(((await res.json()) as { detail: unknown[] }).detail).toEqual([
			{
				loc: ["body", "callback_events"],
				msg: "callback_events needs a callback_url: they choose which events are pushed there",
				type: "value_error",
			},
		]);
		expect(await upstreamRunsFor(question)).toHaveLength(0);
		const ask = await relay("/v1/ask", {
			method: "POST",
			body: JSON.stringify({ query: "q", callback_events: ["failed"] }),
		});
		expect(ask.status).toBe(422);
	});

	it("answers 405 with Allow for a path it serves with another method, in the error shape", async () => {
		for (const [method, path, allow] of [
			["DELETE", "/async/chat/completions", "GET, HEAD, POST"],
			["PUT", "/v1/hooks", "GET, HEAD, POST"],
			["POST", "/healthz", "GET, HEAD"],
			["PATCH", "/v1/hooks/hook_0123456789abcdef0123456789abcdef", "DELETE"],
		] as const) {
			const res = await relay(path, { method });
			expect(res.status, `${method} ${path}`).toBe(405);
			expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
			expect(await res.json()).toEqual({ detail: `${method} is not allowed here; use ${allow}` });
		}
		// A method the path takes is never refused as not allowed: a path no route serves as written is a 404.
		expect((await relay("/async/chat/completions/.")).status).toBe(404);
		expect((await relay("/v1/hooks/", { method: "PUT" })).status).toBe(404);
	});

	it("answers 404 with the error shape for an unknown route", async () => {
		const res = await relay("/nowhere");
		expect(res.status).toBe(404);
		expect(await res.json()).toEqual({ detail: "Not Found" });
	});

	it("sends a person who opens the relay's URL to the dashboard", async () => {
		const res = await relay("/", { redirect: "manual" }, null);
		expect(res.status).toBe(302);
		expect(new URL(res.headers.get("location") ?? "", "https://relay.test").pathname).toBe("/dashboard");
	});

	it("answers healthz without a key", async () => {
		const res = await relay("/healthz", {}, null);
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ ok: true, upstream_api: "agent" });
	});
});

describe("tenants", () => {
	it("hides a tenant's job, result and list entries from another tenant", async () => {
		const created = await createJob({ markers: ["steps=1"] });
		await driveUntil(created.id, (job) => job.status === "COMPLETED");
		for (const path of PATHS) {
			expect((await relay(`${path}/${created.id}`, {}, TENANT_B.key)).status).toBe(404);
			expect((await relay(`${path}/${created.id}`, {}, TENANT_A.key)).status).toBe(200);
		}
		const listB = ListAsyncApiChatCompletionsResponse.parse(
			await (await relay("/async/chat/completions?limit=100", {}, TENANT_B.key)).json(),
		);
		expect(listB.requests.map((r) => r.id)).not.toContain(created.id);
		const listA = ListAsyncApiChatCompletionsResponse.parse(
			await (await relay("/async/chat/completions?limit=100", {}, TENANT_A.key)).json(),
		);
		expect(listA.requests.map((r) => r.id)).toContain(created.id);
	});

	it("gives the same idempotency key of two tenants two different jobs", async () => {
		const key = unique("idem");
		const a = await createJob({ idempotencyKey: key, question: "same" }, TENANT_A.key);
		const b = await createJob({ idempotencyKey: key, question: "same" }, TENANT_B.key);
		expect(a.id).not.toBe(b.id);
	});
});

describe("idempotency", () => {
	it("returns the same job for the same key and body, and makes one upstream job", async () => {
		const key = unique("idem");
		const question = unique("q");
		const first = await createJob({ idempotencyKey: key, question });
		const second = await createJob({ idempotencyKey: key, question });
		expect(second.id).toBe(first.id);
		expect(await upstreamRunsFor(question)).toHaveLength(1);
	});

	it("answers two submissions of one key at the same time with one job, stored before either answer", async () => {
		const key = unique("idem");
		const question = unique("q");
		const [first, second] = await Promise.all([
			post(makeCreateBody({ idempotencyKey: key, question })),
			post(makeCreateBody({ idempotencyKey: key, question })),
		]);
		expect([first.status, second.status]).toEqual([200, 200]);
		const [a, b] = [(await first.json()) as { id: string }, (await second.json()) as { id: string }];
		expect(b.id).toBe(a.id);
		expect(await upstreamRunsFor(question)).toHaveLength(1);
		const stored = await runInDurableObject(jobStub(a.id), (_job, state) => state.storage.get("state"));
		expect(stored).toMatchObject({ spec: { id: a.id } });
	});

	it("answers 409 when the key comes back with another body", async () => {
		const key = unique("idem");
		await createJob({ idempotencyKey: key, question: "one" });
		const res = await post(makeCreateBody({ idempotencyKey: key, question: "two" }));
		expect(res.status).toBe(409);
		expect(((await res.json()) as { detail: string }).detail).toContain("idempotency_key");
	});
});

describe("list", () => {
	it("pages 45 jobs as 20, 20 and 5, newest first, without duplicates, on both path families", async () => {
		const ids: string[] = [];
		for (let i = 0; i < 45; i++) {
			const path = PATHS[i % 2] as string;
			ids.push((await createJob({ markers: ["steps=1"] }, TENANT_LIST.key, path)).id);
		}
		const newestFirst = [...ids].reverse();
		for (const path of PATHS) {
			const pages: string[][] = [];
			let token: string | null | undefined;
			for (let page = 0; page < 5; page++) {
				const query = `limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ""}`;
				const res = await relay(`${path}?${query}`, {}, TENANT_LIST.key);
				expect(res.status).toBe(200);
				const body = ListAsyncApiChatCompletionsResponse.parse(await res.json());
				pages.push(body.requests.map((r) => r.id));
				token = body.next_token;
				if (!token) break;
			}
			expect(pages.map((p) => p.length)).toEqual([20, 20, 5]);
			expect(pages.flat()).toEqual(newestFirst);
			const defaults = ListAsyncApiChatCompletionsResponse.parse(await (await relay(path, {}, TENANT_LIST.key)).json());
			expect(defaults.requests.map((r) => r.id)).toEqual(newestFirst.slice(0, 20));
		}
	});
});

describe("idempotency_key bounds", () => {
	it("answers 422 for an idempotency_key over 255 characters", async () => {
		const res = await relay("/async/chat/completions", {
			method: "POST",
			body: JSON.stringify(makeCreateBody({ idempotencyKey: "k".repeat(256) })),
		});
		expect(res.status).toBe(422);
		expect(HTTPValidationError.parse(await res.json()).detail?.[0]?.loc).toEqual(["body", "idempotency_key"]);
	});
});
