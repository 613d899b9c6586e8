/**
 * Watching a background run through its event stream instead of polling it:
 * `GET /v1/responses/{id}?stream=true&starting_after=N` answers server-sent
 * events, each with a `type` and a rising `sequence_number`, and closes after
 * the terminal one (there is no `[DONE]`). The watcher reads events as they
 * come, tells the job what matters (the cursor, the run starting, what it is
 * searching), and returns when the run ends, the connection drops, the caller
 * stops it, or upstream refuses the stream. It never retries by itself: the Job
 * Durable Object resumes from the cursor on its next alarm, or falls back to
 * polling.
 *
 * Events are read leniently, like answers: unknown types are skipped, and a
 * terminal event without a usable Response is settled by one more plain read.
 */
import { isTimeoutError } from "../../http.ts";
import { noteDrift } from "../drift.ts";
import { asFailure, UpstreamError, type UpstreamFailure } from "../errors.ts";
import { type CallOptions, type CallSettings, httpFailure, readRateLimit, redact, safeJson } from "../http.ts";
import type { UpstreamRun, WatchEnd, WatchOptions, WatchUpdate } from "../port.ts";
import { type ReadContext, readAgentRun } from "./response.ts";

export interface WatchRunOptions extends WatchOptions {
	/** One plain read of the run, for a terminal event that carries no usable Response. */
	read: () => Promise<UpstreamRun>;
}

/** One server-sent event: its `event:` name (if any) and its `data:` lines joined. */
export interface SseEvent {
	event: string | null;
	data: string;
}

/**
 * Splits a byte stream into server-sent events. Comments, `id:` and `retry:` lines are skipped;
 * several `data:` lines make one payload.
 *
 * @example
 * for await (const event of sseEvents(response.body)) console.log(event.data);
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
	const reader = body.pipeThrough(new TextDecoderStream()).getReader();
	// A stop cancels the read in flight, whatever the body is tied to.
	const stop = () => void reader.cancel().catch(() => {});
	if (signal?.aborted) stop();
	signal?.addEventListener("abort", stop, { once: true });
	let buffer = "";
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			buffer += value;
			for (;;) {
				const match = buffer.match(/\r?\n\r?\n/);
				if (!match || match.index === undefined) break;
				const block = buffer.slice(0, match.index);
				buffer = buffer.slice(match.index + match[0].length);
				const event = parseBlock(block);
				if (event) yield event;
			}
		}
		const last = parseBlock(buffer);
		if (last) yield last;
	} finally {
		signal?.removeEventListener("abort", stop);
		await reader.cancel().catch(() => {});
	}
}

function parseBlock(block: string): SseEvent | null {
	let event: string | null = null;
	const data: string[] = [];
	for (const line of block.split(/\r?\n/)) {
		if (line === "" || line.startsWith(":")) continue;
		const colon = line.indexOf(":");
		const field = colon === -1 ? line : line.slice(0, colon);
		const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
		if (field === "event") event = value;
		else if (field === "data") data.push(value);
	}
	return data.length > 0 ? { event, data: data.join("\n") } : null;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled", "incomplete"]);
/** Updates that only move the cursor are passed on at most this often (the end carries the last cursor). */
export const CURSOR_UPDATE_MS = 1_000;
/** At most this many queries or URLs in one progress note, each at most this long. */
const PROGRESS_ITEMS = 3;
const PROGRESS_ITEM_CHARS = 120;

/**
 * Follows one run's event stream until it ends (see `WatchEnd`).
 *
 * @example
 * const end = await watchRun(settings, "resp_1", context, { cursor: null, signal, idleTimeoutMs: 120_000, onUpdate, read });
 */
export async function watchRun(
	settings: CallSettings,
	upstreamId: string,
	context: ReadContext,
	options: WatchRunOptions,
	call: CallOptions = {},
): Promise<WatchEnd> {
	let cursor = options.cursor ?? -1;
	const query = `stream=true${options.cursor === null ? "" : `&starting_after=${options.cursor}`}`;
	const url = `${settings.upstreamBaseUrl}/v1/responses/${encodeURIComponent(upstreamId)}?${query}`;
	const fetcher = call.fetcher ?? ((input: string, init: RequestInit) => fetch(input, init));

	// One controller for the connect timeout, the idle timeout and the caller's stop.
	const controller = new AbortController();
	const stop = () => controller.abort(new DOMException("stopped", "AbortError"));
	if (options.signal.aborted) return { ended: "stopped", cursor };
	options.signal.addEventListener("abort", stop, { once: true });
	let idle: ReturnType<typeof setTimeout> | undefined;
	let quiet = false;
	const arm = (ms: number) => {
		clearTimeout(idle);
		idle = setTimeout(() => {
			quiet = true;
			controller.abort(new DOMException("idle", "TimeoutError"));
		}, ms);
	};
	const stoppedByCaller = () => options.signal.aborted;

	try {
		arm(settings.upstreamTimeoutMs);
		let response: Response;
		try {
			response = await fetcher(url, {
				method: "GET",
				headers: { authorization: `Bearer ${settings.upstreamApiKey}`, accept: "text/event-stream" },
				signal: controller.signal,
			});
		} catch (error) {
			if (stoppedByCaller()) return { ended: "stopped", cursor };
			return { ended: "dropped", cursor, failure: networkFailure(error, settings) };
		}
		const hint = readRateLimit(response.headers, Date.now());
		if (hint && call.onLimits) call.onLimits(hint);
		if (!response.ok) {
			const text = await response.text().catch(() => "");
			const failure = httpFailure(response, text, settings.upstreamApiKey);
			if (failure.retryable) return { ended: "dropped", cursor, failure };
			const param = (safeJson(text) as { error?: { param?: unknown } } | undefined)?.error?.param;
			if (response.status === 400 && (param === "starting_after" || param === "stream")) {
				return { ended: "unsupported", cursor, failure };
			}
			return { ended: "failed", cursor, failure };
		}
		const type = response.headers.get("content-type") ?? "";
		if (!type.includes("text/event-stream") || !response.body) {
			// An upstream (or a proxy) that does not stream answered the plain Response: read it, then poll.
			const text = await response.text().catch(() => "");
			const run = (() => {
				try {
					return readAgentRun(safeJson(text), context);
				} catch {
					return null;
				}
			})();
			if (run && TERMINAL.has(run.status)) return { ended: "terminal", cursor, run };
			return {
				ended: "unsupported",
				cursor,
				failure: {
					kind: "invalid_response",
					status: response.status,
					retryable: false,
					retryAfterMs: null,
					message: `upstream answered ${type || "no content type"} instead of an event stream`,
				},
			};
		}

		arm(options.idleTimeoutMs);
		// Cursor-only updates (text deltas, item events: thousands in a long answer) reach the job at most
		// once per CURSOR_UPDATE_MS; the first of a connection always does (it shows the connection works).
		let forwardedAt: number | null = null;
		for await (const event of sseEvents(response.body, controller.signal)) {
			arm(options.idleTimeoutMs);
			const data = safeJson(event.data);
			if (!isRecord(data)) continue;
			const sequence = typeof data.sequence_number === "number" ? data.sequence_number : null;
			if (sequence !== null) {
				// A replay of what was already seen (a reconnect overlapping the cursor) changes nothing.
				if (sequence <= cursor) continue;
				cursor = sequence;
			}
			const kind = typeof data.type === "string" ? data.type : (event.event ?? "");
			const ended = await terminalOf(kind, data, context, options);
			if (ended) return { ended: "terminal", cursor, run: ended };
			const update = updateOf(kind, data, cursor);
			if (!update) continue;
			const cursorOnly = update.status === undefined && update.progress === undefined;
			const now = Date.now();
			if (cursorOnly && forwardedAt !== null && now - forwardedAt < CURSOR_UPDATE_MS) continue;
			forwardedAt = now;
			await options.onUpdate(update);
		}
		if (stoppedByCaller()) return { ended: "stopped", cursor };
		return {
			ended: "dropped",
			cursor,
			failure: quiet
				? {
						kind: "timeout",
						status: 200,
						retryable: true,
						retryAfterMs: null,
						message: "upstream's event stream went quiet",
					}
				: {
						kind: "network",
						status: 200,
						retryable: true,
						retryAfterMs: null,
						message: "upstream closed the event stream before the run ended",
					},
		};
	} catch (error) {
		if (stoppedByCaller()) return { ended: "stopped", cursor };
		if (error instanceof UpstreamError && !error.failure.retryable)
			return { ended: "failed", cursor, failure: error.failure };
		return { ended: "dropped", cursor, failure: networkFailure(error, settings) };
	} finally {
		clearTimeout(idle);
		options.signal.removeEventListener("abort", stop);
	}
}

function networkFailure(error: unknown, settings: CallSettings): UpstreamFailure {
	// The caller's own stop (an AbortError too) was told apart before this.
	if (isTimeoutError(error)) {
		return {
			kind: "timeout",
			status: null,
			retryable: true,
			retryAfterMs: null,
			message: "upstream's event stream went quiet",
		};
	}
	const failure = asFailure(error);
	return { ...failure, message: redact(failure.message, settings.upstreamApiKey) };
}

/** The run's end, if this event is a terminal one. */
async function terminalOf(
	kind: string,
	data: Record<string, unknown>,
	context: ReadContext,
	options: WatchRunOptions,
): Promise<UpstreamRun | null> {
	if (kind === "response.failed") {
		const error = isRecord(data.error) ? data.error : {};
		const message = typeof error.message === "string" ? redact(error.message, context.apiKey).slice(0, 500) : null;
		if (isRecord(data.response)) {
			const run = readLeniently(data.response, context);
			if (run) return run;
		}
		// The SDK's failed event carries only the error: the whole Response comes from one plain read.
		const read = await options.read().catch(() => null);
		if (read && TERMINAL.has(read.status)) return read;
		return {
			id: "",
			status: "failed",
			result: null,
			native: context.native
				? { status: "failed", output: [], error: { message: message ?? "upstream reported the run failed" } }
				: null,
			error: message ?? "upstream reported the run failed",
			createdAt: null,
			startedAt: null,
			finishedAt: null,
		};
	}
	const isEnd = kind === "response.completed" || kind === "response.cancelled" || kind === "response.incomplete";
	if (!isEnd) return null;
	if (isRecord(data.response)) {
		const run = readLeniently(data.response, context);
		if (run && TERMINAL.has(run.status)) return run;
	}
	noteDrift(`agent:stream:${kind}:no_response`, "a terminal event without a usable Response was settled by a read");
	const read = await options.read();
	return TERMINAL.has(read.status) ? read : null;
}

function readLeniently(response: Record<string, unknown>, context: ReadContext): UpstreamRun | null {
	try {
		return readAgentRun(response, context);
	} catch {
		return null;
	}
}

/** What a non-terminal event tells the job, if anything. */
function updateOf(kind: string, data: Record<string, unknown>, cursor: number): WatchUpdate | null {
	switch (kind) {
		case "response.created":
			return { cursor, status: "queued" };
		case "response.in_progress":
			return { cursor, status: "in_progress" };
		case "response.reasoning.search_queries":
			return { cursor, status: "in_progress", progress: { stage: "searching", items: shortList(data.queries) } };
		case "response.reasoning.fetch_url_queries":
			return {
				cursor,
				status: "in_progress",
				progress: { stage: "reading", items: shortList(data.urls ?? data.queries) },
			};
		default:
			// Deltas and item events move the cursor only; unknown types are drift, skipped.
			if (!kind.startsWith("response."))
				noteDrift(`agent:stream:${kind.slice(0, 40)}`, "an unknown stream event was skipped");
			return { cursor };
	}
}

function shortList(value: unknown): string[] {
	if (!Array.isArray(value)) return [];
	return value
		.filter((item): item is string => typeof item === "string" && item.trim() !== "")
		.slice(0, PROGRESS_ITEMS)
		.map((item) => (item.length > PROGRESS_ITEM_CHARS ? `${item.slice(0, PROGRESS_ITEM_CHARS - 1)}…` : item));
}
