/**
 * The operations view's numbers (`GET /v1/stats`), from rows of the tenant's job index: jobs per
 * hour, counts over a window (accepted, completed, failed, cancelled, dead-lettered), and push lag
 * percentiles per hour. Pure functions over plain rows; the Tenant DO runs the bounded queries.
 *
 * Hours are whole UTC hours, the current one last. The work is bounded: each query reads at most
 * `MAX_STATS_ROWS` rows, the newest first, and the report says when one reached the cap (its counts
 * are then of the newest rows only).
 */
import type { OpsStats, StatsWindow } from "../schemas/ops.ts";

/** Rows one stats query reads at most (there are three): a busy tenant's 7 days are sampled, newest first. */
export const MAX_STATS_ROWS = 10_000;

export const WINDOW_SECONDS: Record<StatsWindow, number> = { "1h": 3_600, "24h": 86_400, "7d": 604_800 };

/** The bar chart's span: the current hour and the 23 before it. */
export const JOBS_PER_HOUR_BUCKETS = 24;

const HOUR = 3_600;

/** A job that ended, as the stats read it. */
export type EndedRow = {
	/** `completed_at` or `failed_at` (Unix seconds). */
	ended: number;
	status: string;
	run_status: string | null;
	push_lag_ms: number | null;
};

export interface StatsInput {
	window: StatsWindow;
	/** Now, in Unix seconds. */
	now: number;
	/** `created_at` of the jobs accepted since `scanSince(window, now)`. */
	created: number[];
	/** The jobs that ended since `scanSince(window, now)`. */
	ended: EndedRow[];
	/** Jobs dead-lettered within the window. */
	deadLettered: number;
	/** Whether a query reached `MAX_STATS_ROWS`. */
	truncated: boolean;
}

/** The first second of the hour `t` falls in. */
const hourOf = (t: number) => Math.floor(t / HOUR) * HOUR;

/**
 * How far back the queries read: the window, or the bar chart's 24 hours when that is longer.
 *
 * @example
 * scanSince("1h", 1_763_812_800) // 1_763_730_000: the start of the hour 23 hours before
 */
export function scanSince(window: StatsWindow, now: number): number {
	return Math.min(now - WINDOW_SECONDS[window], hourOf(now) - (JOBS_PER_HOUR_BUCKETS - 1) * HOUR);
}

/**
 * The nearest-rank percentile of ascending `sorted` values; null when there are none.
 *
 * @example
 * percentile([10, 20, 30, 40], 0.5) // 20
 */
export function percentile(sorted: readonly number[], p: number): number | null {
	if (sorted.length === 0) return null;
	const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
	return sorted[rank - 1] ?? null;
}

/** A job that ended FAILED because it was cancelled (the Agent surface's `cancelled`; a Sonar job cancelled too). */
const isCancelled = (row: EndedRow) => row.run_status === "cancelled";

/**
 * The report, from the rows the queries read.
 *
 * @example
 * const report = summarizeStats({ window: "24h", now, created, ended, deadLettered: 1, truncated: false });
 * report.counts.completed // jobs COMPLETED in the last 24 h
 */
export function summarizeStats(input: StatsInput): OpsStats {
	const { window, now } = input;
	const from = now - WINDOW_SECONDS[window];
	// No upper bound: upstream's clock may put an end a moment after the relay's now.
	const inWindow = (t: number) => t >= from;
	const ended = input.ended.filter((row) => inWindow(row.ended));

	const firstBar = hourOf(now) - (JOBS_PER_HOUR_BUCKETS - 1) * HOUR;
	const bars = Array.from({ length: JOBS_PER_HOUR_BUCKETS }, (_, i) => ({
		hour: iso(firstBar + i * HOUR),
		accepted: 0,
		completed: 0,
		failed: 0,
	}));
	const barAt = (t: number) =>
		t >= firstBar ? bars[Math.min(JOBS_PER_HOUR_BUCKETS - 1, Math.floor((t - firstBar) / HOUR))] : undefined;
	for (const t of input.created) {
		const bar = barAt(t);
		if (bar) bar.accepted += 1;
	}
	for (const row of input.ended) {
		const bar = barAt(row.ended);
		if (!bar) continue;
		if (row.status === "COMPLETED") bar.completed += 1;
		else if (row.status === "FAILED") bar.failed += 1;
	}

	const lagHours = WINDOW_SECONDS[window] / HOUR;
	const firstLag = hourOf(now) - (lagHours - 1) * HOUR;
	const lagBuckets: number[][] = Array.from({ length: lagHours }, () => []);
	const lags: number[] = [];
	for (const row of ended) {
		if (row.push_lag_ms === null) continue;
		lags.push(row.push_lag_ms);
		if (row.ended >= firstLag)
			lagBuckets[Math.min(lagHours - 1, Math.floor((row.ended - firstLag) / HOUR))]?.push(row.push_lag_ms);
	}
	const ascending = (values: number[]) => values.sort((a, b) => a - b);
	ascending(lags);

	return {
		window,
		from: iso(from),
		to: iso(now),
		counts: {
			accepted: input.created.filter(inWindow).length,
			completed: ended.filter((row) => row.status === "COMPLETED").length,
			failed: ended.filter((row) => row.status === "FAILED" && !isCancelled(row)).length,
			cancelled: ended.filter((row) => row.status === "FAILED" && isCancelled(row)).length,
			dead_lettered: input.deadLettered,
		},
		jobs_per_hour: bars,
		push_lag: {
			p50_ms: percentile(lags, 0.5),
			p99_ms: percentile(lags, 0.99),
			samples: lags.length,
			hourly: lagBuckets.map((values, i) => {
				ascending(values);
				return {
					hour: iso(firstLag + i * HOUR),
					p50_ms: percentile(values, 0.5),
					p99_ms: percentile(values, 0.99),
					samples: values.length,
				};
			}),
		},
		scan: { max_rows: MAX_STATS_ROWS, truncated: input.truncated },
	};
}

function iso(seconds: number): string {
	return new Date(seconds * 1000).toISOString();
}
