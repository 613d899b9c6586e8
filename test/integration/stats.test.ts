/**
 * `GET /v1/stats`, in workerd against the emulator: the counts of one tenant's jobs over a window
 * (accepted, completed, failed, cancelled, dead-lettered), jobs per hour, push lag percentiles from
 * real deliveries, another tenant's view (its own, empty), and bad windows refused with a 422.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { OpsStats } from "../../src/schemas/ops.ts";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import { MAX_STATS_ROWS } from "../../src/tenant/stats.ts";
import type { Tenant } from "../../src/tenant/tenant.ts";
import { TENANT_QUIET, TENANT_STATS } from "./constants.ts";
import { createJob, driveUntil, inboxUrl, relay, unique } from "./helpers.ts";

const settled = (job: RelayJob) =>
	(job.status === "COMPLETED" || job.status === "FAILED") && job.delivery_status !== "pending";

async function statsOf(key: string, window: string | null = "1h"): Promise<OpsStats> {
	const res = await relay(window === null ? "/v1/stats" : `/v1/stats?window=${window}`, {}, key);
	expect(res.status).toBe(200);
	return OpsStats.parse(await res.json());
}

/** The stats once `ready` holds: the index hears of a job's end in the same alarm run, but give it a few rounds. */
async function statsWhen(key: string, ready: (stats: OpsStats) => boolean): Promise<OpsStats> {
	let stats = await statsOf(key);
	for (let round = 0; round < 50 && !ready(stats); round++) {
		await scheduler.wait(20);
		stats = await statsOf(key);
	}
	return stats;
}

describe("GET /v1/stats", () => {
	const options = { tenant: TENANT_STATS.tenant };

	beforeAll(async () => {
		// Completed, and its final event delivered: one push lag sample.
		const delivered = await createJob({ callback: inboxUrl(unique("stats-ok")) }, TENANT_STATS.key);
		await driveUntil(delivered.id, (job) => job.delivery_status === "delivered", options);
		// Failed upstream, no callback.
		const failed = await createJob({ markers: ["fail", "steps=1"] }, TENANT_STATS.key);
		await driveUntil(failed.id, (job) => job.status === "FAILED", options);
		// Completed, but every attempt refused: dead-lettered.
		const refused = await createJob({ callback: inboxUrl(unique("stats-refused"), "status=500") }, TENANT_STATS.key);
		await driveUntil(refused.id, (job) => job.delivery_status === "failed", options);
		// Cancelled by its caller while it runs.
		const cancelled = await createJob({ markers: ["steps=1000"] }, TENANT_STATS.key);
		const cancel = await relay(`/async/chat/completions/${cancelled.id}/cancel`, { method: "POST" }, TENANT_STATS.key);
		expect(cancel.status).toBe(200);
		await driveUntil(cancelled.id, settled, options);
	});

	it("counts the tenant's jobs over the window: accepted, completed, failed, cancelled, dead-lettered", async () => {
		const stats = await statsWhen(TENANT_STATS.key, (s) => s.counts.dead_lettered === 1 && s.counts.cancelled === 1);
		expect(stats.window).toBe("1h");
		expect(stats.counts).toEqual({ accepted: 4, completed: 2, failed: 1, cancelled: 1, dead_lettered: 1 });
		expect(stats.scan.truncated).toBe(false);
	});

	it("draws 24 hourly bars holding every job accepted, the current hour last", async () => {
		const stats = await statsOf(TENANT_STATS.key, "24h");
		expect(stats.jobs_per_hour).toHaveLength(24);
		expect(stats.jobs_per_hour.reduce((sum, bar) => sum + bar.accepted, 0)).toBe(4);
		const last = stats.jobs_per_hour[23];
		expect(new Date(last?.hour ?? 0).getTime()).toBeLessThanOrEqual(Date.now());
		expect(Date.now() - new Date(last?.hour ?? 0).getTime()).toBeLessThan(3_600_000);
	});

	it("measures push lag on the delivered job only: one sample, in its hour", async () => {
		const stats = await statsOf(TENANT_STATS.key, "24h");
		const lag = stats.push_lag;
		expect(lag.samples).toBe(1);
		expect(lag.p50_ms).not.toBeNull();
		// From the run's end (to the second) to the 2xx: under a minute here, whatever the machine.
		expect(lag.p50_ms).toBeGreaterThanOrEqual(0);
		expect(lag.p50_ms).toBeLessThan(60_000);
		expect(lag.p99_ms).toBe(lag.p50_ms);
		expect(lag.hourly).toHaveLength(24);
		expect(lag.hourly.reduce((sum, hour) => sum + hour.samples, 0)).toBe(1);
	});

	it("gives 168 lag buckets over 7 days, and 1 over an hour", async () => {
		expect((await statsOf(TENANT_STATS.key, "7d")).push_lag.hourly).toHaveLength(168);
		expect((await statsOf(TENANT_STATS.key, "1h")).push_lag.hourly).toHaveLength(1);
	});

	it("shows another tenant only its own numbers: none of these jobs", async () => {
		const stats = await statsOf(TENANT_QUIET.key, "7d");
		expect(stats.counts).toEqual({ accepted: 0, completed: 0, failed: 0, cancelled: 0, dead_lettered: 0 });
		expect(stats.push_lag.samples).toBe(0);
		expect(stats.push_lag.p50_ms).toBeNull();
		expect(stats.jobs_per_hour.every((bar) => bar.accepted === 0)).toBe(true);
	});

	it("refuses an unknown window with a 422 in the spec's shape, and a missing key with a 401", async () => {
		for (const window of ["2h", "", "24H"]) {
			const res = await relay(`/v1/stats?window=${window}`, {}, TENANT_STATS.key);
			expect(res.status, window).toBe(422);
			const body = HTTPValidationError.parse(await res.json());
			expect(body.detail?.[0]?.loc).toEqual(["query", "window"]);
		}
		const anonymous = await relay("/v1/stats", {}, null);
		expect(anonymous.status).toBe(401);
		expect(await anonymous.json()).toEqual({ detail: "Invalid or missing API key" });
	});

	it(`reads at most ${MAX_STATS_ROWS} rows per query, and says so when a window holds more`, async () => {
		// A tenant index of its own, filled directly: 10,050 jobs accepted and completed in the last hour.
		const stub = env.TENANTS.get(env.TENANTS.idFromName(unique("busy-tenant")));
		const now = Math.floor(Date.now() / 1000);
		await runInDurableObject(stub, (_instance: Tenant, state) => {
			state.storage.transactionSync(() => {
				for (let i = 0; i < MAX_STATS_ROWS + 50; i++) {
					state.storage.sql.exec(
						`INSERT INTO jobs (id, created_at, completed_at, model, status, delivery_status, surface, run_status, push_lag_ms)
						 VALUES (?, ?, ?, 'sonar', 'COMPLETED', 'delivered', 'sonar', 'completed', ?)`,
						`busy-${i}`,
						now - 60,
						now - 30,
						i,
					);
				}
			});
		});
		const started = performance.now();
		const stats = (await stub.stats("24h")) as OpsStats;
		const elapsed = performance.now() - started;
		expect(stats.scan).toEqual({ max_rows: MAX_STATS_ROWS, truncated: true });
		expect(stats.counts.accepted).toBe(MAX_STATS_ROWS);
		expect(stats.counts.completed).toBe(MAX_STATS_ROWS);
		expect(stats.push_lag.samples).toBe(MAX_STATS_ROWS);
		console.log(JSON.stringify({ event: "test.stats_at_cap", rows: MAX_STATS_ROWS + 50, ms: Math.round(elapsed) }));
	});

	it("defaults to the last 24 hours", async () => {
		expect((await statsOf(TENANT_STATS.key, null)).window).toBe("24h");
	});
});
