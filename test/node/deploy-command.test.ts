/**
 * `npm run deploy`: `--dry-run` against the real wrangler (offline: it bundles, checks the secrets
 * file and contacts nobody), and the real path against a stand-in wrangler that records what it was
 * asked and answers as `wrangler deploy` does: setup first when there is no secrets file, one
 * `wrangler deploy --secrets-file`, the URL and the next command printed; plain `wrangler deploy`
 * in Workers Builds (the Deploy button's), where the secrets are the dashboard's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deployArgs, deployedUrl } from "../../tools/deploy/deploy.ts";
import { readSecretsFile } from "../../tools/deploy/secrets.ts";
import { setup } from "../../tools/deploy/setup.ts";
import { runTool } from "./run-tool.ts";

let dir: string;
beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "sonar-relay-deploy-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A wrangler that logs its arguments and environment, and answers like `wrangler deploy`. */
function fakeWrangler(): { bin: string; calls: () => { args: string[]; metrics: string | undefined }[] } {
	const bin = join(dir, "fake-wrangler.mjs");
	const calls = join(dir, "calls.ndjson");
	writeFileSync(
		bin,
		`import { appendFileSync } from "node:fs";
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ args, metrics: process.env.WRANGLER_SEND_METRICS }) + "\\n");
if (process.env.WRANGLER_OUTPUT_FILE_PATH) {
	appendFileSync(process.env.WRANGLER_OUTPUT_FILE_PATH, JSON.stringify({ type: "deploy", version: 1, targets: ["https://sonar-relay.acme.workers.dev", "schedule: */5 * * * *"] }) + "\\n");
}
console.log("Deployed sonar-relay triggers (1.23 sec)\\n  https://sonar-relay.acme.workers.dev\\n  schedule: */5 * * * *");
process.exit(Number(process.env.FAKE_WRANGLER_EXIT ?? 0));
`,
	);
	return {
		bin,
		calls: () =>
			existsSync(calls)
				? readFileSync(calls, "utf8")
						.trim()
						.split("\n")
						.map((line) => JSON.parse(line))
				: [],
	};
}

describe("npm run deploy", () => {
	it("builds the arguments of one wrangler deploy, secrets included", () => {
		expect(deployArgs({ dryRun: false, secretsFile: "/s.json", outdir: "/o" })).toEqual([
			"deploy",
			"--secrets-file",
			"/s.json",
		]);
		expect(deployArgs({ dryRun: true, secretsFile: null, outdir: "/o" })).toEqual([
			"deploy",
			"--dry-run",
			"--outdir",
			"/o",
		]);
	});

	it("finds the URL in wrangler's output file, or in what it printed", () => {
		const entry = (targets: string[]) => JSON.stringify({ type: "deploy", targets });
		expect(deployedUrl(entry(["https://r.acme.workers.dev", "schedule: */5 * * * *"]), "")).toBe(
			"https://r.acme.workers.dev",
		);
		expect(deployedUrl(entry(["relay.example.com/*", "relay.example.com"]), "")).toBe("https://relay.example.com");
		expect(deployedUrl("", "Deployed r triggers\n  \u001b[1mhttps://r.acme.workers.dev\u001b[0m\n")).toBe(
			"https://r.acme.workers.dev",
		);
		expect(deployedUrl("not json", "No targets deployed for r")).toBeNull();
	});

	it("--dry-run bundles and validates the secrets file with the real wrangler, without Cloudflare", async () => {
		const secrets = join(dir, "secrets.json");
		setup({ secretsFile: secrets, perplexityKey: "pplx-test", log: () => {} });
		const run = await runTool(
			"tools/deploy/deploy.ts",
			["--dry-run", "--secrets", secrets, "--outdir", join(dir, "out")],
			{
				WORKERS_CI: undefined,
			},
		);
		expect(run.code, run.stdout + run.stderr).toBe(0);
		expect(run.stdout).toContain(`wrangler deploy --secrets-file ${secrets} --dry-run`);
		expect(run.stdout).toContain("env.KEYS");
		expect(run.stdout).toContain("env.RESULTS");
		expect(run.stdout).toContain("is valid");
		// The key is never printed by a deploy.
		expect(run.stdout + run.stderr).not.toContain((readSecretsFile(secrets)?.API_KEYS ?? "").split(":")[1] as string);
	}, 120_000);

	it("--dry-run without a secrets file checks the bundle and writes nothing", async () => {
		const secrets = join(dir, "none", "secrets.json");
		const run = await runTool(
			"tools/deploy/deploy.ts",
			["--dry-run", "--secrets", secrets, "--outdir", join(dir, "out")],
			{
				WORKERS_CI: undefined,
			},
		);
		expect(run.code, run.stdout + run.stderr).toBe(0);
		expect(run.stdout).toContain("a real deploy would run npm run setup first");
		expect(existsSync(secrets)).toBe(false);
	}, 120_000);

	it("refuses a secrets file unfit to deploy before running wrangler", async () => {
		const fake = fakeWrangler();
		const secrets = join(dir, "secrets.json");
		writeFileSync(
			secrets,
			JSON.stringify({ API_KEYS: "dev:dev-key-change-me", WEBHOOK_SIGNING_KEY: "dev-signing-key-change-me" }),
		);
		const run = await runTool("tools/deploy/deploy.ts", ["--secrets", secrets], {
			SONAR_RELAY_WRANGLER: fake.bin,
			WORKERS_CI: undefined,
		});
		expect(run.code).toBe(1);
		expect(run.stderr).toContain("not fit to deploy");
		expect(run.stderr).toContain("placeholders");
		expect(fake.calls()).toEqual([]);
	});

	it("runs setup when there is no secrets file, then one wrangler deploy with it, and prints the URL and the smoke command", async () => {
		const fake = fakeWrangler();
		const secrets = join(dir, ".deploy", "secrets.json");
		const run = await runTool("tools/deploy/deploy.ts", ["--secrets", secrets, "--tenant", "acme"], {
			SONAR_RELAY_WRANGLER: fake.bin,
			PERPLEXITY_API_KEY: "pplx-test",
			WORKERS_CI: undefined,
			CI: undefined,
		});
		expect(run.code, run.stdout + run.stderr).toBe(0);
		const written = readSecretsFile(secrets);
		expect(written?.API_KEYS).toMatch(/^acme:sr_/);
		expect(written?.PERPLEXITY_API_KEY).toBe("pplx-test");
		expect(fake.calls()).toEqual([{ args: ["deploy", "--secrets-file", secrets], metrics: "false" }]);
		expect(run.stdout).toContain("sonar-relay is deployed at https://sonar-relay.acme.workers.dev");
		expect(run.stdout).toContain("npm run smoke -- https://sonar-relay.acme.workers.dev");
	});

	it("in CI, never runs setup (it would print a key into the build log)", async () => {
		const fake = fakeWrangler();
		const secrets = join(dir, ".deploy", "secrets.json");
		const run = await runTool("tools/deploy/deploy.ts", ["--secrets", secrets], {
			SONAR_RELAY_WRANGLER: fake.bin,
			WORKERS_CI: undefined,
			CI: "true",
		});
		expect(run.code).toBe(1);
		expect(run.stderr).toContain("in CI");
		expect(existsSync(secrets)).toBe(false);
		expect(fake.calls()).toEqual([]);
	});

	it("says what to check when wrangler deploy fails", async () => {
		const fake = fakeWrangler();
		const secrets = join(dir, "secrets.json");
		setup({ secretsFile: secrets, perplexityKey: "pplx-test", log: () => {} });
		const run = await runTool("tools/deploy/deploy.ts", ["--secrets", secrets], {
			SONAR_RELAY_WRANGLER: fake.bin,
			FAKE_WRANGLER_EXIT: "1",
			WORKERS_CI: undefined,
		});
		expect(run.code).toBe(1);
		expect(run.stdout).toContain("wrangler deploy failed (exit 1)");
		expect(run.stdout).toContain("npx wrangler login");
	});

	it("in Workers Builds (the Deploy button) runs plain wrangler deploy and makes no secrets", async () => {
		const fake = fakeWrangler();
		const secrets = join(dir, ".deploy", "secrets.json");
		const run = await runTool("tools/deploy/deploy.ts", ["--secrets", secrets], {
			SONAR_RELAY_WRANGLER: fake.bin,
			WORKERS_CI: "1",
		});
		expect(run.code, run.stdout + run.stderr).toBe(0);
		expect(fake.calls().map((c) => c.args)).toEqual([["deploy"]]);
		expect(existsSync(secrets)).toBe(false);
		expect(run.stdout).not.toMatch(/sr_[A-Za-z0-9_-]{43}/);
	});
});
