/**
 * The Agent API surface: push for Agent API runs. The official SDK's
 * `responses` resource, pointed at the relay, works unchanged; a caller adds
 * `callback_url` (and `callback_events`) and gets `response.*` events.
 *
 * - `POST /v1/agent`, `POST /v1/responses`: start a background run;
 * - `GET /v1/responses/{id}`: the Response object, the whole run once it ended;
 * - `POST /v1/responses/{id}/cancel`: cancel it (upstream too);
 * - relay extensions: `GET /v1/responses` (the caller's runs, newest first),
 *   `GET …/{id}/deliveries`, `POST …/{id}/redeliver`.
 *
 * Errors here are in the Agent API's own envelope, `{"error": {message, type,
 * code, param?}}`, so clients written for it read them; a request the Agent API
 * would refuse (an unknown field, `stream: true`, no input) is a 400 naming the
 * field, before anything is stored.
 */
import type { z } from "@hono/zod-openapi";
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { getResultText } from "../cache.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { readJson } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { ResponseCreateParams } from "../schemas/agent.ts";
import { ListQuery } from "../schemas/relay.ts";
import { jobStub, tenantStub } from "../stubs.ts";
import { submitRun } from "../submit.ts";
import { decodeCursor } from "../tenant/cursor.ts";
import { metadataFilters } from "../tenant/metadata.ts";

/** The Agent API's error types, by status. */
function errorType(status: number): string {
	if (status === 400 || status === 422) return "invalid_request_error";
	if (status === 401) return "authentication_error";
	if (status === 404) return "not_found_error";
	if (status === 409) return "conflict_error";
	if (status === 413) return "request_too_large";
	if (status === 429) return "rate_limit_exceeded";
	return "api_error";
}

/** An error in the Agent API's envelope. */
export function agentError(c: Context, status: number, message: string, param?: string, headers = {}) {
	return c.json(
		{ error: { message, type: errorType(status), code: status, ...(param ? { param } : {}) } },
		status as ContentfulStatusCode,
		headers,
	);
}

/**
 * A zod path as the Agent API names a parameter: `tools[0].filters.search_domain_filter`.
 *
 * @example
 * paramOf(["tools", 0, "filters", "x"]) // "tools[0].filters.x"
 */
export function paramOf(path: readonly PropertyKey[]): string {
	return path.reduce<string>((out, key) => {
		if (typeof key === "number") return `${out}[${key}]`;
		return out ? `${out}.${String(key)}` : String(key);
	}, "");
}

/** The request, or a 400 in the envelope that names the first bad parameter (and counts the rest). */
function parseCreate(c: Context, raw: unknown): ResponseCreateParams | Response {
	const parsed = ResponseCreateParams.safeParse(raw);
	if (parsed.success) return parsed.data;
	const issues = parsed.error.issues;
	const first = issues[0] as z.core.$ZodIssue;
	// An unknown field is named itself, as the Agent API names it, not by the object it sits in.
	const path = first.code === "unrecognized_keys" ? [...first.path, first.keys[0] ?? ""] : first.path;
	const param = paramOf(path);
	const what = first.code === "unrecognized_keys" ? `Unknown field: ${param}` : `${param || "body"}: ${first.message}`;
	const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
	return agentError(c, 400, `${what}${more}`, param || undefined);
}

function listQuery(c: Context) {
	const parsed = ListQuery.safeParse(c.req.query());
	if (!parsed.success) return null;
	const before = parsed.data.next_token ? decodeCursor(parsed.data.next_token) : null;
	if (parsed.data.next_token && before === null) return null;
	return { limit: parsed.data.limit, before };
}

/** The routes of one run, by id: a malformed or foreign id is a 404, never a 500. */
const runRoutes = new Hono<AppEnv>()
	.get("/:id", async (c) => {
		const id = c.req.param("id");
		const tenant = c.get("tenant");
		const stub = jobStub(c.env, id);
		const cached = await getResultText(c.env.RESULTS, id, tenant, "agent");
		if (cached !== null) return c.body(cached, 200, { "content-type": "application/json" });
		const response = await stub.response(tenant, id);
		if (!response) return agentError(c, 404, `No response found with id '${id}'`);
		return c.json(response, 200);
	})

	.post("/:id/cancel", async (c) => {
		const id = c.req.param("id");
		const result = await jobStub(c.env, id).cancel(c.get("tenant"), "agent", id);
		if (!result.ok) {
			return result.status === 404
				? agentError(c, 404, `No response found with id '${id}'`)
				: agentError(c, 409, result.detail);
		}
		return c.json({ response_id: id, status: "cancelling" as const }, 200);
	})

	.get("/:id/deliveries", async (c) => {
		const id = c.req.param("id");
		const report = await jobStub(c.env, id).deliveries(c.get("tenant"), "agent", id);
		if (!report) return agentError(c, 404, `No response found with id '${id}'`);
		return c.json(report, 200);
	})

	.post("/:id/redeliver", async (c) => {
		const id = c.req.param("id");
		const result = await jobStub(c.env, id).redeliver(c.get("tenant"), "agent", id);
		if (!result.ok) {
			return result.status === 404
				? agentError(c, 404, `No response found with id '${id}'`)
				: agentError(c, 409, result.detail);
		}
		return c.json(result.report, 200);
	});

/** `POST /` (both `/v1/agent` and `/v1/responses`): a background run, pushed when it ends. */
async function create(c: Context<AppEnv>) {
	const raw = await readJson(c, c.get("settings").maxBodyBytes);
	const body = parseCreate(c, raw);
	if (body instanceof Response) return body;
	const tenant = c.get("tenant");
	if (body.previous_response_id) {
		// The caller names the relay's id; upstream knows the run by its own.
		const previous = body.previous_response_id;
		let upstreamId: string | null = null;
		try {
			upstreamId = await jobStub(c.env, previous).upstreamRunId(tenant, previous);
		} catch (error) {
			if (!(error instanceof ApiError)) throw error;
		}
		if (!upstreamId) {
			return agentError(
				c,
				400,
				`previous_response_id '${previous}' is not a run of yours that has started`,
				"previous_response_id",
			);
		}
		body.previous_response_id = upstreamId;
	}
	const response = await submitRun(
		c.env,
		tenant,
		body,
		c.req.header("idempotency-key") ?? null,
		new URL(c.req.url).origin,
	);
	return c.json(response, 200);
}

function surface() {
	return new Hono<AppEnv>().use(requireTenant).onError((error, c) => {
		if (error instanceof RequestValidationError) {
			const first = error.body.detail?.[0];
			const param = first ? paramOf(first.loc.filter((part) => part !== "body")) : undefined;
			return agentError(c, 400, first?.msg ?? error.message, param);
		}
		if (error instanceof ApiError) return agentError(c, error.status, error.message, undefined, error.headers);
		if (error instanceof HTTPException) return agentError(c, error.status, error.message);
		throw error;
	});
}

/** Mounted at `/v1/responses`. */
export const responses = surface()
	.post("/", create)
	.get("/", async (c) => {
		const query = listQuery(c);
		if (!query) return agentError(c, 400, "limit must be 1–100, and next_token one this API gave", "next_token");
		// `metadata[key]=value`, as on the Sonar surface's list.
		const search = metadataFilters(c.req.query());
		if (!search.ok) {
			const first = search.issues[0];
			return agentError(c, 400, first?.msg ?? "invalid metadata filter", String(first?.loc[1] ?? "metadata"));
		}
		const index = tenantStub(c.env, c.get("tenant"));
		return c.json(await index.listRuns(query.limit, query.before, search.filters), 200);
	})
	.route("/", runRoutes);

/** Mounted at `/v1/agent`: the Agent API's own create path. */
export const agent = surface().post("/", create);
