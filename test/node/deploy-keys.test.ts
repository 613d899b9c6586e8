/**
 * `npm run keys`, offline: the wrangler commands it builds (`kv key put/delete/list --binding KEYS`,
 * remote by default, local on request), that what it stores is a digest and a record and never the
 * key, how it reads a listing, and which stored key `revoke` means. The real run against
 * `wrangler dev` is in deploy-stack.test.ts.
 */
import { describe, expect, it } from "vitest";
import { GENERATED_KEY } from "../../src/auth.ts";
import { generateApiKey, keyDigest, keyEntry } from "../../tools/deploy/api-keys.ts";
import {
	deleteArgs,
	type ListedKey,
	listArgs,
	main,
	parseList,
	putArgs,
	revocationTarget,
} from "../../tools/deploy/keys.ts";

describe("npm run keys", () => {
	it("stores a key as its digest and a record, through wrangler kv on the KEYS binding", async () => {
		const key = generateApiKey();
		expect(key).toMatch(GENERATED_KEY);
		const { name, record } = await keyEntry(key, "acme", { label: "zapier", now: new Date("2026-11-30T00:00:00Z") });
		expect(name).toBe(`key:${await keyDigest(key)}`);
		expect(name).toMatch(/^key:[0-9a-f]{64}$/);
		expect(record).toEqual({ tenant: "acme", created_at: "2026-11-30T00:00:00.000Z", label: "zapier" });

		const args = putArgs(name, record, { where: "remote" });
		expect(args).toEqual([
			"kv",
			"key",
			"put",
			name,
			JSON.stringify(record),
			"--metadata",
			JSON.stringify(record),
			"--binding",
			"KEYS",
			"--remote",
		]);
		expect(args.join(" ")).not.toContain(key);
	});

	it("works on the deployed namespace by default, or on local state, wherever it is kept", () => {
		expect(deleteArgs("key:ab", { where: "remote" })).toEqual([
			"kv",
			"key",
			"delete",
			"key:ab",
			"--binding",
			"KEYS",
			"--remote",
		]);
		expect(listArgs({ where: "local" })).toEqual([
			"kv",
			"key",
			"list",
			"--prefix",
			"key:",
			"--binding",
			"KEYS",
			"--local",
		]);
		expect(listArgs({ where: "local", persistTo: "/tmp/state", config: "alt.toml" })).toEqual([
			"kv",
			"key",
			"list",
			"--prefix",
			"key:",
			"--binding",
			"KEYS",
			"--local",
			"--persist-to",
			"/tmp/state",
			"--config",
			"alt.toml",
		]);
	});

	it("reads wrangler's listing: tenant, label, created, digest", () => {
		const listed = parseList(
			JSON.stringify([
				{ name: "key:aaaa", metadata: { tenant: "acme", created_at: "2026-11-30T00:00:00.000Z", label: "zap" } },
				{ name: "key:bbbb" },
				{ name: "result:x" },
			]),
		);
		expect(listed).toEqual([
			{ digest: "aaaa", tenant: "acme", label: "zap", created_at: "2026-11-30T00:00:00.000Z" },
			{ digest: "bbbb", tenant: null, label: null, created_at: null },
		]);
		expect(() => parseList("✘ [ERROR] not logged in")).toThrow(/did not answer JSON/);
	});

	it("revokes by key or by a digest prefix naming exactly one key", async () => {
		const key = generateApiKey();
		const digest = await keyDigest(key);
		const stored: ListedKey[] = [
			{ digest, tenant: "acme", label: null, created_at: null },
			{ digest: `${digest.slice(0, 10)}ffff`, tenant: "globex", label: null, created_at: null },
			{ digest: "0123456789abcdef", tenant: "initech", label: null, created_at: null },
		];
		const listed = async () => stored;
		expect(await revocationTarget(key, listed)).toBe(digest);
		expect(await revocationTarget("0123456789", listed)).toBe("0123456789abcdef");
		expect(await revocationTarget("KEY:0123456789", listed)).toBe("0123456789abcdef");
		await expect(revocationTarget(digest.slice(0, 10), listed)).rejects.toThrow(/2 keys' digests start with/);
		await expect(revocationTarget("fedcba98", listed)).rejects.toThrow(/no stored key/);
		await expect(revocationTarget("0123", listed)).rejects.toThrow(/at least 8 hex digits/);
		await expect(revocationTarget(generateApiKey(), listed)).rejects.toThrow(/not in the KEYS namespace/);
	});

	it("refuses what it cannot do before running wrangler", async () => {
		await expect(main(["create"])).rejects.toThrow(/create needs a tenant/);
		await expect(main(["create", "two words"])).rejects.toThrow(/not a tenant name/);
		await expect(main(["list", "--remote", "--local"])).rejects.toThrow(/not both/);
		await expect(main(["list", "--persist-to", "/tmp/x"])).rejects.toThrow(/goes with --local/);
		await expect(main(["rotate"])).rejects.toThrow(/unknown command rotate/);
	});
});
