/**
 * What a job's events and statuses are called: the event type of each kind of event on the job's
 * surface, the name a caller subscribes to it by, its `webhook-id`, and the seeds' status of an
 * upstream run. Pure naming, shared by the machine and its views.
 */
import type { ResponseCallbackEvent } from "../schemas/agent.ts";
import type { AsyncProcessingStatus } from "../schemas/perplexity.ts";
import type { CallbackEvent, EventType } from "../schemas/relay.ts";
import type { UpstreamRun } from "../upstream/port.ts";
import { type EventKind, type JobSpec, type JobState, statusOf, surfaceOf } from "./state.ts";

/**
 * How the job ended, as an event: on the Sonar surface completed or failed (a cancelled or an
 * incomplete run without text is a failure there); on the Agent surface, the run's own status.
 */
export function finalKind(state: JobState): Exclude<EventKind, "start" | "progress"> {
	if (surfaceOf(state.spec) === "agent") {
		const run = state.runStatus;
		if (run === "completed" || run === "cancelled" || run === "incomplete") return run;
		return statusOf(state) === "COMPLETED" ? "completed" : "failed";
	}
	return statusOf(state) === "COMPLETED" ? "completed" : "failed";
}

/** The event type a kind of event has on the job's surface. */
export function eventTypeOf(spec: Pick<JobSpec, "surface">, kind: EventKind): EventType {
	if (surfaceOf(spec) === "agent") return `response.${kind === "start" ? "in_progress" : kind}`;
	if (kind === "start") return "async_chat_completion.started";
	if (kind === "progress") return "async_chat_completion.progress";
	return kind === "completed" ? "async_chat_completion.completed" : "async_chat_completion.failed";
}

/** The name a caller uses for a kind of event in `callback_events`. */
export function subscriptionName(
	spec: Pick<JobSpec, "surface">,
	kind: EventKind,
): CallbackEvent | ResponseCallbackEvent {
	if (surfaceOf(spec) === "agent") return kind === "start" ? "in_progress" : kind;
	if (kind === "progress") return "progress";
	return kind === "start" ? "started" : kind === "completed" ? "completed" : "failed";
}

/** `msg_<jobId>_<the event type's name>`: stable for one event across every attempt. */
export function webhookIdOf(jobId: string, type: EventType): string {
	return `msg_${jobId}_${type.slice(type.indexOf(".") + 1)}`;
}

/**
 * The seeds' status for an upstream run: `incomplete` (a token cap) is a completed answer cut
 * short (`finish_reason: "length"`) when it has text, and a failure when it has none; `cancelled`
 * is a failure.
 */
export function contractStatus(run: UpstreamRun): AsyncProcessingStatus {
	switch (run.status) {
		case "queued":
			return "CREATED";
		case "in_progress":
			return "IN_PROGRESS";
		case "completed":
			return "COMPLETED";
		case "incomplete":
			return run.result ? "COMPLETED" : "FAILED";
		case "failed":
		case "cancelled":
			return "FAILED";
	}
}
