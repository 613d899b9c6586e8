/**
 * The job state machine: pure functions, no I/O, no clock, no randomness of
 * their own. The Job Durable Object loads a `JobState`, asks `dueActions` what
 * to do now, performs each action's I/O, feeds the outcome to `apply`, saves,
 * and arms its one alarm for `nextWake`. Expected failures (upstream down, a
 * receiver answering 503) are outcomes that become states, never exceptions.
 *
 *   submitting ──created──▶ polling ──COMPLETED/FAILED──▶ settled ──TTL──▶ retired
 *        │                     │
 *        └─terminal 4xx on the first try──▶ rejected (nothing is kept)
 *
 * Side effects that must happen once per change (the KV result, the tenant
 * index) are owed by the lifecycle's phase (`owed.ts`) until done. Deliveries
 * are an outbox beside the lifecycle (`delivery/outbox.ts`): the `started` event
 * is sent while polling. The state's types are in `state.ts`, the views in
 * `views.ts`, the timing in `schedule.ts`, the stream's handling in `watch.ts`.
 */
import {
	dropDelivery,
	heads,
	isFinalEvent,
	MAX_LOG_ENTRIES,
	MAX_RETRY_AFTER_MS,
	type OutboxChange,
	recordAttempt,
} from "../delivery/outbox.ts";
import { isPushback } from "../upstream/errors.ts";
import { afterPushback, firstPlannedPoll, heed, whileDeferred } from "../upstream/pacing/pacing.ts";
import type { Action, Outcome } from "./actions.ts";
import { contractStatus } from "./events.ts";
import { initialDeliveries } from "./integration.ts";
import { carried, owe, owedOf } from "./owed.ts";
import {
	CANCEL_ATTEMPTS,
	CANCEL_RETRY_MS,
	DEFAULT_AMBIGUOUS_CREATE_RETRIES,
	learntDuration,
	nextCreateDelay,
	nextPollAt,
	nextPollInterval,
	type Policy,
	sideEffectRetryDelay,
	watchesRun,
} from "./schedule.ts";
import { emptyStats, isFinal, type JobSpec, type JobState } from "./state.ts";
import { failJob, fanOut, observe, pendingFanOut } from "./transitions.ts";
import { applyWatched, applyWatchUpdate } from "./watch.ts";

// ── Construction ─────────────────────────────────────────────────────────────

/**
 * A fresh job, stored before anything is sent upstream. `callerWaiting` is
 * false when the caller was answered before the upstream create (Slack).
 */
export function newJob(spec: JobSpec, now: number, callerWaiting = true): JobState {
	return {
		spec,
		lifecycle: {
			phase: "submitting",
			owed: { admit: true, index: true, retryAt: null, failures: 0 },
			attempts: 0,
			nextAt: now,
			lastError: null,
			callerWaiting,
		},
		startedAt: null,
		completedAt: null,
		failedAt: null,
		errorMessage: null,
		response: null,
		runStatus: null,
		output: null,
		deliveries: initialDeliveries(spec),
		log: [],
		stats: emptyStats(),
	};
}

// ── Deciding ─────────────────────────────────────────────────────────────────

function deadline(state: JobState, policy: Policy): number {
	return state.spec.createdAtMs + policy.jobTimeoutSeconds * 1000;
}

function sideEffectsAllowed(state: JobState, now: number): boolean {
	const retryAt = owedOf(state)?.retryAt ?? null;
	return retryAt === null || retryAt <= now;
}

/**
 * The first attempt of a final event is due: it goes before the KV result and
 * the index, so that the push, which is what the caller waits for, waits on
 * nothing, and so that KV and the index are written once, with the delivery
 * status the attempt settled on, instead of twice. A receiver that GETs the job
 * on receipt still finds the result: until KV has it, GET reads the Job DO.
 */
function firstFinalAttemptDue(state: JobState, now: number): boolean {
	if (!isFinal(state)) return false;
	return heads(state.deliveries).some((d) => isFinalEvent(d) && d.attempts === 0 && d.nextAt <= now);
}

/**
 * What is due now, in the order it should run: upstream first, then the first
 * attempt of a final event, then the KV result and the index, then the other
 * deliveries, then retirement.
 */
export function dueActions(state: JobState, now: number, policy: Policy): Action[] {
	const actions: Action[] = [];
	const { lifecycle } = state;
	if (lifecycle.phase === "rejected") return actions;
	// A new job is judged against its tenant's limits, by the tenant index, before anything else.
	if (lifecycle.phase === "submitting" && lifecycle.owed.admit) return [{ type: "index", fanOut: null, admit: true }];
	if (!isFinal(state) && now >= deadline(state, policy)) {
		actions.push({ type: "expire" });
	} else if (lifecycle.phase === "submitting" && lifecycle.nextAt <= now) {
		actions.push({
			type: "create",
			slot: lifecycle.slot ?? null,
			// The caller waits on its first create: a create queue past the job's deadline refuses it (429).
			...(lifecycle.callerWaiting && lifecycle.attempts === 0 ? { deadline: deadline(state, policy) } : {}),
		});
	} else if (lifecycle.phase === "polling" && lifecycle.nextAt <= now && lifecycle.watch) {
		actions.push({ type: "watch", upstreamId: lifecycle.upstreamId, cursor: lifecycle.watch.cursor });
	} else if (lifecycle.phase === "polling" && lifecycle.nextAt <= now) {
		actions.push({
			type: "poll",
			upstreamId: lifecycle.upstreamId,
			slot: lifecycle.slot ?? null,
			pacing: heed(lifecycle.pacing),
		});
	}
	if (sideEffectsAllowed(state, now) && !firstFinalAttemptDue(state, now)) {
		if (lifecycle.phase === "settled" && lifecycle.owed.cache) actions.push({ type: "cache" });
		if (lifecycle.owed.index) actions.push({ type: "index", fanOut: pendingFanOut(state) });
	}
	for (const delivery of heads(state.deliveries)) {
		if (delivery.nextAt <= now) actions.push({ type: "deliver", id: delivery.id });
	}
	if (lifecycle.phase === "settled" && state.durationMs && lifecycle.owed.learn) {
		actions.push({ type: "learn", model: state.spec.model, durationMs: state.durationMs });
	}
	if (lifecycle.phase === "settled" && lifecycle.upstreamId && lifecycle.cancel && lifecycle.cancel.nextAt <= now) {
		actions.push({ type: "cancel_upstream", upstreamId: lifecycle.upstreamId });
	}
	if (
		lifecycle.phase === "settled" &&
		now >= lifecycle.retireAt &&
		heads(state.deliveries).length === 0 &&
		!lifecycle.cancel &&
		// Retiring deletes the KV result and the index entry: a failure backs off like any side effect.
		sideEffectsAllowed(state, now)
	) {
		actions.push({ type: "retire" });
	}
	return actions;
}

/** When the alarm should next run; null when nothing is left to do. */
export function nextWake(state: JobState, now: number, policy: Policy): number | null {
	const { lifecycle } = state;
	if (lifecycle.phase === "rejected") return null;
	const times: number[] = [];
	if (lifecycle.phase === "submitting" || lifecycle.phase === "polling") {
		times.push(Math.min(lifecycle.nextAt, deadline(state, policy)));
	}
	const { owed } = lifecycle;
	if ((lifecycle.phase === "settled" && lifecycle.owed.cache) || owed.index) times.push(owed.retryAt ?? now);
	if (lifecycle.phase === "settled" && state.durationMs && lifecycle.owed.learn) times.push(now);
	const due = heads(state.deliveries);
	for (const delivery of due) times.push(delivery.nextAt);
	if (lifecycle.phase === "settled" && lifecycle.cancel) times.push(lifecycle.cancel.nextAt);
	if (lifecycle.phase === "settled" && due.length === 0) {
		times.push(Math.max(lifecycle.retireAt, owed.retryAt ?? 0));
	}
	return times.length === 0 ? null : Math.max(now, Math.min(...times));
}

/**
 * Marks a create as on its way upstream: saved before the call, so that a relay that dies before
 * the answer finds it on its restart (`recoverLostCreate`).
 */
export function markCreateSent(state: JobState, now: number): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "submitting") return state;
	return { ...state, lifecycle: { ...lifecycle, sentAt: now } };
}

/**
 * The outcome of a create whose answer was lost with the relay (a crash, an eviction, a deploy
 * while it was on its way): an ambiguous failure like a timeout, counted as a possible duplicate
 * run and retried within the same bound. Null when no create was in flight.
 */
export function lostCreate(state: JobState): Outcome | null {
	const { lifecycle } = state;
	if (lifecycle.phase !== "submitting" || !lifecycle.sentAt) return null;
	return {
		type: "create_failed",
		failure: {
			kind: "network",
			status: null,
			retryable: true,
			retryAfterMs: null,
			ambiguous: true,
			message: "the relay stopped while this job's create was on its way upstream; a run may have started there",
		},
	};
}

/**
 * The state after an outcome. `random` is in [0, 1) and only jitters delays.
 *
 * @example
 * let state = newJob(spec, now);
 * state = apply(state, { type: "created", upstream }, now, policy, Math.random());
 * state.lifecycle.phase // "polling"
 */
export function apply(state: JobState, outcome: Outcome, now: number, policy: Policy, random: number): JobState {
	const { lifecycle } = state;
	switch (outcome.type) {
		case "created": {
			if (lifecycle.phase !== "submitting") return state;
			const pacing = heed(lifecycle.pacing, outcome.pacing);
			const first = firstPlannedPoll(pacing);
			const nextAt = first !== null ? now + first : now + policy.pollInitialDelayMs;
			const polling: JobState = {
				...state,
				upstream: outcome.upstream ?? state.upstream ?? null,
				lifecycle: {
					phase: "polling",
					owed: carried(lifecycle),
					started: false,
					upstreamId: outcome.run.id,
					polls: 0,
					intervalMs: nextAt - now,
					nextAt,
					acceptedAt: now,
					pacing,
					slot: null,
					lastPendingAt: now,
					// A watch starts at once: the stream says when the run ends, however long it takes.
					...(watchesRun(outcome.canWatch === true, outcome.estimate ?? null, policy)
						? { watch: { cursor: null, failures: 0, reconnects: 0 }, nextAt: now }
						: {}),
				},
			};
			return observe(polling, outcome.run, now, policy, outcome.run.id);
		}
		case "create_deferred": {
			if (lifecycle.phase !== "submitting") return state;
			return {
				...state,
				lifecycle: {
					...lifecycle,
					nextAt: outcome.at,
					slot: outcome.slot,
					pacing: whileDeferred(lifecycle.pacing, outcome.pacing),
					sentAt: null,
				},
			};
		}
		case "poll_deferred": {
			if (lifecycle.phase !== "polling") return state;
			return {
				...state,
				lifecycle: {
					...lifecycle,
					nextAt: outcome.at,
					slot: outcome.slot,
				},
			};
		}
		case "learned":
			return owe(state, { learn: false });
		case "create_failed": {
			if (lifecycle.phase !== "submitting") return state;
			const { failure } = outcome;
			if (!failure.retryable && lifecycle.callerWaiting) {
				const rejected = { phase: "rejected" as const, status: failure.status ?? 502, detail: failure.message };
				return { ...state, lifecycle: { ...rejected, admitted: !lifecycle.owed.admit } };
			}
			if (!failure.retryable) return failJob(state, now, policy, `upstream rejected the job: ${failure.message}`, null);
			const ambiguous = (lifecycle.ambiguous ?? 0) + (failure.ambiguous ? 1 : 0);
			const retries = policy.ambiguousCreateRetries ?? DEFAULT_AMBIGUOUS_CREATE_RETRIES;
			if (failure.ambiguous && ambiguous > retries) {
				return failJob(
					state,
					now,
					policy,
					`upstream did not confirm the job: ${ambiguous} creates lost their answers, and each may have started a run upstream (last error: ${failure.message})`,
					null,
				);
			}
			return {
				...state,
				lifecycle: {
					phase: "submitting",
					owed: lifecycle.owed,
					attempts: lifecycle.attempts + 1,
					ambiguous,
					nextAt: now + nextCreateDelay(lifecycle.attempts, failure.retryAfterMs, policy.createRetryInitialMs, random),
					lastError: failure.message,
					callerWaiting: false,
					slot: null,
					pacing: lifecycle.pacing ?? null,
				},
			};
		}
		case "polled": {
			if (lifecycle.phase !== "polling") return state;
			const planned = { ...lifecycle, pacing: heed(lifecycle.pacing, outcome.pacing) };
			const next = nextPollAt(planned, now, policy);
			const done = contractStatus(outcome.run) === "COMPLETED" || contractStatus(outcome.run) === "FAILED";
			const polled: JobState = {
				...state,
				upstream: outcome.upstream ?? state.upstream ?? null,
				lifecycle: {
					...planned,
					polls: lifecycle.polls + 1,
					intervalMs: next.intervalMs,
					nextAt: next.at,
					slot: null,
					lastPendingAt: done ? lifecycle.lastPendingAt : now,
				},
				durationMs: done ? learntDuration(lifecycle, outcome.run, now) : state.durationMs,
			};
			return observe(polled, outcome.run, now, policy, lifecycle.upstreamId);
		}
		case "poll_failed": {
			if (lifecycle.phase !== "polling") return state;
			const { failure } = outcome;
			if (!failure.retryable) {
				return failJob(
					state,
					now,
					policy,
					`upstream could not report the job: ${failure.message}`,
					lifecycle.upstreamId,
					true,
				);
			}
			// A failed poll backs off: the next planned time, but no sooner than the last gap ×1.5, so that
			// failures in a row space out (up to POLL_MAX_INTERVAL_MS) instead of following a dense plan.
			const next = nextPollAt(lifecycle, now, policy);
			const backoff = nextPollInterval(Math.max(lifecycle.intervalMs, policy.pollMinIntervalMs), policy);
			const wait = Math.max(next.at - now, backoff, Math.min(failure.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
			return {
				...state,
				lifecycle: {
					...lifecycle,
					polls: lifecycle.polls + 1,
					intervalMs: wait,
					nextAt: now + wait,
					slot: null,
					// Upstream said slow down (429, 503): from now on this job's polls queue at the gate.
					pacing: isPushback(failure) ? afterPushback(lifecycle.pacing) : heed(lifecycle.pacing),
				},
			};
		}
		case "watch_update":
			return applyWatchUpdate(state, outcome, now, policy);
		case "watched":
			return applyWatched(state, outcome.end, now, policy);
		case "expired": {
			if (isFinal(state) || lifecycle.phase === "rejected" || lifecycle.phase === "settled") return state;
			const upstreamId = lifecycle.phase === "polling" ? lifecycle.upstreamId : null;
			const reason =
				lifecycle.phase === "submitting"
					? `upstream did not accept the job within ${policy.jobTimeoutSeconds} s (last error: ${lifecycle.lastError ?? "none"})`
					: `job did not finish within ${policy.jobTimeoutSeconds} s`;
			return failJob(state, now, policy, reason, upstreamId, true);
		}
		case "upstream_cancelled": {
			if (lifecycle.phase !== "settled") return state;
			return { ...state, lifecycle: { ...lifecycle, cancel: null } };
		}
		case "cancel_failed": {
			if (lifecycle.phase !== "settled" || !lifecycle.cancel) return state;
			const attempts = lifecycle.cancel.attempts + 1;
			// A 4xx means there is nothing left to cancel (the run finished or is gone); give up after a few tries anyway.
			const retry = outcome.failure.retryable && attempts < CANCEL_ATTEMPTS;
			const cancel = retry ? { attempts, nextAt: now + CANCEL_RETRY_MS * 2 ** (attempts - 1) } : null;
			return { ...state, lifecycle: { ...lifecycle, cancel } };
		}
		case "cached":
			return owe(
				{ ...state, result: outcome.ref ?? state.result ?? null },
				{ cache: false, retryAt: null, failures: 0 },
			);
		case "indexed":
			return fanOut(owe(state, { index: false, admit: false, retryAt: null, failures: 0 }), outcome.hooks, now);
		case "index_refused":
		case "create_refused": {
			if (lifecycle.phase !== "submitting") return state;
			return {
				...state,
				lifecycle: {
					phase: "rejected",
					status: 429,
					detail: outcome.detail,
					retryAfterMs: outcome.retryAfterMs,
					admitted: !lifecycle.owed.admit,
				},
			};
		}
		case "side_effect_failed": {
			// Backed off, so that a KV or index outage (or the Free plan's 1,000 KV writes a day, spent) is not hammered.
			// An index that cannot judge a new job (unavailable) lets it in: limits protect, they must not block.
			const failures = (owedOf(state)?.failures ?? 0) + 1;
			return owe(state, { admit: false, failures, retryAt: now + sideEffectRetryDelay(failures, random) });
		}
		case "delivery_dropped":
			return withOutbox(state, dropDelivery(state.deliveries, outcome.id, outcome.reason, now));
		case "delivery_attempted":
			return withOutbox(
				state,
				recordAttempt(state.deliveries, outcome.id, outcome.result, now, policy.deliveryScheduleMs, random),
			);
		case "retired":
			return state;
	}
}

/** The job after its outbox changed: a final event's new status is carried to KV and the index again. */
function withOutbox(state: JobState, change: OutboxChange | null): JobState {
	if (!change) return state;
	const { deliveries, entry, finalChanged } = change;
	const next = { ...state, deliveries, log: entry ? [...state.log, entry].slice(-MAX_LOG_ENTRIES) : state.log };
	// The KV copy and the index carry delivery_status: refresh them when it changes.
	return finalChanged ? owe(next, { cache: true, index: true }) : next;
}
