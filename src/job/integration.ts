/**
 * The outbox entries of an integration's job (a Slack command). Its messages go to the integration's
 * own URL in the formats it registered (`delivery/formats.ts`), which render them; which messages are
 * due when is data the integration put in the job's spec (`JobIntegration`): a notice if the job
 * still runs after a while, one message the first time the run reaches a stage, and the final message.
 * Here is only when they are due; no integration is named.
 */
import { type Delivery, newDelivery } from "../delivery/outbox.ts";
import type { ProgressNote } from "../upstream/port.ts";
import { eventTypeOf } from "./events.ts";
import type { EventKind, JobIntegration, JobSpec, JobState } from "./state.ts";

/** A new job's first outbox entries: an integration's notice, due `notice.afterMs` after submission. */
export function initialDeliveries(spec: JobSpec): Delivery[] {
	const integration = spec.integration;
	const notice = integration?.notice;
	if (!integration || !notice) return [];
	return [
		newDelivery(
			{
				webhookId: `msg_${spec.id}_${integration.kind}_notice`,
				type: "async_chat_completion.started",
				url: integration.responseUrl,
				eventAt: spec.createdAtMs,
				format: notice.format,
			},
			spec.createdAtMs + notice.afterMs,
		),
	];
}

/** The outbox of a job that just settled: a notice not yet sent would only hold the answer back, so it goes. */
export function withoutUnsentNotice(
	deliveries: readonly Delivery[],
	integration: JobIntegration | null | undefined,
): Delivery[] {
	const format = integration?.notice?.format;
	if (!format) return [...deliveries];
	return deliveries.filter((d) => !(d.format === format && d.status === "pending" && d.attempts === 0));
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
 * The integration's one progress message (Slack: "Searching: …"), the first time the run reports its
 * stage with items. It goes ahead of the notice (which waits unsent until then): messages to one URL go
 * in order.
 */
export function enqueueProgress(state: JobState, note: ProgressNote, now: number): JobState {
	const { spec } = state;
	const integration = spec.integration;
	const progress = integration?.progress;
	if (!integration || !progress || note.stage !== progress.stage || note.items.length === 0) return state;
	const webhookId = `msg_${spec.id}_${integration.kind}_${progress.stage}`;
	if (state.deliveries.some((d) => d.webhookId === webhookId)) return state;
	const delivery = newDelivery(
		{
			webhookId,
			type: eventTypeOf(spec, "progress"),
			url: integration.responseUrl,
			eventAt: now,
			format: progress.format,
			note,
			bestEffort: true,
		},
		now,
	);
	const at = state.deliveries.findIndex((d) => d.url === integration.responseUrl && d.attempts === 0);
	const deliveries = [...state.deliveries];
	deliveries.splice(at === -1 ? deliveries.length : at, 0, delivery);
	return { ...state, deliveries };
}
