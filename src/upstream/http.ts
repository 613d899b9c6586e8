/**
 * One upstream HTTP call, shared by both adapters: the Bearer key, a timeout
 * that covers the body too, the answer's rate-limit headers handed to an
 * observer, and every way the call can go wrong turned into an `UpstreamError`
 * with the upstream's own words (redacted) in its message. What a 2xx body
 * means is the adapter's business.
 */
import { isTimeoutError } from "../http.ts";
import { isRetryableStatus, parseRetryAfter, UpstreamError, type UpstreamFailure } from "./errors.ts";

export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/** What upstream said about its rate limit on one answer; every field may be missing. */
export interface RateLimitHint {
	/** Requests allowed per second, from the limit and its window (a minute unless the answer says otherwise). */
	limitPerSecond: number | null;
	/** Requests left in the current window. */
	remaining: number | null;
	/** `remaining` as a share of the limit (0–1), when both are given. */
	remainingShare: number | null;
	/** Until the window (or the bucket) is full again, in ms. */
	resetMs: number | null;
}

export interface CallSettings {
	upstreamBaseUrl: string;
	upstreamApiKey: string;
	upstreamTimeoutMs: number;
}

/**
 * The header the local Perplexity emulator puts on every answer (tools/emulator/app.ts), so that a
 * job can record that its answer came from the emulator, not Perplexity. The real API never sends it.
 */
export const EMULATOR_HEADER = "x-perplexity-emulator";

/** Who answered an upstream call: the local emulator (it says so), or, for anything else, Perplexity. */
export type UpstreamOrigin = "emulator" | "perplexity";

export interface CallOptions {
	fetcher?: Fetcher;
	/** Told of every answer's rate-limit headers, 429s included. */
	onLimits?: (hint: RateLimitHint) => void;
	/** Told who answered, for every answer (errors included). */
	onOrigin?: (origin: UpstreamOrigin) => void;
}

/** A 2xx answer, read whole. */
export interface Answer {
	status: number;
	text: string;
}

/**
 * Makes one call and reads its answer. Throws an `UpstreamError` for anything but a readable 2xx.
 *
 * @example
 * const answer = await callUpstream(settings, "/v1/responses/resp_1", { method: "GET" });
 */
export async function callUpstream(
	settings: CallSettings,
	path: string,
	init: RequestInit,
	options: CallOptions = {},
): Promise<Answer> {
	const fetcher = options.fetcher ?? ((input: string, request: RequestInit) => fetch(input, request));
	let response: Response;
	try {
		response = await fetcher(settings.upstreamBaseUrl + path, {
			...init,
			headers: {
				authorization: `Bearer ${settings.upstreamApiKey}`,
				accept: "application/json",
				...(init.body ? { "content-type": "application/json" } : {}),
			},
			signal: AbortSignal.timeout(settings.upstreamTimeoutMs),
		});
	} catch (error) {
		const timedOut = isTimeoutError(error);
		throw new UpstreamError({
			kind: timedOut ? "timeout" : "network",
			status: null,
			retryable: true,
			retryAfterMs: null,
			message: timedOut
				? `upstream did not answer within ${settings.upstreamTimeoutMs} ms`
				: `upstream unreachable: ${redact(error instanceof Error ? error.message : String(error), settings.upstreamApiKey)}`,
		});
	}
	const hint = readRateLimit(response.headers, Date.now());
	if (hint && options.onLimits) options.onLimits(hint);
	options.onOrigin?.(response.headers.has(EMULATOR_HEADER) ? "emulator" : "perplexity");
	let text: string;
	try {
		text = await response.text();
	} catch (error) {
		// The timeout covers the body too: one that fires mid-body is a timeout, not a dropped connection.
		const timedOut = isTimeoutError(error);
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
	if (!response.ok) throw new UpstreamError(httpFailure(response, text, settings.upstreamApiKey));
	return { status: response.status, text };
}

/**
 * A non-2xx answer as a failure: retryable or not by its status, its `Retry-After`, and upstream's
 * own words (redacted) from `text`, its body.
 *
 * @example
 * throw new UpstreamError(httpFailure(response, await response.text(), settings.upstreamApiKey));
 */
export function httpFailure(response: Response, text: string, apiKey: string): UpstreamFailure {
	return {
		kind: "http",
		status: response.status,
		retryable: isRetryableStatus(response.status),
		retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), Date.now()),
		message: `upstream answered ${response.status}: ${redact(describeError(text), apiKey)}`,
	};
}

/**
 * A network failure that happened before anything was sent (no DNS answer, a refused
 * connection): retrying it cannot start a second run. Anything else that lost the answer may
 * have reached upstream.
 */
export function failedBeforeSending(message: string): boolean {
	return /refused|ENOTFOUND|EAI_AGAIN|getaddrinfo|DNS|resolve|no such host|unreachable: .*connect/i.test(message);
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

export function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/**
 * The upstream's own words, kept short, from either API's error shape: the Agent API's
 * `{"error": {"message", "param"}}`, or the Sonar API's `detail` (a string, or FastAPI's list).
 */
export function describeError(text: string): string {
	const body = safeJson(text) as { detail?: unknown; error?: unknown } | undefined;
	const error = body?.error;
	if (error && typeof error === "object") {
		const { message, param } = error as { message?: unknown; param?: unknown };
		if (typeof message === "string") {
			return (typeof param === "string" && param ? `${message} (param: ${param})` : message).slice(0, 300);
		}
	}
	if (typeof error === "string") return error.slice(0, 300);
	const detail = body?.detail;
	if (typeof detail === "string") return detail.slice(0, 300);
	if (Array.isArray(detail) && detail.length > 0) {
		const first = detail[0] as { loc?: unknown[]; msg?: string };
		return `${first.msg ?? "invalid"} at ${(first.loc ?? []).join(".")}`.slice(0, 300);
	}
	return text.slice(0, 200) || "no body";
}

// ── Rate-limit headers ───────────────────────────────────────────────────────

const LIMIT_HEADERS = ["x-ratelimit-limit-requests", "x-ratelimit-limit", "ratelimit-limit"];
const REMAINING_HEADERS = ["x-ratelimit-remaining-requests", "x-ratelimit-remaining", "ratelimit-remaining"];
const RESET_HEADERS = ["x-ratelimit-reset-requests", "x-ratelimit-reset", "ratelimit-reset"];
const POLICY_HEADERS = ["x-ratelimit-policy", "ratelimit-policy"];

/** Perplexity documents its limits per minute: a limit without a stated window is one. */
const DEFAULT_WINDOW_S = 60;

function firstHeader(headers: Headers, names: readonly string[]): string | null {
	for (const name of names) {
		const value = headers.get(name);
		if (value !== null && value.trim() !== "") return value.trim();
	}
	return null;
}

function number(value: string | null): number | null {
	if (value === null) return null;
	const parsed = Number.parseFloat(value);
	return Number.isFinite(parsed) && parsed >= 0 ? parsed : null;
}

/**
 * A reset as ms from now, in any of the forms APIs use: seconds (`"12"`, `"1.5"`), a duration
 * (`"1.2s"`, `"6m0s"`, `"250ms"`), or epoch seconds (anything past the year 2001).
 *
 * @example
 * parseReset("6m0s", now) // 360000
 */
export function parseReset(value: string | null, nowMs: number): number | null {
	if (value === null) return null;
	if (/^\d+(\.\d+)?$/.test(value)) {
		const seconds = Number.parseFloat(value);
		return seconds > 1e9 ? Math.max(0, seconds * 1000 - nowMs) : Math.round(seconds * 1000);
	}
	const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
	let total = 0;
	let matched = "";
	for (const [part, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
		total += Number.parseFloat(amount as string) * (units[unit as string] ?? 0);
		matched += part;
	}
	return matched === value ? Math.round(total) : null;
}

/** The rate-limit headers of one answer, or null when it has none. */
export function readRateLimit(headers: Headers, nowMs: number): RateLimitHint | null {
	const limit = number(firstHeader(headers, LIMIT_HEADERS)?.split(/[,;]/)[0]?.trim() ?? null);
	const remaining = number(firstHeader(headers, REMAINING_HEADERS)?.split(/[,;]/)[0]?.trim() ?? null);
	const resetMs = parseReset(firstHeader(headers, RESET_HEADERS)?.split(/[,;]/)[0]?.trim() ?? null, nowMs);
	if (limit === null && remaining === null && resetMs === null) return null;
	const window = number(firstHeader(headers, POLICY_HEADERS)?.match(/w=(\d+(?:\.\d+)?)/)?.[1] ?? null);
	return {
		limitPerSecond: limit !== null && limit > 0 ? limit / (window && window > 0 ? window : DEFAULT_WINDOW_S) : null,
		remaining,
		remainingShare: limit !== null && limit > 0 && remaining !== null ? Math.min(1, remaining / limit) : null,
		resetMs,
	};
}
