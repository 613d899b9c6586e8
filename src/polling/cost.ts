/**
 * Watch or poll: what a job costs either way, and the per-job choice of
 * `WATCH_MODE=auto`.
 *
 * - Following the run's event stream keeps the Job Durable Object active for
 *   the whole run, which is billed as duration (wall clock × 128 MB). The push
 *   then leaves within the network's lag.
 * - Polling costs a Durable Object request and a short activation per poll,
 *   and the push waits, on average, for part of the gap between two polls.
 *
 * Streaming is never the cheaper of the two in Cloudflare's bill: it pays for
 * every second of the run. What it buys is lag. `auto` streams a job when the
 * lag it saves, valued at `WATCH_LAG_VALUE_USD_PER_HOUR` of a caller's wait, is
 * worth more than what it adds to the bill. So it streams runs that are long
 * enough for polling to leave real lag, and short enough that holding them is
 * cheap; it polls very long runs. `WATCH_LAG_VALUE_USD_PER_HOUR=0` always
 * polls (the cheapest bill); a higher value streams longer runs.
 */

/** Cloudflare's list prices (Workers Paid, as of 2026-11), beyond the included amounts. */
export const PRICES = {
	/** Per Durable Object request (an RPC, an alarm run). */
	doRequestUsd: 0.15 / 1_000_000,
	/** Per GB-second of Durable Object duration. */
	doGbSecondUsd: 12.5 / 1_000_000,
	/** A Durable Object is billed at 128 MB. */
	doGb: 0.125,
} as const;

/** How long an alarm that polls keeps the object active (the upstream call, the save): an estimate. */
export const POLL_ACTIVE_S = 0.2;
/** The lag a stream leaves: the network's (the emulator and loopback measure ~50 ms). */
export const STREAM_LAG_MS = 100;

/** What the gate expects of a job of this model, from its learnt durations and its poll plan. */
export interface WatchEstimate {
	/** The expected duration of the run (ms). */
	expectedMs: number;
	/** The polls the plan is expected to take. */
	polls: number;
	/** The push lag the plan is expected to leave (ms). */
	lagMs: number;
}

/** Cloudflare cost of one job's watching, in USD: the stream's held duration, or the polls. */
export function watchCostUsd(mode: "stream" | "poll", estimate: WatchEstimate): number {
	if (mode === "stream") return (estimate.expectedMs / 1000) * PRICES.doGb * PRICES.doGbSecondUsd + PRICES.doRequestUsd;
	return estimate.polls * (PRICES.doRequestUsd + POLL_ACTIVE_S * PRICES.doGb * PRICES.doGbSecondUsd);
}

/**
 * Whether to follow this job's event stream rather than poll it.
 *
 * @example
 * chooseWatch("auto", true, { expectedMs: 180_000, polls: 24, lagMs: 3500 }, 1) // true: 3.4 s of lag is worth more than 0.03¢
 */
export function chooseWatch(
	mode: "auto" | "stream" | "poll",
	canWatch: boolean,
	estimate: WatchEstimate | null,
	lagValueUsdPerHour: number,
): boolean {
	if (!canWatch || mode === "poll") return false;
	if (mode === "stream") return true;
	if (!estimate || !(lagValueUsdPerHour > 0)) return false;
	const extraCost = watchCostUsd("stream", estimate) - watchCostUsd("poll", estimate);
	const lagSavedS = Math.max(0, estimate.lagMs - STREAM_LAG_MS) / 1000;
	return extraCost <= (lagValueUsdPerHour / 3600) * lagSavedS;
}
