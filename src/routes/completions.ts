/**
 * The Perplexity-compatible endpoints: create, get and list async chat
 * completions. Mounted on both path families (`/async/chat/completions` and
 * `/v1/async/sonar`), so the official SDK pointed at the relay works unchanged.
 */
import { Hono } from "hono";
import { getResultText } from "../cache.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { readJson, validate } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { CreateJobBody, ListQuery } from "../schemas/relay.ts";
import { validationError } from "../schemas/validation.ts";
import { jobStub, tenantStub } from "../stubs.ts";
import { submitJob } from "../submit.ts";
import { decodeCursor } from "../tenant/cursor.ts";
import { metadataFilters } from "../tenant/metadata.ts";

export const completions = new Hono<AppEnv>()
	.use(requireTenant)

	.post("/", async (c) => {
		const body = validate(CreateJobBody, await readJson(c, c.get("settings").maxBodyBytes), "body");
		return c.json(await submitJob(c.env, c.get("tenant"), body, { origin: new URL(c.req.url).origin }), 200);
	})

	// `metadata[key]=value` (any number up to 5, ANDed) lists only the jobs whose metadata has those entries.
	.get("/", async (c) => {
		const raw = c.req.query();
		const query = validate(ListQuery, raw, "query");
		const before = query.next_token ? decodeCursor(query.next_token) : null;
		if (query.next_token && before === null) {
			throw new RequestValidationError(validationError(["query", "next_token"], "next_token is not valid"));
		}
		const search = metadataFilters(raw);
		if (!search.ok) throw new RequestValidationError({ detail: search.issues });
		const tenant = c.get("tenant");
		const index = tenantStub(c.env, tenant);
		return c.json(await index.listJobs(query.limit, before, search.filters), 200);
	})

	.get("/:id", async (c) => {
		const id = c.req.param("id");
		const tenant = c.get("tenant");
		const stub = jobStub(c.env, id);
		// Served as stored: a long answer is not parsed and written out again.
		const cached = await getResultText(c.env.RESULTS, id, tenant, "sonar");
		if (cached !== null) return c.body(cached, 200, { "content-type": "application/json" });
		const job = await stub.view(tenant, id);
		if (!job) throw new ApiError(404, "Job not found");
		return c.json(job, 200);
	})

	.get("/:id/deliveries", async (c) => {
		const report = await jobStub(c.env, c.req.param("id")).deliveries(c.get("tenant"), "sonar", c.req.param("id"));
		if (!report) throw new ApiError(404, "Job not found");
		return c.json(report, 200);
	})

	// A relay extension: the job ends FAILED with error_message "cancelled", its failed event follows,
	// and the upstream run is cancelled too.
	.post("/:id/cancel", async (c) => {
		const result = await jobStub(c.env, c.req.param("id")).cancel(c.get("tenant"), "sonar", c.req.param("id"));
		if (!result.ok) throw new ApiError(result.status, result.detail);
		return c.json(result.job, 200);
	})

	.post("/:id/redeliver", async (c) => {
		const result = await jobStub(c.env, c.req.param("id")).redeliver(c.get("tenant"), "sonar", c.req.param("id"));
		if (!result.ok) throw new ApiError(result.status, result.detail);
		return c.json(result.report, 200);
	});
