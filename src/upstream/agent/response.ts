/**
 * An Agent API Response object, read leniently, as the job's normalised run
 * with the answer in the seeds' `CompletionResponse` shape:
 * - the text is the concatenated `output_text` parts of the `message` items;
 * - `citations` are the `search_results` items' URLs, `search_results` their objects;
 * - `usage` maps `input_tokens`/`output_tokens`/`total_tokens` and the cost;
 * - `incomplete` (a token cap) keeps its text, with `finish_reason: "length"`.
 *
 * It takes what it needs and ignores the rest: unknown fields, output items
 * and content parts, and missing optional fields, never fail or stall a job
 * (each kind of drift is logged once). Only an answer the relay cannot use at
 * all, with no id or no status, is an error, and a terminal one, so that the
 * job fails at once instead of polling until its timeout.
 */
import type { ApiPublicSearchResult, CompletionResponse } from "../../schemas/perplexity.ts";
import { noteDrift } from "../drift.ts";
import { UpstreamError } from "../errors.ts";
import { redact } from "../http.ts";
import type { RunStatus, UpstreamRun } from "../port.ts";

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const int = (value: unknown): number | null => {
	const n = num(value);
	return n === null ? null : Math.trunc(n);
};

const STATUSES: ReadonlySet<string> = new Set([
	"queued",
	"in_progress",
	"completed",
	"incomplete",
	"failed",
	"cancelled",
]);

/** Top-level fields of a Response the SDK knows (and the docs add): anything else is drift, logged once. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
	"id",
	"object",
	"created_at",
	"completed_at",
	"status",
	"model",
	"output",
	"usage",
	"error",
	"background",
	"store",
	"previous_response_id",
	"incomplete_details",
	"metadata",
	"instructions",
	"preset",
	"max_output_tokens",
	"temperature",
	"top_p",
	"reasoning",
	"tools",
	"response_format",
	"language_preference",
	"max_steps",
]);

/** Output item types the relay reads, and those it knows and has no use for. */
const READ_ITEMS: ReadonlySet<string> = new Set(["message", "search_results"]);
const KNOWN_ITEMS: ReadonlySet<string> = new Set([
	"fetch_url_results",
	"function_call",
	"mcp_list_tools",
	"mcp_call",
	"tool_search",
	"skill_loaded",
	"advisor_result",
	"sandbox_results",
	"sandbox_write_file",
	"sandbox_read_file",
	"sandbox_edit_file",
	"sandbox_grep",
	"sandbox_glob",
	"sandbox_apply_patch",
	"share_file",
	"unknown",
	"reasoning",
]);

export interface ReadContext {
	/** The model name the caller asked for: the result echoes it. */
	model: string;
	/** The upstream key, so that upstream's words never carry it on. */
	apiKey: string;
	/**
	 * An Agent-surface job: keep upstream's Response object itself (`native`) once the run ended,
	 * instead of translating it to the seeds' shape. @default false
	 */
	native?: boolean;
}

function unusable(message: string): UpstreamError {
	return new UpstreamError({ kind: "invalid_response", status: 200, retryable: false, retryAfterMs: null, message });
}

/**
 * @example
 * const run = readAgentRun(JSON.parse(text), { model: "sonar", apiKey });
 * run.status // "completed"
 * run.result?.choices[0]?.message.content // the answer
 */
export function readAgentRun(body: unknown, context: ReadContext): UpstreamRun {
	if (body === undefined) {
		// Not JSON at all: a proxy's page or a body cut short; worth another try.
		throw new UpstreamError({
			kind: "invalid_response",
			status: 200,
			retryable: true,
			retryAfterMs: null,
			message: "upstream answered with something that is not JSON",
		});
	}
	if (!isRecord(body)) throw unusable("upstream answered with JSON that is not a Response object");
	const id = str(body.id);
	const rawStatus = str(body.status);
	if (!id || !rawStatus) {
		throw unusable(
			`upstream's answer has no ${id ? "status" : "id"} the relay can read (fields: ${Object.keys(body).slice(0, 12).join(", ") || "none"})`,
		);
	}
	for (const key of Object.keys(body)) {
		if (!KNOWN_FIELDS.has(key)) noteDrift(`agent:field:${key}`, "an unknown Response field was ignored");
	}

	const output = Array.isArray(body.output) ? body.output : [];
	const error = errorMessage(body, context.apiKey);
	if (context.native) return nativeRun(id, rawStatus, body, error);
	let status: RunStatus;
	if (STATUSES.has(rawStatus)) {
		status = rawStatus as RunStatus;
	} else if (rawStatus === "requires_action") {
		// Only client-side function tools stop a run for the caller, and the relay sends none.
		return {
			id,
			status: "failed",
			result: null,
			error: "upstream stopped the run for a client-side tool call (requires_action), which the relay cannot answer",
			createdAt: int(body.created_at),
			startedAt: null,
			finishedAt: int(body.completed_at),
		};
	} else {
		noteDrift(`agent:status:${rawStatus.slice(0, 40)}`, "an unknown run status was read as still running");
		status = error ? "failed" : "in_progress";
	}

	const finishedAt = int(body.completed_at);
	if (status === "completed" || status === "incomplete") {
		const answer = readOutput(output);
		if (answer.text === "" && status === "incomplete") {
			return {
				id,
				status,
				result: null,
				error: `upstream ended the run incomplete (${incompleteReason(body)}) before it wrote any answer`,
				createdAt: int(body.created_at),
				startedAt: null,
				finishedAt,
			};
		}
		return {
			id,
			status,
			result: completion(body, answer, status, context),
			error: status === "incomplete" ? `upstream ended the run incomplete (${incompleteReason(body)})` : null,
			createdAt: int(body.created_at),
			startedAt: null,
			finishedAt,
		};
	}
	return {
		id,
		status,
		result: null,
		error:
			status === "failed"
				? (error ?? "upstream reported the run failed")
				: status === "cancelled"
					? (error ?? "the run was cancelled upstream")
					: null,
		createdAt: int(body.created_at),
		startedAt: null,
		finishedAt: status === "failed" || status === "cancelled" ? finishedAt : null,
	};
}

/**
 * An Agent-surface run: the status as upstream says it and, once the run ended, its Response
 * object as it came (with a failure's message redacted). Unknown statuses are drift, read as
 * running (or failed, with an error), as for a translated run.
 */
function nativeRun(id: string, rawStatus: string, body: Record<string, unknown>, error: string | null): UpstreamRun {
	let status: RunStatus;
	if (STATUSES.has(rawStatus)) status = rawStatus as RunStatus;
	else if (rawStatus === "requires_action") status = "failed";
	else {
		noteDrift(`agent:status:${rawStatus.slice(0, 40)}`, "an unknown run status was read as still running");
		status = error ? "failed" : "in_progress";
	}
	const terminal = status !== "queued" && status !== "in_progress";
	const redacted = isRecord(body.error) && error ? { ...body.error, message: error } : body.error;
	const message =
		status === "failed"
			? (error ??
				(rawStatus === "requires_action"
					? "upstream stopped the run for a client-side tool call (requires_action), which the relay cannot answer"
					: "upstream reported the run failed"))
			: status === "cancelled"
				? (error ?? "the run was cancelled upstream")
				: status === "incomplete"
					? `upstream ended the run incomplete (${incompleteReason(body)})`
					: null;
	return {
		id,
		status,
		result: null,
		native: terminal ? { ...body, status, ...(redacted !== undefined ? { error: redacted } : {}) } : null,
		error: message,
		createdAt: int(body.created_at),
		startedAt: null,
		finishedAt: int(body.completed_at),
	};
}

function incompleteReason(body: Record<string, unknown>): string {
	const details = isRecord(body.incomplete_details) ? body.incomplete_details : {};
	return str(details.reason) ?? "no reason given";
}

/** Upstream's error message (`error.message`, or a bare string), redacted and kept short. */
function errorMessage(body: Record<string, unknown>, apiKey: string): string | null {
	const error = body.error;
	const message = isRecord(error) ? str(error.message) : str(error);
	return message ? redact(message, apiKey).slice(0, 500) : null;
}

interface Answer {
	text: string;
	results: ApiPublicSearchResult[];
}

/** The answer's text and sources, from the items the relay reads; every other item is skipped. */
function readOutput(output: unknown[]): Answer {
	const texts: string[] = [];
	const results: ApiPublicSearchResult[] = [];
	const urls = new Set<string>();
	for (const item of output) {
		if (!isRecord(item)) continue;
		const type = str(item.type) ?? "";
		if (!READ_ITEMS.has(type)) {
			if (!KNOWN_ITEMS.has(type))
				noteDrift(`agent:output_item:${type.slice(0, 40)}`, "an unknown output item was ignored");
			continue;
		}
		if (type === "message") {
			for (const part of Array.isArray(item.content) ? item.content : []) {
				if (!isRecord(part)) continue;
				if (part.type === "output_text" && typeof part.text === "string") texts.push(part.text);
				else noteDrift(`agent:content_part:${String(part.type).slice(0, 40)}`, "an unknown content part was ignored");
			}
		} else {
			for (const result of Array.isArray(item.results) ? item.results : []) {
				const read = searchResult(result);
				if (read && !urls.has(read.url)) {
					urls.add(read.url);
					results.push(read);
				}
			}
		}
	}
	return { text: texts.join(""), results };
}

function searchResult(raw: unknown): ApiPublicSearchResult | null {
	if (!isRecord(raw)) return null;
	const url = str(raw.url);
	if (!url) return null;
	const date = str(raw.date);
	const lastUpdated = str(raw.last_updated);
	const source = raw.source === "web" || raw.source === "attachment" ? raw.source : undefined;
	return {
		title: str(raw.title) ?? "",
		url,
		snippet: str(raw.snippet) ?? "",
		...(date ? { date } : {}),
		...(lastUpdated ? { last_updated: lastUpdated } : {}),
		...(source ? { source } : {}),
	};
}

function completion(
	body: Record<string, unknown>,
	answer: Answer,
	status: "completed" | "incomplete",
	context: ReadContext,
): CompletionResponse {
	const usage = readUsage(body.usage);
	return {
		id: str(body.id) ?? "",
		model: context.model,
		created: int(body.created_at) ?? Math.floor(Date.now() / 1000),
		object: "chat.completion",
		choices: [
			{
				index: 0,
				finish_reason: status === "incomplete" ? "length" : "stop",
				message: { role: "assistant", content: answer.text },
				delta: { role: "assistant", content: "" },
			},
		],
		...(usage ? { usage } : {}),
		citations: answer.results.map((result) => result.url),
		search_results: answer.results,
	};
}

/** The Agent API's usage in the seeds' names; a missing cost is zeros, and says so (`cost_reported: false`). */
function readUsage(raw: unknown): CompletionResponse["usage"] {
	if (!isRecord(raw)) {
		noteDrift("agent:missing:usage", "a finished run had no usage");
		return null;
	}
	const input = int(raw.input_tokens) ?? 0;
	const output = int(raw.output_tokens) ?? 0;
	const cost = isRecord(raw.cost) ? raw.cost : null;
	const total = num(cost?.total_cost);
	if (total === null) noteDrift("agent:missing:usage.cost", "a finished run's usage had no cost");
	const toolCalls = num(cost?.tool_calls_cost);
	return {
		prompt_tokens: input,
		completion_tokens: output,
		total_tokens: int(raw.total_tokens) ?? input + output,
		cost: {
			input_tokens_cost: num(cost?.input_cost) ?? 0,
			output_tokens_cost: num(cost?.output_cost) ?? 0,
			...(toolCalls !== null ? { tool_calls_cost: toolCalls } : {}),
			total_cost: total ?? 0,
			...(str(cost?.currency) ? { currency: str(cost?.currency) } : {}),
		},
		...(total === null ? { cost_reported: false } : {}),
	};
}
