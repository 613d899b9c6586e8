/**
 * `.deploy/secrets.json`: the deployed relay's secrets in one git-ignored file (mode 0600), in the
 * shape `wrangler deploy --secrets-file` and `wrangler secret bulk` read: a flat JSON object of
 * strings. `npm run setup` writes it, `npm run deploy` uploads it with the Worker, `npm run smoke`
 * takes its API key. Nothing here prints a secret.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseApiKeys } from "../../src/auth.ts";
import { generateApiKey, generateSigningKey, TENANT_NAME } from "./api-keys.ts";
import { ROOT, UsageError } from "./cli.ts";

/** Where the secrets live unless `--secrets` says otherwise. */
export const DEFAULT_SECRETS_FILE = join(ROOT, ".deploy", "secrets.json");

/** The relay's secrets (src/config.ts reads them); any other name in the file is a warning. */
export const SECRET_NAMES = [
	"API_KEYS",
	"WEBHOOK_SIGNING_KEY",
	"WEBHOOK_SIGNING_KEY_NEXT",
	"PERPLEXITY_API_KEY",
	"SLACK_SIGNING_SECRET",
] as const;

/** A Worker's secret (like any environment variable) holds at most 5 KB. */
export const MAX_SECRET_BYTES = 5 * 1024;

/** Names that must never come from a secrets file: a secret of the same name replaces the var. */
const FORBIDDEN = new Set(["ALLOW_PRIVATE_CALLBACKS"]);

export type Secrets = Record<string, string>;

export interface SetupOptions {
	/** The first API key's tenant. @default "default" */
	tenant?: string;
	/** PERPLEXITY_API_KEY, when known. */
	perplexityKey?: string;
	/** SLACK_SIGNING_SECRET, when the Slack command is used. */
	slackSigningSecret?: string;
}

/**
 * A new set of secrets: one API key for `tenant`, a new signing key, and the optional secrets given.
 *
 * @example
 * const { secrets, apiKey } = newSecrets({ tenant: "acme", perplexityKey: process.env.PERPLEXITY_API_KEY });
 */
export function newSecrets(options: SetupOptions = {}): { secrets: Secrets; apiKey: string } {
	const tenant = options.tenant ?? "default";
	if (!TENANT_NAME.test(tenant)) throw new UsageError(`not a tenant name (no spaces or commas): ${tenant}`);
	const apiKey = generateApiKey();
	const secrets: Secrets = { API_KEYS: `${tenant}:${apiKey}`, WEBHOOK_SIGNING_KEY: generateSigningKey() };
	if (options.perplexityKey) secrets.PERPLEXITY_API_KEY = options.perplexityKey;
	if (options.slackSigningSecret) secrets.SLACK_SIGNING_SECRET = options.slackSigningSecret;
	return { secrets, apiKey };
}

/**
 * Writes the file readable by its owner only (its folder too), atomically; an existing file is
 * replaced only with `force`.
 *
 * @example
 * writeSecretsFile(DEFAULT_SECRETS_FILE, secrets);
 */
export function writeSecretsFile(path: string, secrets: Secrets, { force = false } = {}): void {
	if (existsSync(path) && !force) throw new UsageError(`${path} exists; --force replaces it`);
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const temporary = `${path}.${process.pid}.tmp`;
	writeFileSync(temporary, `${JSON.stringify(secrets, null, "\t")}\n`, { mode: 0o600 });
	chmodSync(temporary, 0o600);
	renameSync(temporary, path);
}

/**
 * Reads a secrets file; a missing file is null, one that is not a JSON object of strings an error.
 *
 * @example
 * const secrets = readSecretsFile(DEFAULT_SECRETS_FILE); // null before `npm run setup`
 */
export function readSecretsFile(path: string): Secrets | null {
	if (!existsSync(path)) return null;
	let parsed: unknown;
	try {
		parsed = JSON.parse(readFileSync(path, "utf8"));
	} catch (error) {
		throw new UsageError(`${path} is not JSON (${(error as Error).message})`);
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
		throw new UsageError(`${path} is not a JSON object of secrets`);
	}
	for (const [name, value] of Object.entries(parsed)) {
		if (typeof value !== "string") throw new UsageError(`${path}: the value of ${name} is not a string`);
	}
	return parsed as Secrets;
}

export interface SecretsCheck {
	/** What makes a deploy with this file wrong: it must not go up. */
	errors: string[];
	/** What works, but not as one would want. */
	warnings: string[];
}

/**
 * What is wrong with a set of secrets before it goes up: missing or malformed required ones, a
 * secret over the 5 KB limit, a name that would replace a var, a missing Perplexity key.
 *
 * @example
 * const { errors, warnings } = checkSecrets(readSecretsFile(path) ?? {});
 */
export function checkSecrets(secrets: Secrets): SecretsCheck {
	const errors: string[] = [];
	const warnings: string[] = [];
	const pairs = parseApiKeys(secrets.API_KEYS ?? "");
	if (!secrets.API_KEYS)
		warnings.push("API_KEYS is not in the file: only keys in the KEYS namespace (npm run keys) will work");
	else if (pairs.length === 0) errors.push("API_KEYS holds no tenant:key pair");
	for (const { tenant, key } of pairs) {
		if (key.length < 20) errors.push(`the API key of tenant ${tenant} is shorter than 20 characters`);
	}
	if (!secrets.WEBHOOK_SIGNING_KEY)
		errors.push("WEBHOOK_SIGNING_KEY is missing: the relay would refuse every callback");
	else if (secrets.WEBHOOK_SIGNING_KEY.length < 32) errors.push("WEBHOOK_SIGNING_KEY is shorter than 32 characters");
	for (const [name, value] of Object.entries(secrets)) {
		if (FORBIDDEN.has(name))
			errors.push(`${name} does not belong in a secrets file: it would replace the var in wrangler.toml`);
		else if (!(SECRET_NAMES as readonly string[]).includes(name))
			warnings.push(`${name} is not a secret the relay reads`);
		const bytes = new TextEncoder().encode(value).length;
		if (bytes > MAX_SECRET_BYTES) {
			errors.push(
				`${name} is ${bytes} bytes, over a secret's 5 KB limit${name === "API_KEYS" ? ": move keys to KV (npm run keys -- create <tenant>)" : ""}`,
			);
		}
	}
	if (/change-me/.test(`${secrets.API_KEYS ?? ""} ${secrets.WEBHOOK_SIGNING_KEY ?? ""}`)) {
		errors.push("the file holds the .dev.vars.example placeholders (…change-me): run npm run setup -- --force");
	}
	if (!secrets.PERPLEXITY_API_KEY) {
		warnings.push(
			"PERPLEXITY_API_KEY is not in the file: unless it is already set on the Worker, every job fails (502). A deployed relay never emulates Perplexity.",
		);
	}
	return { errors, warnings };
}
