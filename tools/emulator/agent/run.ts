/**
 * One Agent API run: where it stands at an instant, the Response it shows, and
 * the event stream it emits.
 *
 * A run is `queued` until 10 % of its duration, `in_progress` until 100 %, then
 * terminal (`completed`, `incomplete`, `failed` or `cancelled`), on the
 * emulator clock; under `[[emu:steps=N]]`, on its answered GETs instead. A run
 * also has a clock floor of its own (`advancedToMs`): when a caller waited for
 * it through the injected `sleep` (a synchronous create, a stream), the run is
 * where that wait says, even if the injected clock did not move. So a test
 * with an instant `sleep` sees a consistent run rather than a frozen one.
 *
 * The event stream is planned from the run's timeline: each event has an
 * instant, and a stream sends it once that instant has passed. Sequence
 * numbers are the events' places in that plan, so a resumed stream
 * (`starting_after`) continues exactly where another left off.
 */
import type { Markers } from "../markers.ts";
import type { JobStats } from "../runtime.ts";
import { type AgentAnswer, buildAgentAnswer, messageItem, outputOf } from "./answer.ts";
import type { PresetName } from "./catalog.ts";
import { type AgentRequest, inputTexts } from "./request.ts";
import {
	type AgentError,
	type AgentResponse,
	type AgentStatus,
	type AgentStreamEvent,
	type PlannedPayload,
	TERMINAL_STATUSES,
} from "./types.ts";

export const FAILURE_MESSAGE = "Emulated upstream failure";
export const CANCELLED_MESSAGE = "Response was cancelled";

/** How a run ends if nobody cancels it. */
export type Outcome = "completed" | "incomplete" | "failed" | "cancelled";

export interface AgentRun {
	id: string;
	messageId: string;
	tenant: string;
	seq: number;
	/** The create body exactly as received. */
	body: unknown;
	request: AgentRequest;
	/** The model the Response names. */
	model: string;
	preset: PresetName | null;
	question: string;
	markers: Markers;
	background: boolean;
	store: boolean;
	createdAtMs: number;
	durationMs: number;
	/** Set by a cancel call: the run ended `cancelled` at this instant. */
	cancelledAtMs: number | null;
	/** The run's own clock floor: see the module header. */
	advancedToMs: number;
	stepStartedAtMs: number | null;
	stepFinishedAtMs: number | null;
	gets: number;
	faultedGets: number;
	answeredGets: number;
	cancels: number;
	streams: number;
	/** The create's answer was lost (`lostAnswerRate`): the run goes on, unknown to its caller. */
	answerLost: boolean;
	firstSeen: Partial<Record<AgentStatus, number>>;
	/** Woken when the run changes other than by the clock (a GET under `steps`, a cancel, a reset). */
	waiters: Set<() => void>;
	answer?: AgentAnswer;
	plan?: { key: string; events: PlannedEvent[] };
}

export interface PlannedEvent {
	/** Emulator-clock instant from which a stream may send it; Infinity while unknown (`steps`). */
	atMs: number;
	event: AgentStreamEvent;
	terminal: boolean;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Wakes whatever waits on the run (streams, synchronous creates). */
export function notify(run: AgentRun): void {
	for (const wake of [...run.waiters]) wake();
}

/** The run's instant: the emulator clock, or later if a wait already carried the run further. */
export function runNow(run: AgentRun, now: number): number {
	return Math.max(now, run.advancedToMs);
}

export function answerOf(run: AgentRun): AgentAnswer {
	const { request, markers } = run;
	run.answer ??= buildAgentAnswer({
		model: run.model,
		preset: run.preset,
		question: run.question,
		search: run.preset !== null || (request.tools ?? []).some((tool) => tool.type === "web_search"),
		fetchUrl: (request.tools ?? []).some((tool) => tool.type === "fetch_url"),
		jsonSchema: request.response_format?.json_schema?.schema ?? null,
		inputTexts: inputTexts(request),
		maxOutputTokens: request.max_output_tokens,
		forceIncomplete: markers.incomplete === true,
		sizeBytes: markers.sizeBytes,
	});
	return run.answer;
}

/** How the run ends by itself. */
export function outcomeOf(run: AgentRun): Outcome {
	if (run.markers.fail) return "failed";
	if (run.markers.cancelled) return "cancelled";
	return answerOf(run).incomplete ? "incomplete" : "completed";
}

/** When the run starts running; null while unknown (`steps`, before the first answered GET). */
function startAt(run: AgentRun): number | null {
	if (run.markers.steps !== undefined) return run.stepStartedAtMs;
	return run.createdAtMs + run.durationMs * 0.1;
}

/** When the run ends (or ended); null while unknown. */
export function endAt(run: AgentRun): number | null {
	if (run.cancelledAtMs !== null) return run.cancelledAtMs;
	if (run.markers.steps !== undefined) return run.stepFinishedAtMs;
	return run.createdAtMs + run.durationMs;
}

export function statusAt(run: AgentRun, now: number): AgentStatus {
	const t = runNow(run, now);
	const end = endAt(run);
	if (end !== null && t >= end) return run.cancelledAtMs !== null ? "cancelled" : outcomeOf(run);
	const start = startAt(run);
	return start !== null && t >= start ? "in_progress" : "queued";
}

export const isTerminal = (status: AgentStatus): boolean => TERMINAL_STATUSES.has(status);

/** The fields every Response of the run carries, whatever its status. */
function baseOf(run: AgentRun, status: AgentStatus): AgentResponse {
	const { request } = run;
	return {
		id: run.id,
		object: "response",
		created_at: seconds(run.createdAtMs),
		status,
		model: run.model,
		output: [],
		background: run.background,
		store: run.store,
		...(request.previous_response_id !== undefined && { previous_response_id: request.previous_response_id }),
		...(request.metadata !== undefined && { metadata: request.metadata }),
	};
}

function errorOf(status: "failed" | "cancelled"): AgentError {
	return status === "failed"
		? { message: FAILURE_MESSAGE, type: "internal_error", code: "internal_error" }
		: { message: CANCELLED_MESSAGE, type: "cancelled" };
}

/** The Response at a status; terminal ones carry what they end with. */
export function responseWith(run: AgentRun, status: AgentStatus): AgentResponse {
	const base = baseOf(run, status);
	const end = endAt(run) ?? run.advancedToMs;
	switch (status) {
		case "completed": {
			const answer = answerOf(run);
			return {
				...base,
				completed_at: seconds(end),
				output: outputOf(run.messageId, answer, "completed"),
				usage: answer.usage,
			};
		}
		case "incomplete": {
			const answer = answerOf(run);
			return {
				...base,
				output: outputOf(run.messageId, answer, "incomplete"),
				usage: answer.usage,
				incomplete_details: { reason: "max_output_tokens" },
			};
		}
		case "failed":
		case "cancelled":
			return { ...base, error: errorOf(status) };
		default:
			return base;
	}
}

/** The Response a GET answers at `now`. */
export function responseAt(run: AgentRun, now: number): AgentResponse {
	return responseWith(run, statusAt(run, now));
}

export function statsOf(run: AgentRun, now: number): JobStats {
	const status = statusAt(run, now);
	return {
		api: "agent",
		model: run.model,
		preset: run.preset,
		question: run.question,
		idempotencyKey: null,
		creates: 1,
		answerLost: run.answerLost,
		gets: run.gets,
		cancels: run.cancels,
		streams: run.streams,
		body: run.body,
		createdAtMs: run.createdAtMs,
		finishedAtMs: isTerminal(status) ? endAt(run) : null,
		status,
		firstSeen: { ...run.firstSeen },
	};
}

// ── The event stream ─────────────────────────────────────────────────────────

type Phase = "queued" | "running" | "output" | "terminal";

interface Step {
	/** Share of the duration at which it happens, on the clock. */
	at: number;
	phase: Phase;
	payload: PlannedPayload;
}

/** How many `output_text.delta` events a text is sent in. */
function deltaCount(length: number): number {
	return Math.max(1, Math.min(length, Math.min(40, Math.max(3, Math.ceil(length / 400)))));
}

/** The events of a run that ends as it would by itself, in order. */
function naturalSteps(run: AgentRun): Step[] {
	const outcome = outcomeOf(run);
	const answer = answerOf(run);
	const steps: Step[] = [
		{ at: 0, phase: "queued", payload: { type: "response.created", response: baseOf(run, "queued") } },
		{ at: 0.1, phase: "running", payload: { type: "response.in_progress", response: baseOf(run, "in_progress") } },
		{
			at: 0.12,
			phase: "running",
			payload: { type: "response.reasoning.started", thought: `Working out how to answer: ${run.question}` },
		},
	];
	if (answer.searchItem) {
		steps.push(
			{ at: 0.2, phase: "running", payload: { type: "response.reasoning.search_queries", queries: answer.queries } },
			{ at: 0.35, phase: "running", payload: { type: "response.reasoning.search_results", results: answer.results } },
		);
	}
	steps.push({ at: 0.45, phase: "running", payload: { type: "response.reasoning.stopped" } });

	if (outcome === "failed") {
		return [...steps, { at: 1, phase: "terminal", payload: { type: "response.failed", error: errorOf("failed") } }];
	}
	if (outcome === "cancelled") {
		const response = responseWith(run, "cancelled");
		return [...steps, { at: 1, phase: "terminal", payload: { type: "response.completed", response } }];
	}

	let index = 0;
	if (answer.searchItem) {
		const item = answer.searchItem;
		steps.push(
			{ at: 0.5, phase: "output", payload: { type: "response.output_item.added", output_index: 0, item } },
			{ at: 0.5, phase: "output", payload: { type: "response.output_item.done", output_index: 0, item } },
		);
		index = 1;
	}
	const itemId = run.messageId;
	const opening = { ...messageItem(itemId, answer, "in_progress"), content: [] };
	steps.push({
		at: 0.55,
		phase: "output",
		payload: { type: "response.output_item.added", output_index: index, item: opening },
	});
	const count = deltaCount(answer.text.length);
	const size = Math.ceil(answer.text.length / count);
	for (let i = 0; i < count; i++) {
		steps.push({
			at: 0.6 + (0.35 * i) / Math.max(1, count - 1),
			phase: "output",
			payload: {
				type: "response.output_text.delta",
				item_id: itemId,
				output_index: index,
				content_index: 0,
				delta: answer.text.slice(i * size, (i + 1) * size),
			},
		});
	}
	const final = responseWith(run, outcome);
	steps.push(
		{
			at: 0.96,
			phase: "output",
			payload: {
				type: "response.output_text.done",
				item_id: itemId,
				output_index: index,
				content_index: 0,
				text: answer.text,
			},
		},
		{
			at: 0.98,
			phase: "output",
			payload: { type: "response.output_item.done", output_index: index, item: messageItem(itemId, answer, outcome) },
		},
		// No response.incomplete in the SDK's union: an incomplete run ends with response.completed, status incomplete.
		{ at: 1, phase: "terminal", payload: { type: "response.completed", response: final } },
	);
	return steps;
}

/** The instant of a step, on the clock or, under `steps`, when its phase is reached. */
function instantOf(run: AgentRun, step: Step): number {
	if (run.markers.steps === undefined) return run.createdAtMs + run.durationMs * step.at;
	if (step.phase === "queued") return run.createdAtMs;
	const at = step.phase === "running" ? run.stepStartedAtMs : run.stepFinishedAtMs;
	return at ?? Number.POSITIVE_INFINITY;
}

/**
 * The run's events, in stream order, with their instants. A cancel keeps the
 * events already due, then ends the stream with `response.completed` carrying
 * the cancelled Response (the SDK's union has no `response.cancelled`).
 */
export function eventsOf(run: AgentRun): PlannedEvent[] {
	const key = `${run.cancelledAtMs}|${run.stepStartedAtMs}|${run.stepFinishedAtMs}`;
	if (run.plan?.key === key) return run.plan.events;

	let steps = naturalSteps(run).map((step) => ({ step, atMs: instantOf(run, step) }));
	const cancelledAt = run.cancelledAtMs;
	if (cancelledAt !== null) {
		const response = responseWith(run, "cancelled");
		steps = [
			...steps.filter(({ step, atMs }) => step.phase !== "terminal" && atMs <= cancelledAt),
			{ step: { at: 1, phase: "terminal", payload: { type: "response.completed", response } }, atMs: cancelledAt },
		];
	}
	const events = steps.map(
		({ step, atMs }, sequence_number): PlannedEvent => ({
			atMs,
			terminal: step.phase === "terminal",
			// `type` and `sequence_number` first: what a reader of the raw stream looks for.
			event: Object.assign({ type: step.payload.type, sequence_number }, step.payload) as AgentStreamEvent,
		}),
	);
	run.plan = { key, events };
	return events;
}
