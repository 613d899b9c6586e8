/**
 * The Perplexity-compatible endpoints: create, get and list async chat
 * completions. Mounted on both path families (`/async/chat/completions` and
 * `/v1/async/sonar`), so the official SDK pointed at the relay works unchanged.
 * Each route is declared (`createRoute`) beside its handler: the declaration
 * validates the request and documents it in `/openapi.json`.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { getResultText } from "../cache.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { jsonBody, storedJson } from "../http.ts";
import type { JobView } from "../job/job.ts";
import { requireTenant } from "../middleware.ts";
import { CreateJobBody, DeliveryReport, ErrorDetail, RelayJob, RelayJobList } from "../schemas/relay.ts";
import {
	errors,
	JobId,
	json,
	jsonRequest,
	ListQueryWithSearch,
	malformed,
	notFound,
	overLimit,
	security,
	unsigned,
} from "../schemas/route.ts";
import { validationError } from "../schemas/validation.ts";
import { jobStub, tenantStub } from "../stubs.ts";
import { submitJob } from "../submit.ts";
import { decodeCursor } from "../tenant/cursor.ts";
import { metadataFilters } from "../tenant/metadata.ts";

/** A Sonar-surface call gets the Sonar view (a job); the Agent surface's is a Response object. */
function isSonarView(view: JobView): view is RelayJob {
	return view.object !== "response";
}

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

/**
 * The router of one path family, its operations tagged `tag` in the document.
 *
 * @example
 * app.route("/v1/async/sonar", completions("Async chat completions (v1 paths)"));
 */
export function completions(tag: string) {
	const router = new OpenAPIHono<AppEnv>();
	router.use(requireTenant);
	return (
		router

			.openapi(
				createRoute({
					method: "post",
					path: "/",
					tags: [tag],
					summary: "Create an async chat completion (and have it pushed)",
					description:
						"The upstream's create, plus the push fields `callback_url`, `callback_events` and `metadata`. " +
						"The same tenant and `idempotency_key` return the same job; another body under that key is a 409.",
					security,
					middleware: [jsonBody] as const,
					request: jsonRequest(CreateJobBody, exampleCreate),
					responses: {
						200: json(RelayJob, "The job, status CREATED", exampleJob),
						400: malformed,
						...errors,
						409: json(ErrorDetail, "idempotency_key reused with another body"),
						413: json(ErrorDetail, "Body over MAX_BODY_BYTES"),
						429: overLimit,
						502: json(ErrorDetail, "Upstream refused the relay"),
						503: unsigned,
					},
				}),
				async (c) => {
					const body = c.req.valid("json");
					return c.json(await submitJob(c.env, c.get("tenant"), body, { origin: new URL(c.req.url).origin }), 200);
				},
			)

			// `metadata[key]=value` (any number up to 5, ANDed) lists only the jobs whose metadata has those entries.
			.openapi(
				createRoute({
					method: "get",
					path: "/",
					tags: [tag],
					summary: "List async chat completions, newest first",
					description: "Filter by metadata with `metadata[key]=value` (relay extension).",
					security,
					request: { query: ListQueryWithSearch },
					responses: { 200: json(RelayJobList, "One page of job summaries"), ...errors },
				}),
				async (c) => {
					const query = c.req.valid("query");
					const before = query.next_token ? decodeCursor(query.next_token) : null;
					if (query.next_token && before === null) {
						throw new RequestValidationError(validationError(["query", "next_token"], "next_token is not valid"));
					}
					const search = metadataFilters(c.req.query());
					if (!search.ok) throw new RequestValidationError({ detail: search.issues });
					return c.json(await tenantStub(c.env, c.get("tenant")).listJobs(query.limit, before, search.filters), 200);
				},
			)

			.openapi(
				createRoute({
					method: "get",
					path: "/{id}",
					tags: [tag],
					summary: "Get an async chat completion",
					description: "`response` once COMPLETED, `error_message` once FAILED. Read from KV once settled.",
					security,
					request: { params: JobId },
					responses: { 200: json(RelayJob, "The job"), ...notFound, 401: errors[401] },
				}),
				async (c) => {
					const { id } = c.req.valid("param");
					const tenant = c.get("tenant");
					const stub = jobStub(c.env, id);
					// Served as stored: a long answer is not parsed and written out again.
					const cached = await getResultText(c.env.RESULTS, id, tenant, "sonar");
					if (cached !== null) return storedJson(c, RelayJob, cached);
					const job = await stub.view(tenant, id);
					if (!job) throw new ApiError(404, "Job not found");
					return c.json(job, 200);
				},
			)

			.openapi(
				createRoute({
					method: "get",
					path: "/{id}/deliveries",
					tags: ["Deliveries"],
					summary: "The delivery attempt log of a job",
					security,
					request: { params: JobId },
					responses: {
						200: json(DeliveryReport, "Attempts, event states and counters"),
						...notFound,
						401: errors[401],
					},
				}),
				async (c) => {
					const { id } = c.req.valid("param");
					const report = await jobStub(c.env, id).deliveries(c.get("tenant"), "sonar", id);
					if (!report) throw new ApiError(404, "Job not found");
					return c.json(report, 200);
				},
			)

			.openapi(
				createRoute({
					method: "post",
					path: "/{id}/redeliver",
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
				}),
				async (c) => {
					const { id } = c.req.valid("param");
					const result = await jobStub(c.env, id).redeliver(c.get("tenant"), "sonar", id);
					if (!result.ok) throw new ApiError(result.status, result.detail);
					return c.json(result.report, 200);
				},
			)

			// A relay extension: the job ends FAILED with error_message "cancelled", its failed event follows,
			// and the upstream run is cancelled too.
			.openapi(
				createRoute({
					method: "post",
					path: "/{id}/cancel",
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
				}),
				async (c) => {
					const { id } = c.req.valid("param");
					const result = await jobStub(c.env, id).cancel(c.get("tenant"), "sonar", id);
					if (!result.ok) throw new ApiError(result.status, result.detail);
					if (!isSonarView(result.job)) throw new Error("the Job DO answered a Sonar cancel with a Response object");
					return c.json(result.job, 200);
				},
			)
	);
}
