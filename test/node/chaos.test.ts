/**
 * The chaos run's receiver (bench/chaos/receiver.ts): its faults are a pure function of the seed
 * and the `webhook-id`, in the shares asked for, and each behaves as `npm run chaos` relies on
 * (a 500 then a 2xx, a reset, a bounded hang, a dead receiver). And how the report sorts a relay
 * job's extra upstream runs by cause. The whole run is `npm run chaos`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type ChaosReceiver, type FaultPlan, planFor, startChaosReceiver } from "../../bench/chaos/receiver.ts";
import { alarmRecovery, extraRunsOf, readAlarmFaults, type UpstreamRunView } from "../../bench/chaos/report.ts";
import { signedHeaders, tenantSecret } from "../../src/delivery/sign.ts";

const SECRET = await tenantSecret("chaos-test-signing-key", "chaos");
const SHARES = { seed: 7, failFirstRate: 0.4, hangRate: 0.05, resetRate: 0.02, deadRate: 0 };

/** The first `webhook-id` of the form msg_<n>_completed whose plan is `plan`. */
function idWithPlan(faults: typeof SHARES, plan: FaultPlan): string {
	for (let n = 0; n < 10_000; n++) {
		const id = `msg_${n}_completed`;
		if (planFor(faults, id) === plan) return id;
	}
	throw new Error(`no id with plan ${plan}`);
}

async function push(receiver: ChaosReceiver, webhookId: string): Promise<number | "dropped"> {
	const body = JSON.stringify({
		type: "async_chat_completion.completed",
		timestamp: new Date().toISOString(),
		data: { id: `job_${webhookId}`, status: "COMPLETED" },
	});
	const headers = await signedHeaders([SECRET], webhookId, Math.floor(Date.now() / 1000), body);
	try {
		const response = await fetch(`${receiver.url}/hooks/chaos`, {
			method: "POST",
			headers: { ...headers, "content-type": "application/json" },
			body,
			signal: AbortSignal.timeout(5000),
		});
		await response.body?.cancel();
		return response.status;
	} catch {
		return "dropped";
	}
}

describe("chaos receiver", () => {
	let receiver: ChaosReceiver | undefined;
	afterEach(async () => {
		await receiver?.close();
		receiver = undefined;
	});

	it("plans faults per webhook-id, replayably, in the shares asked for", () => {
		const counts: Record<string, number> = {};
		for (let n = 0; n < 20_000; n++) {
			const plan = planFor(SHARES, `msg_${n}_completed`);
			counts[plan] = (counts[plan] ?? 0) + 1;
			expect(planFor(SHARES, `msg_${n}_completed`)).toBe(plan);
		}
		expect((counts.fail_first ?? 0) / 20_000).toBeCloseTo(0.4, 1);
		expect((counts.hang ?? 0) / 20_000).toBeCloseTo(0.05, 1);
		expect((counts.reset ?? 0) / 20_000).toBeCloseTo(0.02, 1);
		expect(counts.dead).toBeUndefined();
		// Another seed, other events.
		const other = Array.from({ length: 200 }, (_, n) => planFor({ ...SHARES, seed: 8 }, `msg_${n}_completed`));
		const same = Array.from({ length: 200 }, (_, n) => planFor(SHARES, `msg_${n}_completed`));
		expect(other).not.toEqual(same);
	});

	it("fails, resets or hangs the first attempt only, and records every 2xx", async () => {
		receiver = await startChaosReceiver({ secret: SECRET, faults: { ...SHARES, hangMs: 300 } });
		const failFirst = idWithPlan(SHARES, "fail_first");
		const reset = idWithPlan(SHARES, "reset");
		const hang = idWithPlan(SHARES, "hang");
		const ok = idWithPlan(SHARES, "ok");

		expect(await push(receiver, failFirst)).toBe(500);
		expect(await push(receiver, failFirst)).toBe(204);
		expect(await push(receiver, reset)).toBe("dropped");
		expect(await push(receiver, reset)).toBe(204);
		const started = Date.now();
		expect(await push(receiver, hang)).toBe("dropped");
		expect(Date.now() - started).toBeGreaterThanOrEqual(250);
		expect(await push(receiver, hang)).toBe(204);
		expect(await push(receiver, ok)).toBe(204);
		expect(await push(receiver, ok)).toBe(204);

		const events = receiver.events();
		expect(events.get(failFirst)?.arrivals.map((a) => a.outcome)).toEqual(["500", "2xx"]);
		expect(events.get(reset)?.arrivals.map((a) => a.outcome)).toEqual(["reset", "2xx"]);
		expect(events.get(hang)?.arrivals.map((a) => a.outcome)).toEqual(["hang", "2xx"]);
		expect(events.get(ok)?.arrivals.map((a) => a.outcome)).toEqual(["2xx", "2xx"]);
		expect([...events.values()].every((e) => e.arrivals.every((a) => a.verified))).toBe(true);
		expect(receiver.finalPushed(`job_${ok}`)).toBe(true);
	});

	it("refuses every attempt of a dead event", async () => {
		const faults = { ...SHARES, deadRate: 1 };
		receiver = await startChaosReceiver({ secret: SECRET, faults: { ...faults, hangMs: 300 } });
		for (let i = 0; i < 3; i++) expect(await push(receiver, "msg_dead_completed")).toBe(500);
		expect(receiver.finalPushed("job_msg_dead_completed")).toBe(false);
	});
});

describe("chaos report: extra upstream runs", () => {
	const run = (createdAtMs: number, answerLost: boolean, gets: number): UpstreamRunView => ({
		api: "agent",
		answerLost,
		gets,
		cancels: 0,
		createdAtMs,
		status: "completed",
	});

	it("needs one answered run per job: none extra for one run, or none at all", () => {
		expect(extraRunsOf([run(1000, false, 3)], [])).toEqual({
			runs: 1,
			extra: 0,
			byCause: { lost_answer: 0, crash: 0, unexplained: 0 },
		});
		expect(extraRunsOf([], [])).toMatchObject({ runs: 0, extra: 0 });
	});

	it("puts every run whose create answer was lost down to the fault, even when no run was answered", () => {
		expect(extraRunsOf([run(1000, true, 0), run(3500, true, 0), run(6000, false, 4)], [])).toMatchObject({
			runs: 3,
			extra: 2,
			byCause: { lost_answer: 2, crash: 0, unexplained: 0 },
		});
		// The relay gave up after its bounded retries: every run is extra, and every one is the fault's.
		expect(extraRunsOf([run(1000, true, 0), run(3500, true, 0)], [])).toMatchObject({
			extra: 2,
			byCause: { lost_answer: 2 },
		});
	});

	it("keeps the answered run the relay polled, and sorts other answered runs by whether a crash came just after", () => {
		// Created 3 s before the SIGKILL at 20 s: its answer may have reached a dying relay.
		expect(extraRunsOf([run(17_000, false, 0), run(30_000, false, 5)], [20_000])).toMatchObject({
			extra: 1,
			byCause: { lost_answer: 0, crash: 1, unexplained: 0 },
		});
		// No crash anywhere near: nothing explains it.
		expect(extraRunsOf([run(1000, false, 0), run(2000, false, 5)], [60_000])).toMatchObject({
			extra: 1,
			byCause: { crash: 0, unexplained: 1 },
		});
		// The polled run is kept whichever came first.
		expect(extraRunsOf([run(1000, false, 6), run(2000, false, 0)], [])).toMatchObject({
			byCause: { unexplained: 1 },
		});
	});

	it("keeps the run the relay followed through its event stream, which it never GETs", () => {
		const streamed = { ...run(30_000, false, 0), streams: 2 };
		// An answered run created just before the SIGKILL at 20 s, and the one the restarted job streamed.
		expect(extraRunsOf([run(17_000, false, 0), streamed], [20_000])).toMatchObject({
			extra: 1,
			byCause: { lost_answer: 0, crash: 1, unexplained: 0 },
		});
		expect(extraRunsOf([streamed, run(40_000, false, 0)], [])).toMatchObject({ byCause: { unexplained: 1 } });
	});
});

describe("chaos alarm faults", () => {
	const line = (record: Record<string, unknown>) => `2026-12-01T00:00:00.000Z ${JSON.stringify(record)}`;

	it("reads drops, re-arms, throws and guard catches from the relay's log, job by job", () => {
		const log = readAlarmFaults([
			line({ level: "warn", event: "chaos.alarm_dropped", job: "a" }),
			"[wrangler:info] GET /async/chat/completions/a 200 OK",
			line({ level: "warn", event: "job.rearmed", job: "a", by: "sweeper", reason: "missing" }),
			line({ level: "warn", event: "chaos.alarm_throw", job: "b", failures: 0 }),
			line({ level: "error", event: "job.alarm_failed", job: "b", failures: 1 }),
			"not a record {",
		]);
		expect(log.dropped).toEqual(new Map([["a", [0]]]));
		expect(log.rearmed).toEqual(new Map([["a", [{ line: 2, by: "sweeper" }]]]));
		expect(log.thrown).toEqual(new Map([["b", 1]]));
		expect(log.caught).toEqual(new Map([["b", 1]]));
	});

	it("credits each dropped alarm to whoever re-armed it first after its last drop", () => {
		const log = readAlarmFaults([
			line({ event: "chaos.alarm_dropped", job: "swept" }),
			line({ event: "chaos.alarm_dropped", job: "got" }),
			line({ event: "chaos.alarm_dropped", job: "lost" }),
			line({ event: "job.rearmed", job: "lost", by: "sweeper" }),
			line({ event: "chaos.alarm_dropped", job: "lost" }),
			line({ event: "job.rearmed", job: "got", by: "get" }),
			line({ event: "job.rearmed", job: "swept", by: "sweeper" }),
			line({ event: "job.rearmed", job: "got", by: "sweeper" }),
			line({ event: "job.rearmed", job: "other", by: "sweeper" }),
		]);
		const figures = alarmRecovery(log, ["swept", "got", "lost", "other"], (id) => id !== "lost");
		expect(figures).toMatchObject({
			dropped_jobs: 3,
			drops: 4,
			recovered_by_sweeper: 1,
			rearmed_by: { sweeper: 1, get: 1 },
			not_rearmed: ["lost"],
			dropped_not_settled: ["lost"],
			other_rearms: 1,
		});
	});
});
