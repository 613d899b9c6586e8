/** The upstream gate's arithmetic (fair slots, back-off and recovery, the price of a poll): pure functions, plain unit tests. */
import { describe, expect, it } from "vitest";
import { planPolls, priorSketch } from "../../src/polling/sketch.ts";
import {
	backOff,
	confirm,
	countAsk,
	DEMAND_WINDOW_MS,
	MAX_POLL_PRICE,
	MIN_RATE,
	pollPrice,
	recover,
	reserveFair,
	SEND_TOLERANCE_S,
} from "../../src/upstream/gate.ts";

const options = { pollCostMs: 80, tailCost: 0.02, minGapMs: 100, maxGapMs: 30_000, horizonMs: 3_600_000 };

describe("upstream gate arithmetic", () => {
	const fresh = { rate: 10, epoch: 0, tat: 0, sentTat: 0, lastCut: 0, updatedAt: 0 };

	it("hands out one slot per 1/rate, queueing callers instead of refusing them", () => {
		const clocks = new Map<string, number>();
		const slots: number[] = [];
		for (let i = 0; i < 5; i++) {
			const next = reserveFair(fresh, clocks, "a", 1000);
			clocks.set("a", next.clock);
			slots.push(next.at);
		}
		expect(slots).toEqual([1000, 1100, 1200, 1300, 1400]);
	});

	it("queues a tenant's burst behind itself: a newcomer gets a slot now, and shares the rate after", () => {
		const clocks = new Map<string, number>();
		for (let i = 0; i < 25; i++) clocks.set("a", reserveFair(fresh, clocks, "a", 1000).clock);
		// A's 25 calls reach 2.5 s ahead; B's first one is not queued behind them.
		const b = reserveFair(fresh, clocks, "b", 1000);
		expect(b.at).toBe(1000);
		clocks.set("b", b.clock);
		// Two tenants with calls queued: each gets half the rate from now on.
		expect(b.clock).toBe(1200);
		const a = reserveFair(fresh, clocks, "a", 1000);
		expect(a.at).toBe(3500);
		expect(a.clock).toBe(3700);
		// Once B's queue has drained (its clock is past), A has the whole rate again.
		expect(reserveFair(fresh, clocks, "a", 3500).clock).toBe(3600);
	});

	it("cuts the rate to 3/4 on a 429 (once a second), voids older slots, and holds new ones for Retry-After", () => {
		let bucket = backOff({ ...fresh, tat: 60_000 }, 3000, 5000);
		expect(bucket.rate).toBe(7.5);
		expect(bucket.epoch).toBe(1);
		// The queue restarts after the Retry-After, at the new rate: slots handed out before are void.
		expect(reserveFair(bucket, new Map(), "a", 5000).at).toBe(8000);
		bucket = backOff(bucket, null, 5500);
		expect(bucket.rate).toBe(7.5);
		expect(bucket.epoch).toBe(1);
		bucket = backOff(bucket, null, 6000);
		expect(bucket.rate).toBe(5.625);
		let floor = bucket;
		for (let t = 7000; t < 40_000; t += 1000) floor = backOff(floor, null, t);
		expect(floor.rate).toBe(MIN_RATE);
		// With a floor (10 % of the configured rate in the gate), cuts stop there.
		let floored = bucket;
		for (let t = 7000; t < 40_000; t += 1000) floored = backOff(floored, null, t, 1);
		expect(floored.rate).toBe(1);
	});

	it("lets late wakers through at the rate, not as a burst, and books the others' sends spread out", () => {
		// Ten holders were due at 1000, 1100, … 1900, and all wake late, together, at 3000.
		let bucket = { ...fresh, sentTat: 1000 };
		const outcomes: { at: number; send: boolean }[] = [];
		for (let i = 0; i < 10; i++) {
			const go = confirm(bucket, 3000);
			bucket = go.bucket;
			outcomes.push({ at: go.at, send: go.send });
		}
		// A quarter second of slack lets 3 go at once (10/s); the others get booked sends, one per 100 ms.
		expect(outcomes.filter((o) => o.at === 3000 && !o.send)).toHaveLength(3);
		const booked = outcomes.filter((o) => o.send);
		expect(booked.map((o) => o.at)).toEqual([3050, 3150, 3250, 3350, 3450, 3550, 3650]);
		// Every call let through or booked counts: the next caller waits behind all ten.
		expect(bucket.sentTat).toBe(4000);
		expect(confirm(bucket, 3000)).toMatchObject({ at: 4000 - SEND_TOLERANCE_S * 1000, send: true });
	});

	it("wins the rate back additively, 2 % of the configured rate per second, up to it", () => {
		const cut = { ...fresh, rate: 2, updatedAt: 0 };
		expect(recover(cut, 10, 5000).rate).toBeCloseTo(3, 6);
		expect(recover(cut, 10, 60_000).rate).toBe(10);
	});
});

describe("the price of a poll when GETs are scarce", () => {
	const T = 1_000_000;
	const asks = (n: number, spreadMs: number) => {
		let demand = { current: 0, previous: 0, windowStart: 0 };
		for (let i = 0; i < n; i++) demand = countAsk(demand, T + (i * spreadMs) / n);
		return demand;
	};

	it("is 1 while demand fits the budget", () => {
		expect(pollPrice(asks(50, 10_000), T + 10_000, 10)).toBe(1);
	});

	it("rises as the square of the overload, so Keller's plans at that price fit the budget", () => {
		// 20 asks a second on a budget of 10: sqrt-scaled rates halve at four times the cost.
		const price = pollPrice(asks(400, 20_000), T + 20_000, 10);
		expect(price).toBeGreaterThan(3);
		expect(price).toBeLessThan(5);
		expect(pollPrice(asks(100_000, 20_000), T + 20_000, 1)).toBe(MAX_POLL_PRICE);
	});

	it("forgets old asks after two windows", () => {
		const busy = asks(400, 10_000);
		const later = countAsk(busy, T + 3 * DEMAND_WINDOW_MS);
		expect(pollPrice(later, T + 3 * DEMAND_WINDOW_MS, 10)).toBe(1);
	});

	it("keeps each plan optimal for its job's hazard: nine times the price, three times the gap near the median", () => {
		const sketch = priorSketch(120_000);
		const gapNear = (plan: number[]) =>
			plan
				.slice(1)
				.map((at, i) => ({ at, gap: at - (plan[i] as number) }))
				.find((g) => g.at > 120_000)?.gap as number;
		const cheap = planPolls(sketch, { ...options, pollCostMs: 250 });
		const dear = planPolls(sketch, { ...options, pollCostMs: 250 * 9 });
		expect(dear.length).toBeLessThan(cheap.length);
		expect(gapNear(dear) / gapNear(cheap)).toBeGreaterThan(2.4);
		expect(gapNear(dear) / gapNear(cheap)).toBeLessThan(3.6);
	});
});
