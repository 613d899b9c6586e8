/**
 * One webhook delivery attempt: the URL guard again, a signed POST with a
 * timeout, redirects not followed, and an outcome as plain data for the job
 * machine. Never throws: every failure is an `AttemptResult`, with its class
 * (`timeout`, `dns`, `connect`, …) and a sentence an operator can read
 * ("connection refused", "timeout after 15 s", "redirect not followed (302)").
 */

import { isTimeoutError, readAtMost } from "../http.ts";
import { parseRetryAfter } from "../upstream/errors.ts";
import { USER_AGENT } from "../version.ts";
import type { AttemptResult, DeliveryErrorClass } from "./outbox.ts";
import { signedHeaders } from "./sign.ts";
import { checkCallbackUrl } from "./url-guard.ts";

/** How much of a receiver's answer the attempt log keeps. */
export const RESPONSE_BODY_LIMIT = 512;

export interface DeliveryRequest {
	url: string;
	webhookId: string;
	body: string;
	/** Current secret first; during a key rotation the next one too. */
	secrets: readonly string[];
	timeoutMs: number;
	allowPrivate: boolean;
	/** When set, the URL's host must be one of these (or a subdomain). */
	allowedHosts?: readonly string[];
}

/**
 * @example
 * const result = await deliverEvent({ url, webhookId, body, secrets: [secret], timeoutMs: 15000, allowPrivate: false });
 * if (result.ok) …
 */
export async function deliverEvent(delivery: DeliveryRequest, fetcher: typeof fetch = fetch): Promise<AttemptResult> {
	const started = Date.now();
	const failed = (
		error: DeliveryErrorClass,
		message: string,
		statusCode: number | null = null,
		responseBody: string | null = null,
	): AttemptResult => ({
		ok: false,
		statusCode,
		error,
		message,
		durationMs: Date.now() - started,
		retryAfterMs: null,
		responseBody,
	});
	const check = checkCallbackUrl(delivery.url, {
		allowPrivate: delivery.allowPrivate,
		allowedHosts: delivery.allowedHosts,
	});
	if (!check.ok) return failed("blocked", `blocked by the URL guard: ${check.reason}`, null, check.reason);

	const headers = await signedHeaders(delivery.secrets, delivery.webhookId, Math.floor(started / 1000), delivery.body);
	let response: Response;
	try {
		response = await fetcher(check.url.toString(), {
			method: "POST",
			headers: { ...headers, "content-type": "application/json", "user-agent": USER_AGENT },
			body: delivery.body,
			redirect: "manual",
			signal: AbortSignal.timeout(delivery.timeoutMs),
		});
	} catch (error) {
		const described = describeFetchError(error, delivery.timeoutMs);
		return failed(described.error, described.message);
	}
	let responseBody: string | null;
	try {
		responseBody = await readPrefix(response, RESPONSE_BODY_LIMIT);
	} catch (error) {
		const described = describeFetchError(error, delivery.timeoutMs);
		return failed(described.error, `${described.message} while reading the answer`, response.status);
	}
	const durationMs = Date.now() - started;
	if (response.status >= 300 && response.status < 400) {
		const location = response.headers.get("location");
		return {
			...failed(
				"redirect",
				`redirect not followed (${response.status})`,
				response.status,
				location ? `Location: ${location}` : responseBody,
			),
			durationMs,
		};
	}
	const ok = response.status >= 200 && response.status < 300;
	const honoursRetryAfter = response.status === 429 || response.status === 503;
	return {
		ok,
		statusCode: response.status,
		error: null,
		message: ok ? null : describeStatus(response.status, responseBody),
		durationMs,
		retryAfterMs: honoursRetryAfter ? parseRetryAfter(response.headers.get("retry-after"), Date.now()) : null,
		responseBody,
	};
}

/** A failed attempt in words, and its class. */
export interface DescribedError {
	error: DeliveryErrorClass;
	message: string;
}

/**
 * What went wrong with a fetch that threw, as its class and a sentence an operator reads in the
 * attempt log, the dashboard and the logs: "connection refused", "DNS lookup failed", "TLS error",
 * "timeout after 15 s". The runtime's own message is kept only when nothing better is known, with
 * any URL in it taken out (a callback URL's query may hold a token).
 *
 * @example
 * describeFetchError(new DOMException("The operation was aborted due to timeout", "TimeoutError"), 15000)
 * // { error: "timeout", message: "timeout after 15 s" }
 */
export function describeFetchError(error: unknown, timeoutMs: number): DescribedError {
	const name = error instanceof Error ? error.name : "";
	const raw = error instanceof Error ? error.message : String(error);
	const text = raw.toLowerCase();
	if (isTimeoutError(error) || /timed? ?out|timeout/.test(text)) {
		return { error: "timeout", message: `timeout after ${formatDuration(timeoutMs)}` };
	}
	if (/\bdns\b|getaddrinfo|enotfound|eai_again|name or service not known|name not resolved|lookup|resolv/.test(text)) {
		return { error: "dns", message: "DNS lookup failed" };
	}
	if (/certificate|\bcert\b|self[- ]signed/.test(text)) {
		return { error: "tls", message: "TLS error: the receiver's certificate was not accepted" };
	}
	if (/\btls\b|\bssl\b|handshake/.test(text)) return { error: "tls", message: "TLS error" };
	if (/refused|econnrefused/.test(text)) return { error: "connect", message: "connection refused" };
	if (/reset|econnreset|broken pipe|epipe/.test(text)) return { error: "connect", message: "connection reset" };
	if (/connection lost|disconnected|socket hang up|closed/.test(text)) {
		// workerd says "Network connection lost." both for a refused connection and for one dropped mid-way.
		return { error: "connect", message: "connection refused or lost before an answer" };
	}
	if (/internal error; reference/.test(text)) {
		// What local workerd says for a failed DNS lookup or TLS handshake, with nothing to tell them apart.
		return { error: "network", message: "network error (DNS, TLS or connection; the runtime gave no detail)" };
	}
	const detail = redactUrls(raw).replace(/\s+/g, " ").trim().slice(0, 120);
	return { error: "network", message: detail ? `network error: ${detail}` : `network error (${name || "unknown"})` };
}

/** Cloudflare's own 52x answers, when the receiver sits behind Cloudflare (or the subrequest failed there). */
const CLOUDFLARE_STATUSES: Record<number, string> = {
	520: "the receiver's origin answered something unexpected (Cloudflare 520)",
	521: "connection refused by the receiver's origin (Cloudflare 521)",
	522: "connection to the receiver's origin timed out (Cloudflare 522)",
	523: "the receiver's origin is unreachable (Cloudflare 523)",
	524: "timeout waiting for the receiver's origin (Cloudflare 524)",
	525: "TLS handshake with the receiver's origin failed (Cloudflare 525)",
	526: "TLS error: the receiver's certificate is invalid (Cloudflare 526)",
};

const REASONS: Record<number, string> = {
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	413: "Payload Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Content",
	429: "Too Many Requests",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
};

/**
 * A receiver's non-2xx answer in words: the status and its reason, or what Cloudflare's own codes mean.
 *
 * @example
 * describeStatus(413, null) // "HTTP 413 Payload Too Large"
 */
export function describeStatus(status: number, body: string | null): string {
	if (status === 530) {
		return body?.includes("1016")
			? "DNS lookup failed (Cloudflare 530, error 1016)"
			: "Cloudflare could not reach the receiver (530)";
	}
	const cloudflare = CLOUDFLARE_STATUSES[status];
	if (cloudflare) return cloudflare;
	const reason = REASONS[status];
	return reason ? `HTTP ${status} ${reason}` : `HTTP ${status}`;
}

/** "15 s", "1.5 s", "200 ms". */
function formatDuration(ms: number): string {
	if (ms < 1000) return `${Math.round(ms)} ms`;
	const seconds = ms / 1000;
	return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

function redactUrls(text: string): string {
	return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>");
}

async function readPrefix(response: Response, limit: number): Promise<string | null> {
	if (!response.body) return null;
	return new TextDecoder().decode((await readAtMost(response.body, limit)).bytes);
}
