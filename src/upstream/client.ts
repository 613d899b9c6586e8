/**
 * The upstream client: Perplexity's async chat completions API, or the local
 * emulator, at `PERPLEXITY_BASE_URL`. Every call has a timeout, every answer is
 * validated against the spec's schema, and every failure becomes a typed
 * `UpstreamError` that says whether it is worth retrying.
 */
import type { Settings } from "../config.ts";
import { type AsyncApiChatCompletionsRequest, AsyncApiChatCompletionsResponse } from "../schemas/perplexity.ts";
import { isRetryableStatus, parseRetryAfter, UpstreamError } from "./errors.ts";

/** The two path families name the same operations; the official SDK uses the first. */
export const UPSTREAM_PATHS = {
	chatCompletions: "/async/chat/completions",
	sonar: "/v1/async/sonar",
} as const;

export interface UpstreamClient {
	create(body: AsyncApiChatCompletionsRequest): Promise<AsyncApiChatCompletionsResponse>;
	get(upstreamId: string): Promise<AsyncApiChatCompletionsResponse>;
}

export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/** An abort by the call's own timeout signal (workerd names it TimeoutError; some runtimes say AbortError). */
function isTimeout(error: unknown): boolean {
	return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

/**
 * @example
 * const upstream = upstreamClient(readSettings(env));
 * const job = await upstream.create({ request: { model: "sonar", messages } });
 */
export function upstreamClient(
	settings: Pick<Settings, "upstreamBaseUrl" | "upstreamApiKey" | "upstreamTimeoutMs">,
	fetcher: Fetcher = (input, init) => fetch(input, init),
): UpstreamClient {
	const base = settings.upstreamBaseUrl + UPSTREAM_PATHS.chatCompletions;

	async function call(url: string, init: RequestInit): Promise<AsyncApiChatCompletionsResponse> {
		let response: Response;
		try {
			response = await fetcher(url, {
				...init,
				headers: {
					authorization: `Bearer ${settings.upstreamApiKey}`,
					accept: "application/json",
					...(init.body ? { "content-type": "application/json" } : {}),
				},
				signal: AbortSignal.timeout(settings.upstreamTimeoutMs),
			});
		} catch (error) {
			const timedOut = isTimeout(error);
			throw new UpstreamError({
				kind: timedOut ? "timeout" : "network",
				status: null,
				retryable: true,
				retryAfterMs: null,
				message: timedOut
					? `upstream did not answer within ${settings.upstreamTimeoutMs} ms`
					: `upstream unreachable: ${error instanceof Error ? error.message : String(error)}`,
			});
		}
		let text: string;
		try {
			text = await response.text();
		} catch (error) {
			// The timeout covers the body too: one that fires mid-body is a timeout, not a dropped connection.
			const timedOut = isTimeout(error);
			throw new UpstreamError({
				kind: timedOut ? "timeout" : "network",
				status: response.status,
				retryable: true,
				retryAfterMs: null,
				message: timedOut
					? `upstream did not finish its answer within ${settings.upstreamTimeoutMs} ms`
					: "upstream connection dropped while reading the answer",
			});
		}
		if (!response.ok) {
			throw new UpstreamError({
				kind: "http",
				status: response.status,
				retryable: isRetryableStatus(response.status),
				retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), Date.now()),
				message: `upstream answered ${response.status}: ${redact(describeError(text), settings.upstreamApiKey)}`,
			});
		}
		const parsed = AsyncApiChatCompletionsResponse.safeParse(safeJson(text));
		if (!parsed.success) {
			throw new UpstreamError({
				kind: "invalid_response",
				status: response.status,
				retryable: true,
				retryAfterMs: null,
				message: "upstream answer does not match AsyncApiChatCompletionsResponse",
			});
		}
		return parsed.data;
	}

	return {
		create: (body) => call(base, { method: "POST", body: JSON.stringify(body) }),
		get: (upstreamId) => call(`${base}/${encodeURIComponent(upstreamId)}`, { method: "GET" }),
	};
}

/**
 * Upstream's words reach callers (a 502's detail, a FAILED job's error_message):
 * never with the key the relay sent, should upstream quote it back.
 */
export function redact(text: string, secret: string): string {
	let out = secret.length >= 4 ? text.split(secret).join("[redacted]") : text;
	out = out.replace(/\b(Bearer\s+)\S+/gi, "$1[redacted]").replace(/\bpplx-[A-Za-z0-9_-]{8,}/g, "pplx-[redacted]");
	return out;
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/** The upstream's own words, kept short: `detail` as a string, or the first validation message. */
function describeError(text: string): string {
	const body = safeJson(text) as { detail?: unknown } | undefined;
	const detail = body?.detail;
	if (typeof detail === "string") return detail.slice(0, 300);
	if (Array.isArray(detail) && detail.length > 0) {
		const first = detail[0] as { loc?: unknown[]; msg?: string };
		return `${first.msg ?? "invalid"} at ${(first.loc ?? []).join(".")}`.slice(0, 300);
	}
	return text.slice(0, 200) || "no body";
}
