/**
 * API key → tenant, from two places:
 *
 * - the `API_KEYS` secret: comma-separated `tenant:key` pairs (the key after the last colon). A
 *   presented key is compared with every configured key through their SHA-256 digests, in
 *   constant time and without an early exit, so neither timing nor length says which key came close.
 * - the `KEYS` KV namespace, for keys beyond what one secret holds (a secret is at most 5 KB, some
 *   80 tenants): `key:<sha256 hex of the key>` → `{tenant, created_at, label?}`, written by
 *   `npm run keys` (tools/deploy/keys.ts). The key itself is never stored. Looked up only when
 *   `API_KEYS` has no match, only for keys of the shape `npm run keys` makes (`sr_…`), and the answer,
 *   a miss included, is kept in the isolate's memory for `KEY_CACHE_TTL_MS`. A revoked key therefore
 *   stops working within that plus KV's own edge cache (about 60 s): some two minutes.
 *   A KV failure is a 503 (retry), never a 401: a valid key must not look revoked because KV hiccupped.
 */
import { sha256, timingSafeEqual, toHex } from "./crypto.ts";
import { ApiError } from "./errors.ts";

interface KeyEntry {
	tenant: string;
	digest: Uint8Array;
}

let cached: { source: string; entries: Promise<KeyEntry[]> } | undefined;

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

/**
 * The tenant owning `key`, or null.
 *
 * @example
 * await tenantForKey("dev:dev-key-change-me", "dev-key-change-me") // "dev"
 */
export async function tenantForKey(apiKeys: string, key: string): Promise<string | null> {
	return tenantInApiKeys(apiKeys, await sha256(key));
}

/** Every configured digest is compared, with no early exit. */
async function tenantInApiKeys(apiKeys: string, presented: Uint8Array): Promise<string | null> {
	let tenant: string | null = null;
	for (const entry of await keyEntries(apiKeys)) {
		if (timingSafeEqual(entry.digest, presented)) tenant = entry.tenant;
	}
	return tenant;
}

/** Where keys come from: the Worker's `env` (its `API_KEYS` secret and its `KEYS` namespace). */
export interface KeySources {
	API_KEYS?: string;
	/** The `KEYS` binding; only its `get` is used (a structural type, so Node-side tools can import this module). */
	KEYS?: KeyLookup;
}

/** The part of a KV namespace authentication reads. */
export interface KeyLookup {
	get(key: string, type: "text"): Promise<string | null>;
}

/** What `key:<digest>` holds in the `KEYS` namespace (also its metadata, so a list shows it). */
export interface KeyRecord {
	tenant: string;
	/** ISO-8601. */
	created_at: string;
	label?: string;
}

/** The `KEYS` namespace's name for a key's record: `key:` + the SHA-256 hex digest of the key. */
export const KEY_RECORD_PREFIX = "key:";
/** The keys `npm run keys create` (and `npm run setup`) make: `sr_` + 32 random bytes, base64url. */
export const GENERATED_KEY = /^sr_[A-Za-z0-9_-]{43}$/;
/** How long an isolate trusts what KV said about a key (a hit or a miss). */
export const KEY_CACHE_TTL_MS = 60_000;
/** Digests an isolate remembers at most; the oldest is forgotten first. */
export const KEY_CACHE_MAX_ENTRIES = 1_000;

const kvAnswers = new Map<string, { tenant: string | null; expiresAt: number }>();

/**
 * A `KEYS` record's tenant, or null for anything that is not a well-formed record.
 *
 * @example
 * tenantOfRecord('{"tenant":"acme","created_at":"2026-11-30T00:00:00.000Z"}') // "acme"
 */
export function tenantOfRecord(text: string | null): string | null {
	if (!text) return null;
	try {
		const record = JSON.parse(text) as Partial<KeyRecord> | null;
		const tenant = record?.tenant;
		return typeof tenant === "string" && tenant.length > 0 && !/\s/.test(tenant) ? tenant : null;
	} catch {
		return null;
	}
}

async function tenantFromKv(kv: KeyLookup, digest: Uint8Array, now: number): Promise<string | null> {
	const name = KEY_RECORD_PREFIX + toHex(digest);
	const cached = kvAnswers.get(name);
	if (cached && cached.expiresAt > now) return cached.tenant;
	let text: string | null;
	try {
		text = await kv.get(name, "text");
	} catch (error) {
		console.error(
			JSON.stringify({
				level: "error",
				event: "auth.keys_unavailable",
				message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
			}),
		);
		throw new ApiError(503, "API keys cannot be checked right now; retry shortly", { "retry-after": "1" });
	}
	const tenant = tenantOfRecord(text);
	kvAnswers.delete(name);
	if (kvAnswers.size >= KEY_CACHE_MAX_ENTRIES) {
		const oldest = kvAnswers.keys().next().value;
		if (oldest !== undefined) kvAnswers.delete(oldest);
	}
	kvAnswers.set(name, { tenant, expiresAt: now + KEY_CACHE_TTL_MS });
	return tenant;
}

/** Forgets what this isolate learnt from KV, as another isolate (or one `KEY_CACHE_TTL_MS` later) would. */
export function forgetCachedKeys(): void {
	kvAnswers.clear();
}

/**
 * The tenant behind an `Authorization: Bearer <key>` header: `API_KEYS` first, then the `KEYS`
 * namespace. A missing or unknown key is a 401; KV failing is a 503.
 *
 * @example
 * const tenant = await authenticate(c.env, c.req.header("authorization"));
 */
export async function authenticate(env: KeySources, authorization: string | undefined): Promise<string> {
	const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
	const key = match?.[1];
	let tenant: string | null = null;
	if (key) {
		const presented = await sha256(key);
		tenant = await tenantInApiKeys(env.API_KEYS ?? "", presented);
		if (!tenant && env.KEYS && GENERATED_KEY.test(key)) tenant = await tenantFromKv(env.KEYS, presented, Date.now());
	}
	if (!tenant) throw new ApiError(401, "Invalid or missing API key", { "www-authenticate": "Bearer" });
	return tenant;
}
