/**
 * `npm run deploy`: the relay on Cloudflare in one step.
 *
 * 1. Without `.deploy/secrets.json`, runs `npm run setup` first (same flags).
 * 2. Checks the secrets (required ones present, none over 5 KB, no var overridden, no placeholder).
 * 3. `wrangler deploy --secrets-file .deploy/secrets.json`: the code and the secrets go up as one
 *    version, so the very first deploy of a Worker that does not exist yet has its secrets from its
 *    first request (`wrangler secret bulk` needs the Worker to exist; this does not). Secrets not in
 *    the file are kept. The KV namespaces are created on the first deploy (wrangler.toml gives no id).
 * 4. Prints the URL and the next command: `npm run smoke -- <url>`.
 *
 * `--dry-run` bundles and checks without contacting Cloudflare (`wrangler deploy --dry-run`, which
 * also validates the secrets file): CI runs it. In Cloudflare's Workers Builds (the Deploy button's
 * builds, `WORKERS_CI=1`) it is plain `wrangler deploy`: the secrets there are the dashboard's. In other
 * CI (`CI` set) it never runs setup, which would print a new key into the build log.
 *
 *   --dry-run                     check only
 *   --secrets <path>              default .deploy/secrets.json
 *   --outdir <dir>                where --dry-run writes the bundle (default .wrangler/dry-run)
 *   --tenant, --perplexity-key, --slack-signing-secret   passed to setup when it runs
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { isMain, parseFlags, plain, ROOT, runCli, runWrangler, UsageError } from "./cli.ts";
import { checkSecrets, DEFAULT_SECRETS_FILE, readSecretsFile } from "./secrets.ts";
import { setup } from "./setup.ts";

export interface DeployPlan {
	dryRun: boolean;
	/** The secrets file to upload, or null (none yet on a dry run; Workers Builds). */
	secretsFile: string | null;
	/** --dry-run's bundle folder. */
	outdir: string;
}

/**
 * The wrangler arguments of a plan.
 *
 * @example
 * deployArgs({ dryRun: false, secretsFile: ".deploy/secrets.json", outdir: "" })
 * // ["deploy", "--secrets-file", ".deploy/secrets.json"]
 */
export function deployArgs(plan: DeployPlan): string[] {
	const args = ["deploy"];
	if (plan.secretsFile) args.push("--secrets-file", plan.secretsFile);
	if (plan.dryRun) args.push("--dry-run", "--outdir", plan.outdir);
	return args;
}

/**
 * The deployed Worker's URL, from wrangler's output file (`WRANGLER_OUTPUT_FILE_PATH`, one JSON
 * object a line: its `deploy` entry lists the targets) or, failing that, from what it printed.
 *
 * @example
 * deployedUrl('{"type":"deploy","targets":["https://sonar-relay.acme.workers.dev","schedule: 0 * * * *"]}', "")
 * // "https://sonar-relay.acme.workers.dev"
 */
export function deployedUrl(outputFile: string, printed: string): string | null {
	const targets: string[] = [];
	for (const line of outputFile.split("\n")) {
		try {
			const entry = JSON.parse(line) as { type?: string; targets?: unknown };
			if (entry.type === "deploy" && Array.isArray(entry.targets)) {
				targets.push(...entry.targets.filter((t): t is string => typeof t === "string"));
			}
		} catch {
			// Not a JSON line.
		}
	}
	const https = targets.find((t) => /^https:\/\/[^\s/]+\/?$/.test(t));
	if (https) return https.replace(/\/$/, "");
	// A custom domain is listed bare; a route pattern has a path or a wildcard.
	const domain = targets.find((t) => /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(t));
	if (domain) return `https://${domain}`;
	return /https:\/\/[a-z0-9.-]+\.workers\.dev/i.exec(plain(printed))?.[0] ?? null;
}

const USAGE =
	"npm run deploy -- [--dry-run] [--secrets <path>] [--outdir <dir>] [--tenant <name>] [--perplexity-key <key>] [--slack-signing-secret <s>]";

/** `npm run deploy -- …`: the flags above. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
	const { values, positionals } = parseFlags(
		argv,
		{
			"dry-run": { type: "boolean", default: false },
			secrets: { type: "string" },
			outdir: { type: "string" },
			tenant: { type: "string" },
			"perplexity-key": { type: "string" },
			"slack-signing-secret": { type: "string" },
		},
		USAGE,
	);
	if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}\nusage: ${USAGE}`);
	const dryRun = values["dry-run"];
	const say = (line: string) => console.log(line);
	const outdir = values.outdir ?? join(ROOT, ".wrangler", "dry-run");

	if (env.WORKERS_CI && !dryRun) {
		// Workers Builds (the Deploy to Cloudflare button): secrets are set in the dashboard, and a
		// key printed here would end up in the build log.
		say("Workers Builds: wrangler deploy (secrets are the dashboard's).");
		return (await runWrangler(["deploy"], { echo: true })).code === 0 ? 0 : 1;
	}

	const path = values.secrets ?? DEFAULT_SECRETS_FILE;
	const shown = relative(ROOT, path).startsWith("..") ? path : relative(ROOT, path);
	let secrets = readSecretsFile(path);
	if (!secrets && !dryRun && env.CI) {
		// Setup prints the new key: not into a CI log.
		throw new UsageError(
			`no ${shown} in CI: make it with npm run setup where no log keeps it, or pass --secrets <path>`,
		);
	}
	if (!secrets && !dryRun) {
		say(`No ${shown} yet: running npm run setup first.\n`);
		secrets = setup({
			secretsFile: path,
			tenant: values.tenant,
			perplexityKey: values["perplexity-key"] ?? (env.PERPLEXITY_API_KEY || undefined),
			slackSigningSecret: values["slack-signing-secret"] ?? (env.SLACK_SIGNING_SECRET || undefined),
			log: say,
		}).secrets;
		say("");
	}
	if (secrets) {
		const { errors, warnings } = checkSecrets(secrets);
		for (const warning of warnings) say(`warning: ${warning}`);
		if (errors.length > 0) {
			throw new UsageError(`${shown} is not fit to deploy:\n${errors.map((e) => `  - ${e}`).join("\n")}`);
		}
		say(`${shown}: ${Object.keys(secrets).join(", ")}`);
	} else {
		say(`No ${shown}: a real deploy would run npm run setup first. Checking the bundle only.`);
	}

	const plan: DeployPlan = { dryRun, secretsFile: secrets ? path : null, outdir };
	const scratch = mkdtempSync(join(tmpdir(), "sonar-relay-deploy-"));
	const outputFile = join(scratch, "wrangler-output.ndjson");
	try {
		say(`\n$ wrangler ${deployArgs(plan).join(" ")}\n`);
		const run = await runWrangler(deployArgs(plan), { echo: true, env: { WRANGLER_OUTPUT_FILE_PATH: outputFile } });
		if (run.code !== 0) {
			say(
				[
					"",
					`wrangler deploy failed (exit ${run.code}).`,
					"  Not logged in?            npx wrangler login   (or set CLOUDFLARE_API_TOKEN)",
					"  Several accounts?         set CLOUDFLARE_ACCOUNT_ID",
					"  Nothing was changed on Cloudflare unless wrangler says it uploaded.",
				].join("\n"),
			);
			return 1;
		}
		if (dryRun) {
			say(`\nDry run: the bundle builds and ${secrets ? `${shown} is valid` : "there is no secrets file yet"}.`);
			return 0;
		}
		let written = "";
		try {
			written = readFileSync(outputFile, "utf8");
		} catch {
			// Older wranglers write no output file: the printed URL is enough.
		}
		const url = deployedUrl(written, run.stdout);
		say(
			[
				"",
				"────────────────────────────────────────────────────────────────────────",
				` sonar-relay is deployed${url ? ` at ${url}` : " (its URL is in the Cloudflare dashboard)"}`,
				"",
				`   API key    in ${shown} (API_KEYS: tenant:key)`,
				"   more keys  npm run keys -- create <tenant>",
				"",
				` Next:        npm run smoke -- ${url ?? "<url>"}`,
				"────────────────────────────────────────────────────────────────────────",
			].join("\n"),
		);
		return 0;
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
}

if (isMain(import.meta.filename)) await runCli("deploy", () => main(process.argv.slice(2)));
