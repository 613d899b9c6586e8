/**
 * The lifecycle's shared transitions: taking in what upstream says of the run (`observe`), settling
 * or failing the job, and queueing its events into the outbox (to `callback_url`, to an
 * integration, to each matching subscription). Pure; the machine and the watch use them.
 */
import { addOnce, type Delivery, type HookTarget, newDelivery } from "../delivery/outbox.ts";
import type { RelayResponse } from "../schemas/agent.ts";
import type { EventType, RelayJob } from "../schemas/relay.ts";
import type { RunStatus, UpstreamRun } from "../upstream/port.ts";
import { contractStatus, eventTypeOf, finalKind, subscriptionName, webhookIdOf } from "./events.ts";
import { enqueueIntegration, withoutUnsentNotice } from "./integration.ts";
import { carried, owe } from "./owed.ts";
import type { Policy } from "./schedule.ts";
import { type EventKind, type FinalStatus, type JobState, statusOf, surfaceOf } from "./state.ts";
import { seconds, toEventData, toResponseView } from "./views.ts";

/** The final event still to be matched against subscriptions, if any. */
export function pendingFanOut(state: JobState): EventType | null {
	if (state.lifecycle.phase !== "settled" || !state.lifecycle.owed.fanout) return null;
	return eventTypeOf(state.spec, finalKind(state));
}

export function enqueue(
	state: JobState,
	kind: EventKind,
	now: number,
	snapshot: RelayJob | RelayResponse | null,
): JobState {
	const { callbackUrl, callbackEvents, id } = state.spec;
	if (!callbackUrl || !callbackEvents.includes(subscriptionName(state.spec, kind))) return state;
	const type = eventTypeOf(state.spec, kind);
	const webhookId = webhookIdOf(id, type);
	const delivery = newDelivery({ webhookId, type, url: callbackUrl, eventAt: now, snapshot }, now);
	return { ...state, deliveries: addOnce(state.deliveries, delivery) };
}

/** Queues the final event for each subscription, once per URL (the callback URL already has it). */
export function fanOut(state: JobState, hooks: HookTarget[], now: number): JobState {
	const type = pendingFanOut(state);
	if (!type) return state;
	const webhookId = webhookIdOf(state.spec.id, type);
	const urls = new Set(state.deliveries.filter((d) => d.type === type).map((d) => d.url));
	const added: Delivery[] = [];
	for (const hook of hooks) {
		if (urls.has(hook.url)) continue;
		urls.add(hook.url);
		added.push(newDelivery({ webhookId, type, url: hook.url, eventAt: now, hookId: hook.id }, now));
	}
	return owe({ ...state, deliveries: [...state.deliveries, ...added] }, { fanout: false });
}

/** Settles the job as `ended`; its final event is queued. */
export function settle(
	state: JobState,
	ended: FinalStatus,
	now: number,
	policy: Policy,
	upstreamId: string | null,
	cancelRun = false,
): JobState {
	const before = state.lifecycle;
	const again = before.phase === "settled" ? before.owed : null;
	const settled: JobState = {
		...state,
		lifecycle: {
			phase: "settled",
			// The index and KV take the final state; the fan-out and the learnt duration are owed once.
			owed: {
				...carried(before),
				index: true,
				cache: true,
				fanout: again?.fanout ?? true,
				learn: again?.learn ?? true,
			},
			ended,
			upstreamId,
			retireAt: now + policy.resultTtlSeconds * 1000,
			cancel: cancelRun && upstreamId ? { attempts: 0, nextAt: now } : null,
		},
		deliveries: withoutUnsentNotice(state.deliveries, state.spec.integration),
	};
	const kind = finalKind(settled);
	return enqueueIntegration(enqueue(settled, kind, now, null), kind, now);
}

/**
 * Fails the job. `cancelRun`: the upstream run may still be going (the job timed out, or the
 * relay can no longer follow it), so it is cancelled rather than left to run and bill.
 */
export function failJob(
	state: JobState,
	now: number,
	policy: Policy,
	message: string,
	upstreamId: string | null,
	cancelRun = false,
	runStatus: RunStatus = "failed",
): JobState {
	return settle(
		{ ...state, runStatus, failedAt: seconds(now), errorMessage: message, response: null },
		"FAILED",
		now,
		policy,
		upstreamId,
		cancelRun,
	);
}

/** Takes in what upstream says about the run; settles the job when the run is done. */
export function observe(state: JobState, run: UpstreamRun, now: number, policy: Policy, upstreamId: string): JobState {
	const previous = statusOf(state);
	const status = contractStatus(run);
	const agent = surfaceOf(state.spec) === "agent";
	const { lifecycle } = state;
	let next: JobState = {
		...state,
		// Until it settles, the phase says whether the run started: COMPLETED and FAILED settle it below.
		...(lifecycle.phase === "polling" ? { lifecycle: { ...lifecycle, started: status !== "CREATED" } } : {}),
		runStatus: run.status,
		startedAt: run.startedAt ?? state.startedAt,
		response: run.result ?? state.response,
		output: run.native ?? state.output ?? null,
	};
	if (status === "IN_PROGRESS" && next.startedAt === null) next.startedAt = seconds(now);
	if (status !== previous || next.runStatus !== state.runStatus) next = owe(next, { index: true });
	if (previous !== "IN_PROGRESS" && status === "IN_PROGRESS") {
		next = enqueue(next, "start", now, agent ? toResponseView(next) : toEventData(next));
	}
	if (status === "COMPLETED") {
		next.completedAt = run.finishedAt ?? next.completedAt ?? seconds(now);
		if ((agent ? next.output : next.response) == null) {
			return failJob(next, now, policy, "upstream reported the run completed without an answer", upstreamId);
		}
		return settle(next, "COMPLETED", now, policy, upstreamId);
	}
	if (status === "FAILED") {
		next.failedAt = run.finishedAt ?? next.failedAt ?? seconds(now);
		next.errorMessage = run.error ?? next.errorMessage ?? "upstream reported the job FAILED";
		next.response = null;
		return settle(next, "FAILED", now, policy, upstreamId);
	}
	return next;
}
