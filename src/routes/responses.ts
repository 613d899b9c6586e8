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
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { getResultText } from "../cache.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { jsonBody, storedJson } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { RelayResponse, ResponseCancelResponse, ResponseCreateParams, ResponseList } from "../schemas/agent.ts";
import { DeliveryReport } from "../schemas/relay.ts";
import { agentErrorResponse, JobId, json, jsonRequest, ListQueryWithSearch, security } from "../schemas/route.ts";
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
export function agentError<S extends ContentfulStatusCode>(
	c: Context,
	status: S,
	message: string,
	param?: string,
	headers = {},
) {
	const error: { message: string; type: string; code: number; param?: string } = {
		message,
		type: errorType(status),
		code: status,
	};
	if (param) error.param = param;
	return c.json({ error }, status, headers);
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

/** The 400 in the envelope for a refused create: it names the first bad parameter (and counts the rest). */
function createRefusal(c: Context, error: z.ZodError) {
	const issues = error.issues;
	const first = issues[0] as z.core.$ZodIssue;
	// An unknown field is named itself, as the Agent API names it, not by the object it sits in.
	const path = first.code === "unrecognized_keys" ? [...first.path, first.keys[0] ?? ""] : first.path;
	const param = paramOf(path);
	const what = first.code === "unrecognized_keys" ? `Unknown field: ${param}` : `${param || "body"}: ${first.message}`;
	const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
	return agentError(c, 400, `${what}${more}`, param || undefined);
}

const tag = "Agent API runs";

const exampleRun = {
	preset: "medium",
	input: "What changed in the EU AI Act in 2025?",
	background: true,
	metadata: { ticket: "T-42" },
	callback_url: "https://example.com/hooks/perplexity",
	callback_events: ["completed", "failed", "cancelled", "incomplete"],
};

const notFoundRun = agentErrorResponse("No such run for this key", {
	message: "No response found with id '…'",
	type: "not_found_error",
	code: 404,
});

const unauthorized = agentErrorResponse("Missing or wrong API key", {
	message: "Invalid or missing API key",
	type: "authentication_error",
	code: 401,
});

/** `POST /` (both `/v1/agent` and `/v1/responses`): a background run, pushed when it ends. */
const createRun = createRoute({
	method: "post",
	path: "/",
	tags: [tag],
	summary: "Start a background run (and have it pushed)",
	description:
		"The Agent API's request (`ResponsesRequestInput`), always run in background mode, plus the push fields " +
		"`callback_url` and `callback_events`, which never reach upstream. `metadata` is the Agent API's own field: " +
		"sent upstream and echoed in every event and GET. An `Idempotency-Key` header returns the same run for the " +
		"same body. Errors use the Agent API's envelope.",
	security,
	middleware: [jsonBody] as const,
	request: jsonRequest(ResponseCreateParams, exampleRun),
	responses: {
		200: json(RelayResponse, "The run, status queued"),
		400: agentErrorResponse("A field the Agent API would refuse (named in `param`), `stream: true`, or no input", {
			message: "Unknown field: temperatur",
			type: "invalid_request_error",
			code: 400,
			param: "temperatur",
		}),
		401: unauthorized,
		409: agentErrorResponse("Idempotency-Key reused with another body", {
			message: "idempotency_key was already used with a different body",
			type: "conflict_error",
			code: 409,
		}),
		429: agentErrorResponse("A tenant limit, or an upstream create queue past the job timeout (with Retry-After)", {
			message: "tenant limit max_in_flight (20) reached: 20 jobs are accepted and not yet settled",
			type: "rate_limit_exceeded",
			code: 429,
		}),
	},
});

/** A router of the Agent surface: the one auth, and every error in the Agent API's envelope. */
function surface() {
	const router = new OpenAPIHono<AppEnv>();
	router.use(requireTenant);
	router.onError((error, c) => {
		if (error instanceof RequestValidationError) {
			const first = error.body.detail?.[0];
			const param = first ? paramOf(first.loc.filter((part) => part !== "body")) : undefined;
			return agentError(c, 400, first?.msg ?? error.message, param);
		}
		if (error instanceof ApiError) return agentError(c, error.status, error.message, undefined, error.headers);
		if (error instanceof HTTPException) return agentError(c, error.status, error.message);
		throw error;
	});
	return router.openapi(
		createRun,
		async (c) => {
			const body = c.req.valid("json");
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
		},
		(result, c) => (result.success ? undefined : createRefusal(c, result.error)),
	);
}

/** Mounted at `/v1/agent`: the Agent API's own create path. */
export const agent = surface();

/** Mounted at `/v1/responses`: the create, the caller's runs, and the routes of one run, by id. */
export const responses = surface();

responses.openapi(
	createRoute({
		method: "get",
		path: "/",
		tags: [tag],
		summary: "List your runs, newest first (relay extension)",
		description: "Filter by metadata with `metadata[key]=value`, as the Sonar surface's list.",
		security,
		request: { query: ListQueryWithSearch },
		responses: {
			200: json(ResponseList, "One page of runs"),
			400: agentErrorResponse("A limit outside 1–100, a next_token this API did not give, or a bad metadata filter", {
				message: "limit must be 1–100, and next_token one this API gave",
				type: "invalid_request_error",
				code: 400,
				param: "next_token",
			}),
			401: unauthorized,
		},
	}),
	async (c) => {
		const query = c.req.valid("query");
		const before = query.next_token ? decodeCursor(query.next_token) : null;
		if (query.next_token && before === null) return listRefusal(c);
		// `metadata[key]=value`, as on the Sonar surface's list.
		const search = metadataFilters(c.req.query());
		if (!search.ok) {
			const first = search.issues[0];
			return agentError(c, 400, first?.msg ?? "invalid metadata filter", String(first?.loc[1] ?? "metadata"));
		}
		return c.json(await tenantStub(c.env, c.get("tenant")).listRuns(query.limit, before, search.filters), 200);
	},
	(result, c) => (result.success ? undefined : listRefusal(c)),
);

/** The one 400 for a list query this API would not have given. */
function listRefusal(c: Context) {
	return agentError(c, 400, "limit must be 1–100, and next_token one this API gave", "next_token");
}

// A malformed or foreign id is a 404, never a 500.
responses.openapi(
	createRoute({
		method: "get",
		path: "/{id}",
		tags: [tag],
		summary: "Retrieve a run",
		description: "The Response object with the relay's id; the whole run (output, usage, error) once it ended.",
		security,
		request: { params: JobId },
		responses: { 200: json(RelayResponse, "The run"), 401: unauthorized, 404: notFoundRun },
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const tenant = c.get("tenant");
		const stub = jobStub(c.env, id);
		const cached = await getResultText(c.env.RESULTS, id, tenant, "agent");
		if (cached !== null) return storedJson(c, RelayResponse, cached);
		const response = await stub.response(tenant, id);
		if (!response) return agentError(c, 404, `No response found with id '${id}'`);
		return c.json(response, 200);
	},
);

responses.openapi(
	createRoute({
		method: "post",
		path: "/{id}/cancel",
		tags: [tag],
		summary: "Cancel a run",
		description: "Cancels the run upstream and ends it `cancelled`; a `response.cancelled` event follows.",
		security,
		request: { params: JobId },
		responses: {
			200: json(ResponseCancelResponse, "Cancelling", { response_id: "3f2a…", status: "cancelling" }),
			401: unauthorized,
			404: notFoundRun,
			409: agentErrorResponse("The run has already ended", {
				message: "the run has already ended (completed): there is nothing to cancel",
				type: "conflict_error",
				code: 409,
			}),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const result = await jobStub(c.env, id).cancel(c.get("tenant"), "agent", id);
		if (!result.ok) {
			return result.status === 404
				? agentError(c, 404, `No response found with id '${id}'`)
				: agentError(c, 409, result.detail);
		}
		return c.json({ response_id: id, status: "cancelling" as const }, 200);
	},
);

responses.openapi(
	createRoute({
		method: "get",
		path: "/{id}/deliveries",
		tags: ["Deliveries"],
		summary: "The delivery attempt log of a run",
		security,
		request: { params: JobId },
		responses: {
			200: json(DeliveryReport, "Attempts, event states and counters"),
			401: unauthorized,
			404: notFoundRun,
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const report = await jobStub(c.env, id).deliveries(c.get("tenant"), "agent", id);
		if (!report) return agentError(c, 404, `No response found with id '${id}'`);
		return c.json(report, 200);
	},
);

responses.openapi(
	createRoute({
		method: "post",
		path: "/{id}/redeliver",
		tags: ["Deliveries"],
		summary: "Send a run's final event again now (same webhook-id)",
		security,
		request: { params: JobId },
		responses: {
			200: json(DeliveryReport, "The delivery report, with the new attempt"),
			401: unauthorized,
			404: notFoundRun,
			409: agentErrorResponse("Not ended yet, or no callback to send to", {
				message: "the job has not settled yet: there is no final event to send",
				type: "conflict_error",
				code: 409,
			}),
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const result = await jobStub(c.env, id).redeliver(c.get("tenant"), "agent", id);
		if (!result.ok) {
			return result.status === 404
				? agentError(c, 404, `No response found with id '${id}'`)
				: agentError(c, 409, result.detail);
		}
		return c.json(result.report, 200);
	},
);
