/**
 * `npm run setup`: makes the deployed relay's secrets, offline, into `.deploy/secrets.json`
 * (git-ignored, mode 0600): an API key for one tenant (`sr_` + 32 random bytes), the webhook
 * signing key every tenant's `whsec_` secret is derived from, and, when given, the Perplexity key
 * and Slack's signing secret. It prints the API key once, and what to do next.
 *
 * Safe to run again: an existing file is kept (only a missing optional secret given now is added),
 * unless `--force` starts over with new keys.
 *
 *   --tenant <name>                 the API key's tenant (default "default")
 *   --perplexity-key <key>          or PERPLEXITY_API_KEY in the environment (safer: no shell history)
 *   --slack-signing-secret <s>      or SLACK_SIGNING_SECRET in the environment
 *   --secrets <path>                default .deploy/secrets.json
 *   --force                         replace an existing file: new API key and signing key
 */
import { relative } from "node:path";
import { isMain, parseFlags, ROOT, runCli, UsageError } from "./cli.ts";
import {
	DEFAULT_SECRETS_FILE,
	newSecrets,
	readSecretsFile,
	type Secrets,
	type SetupOptions,
	writeSecretsFile,
} from "./secrets.ts";

export interface SetupRun extends SetupOptions {
	/** @default DEFAULT_SECRETS_FILE */
	secretsFile?: string;
	/** Replace an existing file. @default false */
	force?: boolean;
	/** Where the report goes. @default console.log */
	log?: (line: string) => void;
}

export interface SetupResult {
	/** Whether a new file was written (and so a new API key made). */
	created: boolean;
	/** The new API key: only when `created`. */
	apiKey: string | null;
	/** Optional secrets added to an existing file. */
	added: string[];
	secrets: Secrets;
}

/**
 * Makes (or completes) the secrets file and reports what it did, without printing any secret but
 * the new API key.
 *
 * @example
 * const { apiKey } = setup({ tenant: "acme", perplexityKey: process.env.PERPLEXITY_API_KEY });
 */
export function setup(run: SetupRun = {}): SetupResult {
	const path = run.secretsFile ?? DEFAULT_SECRETS_FILE;
	const log = run.log ?? ((line: string) => console.log(line));
	const shown = relative(ROOT, path).startsWith("..") ? path : relative(ROOT, path);
	const existing = run.force ? null : readSecretsFile(path);

	if (existing) {
		const added: string[] = [];
		const given: [string, string | undefined][] = [
			["PERPLEXITY_API_KEY", run.perplexityKey],
			["SLACK_SIGNING_SECRET", run.slackSigningSecret],
		];
		for (const [name, value] of given) {
			if (!value || existing[name] === value) continue;
			if (existing[name]) throw new UsageError(`${shown} already has a different ${name}; --force starts over`);
			existing[name] = value;
			added.push(name);
		}
		if (added.length > 0) writeSecretsFile(path, existing, { force: true });
		log(
			added.length > 0
				? `Added ${added.join(" and ")} to ${shown}; its keys are unchanged.`
				: `${shown} exists; nothing to do (--force makes new keys).`,
		);
		if (!existing.PERPLEXITY_API_KEY) log(missingPerplexityKey());
		log(next(false));
		return { created: false, apiKey: null, added, secrets: existing };
	}

	const { secrets, apiKey } = newSecrets(run);
	writeSecretsFile(path, secrets, { force: run.force });
	const tenant = run.tenant ?? "default";
	log(
		[
			`Wrote ${shown} (mode 0600${shown.startsWith(".deploy/") ? "; .deploy/ is git-ignored" : ""}):`,
			`  API_KEYS               tenant "${tenant}", one new key`,
			"  WEBHOOK_SIGNING_KEY    new (256 bits): every tenant's whsec_ secret derives from it",
			`  PERPLEXITY_API_KEY     ${secrets.PERPLEXITY_API_KEY ? "given" : "not set"}`,
			`  SLACK_SIGNING_SECRET   ${secrets.SLACK_SIGNING_SECRET ? "given" : "not set (the Slack command answers 503)"}`,
			...(run.force
				? ["", "Replaced the old file: the old API key and webhook secrets stop working at the next deploy."]
				: []),
			"",
			`The API key of tenant "${tenant}", shown this once (it is also in ${shown}):`,
			"",
			`  ${apiKey}`,
			"",
		].join("\n"),
	);
	if (!secrets.PERPLEXITY_API_KEY) log(missingPerplexityKey());
	log(next(true));
	return { created: true, apiKey, added: [], secrets };
}

function missingPerplexityKey(): string {
	return [
		"No PERPLEXITY_API_KEY: a deployed relay never emulates Perplexity, so every job would fail (502).",
		"  Add it:  PERPLEXITY_API_KEY=pplx-… npm run setup",
		"",
	].join("\n");
}

function next(created: boolean): string {
	return [
		"Next:",
		"  npx wrangler login          (once; or set CLOUDFLARE_API_TOKEN)",
		`  npm run deploy              (uploads the Worker and ${created ? "these" : "the"} secrets together)`,
		"  npm run smoke -- <its URL>",
	].join("\n");
}

const USAGE =
	"npm run setup -- [--tenant <name>] [--perplexity-key <key>] [--slack-signing-secret <s>] [--secrets <path>] [--force]";

/** `npm run setup -- …`: the flags above. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
	const { values, positionals } = parseFlags(
		argv,
		{
			tenant: { type: "string" },
			"perplexity-key": { type: "string" },
			"slack-signing-secret": { type: "string" },
			secrets: { type: "string" },
			force: { type: "boolean", default: false },
		},
		USAGE,
	);
	if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}\nusage: ${USAGE}`);
	setup({
		tenant: values.tenant,
		perplexityKey: values["perplexity-key"] ?? (env.PERPLEXITY_API_KEY || undefined),
		slackSigningSecret: values["slack-signing-secret"] ?? (env.SLACK_SIGNING_SECRET || undefined),
		secretsFile: values.secrets,
		force: values.force,
	});
	return 0;
}

if (isMain(import.meta.filename)) await runCli("setup", () => main(process.argv.slice(2)));
