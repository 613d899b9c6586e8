/**
 * `npm run setup` and the secrets file, offline: a strong key for one tenant and a signing key,
 * written 0600 in the shape `wrangler deploy --secrets-file` reads; the key printed once; an
 * existing file never replaced without --force; the checks `npm run deploy` makes before uploading.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GENERATED_KEY, tenantForKey } from "../../src/auth.ts";
import { signedHeaders, tenantSecret } from "../../src/delivery/sign.ts";
import { checkSecrets, readSecretsFile } from "../../tools/deploy/secrets.ts";
import { setup } from "../../tools/deploy/setup.ts";
import { runTool } from "./run-tool.ts";

let dir: string;
let path: string;
let lines: string[];
const log = (line: string) => lines.push(line);

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "sonar-relay-setup-"));
	path = join(dir, ".deploy", "secrets.json");
	lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run setup", () => {
	it("writes an API key for the tenant and a signing key, owner-only, in wrangler's secrets-file shape", async () => {
		const { apiKey, created } = setup({ secretsFile: path, tenant: "acme", log });
		expect(created).toBe(true);
		expect(apiKey).toMatch(GENERATED_KEY);
		expect(statSync(path).mode & 0o777).toBe(0o600);
		expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);

		const secrets = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
		expect(Object.keys(secrets).sort()).toEqual(["API_KEYS", "WEBHOOK_SIGNING_KEY"]);
		expect(Object.values(secrets).every((v) => typeof v === "string")).toBe(true);
		// The relay's own parser finds the tenant behind the key.
		expect(await tenantForKey(secrets.API_KEYS as string, apiKey as string)).toBe("acme");
		expect((secrets.WEBHOOK_SIGNING_KEY as string).length).toBeGreaterThanOrEqual(43);
	});

	it("makes a signing key the relay signs with and Standard Webhooks receivers verify, unchanged", async () => {
		setup({ secretsFile: path, log });
		const signingKey = readSecretsFile(path)?.WEBHOOK_SIGNING_KEY as string;
		const secret = await tenantSecret(signingKey, "default");
		expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
		const body = JSON.stringify({ type: "async_chat_completion.completed" });
		const headers = await signedHeaders([secret], "msg_1", Math.floor(Date.now() / 1000), body);
		expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
	});

	it("prints the API key once, and never again", () => {
		const { apiKey } = setup({ secretsFile: path, log });
		const first = lines.join("\n");
		expect(first.split(apiKey as string)).toHaveLength(2);
		expect(first).toContain("npm run deploy");

		lines = [];
		const again = setup({ secretsFile: path, log });
		expect(again).toMatchObject({ created: false, apiKey: null, added: [] });
		expect(lines.join("\n")).not.toContain(apiKey as string);
		expect(lines.join("\n")).not.toContain(readSecretsFile(path)?.WEBHOOK_SIGNING_KEY as string);
	});

	it("keeps an existing file unless --force, which makes new keys", () => {
		setup({ secretsFile: path, log });
		const before = readFileSync(path, "utf8");
		setup({ secretsFile: path, tenant: "other", log });
		expect(readFileSync(path, "utf8")).toBe(before);

		const forced = setup({ secretsFile: path, force: true, log });
		expect(forced.created).toBe(true);
		const after = readSecretsFile(path);
		expect(after?.API_KEYS).not.toBe(JSON.parse(before).API_KEYS);
		expect(after?.WEBHOOK_SIGNING_KEY).not.toBe(JSON.parse(before).WEBHOOK_SIGNING_KEY);
		expect(statSync(path).mode & 0o777).toBe(0o600);
	});

	it("adds a Perplexity key given later without touching the keys, and refuses to change one", () => {
		setup({ secretsFile: path, log });
		const before = readSecretsFile(path);
		expect(lines.join("\n")).toContain("No PERPLEXITY_API_KEY");

		const added = setup({ secretsFile: path, perplexityKey: "pplx-test", log });
		expect(added.added).toEqual(["PERPLEXITY_API_KEY"]);
		expect(readSecretsFile(path)).toEqual({ ...before, PERPLEXITY_API_KEY: "pplx-test" });

		expect(() => setup({ secretsFile: path, perplexityKey: "pplx-other", log })).toThrow(
			/different PERPLEXITY_API_KEY/,
		);
		expect(readSecretsFile(path)?.PERPLEXITY_API_KEY).toBe("pplx-test");
	});

	it("refuses a tenant name the API_KEYS syntax cannot hold", () => {
		for (const tenant of ["two words", "a,b", ""]) {
			expect(() => setup({ secretsFile: path, tenant, log }), JSON.stringify(tenant)).toThrow(/tenant name/);
		}
	});

	it("runs as npm run setup does, taking PERPLEXITY_API_KEY from the environment", async () => {
		const run = await runTool("tools/deploy/setup.ts", ["--secrets", path, "--tenant", "cli"], {
			PERPLEXITY_API_KEY: "pplx-from-env",
		});
		expect(run.code).toBe(0);
		const secrets = readSecretsFile(path);
		expect(secrets?.PERPLEXITY_API_KEY).toBe("pplx-from-env");
		expect(run.stdout).toContain((secrets?.API_KEYS ?? "").split(":")[1] as string);
		expect(run.stdout).not.toContain("pplx-from-env");

		const bad = await runTool("tools/deploy/setup.ts", ["--secrets", path, "--tenat", "x"]);
		expect(bad.code).toBe(1);
		expect(bad.stderr).toContain("usage: npm run setup");
	});
});

describe("the checks before a deploy", () => {
	const good = { API_KEYS: `acme:sr_${"a".repeat(43)}`, WEBHOOK_SIGNING_KEY: "k".repeat(43), PERPLEXITY_API_KEY: "p" };

	it("pass what setup makes, and warn of a missing Perplexity key", () => {
		expect(checkSecrets(good)).toEqual({ errors: [], warnings: [] });
		const { PERPLEXITY_API_KEY: _, ...withoutKey } = good;
		const check = checkSecrets(withoutKey);
		expect(check.errors).toEqual([]);
		expect(check.warnings.join(" ")).toContain("never emulates Perplexity");
	});

	it("refuse the .dev.vars.example placeholders, a var in disguise, a missing signing key and a secret over 5 KB", () => {
		expect(checkSecrets({ ...good, API_KEYS: "dev:dev-key-change-me" }).errors.join(" ")).toContain("placeholders");
		expect(checkSecrets({ ...good, ALLOW_PRIVATE_CALLBACKS: "true" }).errors.join(" ")).toContain(
			"ALLOW_PRIVATE_CALLBACKS does not belong",
		);
		expect(checkSecrets({ API_KEYS: good.API_KEYS }).errors.join(" ")).toContain("WEBHOOK_SIGNING_KEY is missing");
		const many = Array.from({ length: 120 }, (_, i) => `tenant${i}:sr_${"b".repeat(43)}`).join(",");
		expect(checkSecrets({ ...good, API_KEYS: many }).errors.join(" ")).toMatch(
			/over a secret's 5 KB limit.*npm run keys/,
		);
		expect(checkSecrets({ ...good, API_KEYS: "acme:short" }).errors.join(" ")).toContain("shorter than 20");
	});

	it("read only a JSON object of strings", () => {
		writeFileSync(path.replace(".deploy/secrets.json", "bad.json"), '{"API_KEYS": 42}');
		expect(() => readSecretsFile(path.replace(".deploy/secrets.json", "bad.json"))).toThrow(/not a string/);
		writeFileSync(path.replace(".deploy/secrets.json", "list.json"), "[]");
		expect(() => readSecretsFile(path.replace(".deploy/secrets.json", "list.json"))).toThrow(/not a JSON object/);
		expect(readSecretsFile(join(dir, "missing.json"))).toBeNull();
	});
});
