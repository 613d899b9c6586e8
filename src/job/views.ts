/**
 * A job as others see it, computed from its state: GET's view on each surface (the Sonar job, the
 * Agent API's Response), an event's `data`, what the tenant index keeps, and the figures the
 * operations view reads (delivery status, push lag, dead-lettering, cost). Pure.
 */
import { type Delivery, isFinalEvent } from "../delivery/outbox.ts";
import type { AgentRunRequest, RelayResponse, ResponseStatus } from "../schemas/agent.ts";
import type { ApiChatCompletionsRequest } from "../schemas/perplexity.ts";
import { type DeliveryStatus, REQUEST_PREVIEW_CHARS, type RelayJob } from "../schemas/relay.ts";
import type { IndexEntry } from "../tenant/index-entry.ts";
import { isFinal, type JobSpec, type JobState, statusOf, surfaceOf } from "./state.ts";

/** A job as its surface shows it: the Sonar job, or the Agent API's Response object. */
export type JobView = RelayJob | RelayResponse;

export const seconds = (ms: number) => Math.floor(ms / 1000);

/** Where the job's own final event goes: `callback_url`, or the integration's URL. */
export function primaryUrl(spec: JobSpec): string | null {
	return spec.callbackUrl ?? spec.integration?.responseUrl ?? null;
}

/** `delivery_status` of the final event to `callback_url`, or null when there is none to send. */
export function deliveryStatus(state: JobState): DeliveryStatus | null {
	const { callbackEvents } = state.spec;
	const callbackUrl = primaryUrl(state.spec);
	if (!callbackUrl) return null;
	const final = state.deliveries.find((d) => d.url === callbackUrl && isFinalEvent(d));
	if (final) return final.status;
	const wantsFinal = callbackEvents.some((name) => name !== "started" && name !== "in_progress");
	return wantsFinal && !isFinal(state) ? "pending" : null;
}

/** The final event to `callback_url` (or an integration's response URL), if the job has one. */
function primaryFinal(state: JobState): Delivery | undefined {
	const callbackUrl = primaryUrl(state.spec);
	if (!callbackUrl) return undefined;
	return state.deliveries.find((d) => d.url === callbackUrl && isFinalEvent(d));
}

/**
 * The push lag of a settled job (ms): from the end of its run as the relay learnt it
 * (`completed_at` / `failed_at`, whole seconds) to the first 2xx of its final event to
 * `callback_url`. Null without a delivered final event. Since the end is known to the second
 * only, the lag reads up to a second long.
 *
 * @example
 * pushLagMs(state) // 840: the run ended at 12:00:00, the receiver took the event at 12:00:00.84
 */
export function pushLagMs(state: JobState): number | null {
	const ended = state.completedAt ?? state.failedAt;
	const deliveredAt = primaryFinal(state)?.deliveredAt;
	if (ended === null || deliveredAt === undefined || deliveredAt === null) return null;
	return Math.max(0, Math.round(deliveredAt - ended * 1000));
}

/** When the final event to `callback_url` was dead-lettered (Unix seconds); null unless it is now. */
export function deadLetteredAt(state: JobState): number | null {
	const final = primaryFinal(state);
	if (final?.status !== "failed") return null;
	// Dead-lettered before the time was kept: the job's end stands in.
	return final.deadLetteredAt ? seconds(final.deadLetteredAt) : (state.completedAt ?? state.failedAt);
}

/** The start of the last user message's text. */
export function requestPreview(spec: JobSpec): string | null {
	const text = spec.surface === "agent" ? agentInputText(spec.request) : sonarUserText(spec.request);
	const trimmed = text.replace(/\s+/g, " ").trim();
	if (!trimmed) return null;
	return trimmed.length > REQUEST_PREVIEW_CHARS ? `${trimmed.slice(0, REQUEST_PREVIEW_CHARS - 1)}…` : trimmed;
}

/** The last user message's text, of a Sonar request. */
function sonarUserText(request: ApiChatCompletionsRequest): string {
	const user = [...request.messages].reverse().find((m) => m.role === "user");
	const content = user?.content;
	if (typeof content === "string") return content;
	return Array.isArray(content) ? content.map((chunk) => (chunk.type === "text" ? chunk.text : "")).join(" ") : "";
}

/** The input's text, of an Agent API request: the string, or the last user message's text parts. */
function agentInputText(request: AgentRunRequest): string {
	if (typeof request.input === "string") return request.input;
	const user = [...request.input].reverse().find((m) => m.role === "user");
	const content = user?.content;
	if (typeof content === "string") return content;
	return (content ?? []).map((part) => (part.type === "input_text" ? part.text : "")).join(" ");
}

/** The job as the event body's `data` carries it. */
export function toEventData(state: JobState): RelayJob {
	return {
		id: state.spec.id,
		model: state.spec.model,
		created_at: seconds(state.spec.createdAtMs),
		started_at: state.startedAt,
		completed_at: state.completedAt,
		failed_at: state.failedAt,
		error_message: state.errorMessage,
		status: statusOf(state),
		response: statusOf(state) === "COMPLETED" ? state.response : null,
		metadata: state.spec.metadata,
		request_preview: requestPreview(state.spec),
	};
}

/** The job as GET returns it. */
export function toView(state: JobState): RelayJob {
	return { ...toEventData(state), delivery_status: deliveryStatus(state), upstream: state.upstream ?? null };
}

/** What a job's Agent API status is, when upstream has not said (a job that never got to run). */
export function responseStatus(state: JobState): ResponseStatus {
	const run = state.runStatus;
	if (run && run !== "queued" && run !== "in_progress") return run;
	const status = statusOf(state);
	if (status === "FAILED") return "failed";
	if (status === "COMPLETED") return "completed";
	return run ?? (status === "IN_PROGRESS" ? "in_progress" : "queued");
}

/** Fields of upstream's Response the relay never passes on: a caller's MCP credentials could be echoed there. */
const WITHHELD_RESPONSE_FIELDS = ["tools", "instructions", "id"];

/**
 * An Agent-surface job as the Agent API's Response object: upstream's own Response once the run
 * ended (its output, usage, error), with the relay's job id as its `id` and the caller's metadata.
 */
export function toResponseView(state: JobState): RelayResponse {
	const upstream = Object.fromEntries(
		Object.entries(state.output ?? {}).filter(([key]) => !WITHHELD_RESPONSE_FIELDS.includes(key)),
	);
	const status = responseStatus(state);
	const terminal = status !== "queued" && status !== "in_progress";
	const error =
		status === "failed" || status === "cancelled"
			? ((upstream.error as RelayResponse["error"]) ?? { message: state.errorMessage ?? status, type: status })
			: null;
	return {
		...(terminal ? upstream : {}),
		id: state.spec.id,
		object: "response",
		created_at: seconds(state.spec.createdAtMs),
		completed_at: status === "completed" || status === "incomplete" ? state.completedAt : null,
		status,
		model: typeof upstream.model === "string" ? upstream.model : state.spec.model,
		output: terminal && Array.isArray(upstream.output) ? (upstream.output as RelayResponse["output"]) : [],
		usage: terminal ? ((upstream.usage as RelayResponse["usage"]) ?? null) : null,
		error,
		background: true,
		metadata: (state.spec.metadata as Record<string, string> | null) ?? null,
		// Relay extensions: what was asked, and when a run that did not complete ended.
		...(state.spec.surface === "agent" && state.spec.request.preset ? { preset: state.spec.request.preset } : {}),
		request_preview: requestPreview(state.spec),
		failed_at: status === "failed" || status === "cancelled" ? state.failedAt : null,
	};
}

/** An Agent-surface job as GET returns it: the Response, with the relay's delivery status. */
export function toResponse(state: JobState): RelayResponse {
	return { ...toResponseView(state), delivery_status: deliveryStatus(state), upstream: state.upstream ?? null };
}

/** The job as its surface shows it. */
export function viewOf(state: JobState): JobView {
	return surfaceOf(state.spec) === "agent" ? toResponse(state) : toView(state);
}

/** What the tenant index keeps of a job: its summary, without the answer. */
export function indexEntry(state: JobState): IndexEntry {
	const {
		response: _response,
		metadata: _metadata,
		error_message: _error,
		upstream: _upstream,
		...summary
	} = toView(state);
	return {
		...summary,
		surface: surfaceOf(state.spec),
		// On the Sonar surface too: how a job ended (a cancelled one is FAILED there) counts for the stats.
		run_status: toResponseView(state).status,
		cost_usd: runCostUsd(state),
		push_lag_ms: pushLagMs(state),
		dead_lettered_at: deadLetteredAt(state),
		metadata: state.spec.metadata,
	};
}

/**
 * What the run cost upstream (USD), as its usage reported it: the Sonar-shaped result's
 * `usage.cost.total_cost`, else the Agent API Response's. Null when upstream reported none.
 */
export function runCostUsd(state: JobState): number | null {
	const fromResult = state.response?.usage?.cost?.total_cost;
	if (typeof fromResult === "number" && Number.isFinite(fromResult)) return fromResult;
	const usage = state.output?.usage;
	const cost = usage && typeof usage === "object" ? (usage as { cost?: { total_cost?: unknown } }).cost : undefined;
	const total = cost?.total_cost;
	return typeof total === "number" && Number.isFinite(total) ? total : null;
}
