/**
 * `.dev.vars` for the Node-side tools: read it the way wrangler does (dotenv syntax),
 * put it in place from `.dev.vars.example` when missing, and write env files that
 * `wrangler dev --env-file` reads back unchanged.
 *
 * Wrangler parses env files with `dotenv` and then `dotenv-expand`, so `$NAME` inside a
 * value is expanded; `formatEnvFile` escapes `$` so that values arrive verbatim.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The file wrangler dev reads secrets from, next to `wrangler.toml`. */
export const DEV_VARS_FILE = ".dev.vars";
/** The committed template `ensureDevVars` copies into place. */
export const DEV_VARS_EXAMPLE_FILE = ".dev.vars.example";

const LINE = /^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*(.*)$/;

/**
 * Parses dotenv text as wrangler's `dotenv` does: `KEY=value`, `KEY="value"`, `KEY='value'`,
 * `export KEY=value`, `#` comments (a whole line, or the rest of an unquoted value), and
 * quoted values spanning several lines. Only double quotes expand `\n` and `\r`.
 *
 * @example
 * parseDevVars('API_KEYS="dev:dev-key" # tenant:key\nEMPTY=') // { API_KEYS: "dev:dev-key", EMPTY: "" }
 */
export function parseDevVars(text: string): Record<string, string> {
	const vars: Record<string, string> = {};
	const lines = text.replace(/\r\n?/g, "\n").split("\n");
	for (let i = 0; i < lines.length; i++) {
		const match = LINE.exec(lines[i] ?? "");
		if (!match) continue;
		const key = match[1] as string;
		const rest = (match[2] ?? "").trimStart();
		const quote = rest[0];
		if (quote === '"' || quote === "'" || quote === "`") {
			// A quoted value may continue on the next lines until its closing quote.
			let body = rest.slice(1);
			let last = i;
			let end = closingQuote(body, quote);
			while (end < 0 && last + 1 < lines.length) {
				body += `\n${lines[++last]}`;
				end = closingQuote(body, quote);
			}
			if (end >= 0) {
				i = last;
				const value = body.slice(0, end);
				vars[key] = quote === '"' ? unescapeDoubleQuoted(value) : value;
				continue;
			}
			// Never closed: dotenv reads the line as an unquoted value.
		}
		const comment = rest.indexOf("#");
		vars[key] = (comment < 0 ? rest : rest.slice(0, comment)).trim();
	}
	return vars;
}

function closingQuote(body: string, quote: string): number {
	for (let i = 0; i < body.length; i++) {
		// Like dotenv, a backslash keeps the next quote inside the value (and stays in it).
		if (body[i] === "\\" && body[i + 1] === quote) i++;
		else if (body[i] === quote) return i;
	}
	return -1;
}

function unescapeDoubleQuoted(value: string): string {
	return value.replaceAll("\\n", "\n").replaceAll("\\r", "\r");
}

/**
 * Reads and parses a dotenv file; a missing file is an empty set.
 *
 * @example
 * readDevVars(join(root, ".dev.vars")).WEBHOOK_SIGNING_KEY
 */
export function readDevVars(path: string): Record<string, string> {
	if (!existsSync(path)) return {};
	return parseDevVars(readFileSync(path, "utf8"));
}

/**
 * Makes sure `<root>/.dev.vars` exists, copying `.dev.vars.example` when it is missing.
 * An existing file is never touched: it may hold a developer's real keys.
 *
 * @example
 * const { path, created } = ensureDevVars(process.cwd());
 */
export function ensureDevVars(root: string): { path: string; created: boolean } {
	const path = join(root, DEV_VARS_FILE);
	if (existsSync(path)) return { path, created: false };
	const example = join(root, DEV_VARS_EXAMPLE_FILE);
	if (!existsSync(example)) throw new Error(`neither ${DEV_VARS_FILE} nor ${DEV_VARS_EXAMPLE_FILE} found in ${root}`);
	copyFileSync(example, path);
	return { path, created: true };
}

/**
 * Renders vars as an env file that wrangler (dotenv + dotenv-expand) reads back exactly.
 *
 * @example
 * formatEnvFile({ API_KEYS: "e2e:e2e-key" }) // 'API_KEYS="e2e:e2e-key"\n'
 */
export function formatEnvFile(vars: Record<string, string>): string {
	let text = "";
	for (const [key, value] of Object.entries(vars)) {
		if (!/^[A-Za-z_][\w.-]*$/.test(key)) throw new Error(`not a valid variable name: ${JSON.stringify(key)}`);
		// dotenv keeps a backslash before `$`, dotenv-expand then turns `\$` into a literal `$`.
		const escaped = value.replaceAll("$", "\\$");
		// dotenv has no escape for the quote character itself: pick one the value does not contain.
		const quote = ['"', "'", "`"].find((q) => !escaped.includes(q));
		if (quote === undefined) throw new Error(`cannot quote the value of ${key} for an env file`);
		if (/[\r\n]/.test(escaped) && quote !== '"') throw new Error(`cannot write a multi-line value for ${key}`);
		text += `${key}=${quote}${quote === '"' ? escaped.replace(/\r?\n/g, "\\n") : escaped}${quote}\n`;
	}
	return text;
}

/** Writes an env file readable only by its owner (it holds secrets), creating its folder. */
export function writeEnvFile(path: string, vars: Record<string, string>): void {
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path, formatEnvFile(vars), { mode: 0o600 });
	chmodSync(path, 0o600);
}

/**
 * The `tenant:key` pairs of an `API_KEYS` value.
 *
 * @example
 * parseApiKeys("dev:dev-key,slack:T0123:k2") // [{ tenant: "dev", key: "dev-key" }, { tenant: "slack:T0123", key: "k2" }]
 */
export function parseApiKeys(value: string | undefined): { tenant: string; key: string }[] {
	const pairs: { tenant: string; key: string }[] = [];
	for (const part of (value ?? "").split(",")) {
		// The key follows the last colon, as the relay reads it (src/auth.ts): `slack:T0123:key` is tenant `slack:T0123`.
		const colon = part.lastIndexOf(":");
		if (colon <= 0) continue;
		const tenant = part.slice(0, colon).trim();
		const key = part.slice(colon + 1).trim();
		if (tenant && key) pairs.push({ tenant, key });
	}
	return pairs;
}

/** The relay's settings (wrangler.toml `[vars]` and secrets) that the local tools pass through. */
export const RELAY_VAR_NAMES = [
	"PERPLEXITY_API_KEY",
	"PERPLEXITY_BASE_URL",
	"UPSTREAM_API",
	"MODEL_MAP",
	"API_KEYS",
	"WEBHOOK_SIGNING_KEY",
	"SLACK_SIGNING_SECRET",
	"UPSTREAM_TIMEOUT_MS",
	"POLL_INITIAL_DELAY_MS",
	"POLL_MAX_INTERVAL_MS",
	"JOB_TIMEOUT_SECONDS",
	"DELIVERY_TIMEOUT_MS",
	"DELIVERY_RETRY_SCHEDULE_MS",
	"RESULT_TTL_SECONDS",
	"MAX_BODY_BYTES",
	"ALLOW_PRIVATE_CALLBACKS",
] as const;

/**
 * The local settings: `<root>/.dev.vars`, where a non-empty environment variable of the
 * same name (one of `RELAY_VAR_NAMES`) wins, so `PERPLEXITY_API_KEY=… npm start` works.
 *
 * @example
 * const vars = localVars(root, process.env);
 */
export function localVars(root: string, env: Record<string, string | undefined> = process.env): Record<string, string> {
	const vars = readDevVars(join(root, DEV_VARS_FILE));
	for (const name of RELAY_VAR_NAMES) {
		const value = env[name];
		if (value !== undefined && value !== "") vars[name] = value;
	}
	return vars;
}

/** The tenant the local tools act as: "dev" when `API_KEYS` has it, else the first one. */
export function devTenant(vars: Record<string, string>): { tenant: string; key: string } | undefined {
	const pairs = parseApiKeys(vars.API_KEYS);
	return pairs.find((p) => p.tenant === "dev") ?? pairs[0];
}
