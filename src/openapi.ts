/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the handlers
 * validate with (src/schemas/). Each operation is registered here beside its
 * route; a test fails when a served route is missing from the document or a
 * documented one is not served, so the two cannot drift apart.
 *
 * The upstream's operations keep the spec's schema names
 * (`AsyncApiChatCompletionsRequest`, `AsyncApiChatCompletionsResponse`, …): the
 * relay's additions are `allOf` extensions of them, so clients generated from
 * either document stay compatible.
 */

import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import {
	AgentErrorBody,
	RelayResponse,
	ResponseCancelResponse,
	ResponseCreateParams,
	ResponseList,
	ResponseWebhookEvent,
} from "./schemas/agent.ts";
import { HookTestReport, OpsStats, RecoverBody, RecoverReport, StatsQuery } from "./schemas/ops.ts";
import { HTTPValidationError } from "./schemas/perplexity.ts";
import {
	AskBody,
	CreateHookBody,
	CreateJobBody,
	DeliveryReport,
	ErrorDetail,
	Hook,
	HookEvent,
	HookList,
	ListQuery,
	RelayJob,
	RelayJobList,
	TenantUsageReport,
	WebhookEvent,
	WebhookSecret,
} from "./schemas/relay.ts";
import { VERSION } from "./version.ts";

const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
	description,
	content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});

const errors = {
	401: json(ErrorDetail, "Missing or wrong API key", { detail: "Invalid or missing API key" }),
	422: json(HTTPValidationError, "Validation error", {
		detail: [
			{ loc: ["body", "request", "max_tokens"], msg: "Too small: expected number to be >0", type: "greater_than" },
		],
	}),
} as const;

/** A submission over a tenant limit (`TENANT_LIMITS`), or behind a create queue past the job timeout. */
const overLimit = {
	...json(ErrorDetail, "A tenant limit, or an upstream create queue past JOB_TIMEOUT_SECONDS; Retry-After says when", {
		detail: "tenant limit max_in_flight (20) reached: 20 jobs are accepted and not yet settled",
	}),
	headers: {
		"Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer" as const } },
	},
};

/** A submission with a callback while the relay cannot sign events. */
const unsigned = json(
	ErrorDetail,
	"The relay has no WEBHOOK_SIGNING_KEY: it pushes no events, so a callback is refused",
);

const notFound = { 404: json(ErrorDetail, "No such job for this tenant", { detail: "Job not found" }) };

/**
 * The list endpoints' query as documented: `limit`, `next_token`, and the metadata search,
 * `metadata[key]=value` (a deepObject parameter; several are ANDed). The handlers read the
 * search with `metadataFilters`.
 */
const ListQueryWithSearch = ListQuery.extend({
	metadata: z
		.record(z.string(), z.string())
		.optional()
		.openapi({
			param: { name: "metadata", in: "query", style: "deepObject", explode: true },
			description:
				"Only jobs whose metadata has these top-level entries: `metadata[ticket]=T-42` (up to 5, all must match). " +
				"A number or boolean entry matches its JSON text (`metadata[retries]=3`). Jobs indexed before the search " +
				"existed are not found.",
			example: { ticket: "T-42" },
		}),
});

const JobId = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		example: "3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
		description: "The job id the create returned.",
	}),
});

const exampleJob = {
	id: "3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
	model: "sonar",
	created_at: 1763812800,
	started_at: null,
	completed_at: null,
	failed_at: null,
	error_message: null,
	status: "CREATED",
	response: null,
	metadata: { ticket: "T-42" },
	delivery_status: "pending",
};

const exampleCreate = {
	request: { model: "sonar", messages: [{ role: "user", content: "What is a Durable Object alarm?" }] },
	callback_url: "https://example.com/hooks/perplexity",
	callback_events: ["completed", "failed"],
	metadata: { ticket: "T-42" },
};

/** The operations served on both path families, once per family. */
function completionsRoutes(base: string, tag: string): RouteConfig[] {
	const security = [{ bearerAuth: [] }];
	return [
		{
			method: "post",
			path: base,
			tags: [tag],
			summary: "Create an async chat completion (and have it pushed)",
			description:
				"The upstream's create, plus the push fields `callback_url`, `callback_events` and `metadata`. " +
				"The same tenant and `idempotency_key` return the same job; another body under that key is a 409.",
			security,
			request: {
				body: { required: true, content: { "application/json": { schema: CreateJobBody, example: exampleCreate } } },
			},
			responses: {
				200: json(RelayJob, "The job, status CREATED", exampleJob),
				400: json(ErrorDetail, "Malformed JSON", { detail: "Malformed JSON in request body" }),
				...errors,
				409: json(ErrorDetail, "idempotency_key reused with another body"),
				413: json(ErrorDetail, "Body over MAX_BODY_BYTES"),
				429: overLimit,
				502: json(ErrorDetail, "Upstream refused the relay"),
				503: unsigned,
			},
		},
		{
			method: "get",
			path: base,
			tags: [tag],
			summary: "List async chat completions, newest first",
			description: "Filter by metadata with `metadata[key]=value` (relay extension).",
			security,
			request: { query: ListQueryWithSearch },
			responses: { 200: json(RelayJobList, "One page of job summaries"), ...errors },
		},
		{
			method: "get",
			path: `${base}/{id}`,
			tags: [tag],
			summary: "Get an async chat completion",
			description: "`response` once COMPLETED, `error_message` once FAILED. Read from KV once settled.",
			security,
			request: { params: JobId },
			responses: { 200: json(RelayJob, "The job"), ...notFound, 401: errors[401] },
		},
		{
			method: "get",
			path: `${base}/{id}/deliveries`,
			tags: ["Deliveries"],
			summary: "The delivery attempt log of a job",
			security,
			request: { params: JobId },
			responses: { 200: json(DeliveryReport, "Attempts, event states and counters"), ...notFound, 401: errors[401] },
		},
		{
			method: "post",
			path: `${base}/{id}/redeliver`,
			tags: ["Deliveries"],
			summary: "Send the final event again now (same webhook-id)",
			security,
			request: { params: JobId },
			responses: {
				200: json(DeliveryReport, "The delivery report, with the new attempt"),
				...notFound,
				401: errors[401],
				409: json(ErrorDetail, "Not settled yet, or no callback to send to"),
			},
		},
		{
			method: "post",
			path: `${base}/{id}/cancel`,
			tags: [tag],
			summary: "Cancel a job (relay extension)",
			description:
				'The job ends `FAILED` with `error_message: "cancelled"`, its `failed` event is pushed, and the upstream run ' +
				"is cancelled too (best effort).",
			security,
			request: { params: JobId },
			responses: {
				200: json(RelayJob, "The cancelled job"),
				...notFound,
				401: errors[401],
				409: json(ErrorDetail, "The job has already ended", {
					detail: "the job has already ended (COMPLETED): there is nothing to cancel",
				}),
			},
		},
	];
}

const agentError = (description: string, example: { message: string; type: string; code: number; param?: string }) =>
	json(AgentErrorBody, description, { error: example });

const exampleRun = {
	preset: "medium",
	input: "What changed in the EU AI Act in 2025?",
	background: true,
	metadata: { ticket: "T-42" },
	callback_url: "https://example.com/hooks/perplexity",
	callback_events: ["completed", "failed", "cancelled", "incomplete"],
};

/** The Agent API surface: its create on both paths, and the run's routes. */
function responsesRoutes(): RouteConfig[] {
	const security = [{ bearerAuth: [] }];
	const tag = "Agent API runs";
	const notFoundRun = agentError("No such run for this key", {
		message: "No response found with id '…'",
		type: "not_found_error",
		code: 404,
	});
	const unauthorized = agentError("Missing or wrong API key", {
		message: "Invalid or missing API key",
		type: "authentication_error",
		code: 401,
	});
	const create = (path: string): RouteConfig => ({
		method: "post",
		path,
		tags: [tag],
		summary: "Start a background run (and have it pushed)",
		description:
			"The Agent API's request (`ResponsesRequestInput`), always run in background mode, plus the push fields " +
			"`callback_url` and `callback_events`, which never reach upstream. `metadata` is the Agent API's own field: " +
			"sent upstream and echoed in every event and GET. An `Idempotency-Key` header returns the same run for the " +
			"same body. Errors use the Agent API's envelope.",
		security,
		request: {
			body: { required: true, content: { "application/json": { schema: ResponseCreateParams, example: exampleRun } } },
		},
		responses: {
			200: json(RelayResponse, "The run, status queued"),
			400: agentError("A field the Agent API would refuse (named in `param`), `stream: true`, or no input", {
				message: "Unknown field: temperatur",
				type: "invalid_request_error",
				code: 400,
				param: "temperatur",
			}),
			401: unauthorized,
			409: agentError("Idempotency-Key reused with another body", {
				message: "idempotency_key was already used with a different body",
				type: "conflict_error",
				code: 409,
			}),
			429: agentError("A tenant limit, or an upstream create queue past the job timeout (with Retry-After)", {
				message: "tenant limit max_in_flight (20) reached: 20 jobs are accepted and not yet settled",
				type: "rate_limit_exceeded",
				code: 429,
			}),
		},
	});
	const RunId = JobId;
	return [
		create("/v1/responses"),
		create("/v1/agent"),
		{
			method: "get",
			path: "/v1/responses",
			tags: [tag],
			summary: "List your runs, newest first (relay extension)",
			description: "Filter by metadata with `metadata[key]=value`, as the Sonar surface's list.",
			security,
			request: { query: ListQueryWithSearch },
			responses: { 200: json(ResponseList, "One page of runs"), 401: unauthorized },
		},
		{
			method: "get",
			path: "/v1/responses/{id}",
			tags: [tag],
			summary: "Retrieve a run",
			description: "The Response object with the relay's id; the whole run (output, usage, error) once it ended.",
			security,
			request: { params: RunId },
			responses: { 200: json(RelayResponse, "The run"), 401: unauthorized, 404: notFoundRun },
		},
		{
			method: "post",
			path: "/v1/responses/{id}/cancel",
			tags: [tag],
			summary: "Cancel a run",
			description: "Cancels the run upstream and ends it `cancelled`; a `response.cancelled` event follows.",
			security,
			request: { params: RunId },
			responses: {
				200: json(ResponseCancelResponse, "Cancelling", { response_id: "3f2a…", status: "cancelling" }),
				401: unauthorized,
				404: notFoundRun,
				409: agentError("The run has already ended", {
					message: "the run has already ended (completed): there is nothing to cancel",
					type: "conflict_error",
					code: 409,
				}),
			},
		},
		{
			method: "get",
			path: "/v1/responses/{id}/deliveries",
			tags: ["Deliveries"],
			summary: "The delivery attempt log of a run",
			security,
			request: { params: RunId },
			responses: {
				200: json(DeliveryReport, "Attempts, event states and counters"),
				401: unauthorized,
				404: notFoundRun,
			},
		},
		{
			method: "post",
			path: "/v1/responses/{id}/redeliver",
			tags: ["Deliveries"],
			summary: "Send a run's final event again now (same webhook-id)",
			security,
			request: { params: RunId },
			responses: {
				200: json(DeliveryReport, "The delivery report, with the new attempt"),
				401: unauthorized,
				404: notFoundRun,
				409: agentError("Not ended yet, or no callback to send to", {
					message: "the job has not settled yet: there is no final event to send",
					type: "conflict_error",
					code: 409,
				}),
			},
		},
	];
}

/**
 * Registers every operation the app serves and `GET /openapi.json`.
 *
 * @example
 * documentApi(app); // then GET /openapi.json
 */
export function documentApi(app: OpenAPIHono<never>): void {
	const registry = app.openAPIRegistry;
	registry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		description: "An API key from API_KEYS (`tenant:key` pairs).",
	});
	registry.register("WebhookEvent", WebhookEvent);
	registry.register("ResponseWebhookEvent", ResponseWebhookEvent);
	const security = [{ bearerAuth: [] }];
	const routes: RouteConfig[] = [
		...completionsRoutes("/async/chat/completions", "Async chat completions"),
		...completionsRoutes("/v1/async/sonar", "Async chat completions (v1 paths)"),
		...responsesRoutes(),
		{
			method: "post",
			path: "/v1/ask",
			tags: ["Integrations"],
			summary: "The flat submit for forms and no-code tools",
			security,
			request: {
				body: {
					required: true,
					content: {
						"application/json": {
							schema: AskBody,
							example: { query: "What is a Durable Object alarm?", callback_url: "https://example.com/hook" },
						},
					},
				},
			},
			responses: {
				200: json(RelayJob, "The job, as the main create returns it"),
				...errors,
				429: overLimit,
				503: unsigned,
			},
		},
		{
			method: "post",
			path: "/v1/hooks",
			tags: ["REST hooks"],
			summary: "Subscribe a URL to an event (Zapier REST hooks)",
			security,
			request: {
				body: {
					required: true,
					content: {
						"application/json": {
							schema: CreateHookBody,
							example: {
								target_url: "https://hooks.zapier.com/hooks/standard/1/2/3",
								event: "async_chat_completion.completed",
							},
						},
					},
				},
			},
			responses: {
				201: json(Hook, "The subscription"),
				...errors,
				409: json(ErrorDetail, "MAX_SUBSCRIPTIONS reached"),
			},
		},
		{
			method: "get",
			path: "/v1/hooks",
			tags: ["REST hooks"],
			summary: "List subscriptions",
			security,
			responses: { 200: json(HookList, "This tenant's subscriptions"), 401: errors[401] },
		},
		{
			method: "get",
			path: "/v1/hooks/sample",
			tags: ["REST hooks"],
			summary: "One sample payload, exactly as a subscription receives it (Zapier's perform list)",
			security,
			request: { query: z.object({ event: HookEvent.optional() }) },
			responses: { 200: json(z.array(WebhookEvent), "An array of one event"), ...errors },
		},
		{
			method: "post",
			path: "/v1/hooks/{id}/test",
			tags: ["REST hooks"],
			summary: "Send one sample event to a subscription now (relay extension)",
			description:
				"The sample of the subscription's event (`GET /v1/hooks/sample`), signed and sent now through the same " +
				"URL guard as a real delivery; the answer says how the attempt went. It is not retried or logged on a " +
				"job, and a 410 from the target does not unsubscribe.",
			security,
			request: { params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }) },
			responses: {
				200: json(HookTestReport, "The attempt: delivered or not, with its status, duration and error", {
					hook_id: "hook_3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b",
					event: "async_chat_completion.completed",
					webhook_id: "msg_test_0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f",
					target_host: "hooks.zapier.com",
					delivered: true,
					status_code: 200,
					duration_ms: 182,
					error: null,
					error_message: null,
					response_body: '{"status":"success"}',
				}),
				401: errors[401],
				404: json(ErrorDetail, "No such subscription for this tenant"),
				503: unsigned,
			},
		},
		{
			method: "get",
			path: "/v1/stats",
			tags: ["Operations"],
			summary: "Jobs per hour, counts over a window, and push lag percentiles (relay extension)",
			description:
				"This tenant's numbers for the dashboard's Operations tab. Each of the three queries behind them reads at " +
				"most `scan.max_rows` rows of the tenant's index, the newest first.",
			security,
			request: { query: StatsQuery },
			responses: { 200: json(OpsStats, "The numbers"), ...errors },
		},
		{
			method: "post",
			path: "/v1/deliveries/recover",
			tags: ["Deliveries"],
			summary: "Redeliver every final event dead-lettered since a time (relay extension)",
			description:
				"Like Svix's recover: each of this tenant's jobs whose final event to `callback_url` is dead-lettered " +
				"(`delivery_status: failed`), dead-lettered at or after `since`, is redelivered as `POST …/{id}/redeliver` " +
				"does (same `webhook-id`, a new attempt series). One call takes at most `RECOVER_BATCH` jobs (default 40, " +
				"under the Free plan's 50 subrequests per invocation); send `next_token` back for the next batch.",
			security,
			request: {
				body: {
					required: true,
					content: { "application/json": { schema: RecoverBody, example: { since: "2026-11-30T09:00:00Z" } } },
				},
			},
			responses: {
				200: json(RecoverReport, "What this batch did, and what remains"),
				400: json(ErrorDetail, "Malformed JSON", { detail: "Malformed JSON in request body" }),
				...errors,
			},
		},
		{
			method: "delete",
			path: "/v1/hooks/{id}",
			tags: ["REST hooks"],
			summary: "Unsubscribe",
			security,
			request: { params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }) },
			responses: {
				204: { description: "Removed" },
				401: errors[401],
				404: json(ErrorDetail, "No such subscription for this tenant"),
			},
		},
		{
			method: "get",
			path: "/v1/results/{id}",
			tags: ["Deliveries"],
			summary: "A job's result through a signed link (an event's result_url)",
			description:
				"The link an event carries as `result_url` when its result was too large to push (over MAX_PUSH_BYTES), " +
				"and a Slack answer links to. The link is the credential: no API key. It names one job and expires " +
				"with its result. The answer is the job as GET returns it on its surface.",
			request: {
				params: JobId,
				query: z.object({
					expires: z
						.string()
						.openapi({ description: "Unix seconds; the link is refused after it.", example: "1764417600" }),
					signature: z.string().openapi({ description: "base64url HMAC-SHA256 of `<id>.<expires>`." }),
				}),
			},
			responses: {
				200: json(z.union([RelayJob, RelayResponse]), "The job (Sonar surface) or the Response object (Agent surface)"),
				403: json(ErrorDetail, "A link that is not valid, or has expired", { detail: "This result link has expired" }),
				...notFound,
			},
		},
		{
			method: "get",
			path: "/v1/webhook-secret",
			tags: ["Deliveries"],
			summary: "This tenant's Standard Webhooks signing secret",
			security,
			responses: { 200: json(WebhookSecret, "The secret (and the next one during a rotation)"), 401: errors[401] },
		},
		{
			method: "get",
			path: "/v1/usage",
			tags: ["Deliveries"],
			summary: "This tenant's limits (TENANT_LIMITS) and what it has used against them",
			security,
			responses: { 200: json(TenantUsageReport, "Limits (null: none) and usage"), 401: errors[401] },
		},
		{
			method: "post",
			path: "/integrations/slack/commands",
			tags: ["Integrations"],
			summary: "Slack slash command",
			description: "Signed by Slack (`X-Slack-Signature`, `X-Slack-Request-Timestamp`), not by an API key.",
			request: {
				body: {
					required: true,
					content: {
						"application/x-www-form-urlencoded": {
							schema: z.object({
								text: z.string(),
								team_id: z.string(),
								response_url: z.string(),
								command: z.string().optional(),
								trigger_id: z.string().optional(),
							}),
						},
					},
				},
			},
			responses: {
				200: { description: "An ephemeral acknowledgement (Block Kit)" },
				401: json(ErrorDetail, "Bad or missing Slack signature"),
			},
		},
		{
			method: "get",
			path: "/healthz",
			tags: ["Operations"],
			summary: "Liveness",
			responses: {
				200: json(
					z.object({
						ok: z.boolean(),
						version: z.string(),
						upstream_api: z
							.enum(["agent", "sonar"])
							.openapi({ description: "The upstream API jobs run on (`UPSTREAM_API`)." }),
					}),
					"Alive",
					{ ok: true, version: VERSION, upstream_api: "agent" },
				),
			},
		},
		{
			method: "get",
			path: "/openapi.json",
			tags: ["Operations"],
			summary: "This document",
			responses: { 200: { description: "OpenAPI 3.1" } },
		},
		{
			method: "get",
			path: "/docs",
			tags: ["Operations"],
			summary: "Interactive API documentation",
			responses: { 200: { description: "HTML" } },
		},
	];
	for (const route of routes) registry.registerPath(route);
	app.doc31("/openapi.json", {
		openapi: "3.1.0",
		info: {
			title: "sonar-relay",
			version: VERSION,
			description:
				"Push, not poll: Perplexity's async chat completions API, with results pushed to your callback URL as " +
				"Standard Webhooks. The Perplexity-compatible operations keep the upstream's schemas.",
		},
	});
}
