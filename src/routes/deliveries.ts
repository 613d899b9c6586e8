/**
 * `POST /v1/deliveries/recover`: "redeliver everything that failed since …" (Svix's recover). It
 * finds the tenant's jobs whose final event to `callback_url` is dead-lettered, dead-lettered at or
 * after `since`, and sends each one's final event again through the per-job redeliver (same
 * `webhook-id`, a new attempt series, the same URL guard and signing).
 *
 * One call does at most `RECOVER_BATCH` jobs (default 40): each redelivery is one subrequest of this
 * invocation (plus one to the tenant index), and Cloudflare caps those per invocation (50 on the
 * Free plan). The answer says how many remain and gives a `next_token` to carry on: the caller
 * drives the batches, so the work is visible, resumable and needs no state kept on the relay.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { RequestValidationError } from "../errors.ts";
import { jsonBody } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { RecoverBody, RecoverReport } from "../schemas/ops.ts";
import { errors, json, jsonRequest, malformed, security } from "../schemas/route.ts";
import { validationError } from "../schemas/validation.ts";
import { jobStub, tenantStub } from "../stubs.ts";
import { checkAll } from "../sweeper/tenant-sweep.ts";
import { decodeCursor, encodeCursor } from "../tenant/cursor.ts";
import type { DeadLetteredJob } from "../tenant/tenant.ts";

type RecoveredJob = RecoverReport["jobs"][number];

/** `since` as Unix seconds: a number is already; an ISO date-time is parsed (the schema checked its form). */
function sinceSeconds(since: number | string): number {
	return typeof since === "number" ? since : Math.floor(Date.parse(since) / 1000);
}

/** One job's redelivery, as the report shows it; never throws. */
async function recoverOne(env: Env, tenant: string, job: DeadLetteredJob): Promise<RecoveredJob> {
	const base = { id: job.id, surface: job.surface };
	try {
		const result = await jobStub(env, job.id).redeliver(tenant, job.surface, job.id);
		if (!result.ok) {
			return { ...base, redelivered: false, delivery_status: null, status_code: null, detail: result.detail };
		}
		const { report } = result;
		// The newest attempt is the redelivery's (both hold the job's lock: nothing else ran in between).
		const attempt = report.attempts[report.attempts.length - 1];
		const ok = attempt?.status_code != null && attempt.status_code >= 200 && attempt.status_code < 300;
		return {
			...base,
			redelivered: true,
			delivery_status: report.delivery_status ?? null,
			status_code: attempt?.status_code ?? null,
			detail: ok ? null : (attempt?.error_message ?? attempt?.error ?? null),
		};
	} catch {
		return {
			...base,
			redelivered: false,
			delivery_status: null,
			status_code: null,
			detail: "the job did not answer; run the recovery again to retry it",
		};
	}
}

export const deliveries = new OpenAPIHono<AppEnv>();
deliveries.use(requireTenant);

deliveries.openapi(
	createRoute({
		method: "post",
		path: "/recover",
		tags: ["Deliveries"],
		summary: "Redeliver every final event dead-lettered since a time (relay extension)",
		description:
			"Like Svix's recover: each of this tenant's jobs whose final event to `callback_url` is dead-lettered " +
			"(`delivery_status: failed`), dead-lettered at or after `since`, is redelivered as `POST …/{id}/redeliver` " +
			"does (same `webhook-id`, a new attempt series). One call takes at most `RECOVER_BATCH` jobs (default 40, " +
			"under the Free plan's 50 subrequests per invocation); send `next_token` back for the next batch.",
		security,
		middleware: [jsonBody] as const,
		request: jsonRequest(RecoverBody, { since: "2026-11-30T09:00:00Z" }),
		responses: {
			200: json(RecoverReport, "What this batch did, and what remains"),
			400: malformed,
			...errors,
		},
	}),
	async (c) => {
		const settings = c.get("settings");
		const body = c.req.valid("json");
		const afterSeq = body.next_token ? decodeCursor(body.next_token) : 0;
		if (afterSeq === null) {
			throw new RequestValidationError(validationError(["body", "next_token"], "next_token is not valid"));
		}
		const since = sinceSeconds(body.since);
		const tenant = c.get("tenant");
		const index = tenantStub(c.env, tenant);
		const found = await index.deadLettered(since, afterSeq, settings.recoverBatch);
		const jobs = await checkAll(
			found.jobs.map((job) => job.id),
			(id) => recoverOne(c.env, tenant, found.jobs.find((job) => job.id === id) as DeadLetteredJob),
		);
		const last = found.jobs[found.jobs.length - 1];
		const report: RecoverReport = {
			since: new Date(since * 1000).toISOString(),
			redelivered: jobs.filter((job) => job.redelivered).length,
			delivered: jobs.filter((job) => job.status_code !== null && job.status_code >= 200 && job.status_code < 300)
				.length,
			failed: jobs.filter((job) => !job.redelivered).length,
			remaining: found.remaining,
			next_token: found.remaining > 0 && last ? encodeCursor(last.seq) : null,
			jobs,
		};
		return c.json(report, 200);
	},
);
