/** The duration sketch and the poll plan: pure functions, plain unit tests. (The gate's arithmetic: gate.test.ts.) */
import { describe, expect, it } from "vitest";
import {
	addSample,
	BUCKETS_PER_DECADE,
	bucketOf,
	EARLIEST_FIRST_POLL,
	edge,
	LATE_FIRST_POLL_SAMPLES,
	observedDuration,
	planCost,
	planPolls,
	priorSketch,
	quantile,
	SKETCH_BUCKETS,
} from "../../src/polling/sketch.ts";

/** A seeded lognormal sample (Park–Miller + Box–Muller), so no test depends on chance. */
function lognormal(median: number, sigma: number, count: number, seed = 7): number[] {
	let state = seed;
	const next = () => {
		state = (state * 16807) % 2147483647;
		return state / 2147483647;
	};
	return Array.from(
		{ length: count },
		() => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next())),
	);
}

const options = { pollCostMs: 80, tailCost: 0.02, minGapMs: 100, maxGapMs: 30_000, horizonMs: 3_600_000 };

describe("duration sketch", () => {
	it("spans 10 ms to 12 h in log buckets", () => {
		expect(edge(0)).toBe(10);
		expect(edge(BUCKETS_PER_DECADE)).toBeCloseTo(100, 6);
		expect(edge(SKETCH_BUCKETS)).toBeGreaterThanOrEqual(12 * 3_600_000);
		expect(bucketOf(0)).toBe(0);
		expect(bucketOf(Number.POSITIVE_INFINITY)).toBe(SKETCH_BUCKETS - 1);
	});

	it("starts from a prior around the model's median", () => {
		expect(quantile(priorSketch(4000), 0.5)).toBeCloseTo(4000, -2);
	});

	it("learns the real distribution, whatever the prior said", () => {
		let sketch = priorSketch(60_000);
		for (const ms of lognormal(4000, 0.5, 2000)) sketch = addSample(sketch, ms);
		expect(sketch.samples).toBe(2000);
		expect(quantile(sketch, 0.5) / 4000).toBeGreaterThan(0.9);
		expect(quantile(sketch, 0.5) / 4000).toBeLessThan(1.1);
		expect(quantile(sketch, 0.9) / (4000 * Math.exp(0.5 * 1.2816))).toBeGreaterThan(0.85);
	});
});

describe("poll plan", () => {
	it("does not poll while completion is improbable, polls densely around it, widens in the tail", () => {
		let sketch = priorSketch(4000);
		for (const ms of lognormal(4000, 0.5, 1000)) sketch = addSample(sketch, ms);
		const plan = planPolls(sketch, options);
		// The first poll waits for a fifth of the jobs to be done.
		expect(plan[0]).toBeGreaterThan(quantile(sketch, 0.15));
		expect(plan[0]).toBeLessThan(quantile(sketch, 0.25));
		const gaps = plan.slice(1).map((at, i) => at - (plan[i] as number));
		const aroundMedian = gaps[plan.findIndex((at) => at > 4000) - 1] as number;
		expect(aroundMedian).toBeLessThan(1000);
		expect(aroundMedian * 2).toBeLessThan(plan[0] as number);
		const central = plan.filter((at) => at >= quantile(sketch, 0.25) && at <= quantile(sketch, 0.75));
		expect(central.length).toBeGreaterThanOrEqual(3);
		// A heavy tail (hazard falling off) gets polls further and further apart.
		let heavy = priorSketch(4000);
		for (const ms of lognormal(4000, 1.2, 1000)) heavy = addSample(heavy, ms);
		const heavyPlan = planPolls(heavy, options);
		const heavyGaps = heavyPlan.slice(1).map((at, i) => at - (heavyPlan[i] as number));
		const medianGap = heavyGaps[heavyPlan.findIndex((at) => at > 4000) - 1] as number;
		expect(heavyGaps.at(-1) as number).toBeGreaterThan(medianGap);
		for (const gap of gaps) {
			expect(gap).toBeGreaterThanOrEqual(options.minGapMs - 1);
			expect(gap).toBeLessThanOrEqual(options.maxGapMs + 1);
		}
	});

	it("prices a poll in absolute lag: a 5-minute job is polled every few seconds near its likely end", () => {
		const slow = planPolls(priorSketch(300_000), { ...options, pollCostMs: 250 });
		const gaps = slow.slice(1).map((at, i) => ({ at: slow[i + 1] as number, gap: at - (slow[i] as number) }));
		const nearMedian = gaps.find((g) => g.at > 300_000)?.gap as number;
		// Keller: gap ≈ sqrt(2c / h), h ≈ 1/(σ·t) near the median: seconds, not a share of five minutes.
		expect(nearMedian).toBeGreaterThan(2_000);
		expect(nearMedian).toBeLessThan(15_000);
		// A dearer poll spaces them out as sqrt(cost): four times the cost, twice the gap.
		const sparse = planPolls(priorSketch(300_000), { ...options, pollCostMs: 1000 });
		const sparseGap = sparse
			.slice(1)
			.map((at, i) => ({ at, gap: at - (sparse[i] as number) }))
			.find((g) => g.at > 300_000)?.gap as number;
		expect(sparseGap / nearMedian).toBeGreaterThan(1.6);
		expect(sparseGap / nearMedian).toBeLessThan(2.5);
	});

	it("expects the polls and the lag a plan costs", () => {
		const sketch = priorSketch(300_000);
		const dense = planCost(sketch, planPolls(sketch, { ...options, pollCostMs: 100 }), 30_000);
		const sparse = planCost(sketch, planPolls(sketch, { ...options, pollCostMs: 2000 }), 30_000);
		expect(dense.polls).toBeGreaterThan(sparse.polls);
		expect(dense.lagMs).toBeLessThan(sparse.lagMs);
		expect(dense.expectedMs / 300_000).toBeGreaterThan(1);
		expect(dense.expectedMs / 300_000).toBeLessThan(1.5);
	});

	it("past the sketch's 90th percentile, spaces polls by the job's age, so a job that outlives its sketch is not polled at its edge's density", () => {
		const plan = planPolls(priorSketch(4000), options);
		const gaps = plan.slice(1).map((at, i) => ({ at: plan[i + 1] as number, gap: at - (plan[i] as number) }));
		// Around the median nothing changes: the gap is set by the poll's absolute cost.
		const nearMedian = gaps.find((g) => g.at > 4000)?.gap as number;
		expect(nearMedian).toBeLessThan(1000);
		// Further out, every gap is at least a fixed share of the age it is placed at…
		const late = gaps.filter((g) => g.at > 12_000);
		expect(late.length).toBeGreaterThan(0);
		for (const { at, gap } of late) expect(gap / at).toBeGreaterThan(0.1);
		// …so the polls up to 9 × the median grow as log(age), not as age / gap.
		const upTo = (ms: number) => plan.filter((at) => at <= ms).length;
		expect(upTo(36_000) - upTo(12_000)).toBeLessThan(2 * (upTo(12_000) - upTo(4_000)));
	});

	it("caps every gap at POLL_MAX_INTERVAL_MS, and the first poll too unless a learnt sketch says fewer than 5 % would be done by then", () => {
		// 5-minute runs, learnt from real ones.
		let learnt = priorSketch(300_000);
		for (let i = 0; i < LATE_FIRST_POLL_SAMPLES; i++) learnt = addSample(learnt, 300_000 * Math.exp(0.5 * Math.sin(i)));
		const plan = planPolls(learnt, { ...options, maxGapMs: 20_000 });
		const gaps = plan.slice(1).map((at, i) => at - (plan[i] as number));
		expect(Math.max(...gaps)).toBeLessThanOrEqual(20_001);
		// Almost none is done at 20 s or 40 s, so the first poll waits for about the 5 % quantile.
		const fivePercent = quantile(learnt, EARLIEST_FIRST_POLL);
		expect(fivePercent).toBeGreaterThan(20_000);
		expect(plan[0]).toBeGreaterThan(20_000);
		expect(Math.abs((plan[0] as number) - fivePercent)).toBeLessThan(fivePercent * 0.25);
		// The prior alone is a guess: the first runs of a faster upstream must not wait minutes for it.
		expect(planPolls(priorSketch(300_000), { ...options, maxGapMs: 20_000 })[0]).toBeLessThanOrEqual(20_000);
		// Short runs keep the cap: it is the 20 % quantile, or POLL_MAX_INTERVAL_MS, whichever comes first.
		expect(planPolls(priorSketch(60_000), { ...options, maxGapMs: 20_000 })[0]).toBeLessThanOrEqual(20_000);
	});

	it("estimates a duration from the polls around the finish, narrowed by upstream's seconds", () => {
		expect(observedDuration({ lastPendingMs: 3000, firstDoneMs: 4000, upstreamSeconds: null })).toBe(3500);
		expect(observedDuration({ lastPendingMs: 1000, firstDoneMs: 9000, upstreamSeconds: 4 })).toBe(4000);
	});
});
