/**
 * The `sonar` adapter: Perplexity's retired async chat completions API
 * (`/async/chat/completions`), kept for gateways that still serve it
 * (`UPSTREAM_API=sonar`). The request goes as the caller sent it, with an
 * `idempotency_key` derived from the job id, so a retried create never starts
 * a second run: no failure of this adapter is ambiguous.
 *
 * Answers are read leniently: what the strict seed schema accepts is kept as
 * is; anything else is rebuilt field by field from what is usable (a new
 * `finish_reason`, a missing `delta` or `cost`, an image without a title), and
 * the drift is logged once.
 */

import { messageText } from "../schemas/content.ts";
import {
	ApiPublicSearchResult,
	type AsyncProcessingStatus,
	type CompletionResponse,
	CompletionResponse as CompletionResponseSchema,
} from "../schemas/perplexity.ts";
import { noteDrift } from "./drift.ts";
import { UpstreamError } from "./errors.ts";
import { type CallOptions, type CallSettings, callUpstream, redact, safeJson } from "./http.ts";
import type { RunStatus, UpstreamJob, UpstreamPort, UpstreamRun } from "./port.ts";

const PATH = "/async/chat/completions";

/** The upstream idempotency key of a job: retried creates never make a second upstream job. */
export const upstreamIdempotencyKey = (jobId: string) => `sonar-relay-${jobId}`;

const STATUSES: Record<AsyncProcessingStatus, RunStatus> = {
	CREATED: "queued",
	IN_PROGRESS: "in_progress",
	COMPLETED: "completed",
	FAILED: "failed",
};

/**
 * @example
 * const upstream = sonarAdapter(settings);
 * const run = await upstream.create({ jobId, request: { model: "sonar", messages } });
 */
export function sonarAdapter(settings: CallSettings, options: CallOptions = {}): UpstreamPort {
	async function call(path: string, init: RequestInit): Promise<UpstreamRun> {
		const answer = await callUpstream(settings, path, init, options);
		return readSonarRun(safeJson(answer.text), settings.upstreamApiKey);
	}
	return {
		api: "sonar",
		// The retired API has no Agent surface: runs submitted as Agent API requests need UPSTREAM_API=agent.
		check: (job) =>
			job.surface === "agent"
				? [
						{
							loc: [],
							msg: "the Agent API surface needs UPSTREAM_API=agent: this relay calls the retired Sonar async API",
							type: "value_error",
						},
					]
				: [],
		create: (job: UpstreamJob) => {
			if (job.surface === "agent") {
				throw new UpstreamError({
					kind: "http",
					status: 422,
					retryable: false,
					retryAfterMs: null,
					message: "the Agent API surface needs UPSTREAM_API=agent",
				});
			}
			return call(PATH, {
				method: "POST",
				body: JSON.stringify({ request: job.request, idempotency_key: upstreamIdempotencyKey(job.jobId) }),
			});
		},
		read: (_job, upstreamId) => call(`${PATH}/${encodeURIComponent(upstreamId)}`, { method: "GET" }),
		// The retired API has no cancel (its runs end by themselves) and no event stream.
		cancel: async () => {},
		canWatch: false,
		watch: async (_job, _upstreamId, options) => ({
			ended: "unsupported",
			cursor: options.cursor ?? -1,
			failure: {
				kind: "http",
				status: null,
				retryable: false,
				retryAfterMs: null,
				message: "the retired Sonar API does not stream a job's events",
			},
		}),
	};
}

function unusable(message: string): UpstreamError {
	return new UpstreamError({ kind: "invalid_response", status: 200, retryable: false, retryAfterMs: null, message });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);
const int = (value: unknown): number | null =>
	typeof value === "number" && Number.isFinite(value) ? Math.trunc(value) : null;
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/** An `AsyncApiChatCompletionsResponse`, read for what the job needs. */
export function readSonarRun(body: unknown, apiKey = ""): UpstreamRun {
	if (body === undefined) {
		// Not JSON at all: a proxy's page or a body cut short; worth another poll.
		throw new UpstreamError({
			kind: "invalid_response",
			status: 200,
			retryable: true,
			retryAfterMs: null,
			message: "upstream answered with something that is not JSON",
		});
	}
	if (!isRecord(body)) throw unusable("upstream answered with JSON that is not an object");
	const id = str(body.id);
	const rawStatus = str(body.status);
	if (!id || !rawStatus) throw unusable("upstream's answer has no job id or status the relay can read");
	let status = STATUSES[rawStatus as AsyncProcessingStatus];
	if (!status) {
		noteDrift(`sonar:status:${rawStatus}`, "an unknown job status was read as still running");
		status = "in_progress";
	}
	return {
		id,
		status,
		result: status === "completed" ? readCompletion(body.response) : null,
		error: status === "failed" ? redactedError(body.error_message, apiKey) : null,
		createdAt: int(body.created_at),
		startedAt: int(body.started_at),
		finishedAt: int(body.completed_at) ?? int(body.failed_at),
	};
}

/** A failed job's message, without the key should upstream quote it. */
function redactedError(message: unknown, apiKey: string): string | null {
	return typeof message === "string" ? redact(message, apiKey).slice(0, 500) : null;
}

/** A `CompletionResponse`: kept as it is when it is valid, else rebuilt from what is usable. */
export function readCompletion(raw: unknown): CompletionResponse | null {
	if (!isRecord(raw)) return null;
	const strict = CompletionResponseSchema.safeParse(raw);
	if (strict.success) return strict.data;
	for (const issue of strict.error.issues.slice(0, 5)) {
		noteDrift(`sonar:response.${issue.path.join(".")}`, `read leniently: ${issue.message}`);
	}
	const choices = (Array.isArray(raw.choices) ? raw.choices : []).filter(isRecord).map((choice, index) => {
		const message = isRecord(choice.message) ? choice.message : {};
		const finish = str(choice.finish_reason);
		return {
			index: int(choice.index) ?? index,
			finish_reason: finish === "stop" || finish === "length" ? (finish as "stop" | "length") : null,
			message: { role: "assistant" as const, content: messageText(message.content) },
			delta: { role: "assistant" as const, content: "" },
		};
	});
	if (choices.length === 0) return null;
	const usage = readUsage(raw.usage);
	const searchResults = (Array.isArray(raw.search_results) ? raw.search_results : [])
		.map((result) => ApiPublicSearchResult.safeParse(leniently(result)))
		.flatMap((parsed) => (parsed.success ? [parsed.data] : []));
	return {
		id: str(raw.id) ?? "",
		model: str(raw.model) ?? "",
		created: int(raw.created) ?? Math.floor(Date.now() / 1000),
		object: "chat.completion",
		choices,
		...(usage ? { usage } : {}),
		citations: (Array.isArray(raw.citations) ? raw.citations : []).filter((c): c is string => typeof c === "string"),
		search_results: searchResults,
		related_questions: (Array.isArray(raw.related_questions) ? raw.related_questions : []).filter(
			(q): q is string => typeof q === "string",
		),
	};
}

/** A search result with a missing title or snippet, or an unknown source, made valid. */
function leniently(result: unknown): unknown {
	if (!isRecord(result)) return result;
	const source = result.source === "web" || result.source === "attachment" ? result.source : undefined;
	return { ...result, title: str(result.title) ?? "", snippet: str(result.snippet) ?? "", source };
}

/** Usage with its token counts; a missing cost is zeros, and says so (`cost_reported: false`). */
function readUsage(raw: unknown): CompletionResponse["usage"] {
	if (!isRecord(raw)) return null;
	const prompt = int(raw.prompt_tokens);
	const completion = int(raw.completion_tokens);
	if (prompt === null || completion === null) return null;
	const cost = isRecord(raw.cost) ? raw.cost : null;
	const total = cost && typeof cost.total_cost === "number" ? cost.total_cost : null;
	return {
		prompt_tokens: prompt,
		completion_tokens: completion,
		total_tokens: int(raw.total_tokens) ?? prompt + completion,
		cost: {
			input_tokens_cost: typeof cost?.input_tokens_cost === "number" ? cost.input_tokens_cost : 0,
			output_tokens_cost: typeof cost?.output_tokens_cost === "number" ? cost.output_tokens_cost : 0,
			total_cost: total ?? 0,
		},
		...(total === null ? { cost_reported: false } : {}),
	};
}
