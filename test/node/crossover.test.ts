/**
 * `WATCH_MODE=auto`'s choice against the cost model it is documented by
 * (bench/crossover.ts, from the relay's own planner): across run lengths and
 * values of a caller's wait, auto picks the mode with the lower total of
 * Cloudflare cost and wait, and the crossover moves the way the docs say.
 */
import { describe, expect, it } from "vitest";
import { crossover } from "../../bench/crossover.ts";

const MEDIANS_S = [15, 30, 60, 120, 180, 300, 600, 1200, 1800, 2700];

describe("the watch crossover", () => {
	it("auto is never worse than the cheaper mode by more than 10 %, at any wait value", () => {
		for (const lagValue of [0.05, 0.25, 1, 5, 20]) {
			for (const row of crossover(MEDIANS_S, 0.5, lagValue)) {
				expect(row.auto_excess, `${row.median_s} s at $${lagValue}/h`).toBeLessThanOrEqual(0.1);
			}
		}
	});

	it("polling is always the smaller Cloudflare bill; the stream's grows with the run", () => {
		const rows = crossover(MEDIANS_S, 0.5, 1);
		for (const row of rows) expect(row.stream_usd_per_1000).toBeGreaterThan(row.poll_usd_per_1000);
		const stream = rows.map((r) => r.stream_usd_per_1000);
		expect([...stream].sort((a, b) => a - b)).toEqual(stream);
		// 3-minute runs: about $0.32 per 1000 jobs held, against about a cent of polls.
		const three = rows.find((r) => r.median_s === 180);
		expect(three?.stream_usd_per_1000).toBeCloseTo(0.319, 2);
		expect(three?.poll_usd_per_1000).toBeLessThan(0.02);
	});

	it("streams shorter runs as the wait is valued less, and never with a wait worth nothing", () => {
		const longestStreamed = (lagValue: number) =>
			Math.max(0, ...crossover(MEDIANS_S, 0.5, lagValue).flatMap((r) => (r.auto === "stream" ? [r.median_s] : [])));
		expect(longestStreamed(0)).toBe(0);
		expect(longestStreamed(0.25)).toBeLessThan(longestStreamed(1));
		expect(longestStreamed(1)).toBeLessThanOrEqual(longestStreamed(5));
		// At the default $1/h, deep research (minutes) is streamed.
		expect(longestStreamed(1)).toBeGreaterThanOrEqual(600);
	});
});
