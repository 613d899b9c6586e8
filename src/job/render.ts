/**
 * The body of a delivery, as the shell sends it: a Standard Webhooks event (a claim check with
 * `result_url` when it would be too large), or an integration's own message, made by the format it
 * registered (`delivery/formats.ts`). The job core never imports an integration.
 */
import { exceedsUtf8 } from "../bytes.ts";
import { formatOf, STANDARD_FORMAT } from "../delivery/formats.ts";
import { type Delivery, isFinalEvent } from "../delivery/outbox.ts";
import type { JobState } from "./state.ts";
import { surfaceOf } from "./state.ts";
import { toEventData, toResponseView } from "./views.ts";

/** How a delivery's body is made: its size limit and the link to the result. */
export interface PushOptions {
	/** `MAX_PUSH_BYTES`: a larger Standard Webhooks event goes without the result, with `result_url` instead. */
	maxBytes: number;
	/**
	 * The signed link to the job's result (and the "full answer" link of a Slack message); null when
	 * none can be made, and then the event goes whole.
	 */
	resultUrl: string | null;
}

/**
 * The body of one delivery. Deterministic for a settled job, so every attempt sends the same bytes.
 * A final Standard Webhooks event over `push.maxBytes` is a claim check: the same event without the
 * result (`response` on the Sonar surface; a run's `output` and `output_text`) and with `result_url`.
 */
export function eventBody(state: JobState, delivery: Delivery, push?: PushOptions): string {
	const format = formatOf(delivery.format);
	const { integration } = state.spec;
	if (format && integration) {
		const input = {
			job: toEventData(state),
			integration,
			note: delivery.note ?? null,
			resultUrl: push?.resultUrl ?? null,
		};
		return JSON.stringify(format.render(input));
	}
	const agent = surfaceOf(state.spec) === "agent";
	const data = delivery.snapshot ?? (agent ? toResponseView(state) : toEventData(state));
	const event = { type: delivery.type, timestamp: new Date(delivery.eventAt).toISOString(), data };
	const body = JSON.stringify(event);
	if (!push?.resultUrl || delivery.snapshot || !exceedsUtf8(body, push.maxBytes)) return body;
	const { output_text: _text, ...rest } = data as Record<string, unknown>;
	const claim = agent
		? { ...rest, output: [], result_url: push.resultUrl }
		: { ...data, response: null, result_url: push.resultUrl };
	return JSON.stringify({ ...event, data: claim });
}

/** Whether a delivery's body carries the job's result (and so needs it at hand): a final event, or Slack's answer. */
export function carriesResult(delivery: Delivery): boolean {
	const format = formatOf(delivery.format);
	if (format) return format.carriesResult === true;
	return isStandard(delivery) && !delivery.snapshot && isFinalEvent(delivery);
}

/** Whether a delivery's body links to the job's result (`PushOptions.resultUrl` is made for it). */
export function linksResult(delivery: Delivery): boolean {
	return carriesResult(delivery) || formatOf(delivery.format)?.linksResult === true;
}

/** A Standard Webhooks event (signed with the tenant's secret), not an integration's message. */
export function isStandard(delivery: Delivery): boolean {
	return (delivery.format ?? STANDARD_FORMAT) === STANDARD_FORMAT;
}

/** The only hosts a delivery may go to (an integration's own), or undefined for any. */
export function allowedHostsOf(delivery: Delivery): readonly string[] | undefined {
	return formatOf(delivery.format)?.allowedHosts;
}
