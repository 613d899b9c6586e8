/**
 * The sweeper: the cron trigger's `scheduled` handler walks the tenants with unsettled jobs (the
 * registry Durable Object), each tenant checks its unsettled jobs (`Job.ensureArmed`), and a job
 * whose alarm was lost is armed again and completes. Every invocation is bounded by SWEEP_BATCH.
 */
import {
	createExecutionContext,
	createScheduledController,
	runInDurableObject,
	waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import type { ArmCheck, Job } from "../../src/job/job.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import type { SweepRegistry } from "../../src/sweeper/registry.ts";
import { sweepOnce } from "../../src/sweeper/scheduled.ts";
import { SWEEP_REGISTRY_NAME } from "../../src/sweeper/tenant-sweep.ts";
import type { Tenant } from "../../src/tenant/tenant.ts";
import { TENANT_SWEEP, TEST_SWEEP_BATCH } from "./constants.ts";
import { createJob, driveUntil, jobStub, unique } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

const registry = () => env.SWEEPER.get(env.SWEEPER.idFromName(SWEEP_REGISTRY_NAME)) as DurableObjectStub<SweepRegistry>;
const tenantIndex = () => env.TENANTS.get(env.TENANTS.idFromName(TENANT_SWEEP.tenant)) as DurableObjectStub<Tenant>;
const storedAlarm = (id: string) => runInDurableObject(jobStub(id), (_i: Job, state) => state.storage.getAlarm());

/** A job of the sweeper tests' own tenant; `steps` polls from COMPLETED. */
const sweptJob = (steps: number) => createJob({ markers: [`steps=${steps}`] }, TENANT_SWEEP.key);

/**
 * As when the runtime dropped the alarm: none in storage, and none in memory. Done under the job's
 * lock, after any run in progress (which would arm it again), so the job is left idle.
 */
async function dropAlarm(id: string): Promise<void> {
	await runInDurableObject(jobStub(id), async (instance: Job, state) => {
		const shell = instance as unknown as {
			exclusive(work: () => Promise<void>): Promise<void>;
			armedAt: number | null;
		};
		await shell.exclusive(async () => {
			await state.storage.deleteAlarm();
			shell.armedAt = null;
		});
	});
	expect(await storedAlarm(id)).toBeNull();
}

/** Stops a job for the rest of the run (it would poll for minutes otherwise). */
const forget = (id: string) =>
	runInDurableObject(jobStub(id), (instance: Job) => (instance as unknown as { forget(): Promise<void> }).forget());

function captureRecords(): Record<string, unknown>[] {
	const records: Record<string, unknown>[] = [];
	for (const level of ["log", "info", "warn", "error"] as const) {
		vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
			try {
				records.push(JSON.parse(String(args[0])) as Record<string, unknown>);
			} catch {
				// Not a record.
			}
		});
	}
	return records;
}

describe("the cron sweeper", () => {
	it("re-arms a job whose alarm was lost, and the job completes", async () => {
		const records = captureRecords();
		const created = await sweptJob(2);
		await dropAlarm(created.id);
		// Each cron call runs one bounded step of the pass (the registry's alarm runs the others).
		for (let round = 0; round < 30 && (await storedAlarm(created.id)) === null; round++) {
			const ctx = createExecutionContext();
			await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), env, ctx);
			await waitOnExecutionContext(ctx);
		}
		expect(await storedAlarm(created.id)).not.toBeNull();
		expect(records.filter((r) => r.event === "job.rearmed" && r.job === created.id)).toEqual([
			expect.objectContaining({ level: "warn", by: "sweeper", reason: "missing", tenant: TENANT_SWEEP.tenant }),
		]);
		const job = await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED", {
			tenant: TENANT_SWEEP.tenant,
		});
		expect(job.status).toBe("COMPLETED");
	});

	it("finds a job submitted with an idempotency key (its id is its object's plus a suffix) and re-arms it", async () => {
		const created = await createJob({ markers: ["steps=2"], idempotencyKey: unique("swept-key") }, TENANT_SWEEP.key);
		expect(created.id).toMatch(/-[0-9a-f]{10}$/);
		await dropAlarm(created.id);
		for (let round = 0; round < 30 && (await storedAlarm(created.id)) === null; round++) {
			const ctx = createExecutionContext();
			await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), env, ctx);
			await waitOnExecutionContext(ctx);
		}
		expect(await storedAlarm(created.id)).not.toBeNull();
		const job = await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED", {
			tenant: TENANT_SWEEP.tenant,
		});
		expect(job.status).toBe("COMPLETED");
	});

	it("reports what it found, job by job, and leaves a healthy alarm as it was", async () => {
		const created = await sweptJob(1000);
		const before = await storedAlarm(created.id);
		const check = (await jobStub(created.id).ensureArmed(60_000)) as ArmCheck;
		expect(check).toMatchObject({ job: created.id, action: "armed", reason: null });
		expect(await storedAlarm(created.id)).toBe(before);
		await dropAlarm(created.id);
		const fixed = (await jobStub(created.id).ensureArmed(60_000)) as ArmCheck;
		expect(fixed).toMatchObject({ job: created.id, action: "rearmed", reason: "missing" });
		expect(await storedAlarm(created.id)).toBe(fixed.alarm_at);
		await forget(created.id);
		expect(await jobStub(created.id).ensureArmed(60_000)).toMatchObject({ action: "gone" });
	});

	it("checks at most `limit` jobs per call, from a cursor that lasts for the pass", async () => {
		const jobs = await Promise.all([1, 2, 3, 4, 5].map(() => sweptJob(1000)));
		const tenant = tenantIndex();
		const pass = Date.now();
		const calls = [];
		for (let i = 0; i < 10; i++) {
			const result = await tenant.sweep({ pass, limit: 2, overdueMs: 60_000 });
			calls.push(result);
			if (!result.more) break;
		}
		for (const call of calls) expect(call.checked).toBeLessThanOrEqual(2);
		// Every unsettled job of the tenant is checked once in the pass (earlier tests' may be among them).
		const checked = calls.reduce((sum, call) => sum + call.checked, 0);
		expect(checked).toBeGreaterThanOrEqual(jobs.length);
		expect(calls.at(-1)).toMatchObject({ more: false, rearmed: 0, failed: 0 });
		expect(calls.at(-1)?.nextDueAt).toBeGreaterThan(0);
		// A new pass starts from the first job again.
		expect((await tenant.sweep({ pass: pass + 1, limit: 2, overdueMs: 60_000 })).checked).toBe(2);
		for (const job of jobs) await forget(job.id);
	});

	it("makes at most SWEEP_BATCH calls per invocation, each checking at most SWEEP_BATCH jobs", async () => {
		const records = captureRecords();
		const jobs = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => sweptJob(1000)));
		for (const job of jobs) await dropAlarm(job.id);
		const steps = [];
		for (let round = 0; round < 40; round++) {
			const step = await sweepOnce(env);
			steps.push(step);
			const armed = await Promise.all(jobs.map((job) => storedAlarm(job.id)));
			if (armed.every((alarm) => alarm !== null)) break;
		}
		for (const step of steps) {
			expect(step.calls).toBeLessThanOrEqual(TEST_SWEEP_BATCH);
			expect(step.checked).toBeLessThanOrEqual(TEST_SWEEP_BATCH * TEST_SWEEP_BATCH);
		}
		for (const job of jobs) expect(await storedAlarm(job.id)).not.toBeNull();
		const rearmed = new Set(records.filter((r) => r.event === "job.rearmed" && r.by === "sweeper").map((r) => r.job));
		expect(jobs.filter((job) => !rearmed.has(job.id))).toEqual([]);
		for (const job of jobs) await forget(job.id);
	});

	it("keeps a tenant due while it has unsettled jobs, and not once they have all settled", async () => {
		const created = await sweptJob(1);
		const registered = (await registry().tenants()).find((t) => t.name === TENANT_SWEEP.tenant);
		expect(registered?.due_at).toBeLessThanOrEqual(Date.now());
		await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED", { tenant: TENANT_SWEEP.tenant });
		// A pass over the tenant (other tests' jobs are forgotten, so none is left unsettled).
		const pass = Date.now();
		let result = await tenantIndex().sweep({ pass, limit: 50, overdueMs: 60_000 });
		for (let i = 0; i < 10 && result.more; i++)
			result = await tenantIndex().sweep({ pass, limit: 50, overdueMs: 60_000 });
		// Next due only when the oldest job should long have retired (its TTL, its timeout, a grace).
		expect(result.nextDueAt).toBeGreaterThan(Date.now() + 86_400_000);
		// A new unsettled job registers the tenant again, due now.
		const next = await sweptJob(1000);
		const again = (await registry().tenants()).find((t) => t.name === TENANT_SWEEP.tenant);
		expect(again?.registered_at).toBeGreaterThanOrEqual(pass);
		expect(again?.due_at).toBeLessThanOrEqual(Date.now());
		await forget(next.id);
	});
});
