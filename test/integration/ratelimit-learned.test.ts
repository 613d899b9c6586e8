/**
 * Rate limits learnt, not configured: the Upstream Gate follows what
 * upstream's `X-RateLimit-*` headers say the account allows, slows down before
 * a window is spent, and keeps what it learnt across an eviction (and so a
 * deploy). The emulator's `[[emu:ratelimit=LIMIT/REMAINING]]` marker puts an
 * account's headers on one job's answers.
 *
 * A file of its own: the gate it teaches is this file's alone.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { shouldReportLimits } from "../../src/job/perform.ts";
import type { Admission, UpstreamGate } from "../../src/upstream/gate.ts";
import { TENANT_A } from "./constants.ts";
import { createJob, driveUntil, jobStub } from "./helpers.ts";

type GateView = Awaited<ReturnType<UpstreamGate["describe"]>>;

const gate = () => env.GATES.get(env.GATES.idFromName("upstream"));
const describeGate = async () => (await gate().describe()) as GateView;

describe("rate limits learnt from upstream's headers", () => {
	it("starts from the configured rates, then follows the account's limit, and keeps it across an eviction", async () => {
		expect((await describeGate()).learnedRps).toBeNull();
		// 600 a minute is 10 a second: lower than the tests' configured 1000, so the ceiling comes down.
		const created = await createJob({ markers: ["steps=1", "ratelimit=600/590"] });
		const job = await driveUntil(created.id, (j) => j.status === "COMPLETED");
		expect(job.status).toBe("COMPLETED");
		const learnt = await describeGate();
		expect(learnt.learnedRps).toBe(10);
		expect(learnt.rates.create).toBeLessThanOrEqual(10);
		expect(learnt.rates.get).toBeLessThanOrEqual(10);
		// The gate call is billed like any other DO request, and shows in the job's stats.
		const report = await jobStub(created.id).deliveries(TENANT_A.tenant);
		expect(report?.stats.other_do_requests).toBeGreaterThanOrEqual(2);

		await evictDurableObject(gate());
		expect((await describeGate()).learnedRps).toBe(10);
	});

	it("slows every job down when a window is nearly spent, before upstream answers 429", async () => {
		const before = await describeGate();
		await createJob({ markers: ["steps=1", "ratelimit=600/3"] });
		const after = await describeGate();
		expect(after.rates.create).toBeLessThan(before.rates.create);
		expect(after.rates.get).toBeLessThan(before.rates.get);
		expect(after.rates.create).toBeGreaterThanOrEqual(0.2);
	});
});

describe("a higher limit than assumed", () => {
	it("takes effect at once: newcomers no longer queue behind slots booked at the default rate", async () => {
		const gate = env.GATES.get(env.GATES.idFromName("raised"));
		// The tests' configured rate is 1000/s; book a queue at a slow learnt rate first.
		await gate.observeLimits({ limitPerSecond: 1, remaining: 50, remainingShare: 0.9, resetMs: null });
		for (let i = 0; i < 20; i++) await gate.admit("create", "sonar");
		const queued = (await gate.admit("create", "sonar")) as Admission;
		expect(queued.at - Date.now()).toBeGreaterThan(15_000);
		await gate.observeLimits({ limitPerSecond: 50, remaining: 2900, remainingShare: 0.97, resetMs: null });
		const after = (await gate.admit("create", "sonar")) as Admission;
		expect(after.at - Date.now()).toBeLessThan(1_000);
		expect(((await gate.describe()) as GateView).rates.create).toBe(50);
	});
});

describe("which answers are worth a gate call", () => {
	const hint = (fields: Partial<Parameters<typeof shouldReportLimits>[0]>) => ({
		limitPerSecond: null,
		remaining: null,
		remainingShare: null,
		resetMs: null,
		...fields,
	});

	it("reports a new limit once, again only after a minute, and any nearly spent window at once", () => {
		const now = Date.UTC(2030, 0, 1);
		expect(shouldReportLimits(hint({ limitPerSecond: 7, remaining: 400, remainingShare: 0.95 }), now)).toBe(true);
		expect(shouldReportLimits(hint({ limitPerSecond: 7, remaining: 399, remainingShare: 0.95 }), now + 10)).toBe(false);
		expect(shouldReportLimits(hint({ limitPerSecond: 7, remaining: 20, remainingShare: 0.05 }), now + 20)).toBe(true);
		expect(shouldReportLimits(hint({ limitPerSecond: 7, remaining: 400, remainingShare: 0.95 }), now + 60_001)).toBe(
			true,
		);
		expect(shouldReportLimits(hint({ limitPerSecond: 9, remaining: 500, remainingShare: 0.95 }), now + 60_002)).toBe(
			true,
		);
		expect(shouldReportLimits(hint({ remaining: 0 }), now)).toBe(true);
		expect(shouldReportLimits(hint({ remaining: 12 }), now)).toBe(false);
	});
});
