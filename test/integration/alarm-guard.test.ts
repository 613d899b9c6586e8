/**
 * The alarm guard: a run that throws (a storage failure, a bug) never makes `alarm()` throw, which
 * the runtime would retry a few times and then drop; the job is armed again after a growing delay
 * and carries on. Failed KV writes back off the same way. A GET of a job whose alarm is gone sets
 * it again, and costs a healthy job nothing more.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Job } from "../../src/job/job.ts";
import { owe, owedOf } from "../../src/job/owed.ts";
import type { JobState } from "../../src/job/state.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import { TENANT_A } from "./constants.ts";
import { createJob, driveUntil, jobStub, relay, unique } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

/** Every JSON log line the relay writes from now on. */
function captureRecords(): Record<string, unknown>[] {
	const records: Record<string, unknown>[] = [];
	for (const level of ["log", "info", "warn", "error"] as const) {
		vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
			try {
				records.push({ console: level, ...(JSON.parse(String(args[0])) as Record<string, unknown>) });
			} catch {
				// Not a record.
			}
		});
	}
	return records;
}

type Shell = {
	state: JobState | null;
	env: Env;
	armedAt: number | null;
	save(): Promise<void>;
	checkAlarm(...args: unknown[]): Promise<unknown>;
	exclusive(work: () => Promise<void>): Promise<void>;
};

const storedAlarm = (stub: DurableObjectStub<Job>) =>
	runInDurableObject(stub, (_instance: Job, state) => state.storage.getAlarm());

/**
 * A job whose Durable Object was patched before it was created (its id comes from an idempotency
 * key), so that no alarm the runtime fires by itself can run before the patch.
 */
async function patchedJob(markers: string[], patch: (shell: Shell, instance: Job) => void) {
	const key = unique("guard");
	const stub = env.JOBS.get(env.JOBS.idFromName(`${TENANT_A.tenant}:${key}`)) as DurableObjectStub<Job>;
	await runInDurableObject(stub, (instance: Job) => patch(instance as unknown as Shell, instance));
	const created = await createJob({ markers, idempotencyKey: key });
	// The job lives in the object its idempotency key names (its id is that object's plus a suffix).
	expect(created.id.startsWith(`${stub.id.toString()}-`)).toBe(true);
	return { created, stub };
}

describe("the alarm guard", () => {
	it("catches a run that throws, logs it, re-arms it after a growing delay, and the job completes", async () => {
		const records = captureRecords();
		// Once armed, the run's save fails: first as the platform's transient storage error, then as a bug would.
		const failures: Error[] = [];
		const { created, stub } = await patchedJob(["steps=2"], (shell, instance) => {
			const save = shell.save.bind(instance);
			shell.save = async () => {
				const failure = failures[0];
				if (failure) throw failure;
				return save();
			};
		});
		failures.push(
			Object.assign(new Error("Durable Object storage operation exceeded timeout"), { retryable: true }),
			new TypeError("injected: cannot read properties of undefined"),
		);

		// Each delay lies between the alarm minus the end of the run and the alarm minus its start.
		const delays: { atLeast: number; atMost: number }[] = [];
		for (let i = 0; i < 2; i++) {
			const before = Date.now();
			// The alarm ran and did not throw (the runtime would otherwise retry it, then drop it).
			expect(await runDurableObjectAlarm(stub)).toBe(true);
			const after = Date.now();
			const alarm = await storedAlarm(stub);
			expect(alarm).not.toBeNull();
			delays.push({ atLeast: (alarm ?? 0) - after, atMost: (alarm ?? 0) - before });
			failures.shift();
		}
		// 5 s, then 10 s, each ±20 %.
		expect(delays[0]?.atMost).toBeGreaterThanOrEqual(4_000 - 50);
		expect(delays[0]?.atLeast).toBeLessThanOrEqual(6_000 + 50);
		expect(delays[1]?.atMost).toBeGreaterThanOrEqual(8_000 - 50);
		expect(delays[1]?.atLeast).toBeLessThanOrEqual(12_000 + 50);

		const failed = records.filter((r) => r.event === "job.alarm_failed" && r.job === created.id);
		expect(failed).toEqual([
			expect.objectContaining({ level: "warn", console: "warn", tenant: TENANT_A.tenant, error: "Error", failures: 1 }),
			expect.objectContaining({ level: "error", console: "error", error: "TypeError", failures: 2 }),
		]);
		expect(failed[0]?.retry_in_ms).toBeTypeOf("number");

		// Storage is back: the next run completes the job, and the count starts again.
		const job = await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED");
		expect(job.status).toBe("COMPLETED");
		const state = await runInDurableObject(stub, (instance: Job) => (instance as unknown as Shell).state);
		expect(state?.alarmFailures ?? 0).toBe(0);
	});

	it("backs off a failing KV write (5 s, 10 s, 20 s, 40 s) instead of retrying it every 5 s", async () => {
		const records = captureRecords();
		let kvDown = true;
		const { created, stub } = await patchedJob(["steps=1"], (shell) => {
			const kv = shell.env.RESULTS;
			const failing = Object.create(kv) as KVNamespace;
			failing.put = async (...args: Parameters<KVNamespace["put"]>) => {
				if (kvDown) throw new Error("KV PUT failed: 429 Too Many Requests");
				return kv.put(...args);
			};
			shell.env = { ...shell.env, RESULTS: failing };
		});
		// Until the KV write has failed three times: the wait the job then set itself, after each failure.
		const kvFailures = () => records.filter((r) => r.event === "kv.write_failed" && r.job === created.id).length;
		// The wait after each failure lies between the alarm minus the end of the run that failed
		// and the alarm minus its start (a loaded machine can make that run take seconds). By failure
		// number: the first poll is due 20 ms after the create, and the runtime may run that alarm
		// itself, before or beside this loop's run (then that failure's wait is not measured here).
		const waits = new Map<number, { atLeast: number; atMost: number }>();
		// Bounded; the job first needs its poll before there is a result to write.
		for (let round = 0; round < 200 && kvFailures() < 4; round++) {
			// Advance this job's clock to its retry: what the back-off set is measured, not waited for.
			await runInDurableObject(stub, (instance: Job) => {
				const shell = instance as unknown as Shell;
				if (shell.state && owedOf(shell.state)?.retryAt) shell.state = owe(shell.state, { retryAt: Date.now() - 1 });
			});
			const before = Date.now();
			const failed = kvFailures();
			// False while the runtime runs the alarm itself (only the first poll's is due that soon).
			const ran = await runDurableObjectAlarm(stub);
			const after = Date.now();
			if (ran && kvFailures() === failed + 1) {
				const alarm = (await storedAlarm(stub)) ?? 0;
				waits.set(kvFailures(), { atLeast: alarm - after, atMost: alarm - before });
			} else await scheduler.wait(5);
		}
		expect(kvFailures()).toBe(4);
		// At most the first two escape the loop: the later ones' alarms are seconds away.
		expect(waits.has(3) && waits.has(4)).toBe(true);
		for (const [n, wait] of waits) {
			const base = 5_000 * 2 ** (n - 1);
			expect(wait.atMost).toBeGreaterThanOrEqual(base * 0.8 - 50);
			expect(wait.atLeast).toBeLessThanOrEqual(base * 1.2 + 50);
		}
		expect(records.filter((r) => r.event === "kv.write_failed" && r.job === created.id)).toHaveLength(4);

		kvDown = false;
		await runInDurableObject(stub, (instance: Job) => {
			const shell = instance as unknown as Shell;
			if (shell.state) shell.state = owe(shell.state, { retryAt: Date.now() - 1 });
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		const res = await relay(`/async/chat/completions/${created.id}`);
		expect(((await res.json()) as RelayJob).status).toBe("COMPLETED");
		const state = await runInDurableObject(stub, (instance: Job) => (instance as unknown as Shell).state);
		expect(state?.lifecycle).toMatchObject({ owed: { cache: false, failures: 0, retryAt: null } });
	});
});

describe("a GET of a job whose alarm is gone", () => {
	it("sets the alarm again, and the job completes", async () => {
		const records = captureRecords();
		const created = await createJob({ markers: ["steps=2"] });
		const stub = jobStub(created.id);
		// As when the runtime dropped it: no alarm in storage, and a fresh instance that knows of none.
		await runInDurableObject(stub, (_instance: Job, state) => state.storage.deleteAlarm());
		await evictDurableObject(stub);
		expect(await storedAlarm(stub)).toBeNull();

		const res = await relay(`/async/chat/completions/${created.id}`);
		expect(res.status).toBe(200);
		expect(await storedAlarm(stub)).not.toBeNull();
		expect(records.filter((r) => r.event === "job.rearmed" && r.job === created.id)).toEqual([
			expect.objectContaining({ level: "warn", by: "get", reason: "missing", status: "CREATED", phase: "polling" }),
		]);
		const job = await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED");
		expect(job.status).toBe("COMPLETED");
	});

	it("does the same for an Agent API run", async () => {
		const res = await relay("/v1/responses", {
			method: "POST",
			body: JSON.stringify({ preset: "fast", input: "What is an alarm? [[emu:steps=2]]", background: true }),
		});
		expect(res.status).toBe(200);
		const { id } = (await res.json()) as { id: string };
		const stub = jobStub(id);
		// As when a run threw and the runtime gave up on it: no alarm stored, none known in memory.
		await runInDurableObject(stub, async (instance: Job, state) => {
			const shell = instance as unknown as Shell;
			await shell.exclusive(async () => {
				await state.storage.deleteAlarm();
				shell.armedAt = null;
			});
		});
		expect((await relay(`/v1/responses/${id}`)).status).toBe(200);
		expect(await storedAlarm(stub)).not.toBeNull();
	});

	it("costs a healthy job no look at storage", async () => {
		const created = await createJob({ markers: ["steps=3"] });
		const stub = jobStub(created.id);
		let checks = 0;
		await runInDurableObject(stub, (instance: Job) => {
			const shell = instance as unknown as Shell;
			const check = shell.checkAlarm.bind(instance);
			shell.checkAlarm = (...args: unknown[]) => {
				checks++;
				return check(...args);
			};
		});
		for (let i = 0; i < 3; i++) expect((await relay(`/async/chat/completions/${created.id}`)).status).toBe(200);
		expect(checks).toBe(0);
		await driveUntil(created.id, (j: RelayJob) => j.status === "COMPLETED");
	});
});
