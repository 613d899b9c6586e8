/**
 * Signed links to a job's result: the `result_url` of an event too large to
 * carry it (claim-check delivery), and the "full answer" link of a Slack
 * message. Whoever holds the link may read that one job's result until it
 * expires, without an API key: a Slack user, a Zapier step, a receiver that
 * keeps no key. It grants nothing the event itself did not carry.
 *
 * `GET /v1/results/<jobId>?expires=<unix s>&signature=<base64url>`, where the
 * signature is HMAC-SHA256(link key, `<jobId>.<expires>`) and the link key is
 * HMAC-SHA256(WEBHOOK_SIGNING_KEY, "sonar-relay:result-link:v1"). No tenant
 * can be named that (a tenant name has no colon, and Slack's all begin
 * `slack:`), so no tenant's `whsec_` secret is ever the link key. Links are
 * checked with `crypto.subtle.verify` (constant time), under the current key
 * and, during a rotation, the next one.
 */

import { fromBase64Url, hmacKey, hmacSha256, toBase64Url } from "../crypto.ts";

const encoder = new TextEncoder();

/** Domain separation from the tenants' `whsec_` secrets, which are HMAC(key, tenant). */
const LINK_KEY_CONTEXT = "sonar-relay:result-link:v1";

/** The path a result link points at. */
export const resultLinkPath = (jobId: string) => `/v1/results/${jobId}`;

const linkKeys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key links are signed with, derived from one signing key (once per isolate). */
function linkKey(signingKey: string): Promise<CryptoKey> {
	let key = linkKeys.get(signingKey);
	if (!key) {
		key = hmacSha256(signingKey, LINK_KEY_CONTEXT).then((derived) => hmacKey(derived, ["sign", "verify"]));
		linkKeys.set(signingKey, key);
	}
	return key;
}

/** The MAC a link carries; null for anything but the one base64url spelling of some bytes. */
function decodeSignature(text: string): Uint8Array<ArrayBuffer> | null {
	if (!/^[A-Za-z0-9_-]{1,128}$/.test(text)) return null;
	try {
		const bytes = fromBase64Url(text);
		// One spelling per signature: a last character that differs only in bits the decoding drops is refused.
		return toBase64Url(bytes) === text ? bytes : null;
	} catch {
		return null;
	}
}

/**
 * A signed link to the job's result, valid until `expiresAtSeconds`.
 *
 * @example
 * await resultLink("https://relay.example.com", jobId, 1764417600, env.WEBHOOK_SIGNING_KEY)
 * // "https://relay.example.com/v1/results/<jobId>?expires=1764417600&signature=…"
 */
export async function resultLink(
	origin: string,
	jobId: string,
	expiresAtSeconds: number,
	signingKey: string,
): Promise<string> {
	const expires = Math.floor(expiresAtSeconds);
	const mac = await hmacSha256(await linkKey(signingKey), `${jobId}.${expires}`);
	const query = new URLSearchParams({ expires: String(expires), signature: toBase64Url(mac) });
	return `${origin.replace(/\/+$/, "")}${resultLinkPath(jobId)}?${query}`;
}

export type LinkCheck = "ok" | "expired" | "invalid";

/**
 * Whether a link's `expires` and `signature` were made by `resultLink` under one of `signingKeys`
 * for `jobId`, and it has not expired. A forged link is `invalid` whatever its expiry.
 *
 * @example
 * await checkResultLink(signingKeys(settings), id, c.req.query("expires"), c.req.query("signature"), Date.now())
 */
export async function checkResultLink(
	signingKeys: readonly string[],
	jobId: string,
	expires: string | undefined,
	signature: string | undefined,
	nowMs: number,
): Promise<LinkCheck> {
	if (!expires || !/^\d{1,12}$/.test(expires) || !signature) return "invalid";
	const mac = decodeSignature(signature);
	if (mac?.byteLength !== 32) return "invalid";
	const message = encoder.encode(`${jobId}.${expires}`);
	let valid = false;
	for (const signingKey of signingKeys) {
		// Every key is tried, so the time taken does not say which one matched.
		if (await crypto.subtle.verify("HMAC", await linkKey(signingKey), mac, message)) valid = true;
	}
	if (!valid) return "invalid";
	return Number(expires) * 1000 > nowMs ? "ok" : "expired";
}
