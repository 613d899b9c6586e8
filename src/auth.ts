/**
 * API key → tenant. Keys come from the `API_KEYS` secret as comma-separated
 * `tenant:key` pairs (the key after the last colon). A presented key is compared with every configured key
 * through their SHA-256 digests, in constant time and without an early exit,
 * so neither timing nor length says which key came close.
 */
import { ApiError } from "./errors.ts";

interface KeyEntry {
	tenant: string;
	digest: Uint8Array;
}

const encoder = new TextEncoder();
let cached: { source: string; entries: Promise<KeyEntry[]> } | undefined;

async function sha256(text: string): Promise<Uint8Array> {
	return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Parses `tenant:key,tenant2:key2`; blanks and entries without both parts are ignored. The key is
 * what follows the last colon, so a tenant name may hold colons: `slack:T0123ABCD:<key>` reads a
 * Slack workspace's jobs (keys never hold a colon).
 *
 * @example
 * parseApiKeys("acme:k1,slack:T0123ABCD:k2") // [{ tenant: "acme", key: "k1" }, { tenant: "slack:T0123ABCD", key: "k2" }]
 */
export function parseApiKeys(source: string): { tenant: string; key: string }[] {
	return source
		.split(",")
		.map((pair) => pair.trim())
		.map((pair) => {
			const colon = pair.lastIndexOf(":");
			return { tenant: pair.slice(0, colon).trim(), key: pair.slice(colon + 1).trim() };
		})
		.filter(({ tenant, key }) => tenant.length > 0 && key.length > 0 && !tenant.includes(" "));
}

function keyEntries(source: string): Promise<KeyEntry[]> {
	if (cached?.source !== source) {
		const entries = Promise.all(
			parseApiKeys(source).map(async ({ tenant, key }) => ({ tenant, digest: await sha256(key) })),
		);
		cached = { source, entries };
	}
	return cached.entries;
}

function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
	let diff = a.length ^ b.length;
	for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
	return diff === 0;
}

/**
 * The tenant owning `key`, or null.
 *
 * @example
 * await tenantForKey("dev:dev-key-change-me", "dev-key-change-me") // "dev"
 */
export async function tenantForKey(apiKeys: string, key: string): Promise<string | null> {
	const presented = await sha256(key);
	let tenant: string | null = null;
	for (const entry of await keyEntries(apiKeys)) {
		if (equalDigests(entry.digest, presented)) tenant = entry.tenant;
	}
	return tenant;
}

/** The tenant behind an `Authorization: Bearer <key>` header; a missing or unknown key is a 401. */
export async function authenticate(apiKeys: string | undefined, authorization: string | undefined): Promise<string> {
	const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
	const tenant = match?.[1] ? await tenantForKey(apiKeys ?? "", match[1]) : null;
	if (!tenant) throw new ApiError(401, "Invalid or missing API key", { "www-authenticate": "Bearer" });
	return tenant;
}
