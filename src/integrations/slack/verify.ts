/**
 * Slack request signing (https://api.slack.com/authentication/verifying-requests-from-slack).
 *
 * Slack signs every slash-command POST with the app's signing secret:
 * `X-Slack-Signature: v0=` + hex(HMAC-SHA256(secret, `v0:{X-Slack-Request-Timestamp}:{raw body}`)).
 * The route must verify before it parses the form or creates a job, over the
 * body exactly as received: re-encoding the form would change the bytes.
 *
 * Web Crypto only, so the same code runs in the Worker and in the Node tools.
 */

import { fromHex, hmacSha256, timingSafeEqual, toHex } from "../../crypto.ts";

const encoder = new TextEncoder();

/** Slack's own recommendation: refuse requests more than five minutes away from now. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The only signature version Slack has ever sent. */
const VERSION = "v0";
const SIGNATURE_SHAPE = /^v0=([0-9a-fA-F]{64})$/;
/** Unix seconds, digits only: `Number()` would also accept "1e9", " 12 " or "0x1f". */
const TIMESTAMP_SHAPE = /^\d{1,15}$/;

/**
 * Why a request was refused. The route answers 401 to all of them; the reason
 * is for logs, not for the caller.
 * - `missing_headers`: no timestamp or no signature header (or an empty one).
 * - `stale`: the timestamp is not a number of seconds, or is more than the
 *   tolerance away from now, in the past (a replay) or in the future.
 * - `bad_signature`: the signature is malformed or does not match.
 */
export type SlackVerifyFailure = "missing_headers" | "stale" | "bad_signature";

export type SlackVerifyResult = { ok: true } | { ok: false; reason: SlackVerifyFailure };

export interface SlackVerifyInput {
	/** The app's signing secret (`SLACK_SIGNING_SECRET`). An empty secret rejects every request. */
	signingSecret: string;
	/** The `X-Slack-Request-Timestamp` header, in Unix seconds. */
	timestamp: string | null | undefined;
	/** The `X-Slack-Signature` header, `v0=` + 64 hex digits. */
	signature: string | null | undefined;
	/**
	 * The request body exactly as received, before any parsing. Prefer the bytes:
	 * decoding to text drops a BOM and replaces bytes that are not UTF-8, and
	 * Slack signs the bytes it sent.
	 */
	rawBody: string | Uint8Array;
	/** The current time in milliseconds; passed in so that tests control the clock. */
	nowMs: number;
	/** How far, in seconds, the timestamp may be from now in either direction. @default 300 */
	toleranceSeconds?: number;
}

/** `v0:<timestamp>:` followed by the body's bytes. */
function basestring(timestamp: string, rawBody: string | Uint8Array): Uint8Array {
	const head = encoder.encode(`${VERSION}:${timestamp}:`);
	const body = typeof rawBody === "string" ? encoder.encode(rawBody) : rawBody;
	const out = new Uint8Array(head.length + body.length);
	out.set(head, 0);
	out.set(body, head.length);
	return out;
}

/**
 * The `X-Slack-Signature` value Slack would send for this timestamp and body.
 * For tests, the local tools and anyone replaying a slash command by hand.
 *
 * @example
 * const body = "token=x&team_id=T1&command=%2Fask&text=why+is+the+sky+blue";
 * const timestamp = String(Math.floor(Date.now() / 1000));
 * await signSlackRequest("test-slack-secret", timestamp, body); // "v0=" + 64 hex digits
 */
export async function signSlackRequest(
	secret: string,
	timestamp: string,
	rawBody: string | Uint8Array,
): Promise<string> {
	return `${VERSION}=${toHex(await hmacSha256(secret, basestring(timestamp, rawBody)))}`;
}

/**
 * Checks that a request comes from Slack and is fresh. Expected failures are
 * results, not exceptions: the route turns any `ok: false` into a 401 and
 * creates no job.
 *
 * The order of checks only decides which reason is reported; the MAC is
 * always compared in constant time.
 *
 * @example
 * const rawBody = await c.req.text();
 * const verdict = await verifySlackRequest({
 *   signingSecret: c.env.SLACK_SIGNING_SECRET,
 *   timestamp: c.req.header("x-slack-request-timestamp"),
 *   signature: c.req.header("x-slack-signature"),
 *   rawBody,
 *   nowMs: Date.now(),
 * });
 * if (!verdict.ok) throw new ApiError(401, "Invalid Slack signature");
 */
export async function verifySlackRequest(input: SlackVerifyInput): Promise<SlackVerifyResult> {
	const { signingSecret, timestamp, signature, rawBody, nowMs } = input;
	const toleranceSeconds = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;

	if (!timestamp || !signature) return { ok: false, reason: "missing_headers" };

	// A timestamp outside the window means a replayed (or badly clocked) request,
	// whether it lies in the past or in the future.
	if (!TIMESTAMP_SHAPE.test(timestamp)) return { ok: false, reason: "stale" };
	if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: "stale" };

	const match = SIGNATURE_SHAPE.exec(signature);
	// With an empty secret anyone could compute the MAC: a misconfigured relay must refuse, never accept.
	if (!match?.[1] || signingSecret === "") return { ok: false, reason: "bad_signature" };

	const expected = await hmacSha256(signingSecret, basestring(timestamp, rawBody));
	// SIGNATURE_SHAPE admits only 64 hex digits, so the decoding never fails.
	if (!timingSafeEqual(expected, fromHex(match[1]) ?? new Uint8Array(0))) return { ok: false, reason: "bad_signature" };
	return { ok: true };
}
