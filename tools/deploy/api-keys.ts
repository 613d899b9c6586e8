/**
 * API keys and their records in the `KEYS` namespace, shared by `npm run setup`, `npm run keys` and
 * the tests. Web Crypto only, so the same code runs on Node and in workerd.
 *
 * A key is `sr_` + 32 random bytes in base64url (256 bits): no colon, comma or space, so it also
 * fits the `API_KEYS` secret's `tenant:key` syntax. KV holds only its SHA-256 digest
 * (`key:<hex>`), never the key: whoever reads the namespace cannot call the relay with what is there.
 */
import { GENERATED_KEY, KEY_RECORD_PREFIX, type KeyRecord } from "../../src/auth.ts";
import { sha256Hex, toBase64Url } from "../../src/crypto.ts";

/** Tenant names: what `API_KEYS` accepts (no spaces), without the commas that separate its pairs. */
export const TENANT_NAME = /^[^\s,]{1,200}$/;

/** `n` bytes from the platform's CSPRNG. */
export function randomBytes(n: number): Uint8Array {
	return crypto.getRandomValues(new Uint8Array(n));
}

/**
 * A new API key: `sr_` + 32 random bytes, base64url.
 *
 * @example
 * generateApiKey() // "sr_Q2hhbmdlIG1lISBUaGlzIGlzIGFuIGV4YW1wbGUga2V5"
 */
export function generateApiKey(): string {
	const key = `sr_${toBase64Url(randomBytes(32))}`;
	if (!GENERATED_KEY.test(key)) throw new Error("generated a key of the wrong shape");
	return key;
}

/**
 * A new `WEBHOOK_SIGNING_KEY`: 32 random bytes, base64url. It is the relay's master key, from which
 * each tenant's `whsec_` secret is derived (src/delivery/sign.ts uses its UTF-8 bytes as an HMAC
 * key, whatever it looks like), so it carries no `whsec_` prefix: it is never given to a receiver.
 *
 * @example
 * generateSigningKey() // "kQ0yV1…" (43 characters)
 */
export function generateSigningKey(): string {
	return toBase64Url(randomBytes(32));
}

/**
 * The SHA-256 digest of a key, lowercase hex: what the relay looks up, and what `list` shows a prefix of.
 *
 * @example
 * await keyDigest("sr_…") // "3f1c…" (64 hex digits)
 */
export async function keyDigest(key: string): Promise<string> {
	return sha256Hex(key);
}

/** One `KEYS` entry: its name, its value, and the same record as metadata (so a list shows it). */
export interface KeyEntry {
	name: string;
	record: KeyRecord;
}

/**
 * The `KEYS` entry for `key`, owned by `tenant`.
 *
 * @example
 * const { name, record } = await keyEntry(generateApiKey(), "acme", { label: "zapier" });
 * // name: "key:<64 hex digits>", record: { tenant: "acme", created_at: "…", label: "zapier" }
 */
export async function keyEntry(
	key: string,
	tenant: string,
	{ label, now = new Date() }: { label?: string; now?: Date } = {},
): Promise<KeyEntry> {
	if (!TENANT_NAME.test(tenant))
		throw new Error(`not a tenant name (no spaces or commas, 1–200 characters): ${tenant}`);
	const record: KeyRecord = { tenant, created_at: now.toISOString(), ...(label ? { label } : {}) };
	// KV metadata holds at most 1024 bytes of JSON.
	if (new TextEncoder().encode(JSON.stringify(record)).length > 1024)
		throw new Error("the tenant and label are too long");
	return { name: KEY_RECORD_PREFIX + (await keyDigest(key)), record };
}
