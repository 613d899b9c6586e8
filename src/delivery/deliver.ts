/**
 * One webhook delivery attempt: the URL guard again, a signed POST with a
 * timeout, redirects not followed, and an outcome as plain data for the job
 * machine. Never throws: every failure is an `AttemptResult`.
 */
import type { AttemptResult, DeliveryErrorClass } from "../job/machine.ts";
import { parseRetryAfter } from "../upstream/errors.ts";
import { USER_AGENT } from "../version.ts";
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
	const failed = (error: DeliveryErrorClass, statusCode: number | null = null, responseBody: string | null = null) => ({
		ok: false,
		statusCode,
		error,
		durationMs: Date.now() - started,
		retryAfterMs: null,
		responseBody,
	});
	const check = checkCallbackUrl(delivery.url, {
		allowPrivate: delivery.allowPrivate,
		allowedHosts: delivery.allowedHosts,
	});
	if (!check.ok) return failed("blocked", null, check.reason);

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
		return failed(classifyFetchError(error));
	}
	let responseBody: string | null;
	try {
		responseBody = await readPrefix(response, RESPONSE_BODY_LIMIT);
	} catch (error) {
		return failed(classifyFetchError(error), response.status);
	}
	const durationMs = Date.now() - started;
	if (response.status >= 300 && response.status < 400) {
		const location = response.headers.get("location");
		return { ...failed("redirect", response.status, location ? `Location: ${location}` : responseBody), durationMs };
	}
	const honoursRetryAfter = response.status === 429 || response.status === 503;
	return {
		ok: response.status >= 200 && response.status < 300,
		statusCode: response.status,
		error: null,
		durationMs,
		retryAfterMs: honoursRetryAfter ? parseRetryAfter(response.headers.get("retry-after"), Date.now()) : null,
		responseBody,
	};
}

/** Sorts a fetch failure by what went wrong, from the runtime's message. */
export function classifyFetchError(error: unknown): DeliveryErrorClass {
	const name = error instanceof Error ? error.name : "";
	const message = (error instanceof Error ? error.message : String(error)).toLowerCase();
	if (
		name === "TimeoutError" ||
		name === "AbortError" ||
		message.includes("timed out") ||
		message.includes("timeout")
	) {
		return "timeout";
	}
	if (message.includes("dns") || message.includes("resolve") || message.includes("not found")) return "dns";
	if (message.includes("tls") || message.includes("ssl") || message.includes("certificate")) return "tls";
	if (message.includes("connect") || message.includes("refused") || message.includes("reset")) return "connect";
	return "network";
}

async function readPrefix(response: Response, limit: number): Promise<string | null> {
	if (!response.body) return null;
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	while (size < limit) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		size += value.byteLength;
	}
	await reader.cancel().catch(() => {});
	const bytes = new Uint8Array(Math.min(size, limit));
	let offset = 0;
	for (const chunk of chunks) {
		const slice = chunk.subarray(0, bytes.length - offset);
		bytes.set(slice, offset);
		offset += slice.byteLength;
		if (offset >= bytes.length) break;
	}
	return new TextDecoder().decode(bytes);
}
