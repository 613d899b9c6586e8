/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/).
 *
 * - A tenant's secret is `whsec_` + base64(HMAC-SHA256(WEBHOOK_SIGNING_KEY, tenant)):
 *   stateless, nothing to store, rotated by changing the key.
 * - A signature is `v1,` + base64(HMAC-SHA256(secret bytes, `${id}.${timestamp}.${body}`)).
 *   During a rotation several are sent, space-separated, and a receiver accepts any.
 *
 * Web Crypto only, so the same code runs in the Worker and in the Node tools.
 */

import { fromBase64, hmacSha256, toBase64 } from "../crypto.ts";

/** The `whsec_` prefix Standard Webhooks libraries strip before base64-decoding the key. */
export const SECRET_PREFIX = "whsec_";

/**
 * The tenant's signing secret, derived from the relay's signing key.
 *
 * @example
 * await tenantSecret("dev-signing-key-change-me", "dev") // "whsec_…"
 */
export async function tenantSecret(signingKey: string, tenant: string): Promise<string> {
	return SECRET_PREFIX + toBase64(await hmacSha256(signingKey, tenant));
}

/** One `v1,…` signature of a message under one `whsec_` secret. */
export async function signPayload(
	secret: string,
	webhookId: string,
	timestampSeconds: number,
	body: string,
): Promise<string> {
	const key = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
	return `v1,${toBase64(await hmacSha256(key, `${webhookId}.${timestampSeconds}.${body}`))}`;
}

export interface SignedHeaders {
	"webhook-id": string;
	"webhook-timestamp": string;
	"webhook-signature": string;
}

/**
 * The three Standard Webhooks headers for one attempt. With several secrets
 * (current key, then the next one during a rotation) every signature is sent.
 *
 * @example
 * const headers = await signedHeaders([secret], "msg_123", Math.floor(Date.now() / 1000), body);
 */
export async function signedHeaders(
	secrets: readonly string[],
	webhookId: string,
	timestampSeconds: number,
	body: string,
): Promise<SignedHeaders> {
	const signatures = await Promise.all(secrets.map((s) => signPayload(s, webhookId, timestampSeconds, body)));
	return {
		"webhook-id": webhookId,
		"webhook-timestamp": String(timestampSeconds),
		"webhook-signature": signatures.join(" "),
	};
}
