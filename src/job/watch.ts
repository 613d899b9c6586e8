/**
 * Following a run's event stream (`WATCH_MODE`), in the pure machine: each event that matters moves
 * the cursor, may mark the run started and queue progress events; the end of one connection
 * settles the job, reconnects from the cursor (backing off after drops in a row), or falls back to
 * polling.
 */
import { MAX_RETRY_AFTER_MS, newDelivery } from "../delivery/outbox.ts";
import { isPushback } from "../upstream/errors.ts";
import { afterPushback } from "../upstream/pacing/pacing.ts";
import type { ProgressNote, UpstreamRun, WatchEnd } from "../upstream/port.ts";
import type { Outcome } from "./actions.ts";
import { contractStatus, eventTypeOf, subscriptionName, webhookIdOf } from "./events.ts";
import { enqueueProgress as enqueueIntegrationProgress } from "./integration.ts";
import { nextPollAt, type Policy } from "./schedule.ts";
import {
	type JobState,
	MAX_WATCH_FAILURES,
	PROGRESS_MIN_INTERVAL_MS,
	statusOf,
	surfaceOf,
	WATCH_MAX_RETRY_MS,
	WATCH_RETRY_MS,
} from "./state.ts";
import { failJob, observe } from "./transitions.ts";
import { toEventData, toResponseView } from "./views.ts";

/** An event of the watched stream that matters: the cursor moved, the run started, what it searches. */
export function applyWatchUpdate(
	state: JobState,
	outcome: Extract<Outcome, { type: "watch_update" }>,
	now: number,
	policy: Policy,
): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
	let watching: JobState = {
		...state,
		lifecycle: {
			...lifecycle,
			watch: { ...lifecycle.watch, cursor: outcome.cursor, failures: 0 },
			lastPendingAt: now,
		},
	};
	if (outcome.status === "in_progress" && statusOf(state) === "CREATED") {
		watching = observe(watching, runningRun(lifecycle.upstreamId), now, policy, lifecycle.upstreamId);
	}
	return outcome.progress ? enqueueProgress(watching, outcome.progress, now) : watching;
}

/**
 * A progress event for what the run is doing (opt-in, `callback_events: ["progress"]`), at most one
 * every PROGRESS_MIN_INTERVAL_MS, each sent once and never retried; and an integration's one progress
 * message (a Slack command's "Searching: …"), the first time the run reaches its stage.
 */
function enqueueProgress(state: JobState, note: ProgressNote, now: number): JobState {
	const { lifecycle, spec } = state;
	if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
	const next = enqueueIntegrationProgress(state, note, now);
	const { watch } = lifecycle;
	const { callbackUrl, callbackEvents } = spec;
	const due = watch.progressAt == null || now - watch.progressAt >= PROGRESS_MIN_INTERVAL_MS;
	if (!callbackUrl || !callbackEvents.includes(subscriptionName(spec, "progress")) || !due) return next;
	const sent = (watch.progressSent ?? 0) + 1;
	const type = eventTypeOf(spec, "progress");
	const view = surfaceOf(spec) === "agent" ? toResponseView(next) : toEventData(next);
	const delivery = newDelivery(
		{
			webhookId: `${webhookIdOf(spec.id, type)}_${sent}`,
			type,
			url: callbackUrl,
			eventAt: now,
			snapshot: { ...view, progress: note },
			bestEffort: true,
		},
		now,
	);
	return {
		...next,
		lifecycle: { ...lifecycle, watch: { ...watch, progressAt: now, progressSent: sent } },
		deliveries: [...next.deliveries, delivery],
	};
}

/** A run known only to be running: what a stream's `in_progress` event says. */
function runningRun(upstreamId: string): UpstreamRun {
	return {
		id: upstreamId,
		status: "in_progress",
		result: null,
		error: null,
		createdAt: null,
		startedAt: null,
		finishedAt: null,
	};
}

/**
 * The end of one connection to the run's event stream. The run's end settles the job as a poll
 * would (its duration known to the event). A drop reconnects from the cursor, sooner after progress,
 * later after failures in a row; too many in a row, or a stream upstream refuses (an expired cursor,
 * no event stream), fall back to polling. An error about the run itself fails the job.
 */
export function applyWatched(state: JobState, end: WatchEnd, now: number, policy: Policy): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
	const watch = { ...lifecycle.watch, cursor: end.cursor >= 0 ? end.cursor : lifecycle.watch.cursor };
	switch (end.ended) {
		case "terminal": {
			const done = contractStatus(end.run) === "COMPLETED" || contractStatus(end.run) === "FAILED";
			const watched: JobState = {
				...state,
				lifecycle: { ...lifecycle, watch, polls: lifecycle.polls },
				durationMs:
					done && lifecycle.acceptedAt !== undefined ? Math.max(1, now - lifecycle.acceptedAt) : state.durationMs,
			};
			return observe(
				watched,
				{ ...end.run, id: end.run.id || lifecycle.upstreamId },
				now,
				policy,
				lifecycle.upstreamId,
			);
		}
		case "stopped":
			// The alarm's time budget ran out (or an eviction is near): pick up again at once.
			return {
				...state,
				lifecycle: { ...lifecycle, watch: { ...watch, reconnects: watch.reconnects + 1 }, nextAt: now },
			};
		case "dropped": {
			const failures = watch.failures + 1;
			if (failures >= MAX_WATCH_FAILURES) return toPolling(state, now, policy);
			const wait = Math.max(
				Math.min(WATCH_RETRY_MS * 2 ** (failures - 1), WATCH_MAX_RETRY_MS),
				Math.min(end.failure.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS),
			);
			return {
				...state,
				lifecycle: {
					...lifecycle,
					watch: { ...watch, failures, reconnects: watch.reconnects + 1 },
					nextAt: now + wait,
					pacing: isPushback(end.failure) ? afterPushback(lifecycle.pacing) : lifecycle.pacing,
				},
			};
		}
		case "unsupported":
			return toPolling(state, now, policy);
		case "failed":
			return failJob(
				state,
				now,
				policy,
				`upstream could not report the job: ${end.failure.message}`,
				lifecycle.upstreamId,
				true,
			);
	}
}

/** Stops watching the run's stream and polls it on its plan from now on. */
function toPolling(state: JobState, now: number, policy: Policy): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "polling") return state;
	const polling = { ...lifecycle, watch: null };
	const next = nextPollAt(polling, now, policy);
	return { ...state, lifecycle: { ...polling, nextAt: next.at, intervalMs: next.intervalMs } };
}
