/**
 * The operations view's numbers from index rows (`tenant/stats.ts`): counts over a window,
 * jobs per hour, and nearest-rank push lag percentiles per hour.
 */
import { describe, expect, it } from "vitest";
import { type EndedRow, percentile, scanSince, summarizeStats } from "../../src/tenant/stats.ts";

/** 2025-11-22 12:30:00 UTC: half past an hour. */
const NOW = 1_763_814_600;
const HOUR = 3600;

const ended = (overrides: Partial<EndedRow> = {}): EndedRow => ({
	ended: NOW - 60,
	status: "COMPLETED",
	run_status: "completed",
	push_lag_ms: null,
	...overrides,
});

describe("percentile", () => {
	it("is nearest-rank, and null without values", () => {
		expect(percentile([], 0.5)).toBeNull();
		expect(percentile([7], 0.99)).toBe(7);
		expect(percentile([10, 20, 30, 40], 0.5)).toBe(20);
		const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
		expect(percentile(hundred, 0.5)).toBe(50);
		expect(percentile(hundred, 0.99)).toBe(99);
	});
});

describe("summarizeStats", () => {
	it("counts accepted, completed, failed, cancelled and dead-lettered within the window only", () => {
		const report = summarizeStats({
			window: "1h",
			now: NOW,
			created: [NOW - 10, NOW - 3000, NOW - 4000],
			ended: [
				ended(),
				ended({ status: "FAILED", run_status: "failed" }),
				ended({ status: "FAILED", run_status: "cancelled" }),
				// A Sonar job cut short by a token cap is COMPLETED, its run incomplete.
				ended({ status: "COMPLETED", run_status: "incomplete" }),
				ended({ ended: NOW - 2 * HOUR }),
			],
			deadLettered: 2,
			truncated: false,
		});
		expect(report.counts).toEqual({ accepted: 2, completed: 2, failed: 1, cancelled: 1, dead_lettered: 2 });
		expect(report.window).toBe("1h");
		expect(report.to).toBe(new Date(NOW * 1000).toISOString());
		expect(report.from).toBe(new Date((NOW - HOUR) * 1000).toISOString());
		expect(report.scan.truncated).toBe(false);
	});

	it("draws the last 24 UTC hours, the current one last, whatever the window", () => {
		const report = summarizeStats({
			window: "1h",
			now: NOW,
			created: [NOW, NOW - HOUR, NOW - 23 * HOUR, NOW - 24 * HOUR],
			ended: [ended({ ended: NOW - HOUR }), ended({ ended: NOW - 2 * HOUR, status: "FAILED", run_status: "failed" })],
			deadLettered: 0,
			truncated: false,
		});
		const bars = report.jobs_per_hour;
		expect(bars).toHaveLength(24);
		expect(bars[23]?.hour).toBe("2025-11-22T12:00:00.000Z");
		expect(bars[0]?.hour).toBe("2025-11-21T13:00:00.000Z");
		expect(bars[23]?.accepted).toBe(1);
		expect(bars[22]).toMatchObject({ accepted: 1, completed: 1, failed: 0 });
		expect(bars[21]).toMatchObject({ accepted: 0, completed: 0, failed: 1 });
		// 23 h ago is 13:30 yesterday: the first bar; 24 h ago (12:30) is before it.
		expect(bars[0]?.accepted).toBe(1);
		expect(bars.reduce((sum, bar) => sum + bar.accepted, 0)).toBe(3);
	});

	it("gives push lag p50/p99 over the window and per hour, hours without deliveries empty", () => {
		const lags = Array.from({ length: 100 }, (_, i) => ended({ ended: NOW - 60, push_lag_ms: (i + 1) * 10 }));
		const earlier = [ended({ ended: NOW - 3 * HOUR, push_lag_ms: 5000 })];
		const report = summarizeStats({
			window: "24h",
			now: NOW,
			created: [],
			ended: [...lags, ...earlier, ended({ push_lag_ms: null })],
			deadLettered: 0,
			truncated: true,
		});
		// 101 samples: the 51st and the 100th smallest.
		expect(report.push_lag).toMatchObject({ p50_ms: 510, p99_ms: 1000, samples: 101 });
		const hourly = report.push_lag.hourly;
		expect(hourly).toHaveLength(24);
		expect(hourly[23]).toEqual({ hour: "2025-11-22T12:00:00.000Z", p50_ms: 500, p99_ms: 990, samples: 100 });
		expect(hourly[20]).toMatchObject({ p50_ms: 5000, p99_ms: 5000, samples: 1 });
		expect(hourly[22]).toMatchObject({ p50_ms: null, p99_ms: null, samples: 0 });
		expect(report.scan).toEqual({ max_rows: 10_000, truncated: true });
	});

	it("has one lag bucket per hour of the window: 1 for an hour, 168 for 7 days", () => {
		const base = { now: NOW, created: [], ended: [], deadLettered: 0, truncated: false };
		expect(summarizeStats({ ...base, window: "1h" }).push_lag.hourly).toHaveLength(1);
		expect(summarizeStats({ ...base, window: "7d" }).push_lag.hourly).toHaveLength(168);
		expect(summarizeStats({ ...base, window: "7d" }).push_lag.p50_ms).toBeNull();
	});
});

describe("scanSince", () => {
	it("reads back the window, or the bar chart's 24 hours when those reach further", () => {
		expect(scanSince("7d", NOW)).toBe(NOW - 7 * 24 * HOUR);
		expect(scanSince("1h", NOW)).toBe(NOW - 30 * 60 - 23 * HOUR);
		expect(scanSince("24h", NOW)).toBe(NOW - 24 * HOUR);
	});
});
