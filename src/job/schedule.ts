/**
 * When a job does things again: the policy it runs under (from settings), the back-off of creates,
 * polls, failed side effects and failed alarm runs, and the duration learnt from the polls that
 * bracket a run's end. Pure arithmetic; `random` in [0, 1) only jitters.
 */
import type { Settings } from "../config.ts";
import { jittered, MAX_RETRY_AFTER_MS } from "../delivery/outbox.ts";
import { chooseWatch, type WatchEstimate } from "../polling/cost.ts";
import { observedDuration } from "../polling/sketch.ts";
import { nextPlannedPoll } from "../upstream/pacing/pacing.ts";
import type { UpstreamRun } from "../upstream/port.ts";
import type { Lifecycle } from "./state.ts";

export type Policy = Pick<
	Settings,
	| "createRetryInitialMs"
	| "pollInitialDelayMs"
	| "pollMaxIntervalMs"
	| "pollMinIntervalMs"
	| "jobTimeoutSeconds"
	| "deliveryScheduleMs"
	| "resultTtlSeconds"
> &
	Partial<Pick<Settings, "ambiguousCreateRetries" | "watchMode" | "watchLagValueUsdPerHour">>;

/** Growth of the poll interval. */
export const POLL_BACKOFF = 1.5;
/** Create retries back off from `createRetryInitialMs`, doubling, up to this. */
export const CREATE_MAX_BACKOFF_MS = 60_000;
/** A timed-out job's upstream run is cancelled in at most this many tries, this far apart at first (doubling). */
export const CANCEL_ATTEMPTS = 3;
export const CANCEL_RETRY_MS = 5_000;
/** Retries of an ambiguous create when the policy does not say. */
export const DEFAULT_AMBIGUOUS_CREATE_RETRIES = 2;
/** KV or index write failed: try again after this, doubling per failure in a row (±20 %), up to the cap. */
export const SIDE_EFFECT_RETRY_MS = 5_000;
/** Side-effect retries stop growing here: with KV down for a day, a job writes about 30 times, not 17,000. */
export const SIDE_EFFECT_MAX_RETRY_MS = 3_600_000;
/** An alarm run that threw is run again after this, doubling per failure in a row (±20 %), up to the cap. */
export const ALARM_RETRY_MS = 5_000;
export const ALARM_MAX_RETRY_MS = 3_600_000;

/**
 * Delay before retry number `failures` (1 for the first retry): `initialMs` doubling per failure
 * in a row, ±JITTER, never more than `maxMs`.
 *
 * @example
 * retryBackoff(1, 5_000, 3_600_000, 0.5) // 5000
 * retryBackoff(20, 5_000, 3_600_000, 0.5) // 3600000
 */
export function retryBackoff(failures: number, initialMs: number, maxMs: number, random: number): number {
	const exponent = Math.min(Math.max(failures, 1) - 1, 30);
	return Math.min(jittered(Math.min(initialMs * 2 ** exponent, maxMs), random), maxMs);
}

/** Delay before retrying a failed KV or index write, after `failures` failures in a row. */
export function sideEffectRetryDelay(failures: number, random: number): number {
	return retryBackoff(failures, SIDE_EFFECT_RETRY_MS, SIDE_EFFECT_MAX_RETRY_MS, random);
}

/** Delay before the alarm guard runs a job again, after `failures` alarm runs in a row threw. */
export function alarmRetryDelay(failures: number, random: number): number {
	return retryBackoff(failures, ALARM_RETRY_MS, ALARM_MAX_RETRY_MS, random);
}

/** Delay before create attempt `attempts + 1`: 1 s, 2 s, 4 s … capped, never sooner than Retry-After. */
export function nextCreateDelay(
	attempts: number,
	retryAfterMs: number | null,
	initialMs: number,
	random: number,
): number {
	const backoff = jittered(Math.min(initialMs * 2 ** attempts, CREATE_MAX_BACKOFF_MS), random);
	return Math.max(backoff, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

/**
 * When to poll next: the first planned time still ahead, or, past the plan
 * (or without one), the last gap grown ×1.5 up to POLL_MAX_INTERVAL_MS.
 */
export function nextPollAt(
	lifecycle: Extract<Lifecycle, { phase: "polling" }>,
	now: number,
	policy: Policy,
): { at: number; intervalMs: number } {
	const earliest = now + Math.min(policy.pollMinIntervalMs, policy.pollMaxIntervalMs) / 2;
	const planned = nextPlannedPoll(lifecycle.pacing, lifecycle.acceptedAt, earliest);
	if (planned !== null) return { at: planned, intervalMs: planned - now };
	const intervalMs = nextPollInterval(lifecycle.intervalMs, policy);
	return { at: now + intervalMs, intervalMs };
}

/** The interval after one more poll: ×1.5, capped. */
export function nextPollInterval(intervalMs: number, policy: Policy): number {
	return Math.min(Math.round(intervalMs * POLL_BACKOFF), policy.pollMaxIntervalMs);
}

/** The finished job's duration from the polls that bracket its end, for the gate to learn from. */
export function learntDuration(
	lifecycle: Extract<Lifecycle, { phase: "polling" }>,
	run: UpstreamRun,
	now: number,
): number | null {
	if (lifecycle.acceptedAt === undefined) return null;
	return observedDuration({
		lastPendingMs: (lifecycle.lastPendingAt ?? lifecycle.acceptedAt) - lifecycle.acceptedAt,
		firstDoneMs: now - lifecycle.acceptedAt,
		upstreamSeconds: run.finishedAt !== null && run.createdAt !== null ? run.finishedAt - run.createdAt : null,
	});
}

/** `WATCH_MODE` and the value of an hour of lag, as the settings default them. */
const DEFAULT_WATCH_MODE = "auto";
const DEFAULT_LAG_VALUE_USD_PER_HOUR = 1;

/**
 * Whether a created run is watched through its event stream rather than polled: `WATCH_MODE`, or in
 * `auto` the pacer's estimate of the model's runs (the lag streaming saves against what it costs).
 *
 * @example
 * watchesRun(true, { expectedMs: 180_000, polls: 24, lagMs: 3500 }, policy) // true: the lag is worth more
 * watchesRun(false, estimate, { ...policy, watchMode: "stream" }) // false: the upstream cannot stream
 */
export function watchesRun(canWatch: boolean, estimate: WatchEstimate | null, policy: Policy): boolean {
	const mode = policy.watchMode ?? DEFAULT_WATCH_MODE;
	return chooseWatch(mode, canWatch, estimate, policy.watchLagValueUsdPerHour ?? DEFAULT_LAG_VALUE_USD_PER_HOUR);
}
