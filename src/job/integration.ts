/**
 * The outbox entries of an integration's job (a Slack command): its messages go to the
 * integration's own URL in the formats it registered (`delivery/formats.ts`), which render them;
 * here is only when they are due. A notice before Slack's 30-minute window closes, one message the
 * first time the run searches, and the final message.
 */
import { type Delivery, newDelivery } from "../delivery/outbox.ts";
import type { ProgressNote } from "../upstream/port.ts";
import { eventTypeOf } from "./events.ts";
import type { EventKind, JobSpec, JobState } from "./state.ts";

/**
 * Slack's `response_url` takes posts for 30 minutes only. A job still running
 * near the end of that window posts a notice with a link to where its answer
 * will be, while it still can; a job that settles first cancels the notice.
 */
export const SLACK_NOTICE_AFTER_MS = 25 * 60_000;

/** The format of an integration's notice that its answer may come late. */
const NOTICE_FORMAT = "slack-progress";

/** A new job's first outbox entries: an integration's notice, due before its window closes. */
export function initialDeliveries(spec: JobSpec): Delivery[] {
	const slack = spec.integration;
	if (slack?.kind !== "slack") return [];
	const notice = newDelivery(
		{
			webhookId: `msg_${spec.id}_slack_notice`,
			type: "async_chat_completion.started",
			url: slack.responseUrl,
			eventAt: spec.createdAtMs,
			format: NOTICE_FORMAT,
		},
		spec.createdAtMs + SLACK_NOTICE_AFTER_MS,
	);
	return [notice];
}

/** The outbox of a job that just settled: a notice not yet sent would only hold the answer back, so it goes. */
export function withoutUnsentNotice(deliveries: readonly Delivery[]): Delivery[] {
	return deliveries.filter((d) => !(d.format === NOTICE_FORMAT && d.status === "pending" && d.attempts === 0));
}

/** The integration's message for the final event (Slack: the answer, or the error, as Block Kit). */
export function enqueueIntegration(state: JobState, kind: EventKind, now: number): JobState {
	const integration = state.spec.integration;
	if (!integration) return state;
	const delivery = newDelivery(
		{
			webhookId: `msg_${state.spec.id}_${integration.kind}`,
			type: eventTypeOf(state.spec, kind),
			url: integration.responseUrl,
			eventAt: now,
			format: integration.kind,
		},
		now,
	);
	return { ...state, deliveries: [...state.deliveries, delivery] };
}

/**
 * For a Slack command, one "Searching: …" message the first time the run searches, ahead of the
 * 25-minute notice (which waits unsent until then): messages to one URL go in order.
 */
export function enqueueSearching(state: JobState, note: ProgressNote, now: number): JobState {
	const { spec } = state;
	const slack = spec.integration;
	if (slack?.kind !== "slack" || note.stage !== "searching" || note.items.length === 0) return state;
	const webhookId = `msg_${spec.id}_slack_searching`;
	if (state.deliveries.some((d) => d.webhookId === webhookId)) return state;
	const delivery = newDelivery(
		{
			webhookId,
			type: eventTypeOf(spec, "progress"),
			url: slack.responseUrl,
			eventAt: now,
			format: "slack-searching",
			note,
			bestEffort: true,
		},
		now,
	);
	const at = state.deliveries.findIndex((d) => d.url === slack.responseUrl && d.attempts === 0);
	const deliveries = [...state.deliveries];
	deliveries.splice(at === -1 ? deliveries.length : at, 0, delivery);
	return { ...state, deliveries };
}
