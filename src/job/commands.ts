/**
 * What a caller's call, or the alarm's start, asks of a job, decided purely: cancel it, send its
 * final event again, begin an alarm run (the submitter gone, a create lost with the relay), answer a
 * rejected submit, tell who owns it, and whether its alarm must be set again. The Job DO only
 * carries these out.
 */

import { restartFinals } from "../delivery/outbox.ts";
import type { LogRecord } from "../log.ts";
import type { Action, Outcome } from "./actions.ts";
import { stepLogs } from "./log.ts";
import { apply, lostCreate, nextWake } from "./machine.ts";
import type { Policy } from "./schedule.ts";
import { isFinal, type JobState, MAX_LATENESS_SAMPLES, type Surface, statusOf, surfaceOf } from "./state.ts";
import { countAction } from "./stats.ts";
import { failJob } from "./transitions.ts";
import { primaryUrl, responseStatus } from "./views.ts";

export type CancelResult = { ok: true; state: JobState } | { ok: false; reason: string };

/**
 * The caller cancels the job: it ends now (`cancelled` on the Agent surface; `FAILED` with
 * `error_message: "cancelled"` on the Sonar one), its final event is queued like any other, and
 * the upstream run, if one was started, is cancelled too (best effort, as on a timeout).
 *
 * @example
 * const result = cancelJob(state, Date.now(), policy);
 * if (result.ok) state = result.state; // then run what is due: the upstream cancel, the event
 */
export function cancelJob(state: JobState, now: number, policy: Policy): CancelResult {
	const { lifecycle } = state;
	if (isFinal(state) || lifecycle.phase === "settled" || lifecycle.phase === "rejected") {
		const agent = state.spec.surface === "agent";
		const status = agent ? responseStatus(state) : statusOf(state);
		return {
			ok: false,
			reason: `the ${agent ? "run" : "job"} has already ended (${status}): there is nothing to cancel`,
		};
	}
	const upstreamId = lifecycle.phase === "polling" ? lifecycle.upstreamId : null;
	return { ok: true, state: failJob(state, now, policy, "cancelled", upstreamId, upstreamId !== null, "cancelled") };
}

export type RedeliverResult = { ok: true; state: JobState } | { ok: false; reason: string };

/**
 * Sends the final event to `callback_url` again, now, with the same `webhook-id` (receivers dedupe on
 * it). A delivered or dead-lettered event starts a new attempt series on the full schedule. One still
 * waiting out its back-off (a receiver fixed since its last failure) is sent now instead of at its next
 * attempt, in the same series. Nothing is ever mid-send when this runs: attempts and this both hold the
 * job's lock, so no 409 says "in flight" when nothing is.
 */
export function redeliver(state: JobState, now: number): RedeliverResult {
	if (!isFinal(state) || state.lifecycle.phase !== "settled") {
		return { ok: false, reason: "the job has not settled yet: there is no final event to send" };
	}
	const callbackUrl = primaryUrl(state.spec);
	const deliveries = callbackUrl ? restartFinals(state.deliveries, callbackUrl, now) : null;
	if (!deliveries) return { ok: false, reason: "the job has no callback_url for its final event" };
	return { ok: true, state: { ...state, deliveries } };
}

/** The start of an alarm run: the state it runs from, and what to log of a create found lost. */
export interface AlarmStart {
	state: JobState;
	logs: LogRecord[];
}

/**
 * Begins an alarm run. The caller who submitted the job no longer waits on it (its request died
 * before it answered, or it was answered): the job is the alarm's now, never a rejection. After a
 * restart (`restored`), a create found on its way lost its answer with the relay: a possible
 * duplicate run, retried within the bound. The run and its lateness are counted.
 *
 * @example
 * const { state, logs } = beginAlarmRun(stored, { restored: true, scheduledFor: alarmAt }, Date.now(), policy, Math.random());
 */
export function beginAlarmRun(
	state: JobState,
	run: { restored: boolean; scheduledFor: number | null },
	now: number,
	policy: Policy,
	random: number,
): AlarmStart {
	let next = state;
	if (next.lifecycle.phase === "submitting" && next.lifecycle.callerWaiting) {
		next = { ...next, lifecycle: { ...next.lifecycle, callerWaiting: false } };
	}
	// Only a create this instance did not send itself: one it sent is still awaiting its answer.
	const outcome = run.restored ? lostCreate(next) : null;
	let logs: LogRecord[] = [];
	if (outcome) {
		const action: Action = { type: "create", slot: null };
		const before = next;
		next = advance(before, action, outcome, now, policy, random);
		logs = stepLogs(before, next, action, outcome);
	}
	const { stats } = next;
	const lateness = run.scheduledFor === null ? [] : [Math.max(0, now - run.scheduledFor)];
	next = {
		...next,
		stats: {
			...stats,
			alarmRuns: stats.alarmRuns + 1,
			alarmLatenessMs: [...stats.alarmLatenessMs, ...lateness].slice(-MAX_LATENESS_SAMPLES),
		},
	};
	return { state: next, logs };
}

/** A refused submit, as the caller is answered, and whether the job must leave the tenant index. */
export interface Rejection {
	status: 400 | 422 | 429 | 502;
	detail: string;
	retryAfterMs: number | null;
	/** Admitted by the index, then refused (a queue past its deadline, upstream's 4xx): its entry goes. */
	leaveIndex: boolean;
}

/**
 * The answer to a submit the job was rejected on: upstream's 400 or 422 as it is, a 429 with its
 * Retry-After, any other refusal a 502. Null unless the job is rejected.
 *
 * @example
 * rejection(state) // { status: 422, detail: "…", retryAfterMs: null, leaveIndex: true }
 */
export function rejection(state: JobState): Rejection | null {
	const { lifecycle } = state;
	if (lifecycle.phase !== "rejected") return null;
	const { status } = lifecycle;
	return {
		status: status === 400 || status === 422 || status === 429 ? status : 502,
		detail: lifecycle.detail,
		retryAfterMs: lifecycle.retryAfterMs ?? null,
		leaveIndex: lifecycle.admitted,
	};
}

/** Whether a submit under the same idempotency key is the same one (a replay) rather than a conflict (409). */
export function isReplay(state: JobState, tenant: string, bodyHash: string): boolean {
	return state.spec.tenant === tenant && state.spec.bodyHash === bodyHash;
}

/**
 * The job, if it is `tenant`'s, was submitted on `surface`, and is the job `id` names (an object named
 * by an idempotency key may hold a later job than the one asked for); to anyone else it does not exist.
 */
export function ownedBy(state: JobState | null, tenant: string, surface: Surface, id?: string): JobState | null {
	if (!state || state.spec.tenant !== tenant || surfaceOf(state.spec) !== surface) return null;
	return id === undefined || state.spec.id === id ? state : null;
}

/** What a look at a job's stored alarm found, and when to set it (for `rearmed`). */
export type AlarmCheck =
	| { action: "idle" | "armed"; reason: null; at: number | null }
	| { action: "rearmed"; reason: "missing" | "overdue"; at: number };

/**
 * Whether a job's alarm must be set again: it is missing, or overdue by more than `overdueMs` (the
 * runtime lost it), while the machine still has something to do. A new time is never the lost one:
 * setting that again would be a no-op for the runtime.
 *
 * @example
 * checkAlarm(state, await storage.getAlarm(), Date.now(), 300_000, policy) // { action: "rearmed", reason: "missing", at }
 */
export function checkAlarm(
	state: JobState,
	alarm: number | null,
	now: number,
	overdueMs: number,
	policy: Policy,
): AlarmCheck {
	const due = nextWake(state, now, policy);
	if (due === null) return { action: "idle", reason: null, at: alarm };
	if (alarm !== null && alarm >= now - overdueMs) return { action: "armed", reason: null, at: alarm };
	let at = Math.max(Math.ceil(due), now + 1);
	if (at === alarm) at += 1;
	return { action: "rearmed", reason: alarm === null ? "missing" : "overdue", at };
}

/**
 * The state after an action's outcome, with what the action cost counted; `streamMs`: the outcome
 * ends a connection to the run's event stream, held that long.
 *
 * @example
 * state = advance(state, action, await perform(shell, action, state), Date.now(), policy, Math.random());
 */
export function advance(
	state: JobState,
	action: Action,
	outcome: Outcome,
	now: number,
	policy: Policy,
	random: number,
	streamMs?: number,
): JobState {
	const next = apply(state, outcome, now, policy, random);
	const { stats } = next;
	if (streamMs !== undefined) {
		return {
			...next,
			stats: { ...stats, streams: (stats.streams ?? 0) + 1, streamMs: (stats.streamMs ?? 0) + streamMs },
		};
	}
	return action.type === "watch" ? next : { ...next, stats: countAction(stats, action, outcome) };
}

/** The upstream run's id, once there is one: for a follow-up run's `previous_response_id`. */
export function upstreamIdOf(state: JobState | null): string | null {
	const lifecycle = state?.lifecycle;
	return lifecycle && (lifecycle.phase === "polling" || lifecycle.phase === "settled") ? lifecycle.upstreamId : null;
}

/** The job a signed link to its result opens, if it names this one (an idempotency key's object may hold a later job). */
export function linkedJob(state: JobState | null, id?: string): JobState | null {
	if (!state || state.lifecycle.phase === "rejected") return null;
	return id === undefined || state.spec.id === id ? state : null;
}
