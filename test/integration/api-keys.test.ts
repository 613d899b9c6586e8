/**
 * API keys kept in the `KEYS` namespace (what `npm run keys` writes) beside the `API_KEYS` secret:
 * a key there authenticates as its tenant and sees only that tenant's jobs; a revoked one is
 * refused once the isolate's short cache has let go of it; a malformed record or a key of another
 * shape is never taken; and KV failing answers 503, never 500 and never 401.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";
import { forgetCachedKeys, KEY_CACHE_TTL_MS } from "../../src/auth.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import { generateApiKey, keyDigest, keyEntry } from "../../tools/deploy/api-keys.ts";
import { TENANT_A, TENANT_B, TEST_SIGNING_KEY } from "./constants.ts";
import { createJob, relay, unique } from "./helpers.ts";

/** Stores a new key for `tenant` as `npm run keys create` does, and returns it. */
async function storeKey(tenant: string, label?: string): Promise<string> {
	const key = generateApiKey();
	const { name, record } = await keyEntry(key, tenant, { label });
	await env.KEYS.put(name, JSON.stringify(record), { metadata: record });
	return key;
}

async function secretOf(key: string): Promise<Response> {
	return relay("/v1/webhook-secret", {}, key);
}

afterEach(() => forgetCachedKeys());

describe("API keys in the KEYS namespace", () => {
	it("authenticate as their tenant, beside the API_KEYS secret", async () => {
		const tenant = unique("kv-tenant");
		const key = await storeKey(tenant, "zapier");
		const res = await secretOf(key);
		expect(res.status).toBe(200);
		expect(((await res.json()) as { secret: string }).secret).toBe(await tenantSecret(TEST_SIGNING_KEY, tenant));
		// The secret's keys still work, unchanged.
		expect((await secretOf(TENANT_A.key)).status).toBe(200);
	});

	it("hold only the key's digest: nothing in the namespace is the key", async () => {
		const key = await storeKey(unique("kv-digest"));
		const stored = await env.KEYS.list({ prefix: `key:${await keyDigest(key)}` });
		expect(stored.keys).toHaveLength(1);
		const all = await env.KEYS.list();
		for (const entry of all.keys) {
			expect(entry.name).not.toContain(key);
			expect(JSON.stringify(entry.metadata ?? null)).not.toContain(key);
			expect(await env.KEYS.get(entry.name)).not.toContain(key);
		}
	});

	it("keep tenants apart: a KV key sees its tenant's jobs and no other's", async () => {
		const acmeKey = await storeKey(TENANT_A.tenant);
		const globexKey = await storeKey(TENANT_B.tenant);
		const job = await createJob({}, TENANT_A.key);

		const mine = await relay(`/async/chat/completions/${job.id}`, {}, acmeKey);
		expect(mine.status).toBe(200);
		expect(((await mine.json()) as RelayJob).id).toBe(job.id);

		const theirs = await relay(`/async/chat/completions/${job.id}`, {}, globexKey);
		expect(theirs.status).toBe(404);
		expect((await relay(`/async/chat/completions/${job.id}/deliveries`, {}, globexKey)).status).toBe(404);

		// A job made with a KV key is that tenant's, whichever of its keys reads it.
		const made = await createJob({}, globexKey);
		expect((await relay(`/async/chat/completions/${made.id}`, {}, TENANT_B.key)).status).toBe(200);
		expect((await relay(`/async/chat/completions/${made.id}`, {}, acmeKey)).status).toBe(404);
	});

	it("refuse a revoked key once the isolate's cache lets go of it", async () => {
		const key = await storeKey(unique("kv-revoked"));
		expect((await secretOf(key)).status).toBe(200);
		await env.KEYS.delete(`key:${await keyDigest(key)}`);

		// Within KEY_CACHE_TTL_MS this isolate still trusts what it learnt (documented: revocation
		// takes effect within that plus KV's own edge cache).
		expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(60_000);
		expect((await secretOf(key)).status).toBe(200);

		forgetCachedKeys(); // another isolate, or this one a minute later
		const refused = await secretOf(key);
		expect(refused.status).toBe(401);
		expect(await refused.json()).toEqual({ detail: "Invalid or missing API key" });
	});

	it("refuse a key that was never stored, and remember the miss", async () => {
		const key = generateApiKey();
		expect((await secretOf(key)).status).toBe(401);
		// Stored after the miss was cached: the miss holds until the cache lets go.
		const { name, record } = await keyEntry(key, unique("kv-late"));
		await env.KEYS.put(name, JSON.stringify(record));
		expect((await secretOf(key)).status).toBe(401);
		forgetCachedKeys();
		expect((await secretOf(key)).status).toBe(200);
	});

	it("take no malformed record, and look up no key of another shape", async () => {
		for (const value of ["not json", "null", "{}", '{"tenant":""}', '{"tenant":"two words"}', '{"tenant":42}']) {
			const key = generateApiKey();
			await env.KEYS.put(`key:${await keyDigest(key)}`, value);
			expect((await secretOf(key)).status, value).toBe(401);
		}
		// A record under the digest of a key that `npm run keys` would never make is never consulted.
		const odd = "not-a-generated-key";
		await env.KEYS.put(`key:${await keyDigest(odd)}`, JSON.stringify({ tenant: "odd", created_at: "x" }));
		expect((await secretOf(odd)).status).toBe(401);
	});

	it("answer 503 with Retry-After when KV fails, never 401 or 500", async () => {
		const failing = {
			...env,
			KEYS: {
				get: () => Promise.reject(new Error("KV GET failed: 503 Service Unavailable")),
			},
		};
		const res = await app.request(
			"/v1/webhook-secret",
			{ headers: { authorization: `Bearer ${generateApiKey()}` } },
			failing,
			{ waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
		);
		expect(res.status).toBe(503);
		expect(res.headers.get("retry-after")).toBe("1");
		expect(((await res.json()) as { detail: string }).detail).toContain("retry");
		// A key in API_KEYS never needs KV.
		const viaSecret = await app.request(
			"/v1/webhook-secret",
			{ headers: { authorization: `Bearer ${TENANT_A.key}` } },
			failing,
			{ waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
		);
		expect(viaSecret.status).toBe(200);
	});
});
