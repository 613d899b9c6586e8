/**
 * `npm run keys`: API keys in the `KEYS` namespace, for as many tenants as needed (the `API_KEYS`
 * secret holds some 80 at most: a secret is 5 KB). Each key is stored as its SHA-256 digest only
 * (`key:<hex>` → `{tenant, created_at, label}`), through `wrangler kv key put/delete/list --binding KEYS`.
 *
 *   npm run keys -- create <tenant> [--label <text>]   prints the new key, once
 *   npm run keys -- revoke <key | digest prefix>      stops working within about two minutes
 *   npm run keys -- list                              tenant, label, created, digest prefix; never a key
 *
 *   --remote (default)   the deployed Worker's namespace (deploy once first: it creates it)
 *   --local              `npm start`'s local state (.wrangler/state), or --persist-to <dir>
 *   --config <path>      another wrangler config
 */
import { GENERATED_KEY, KEY_RECORD_PREFIX, type KeyRecord } from "../../src/auth.ts";
import { generateApiKey, keyDigest, keyEntry, TENANT_NAME } from "./api-keys.ts";
import { isMain, parseFlags, plain, runCli, runWrangler, UsageError } from "./cli.ts";

/** Which namespace a command works on. */
export interface KeysTarget {
	/** `remote`: the deployed Worker's; `local`: wrangler dev's state. */
	where: "remote" | "local";
	/** With `local`: the state folder (wrangler dev's `--persist-to`). @default wrangler's, .wrangler/state */
	persistTo?: string;
	/** @default wrangler.toml */
	config?: string;
}

/** Digits of the digest `list` shows and `revoke` accepts at the least. */
export const DIGEST_PREFIX_LENGTH = 12;
const MIN_PREFIX = 8;

function targetArgs(target: KeysTarget): string[] {
	const args = ["--binding", "KEYS", target.where === "local" ? "--local" : "--remote"];
	if (target.where === "local" && target.persistTo) args.push("--persist-to", target.persistTo);
	if (target.config) args.push("--config", target.config);
	return args;
}

/**
 * `wrangler kv key put` of a key's record: the name is its digest, the value and the metadata the
 * record (so that `list` shows it without a read per key). Nothing here is the key.
 *
 * @example
 * putArgs("key:3f1c…", { tenant: "acme", created_at: "…" }, { where: "remote" })
 * // ["kv", "key", "put", "key:3f1c…", "{…}", "--metadata", "{…}", "--binding", "KEYS", "--remote"]
 */
export function putArgs(name: string, record: KeyRecord, target: KeysTarget): string[] {
	const json = JSON.stringify(record);
	return ["kv", "key", "put", name, json, "--metadata", json, ...targetArgs(target)];
}

/** `wrangler kv key delete` of one record. */
export function deleteArgs(name: string, target: KeysTarget): string[] {
	return ["kv", "key", "delete", name, ...targetArgs(target)];
}

/** `wrangler kv key list` of every record (it prints JSON). */
export function listArgs(target: KeysTarget): string[] {
	return ["kv", "key", "list", "--prefix", KEY_RECORD_PREFIX, ...targetArgs(target)];
}

/** One stored key, as `list` shows it. */
export interface ListedKey {
	digest: string;
	tenant: string | null;
	label: string | null;
	created_at: string | null;
}

/**
 * Reads `wrangler kv key list`'s JSON: the records' names and metadata.
 *
 * @example
 * parseList('[{"name":"key:3f1c…","metadata":{"tenant":"acme","created_at":"…"}}]')
 * // [{ digest: "3f1c…", tenant: "acme", label: null, created_at: "…" }]
 */
export function parseList(stdout: string): ListedKey[] {
	const start = stdout.indexOf("[");
	let entries: unknown;
	try {
		entries = JSON.parse(start >= 0 ? stdout.slice(start) : stdout);
	} catch {
		throw new UsageError(`wrangler kv key list did not answer JSON:\n${plain(stdout).slice(0, 500)}`);
	}
	if (!Array.isArray(entries)) throw new UsageError("wrangler kv key list did not answer a list");
	return entries
		.filter((e): e is { name: string; metadata?: Partial<KeyRecord> } => typeof e?.name === "string")
		.filter((e) => e.name.startsWith(KEY_RECORD_PREFIX))
		.map((e) => ({
			digest: e.name.slice(KEY_RECORD_PREFIX.length),
			tenant: typeof e.metadata?.tenant === "string" ? e.metadata.tenant : null,
			label: typeof e.metadata?.label === "string" ? e.metadata.label : null,
			created_at: typeof e.metadata?.created_at === "string" ? e.metadata.created_at : null,
		}));
}

/**
 * Which stored key `revoke` means: a whole key (its digest) or a digest prefix that names exactly one.
 *
 * @example
 * await revocationTarget("3f1c2a9b", listed) // "3f1c2a9b…" (the one digest with that prefix)
 */
export async function revocationTarget(which: string, listed: () => Promise<ListedKey[]>): Promise<string> {
	if (GENERATED_KEY.test(which)) {
		const digest = await keyDigest(which);
		if (!(await listed()).some((k) => k.digest === digest)) {
			throw new UsageError(
				"that key is not in the KEYS namespace (a key in API_KEYS goes by editing .deploy/secrets.json and deploying)",
			);
		}
		return digest;
	}
	const prefix = which.toLowerCase().replace(/^key:/, "");
	if (!/^[0-9a-f]+$/.test(prefix) || prefix.length < MIN_PREFIX || prefix.length > 64) {
		throw new UsageError(`give a key (sr_…) or at least ${MIN_PREFIX} hex digits of its digest (npm run keys -- list)`);
	}
	const matches = (await listed()).filter((k) => k.digest.startsWith(prefix));
	if (matches.length === 0) throw new UsageError(`no stored key's digest starts with ${prefix}`);
	if (matches.length > 1) {
		throw new UsageError(`${matches.length} keys' digests start with ${prefix}: give more digits`);
	}
	return (matches[0] as ListedKey).digest;
}

function formatList(keys: ListedKey[]): string {
	if (keys.length === 0) return "No keys in the KEYS namespace (the API_KEYS secret's are not listed here).";
	const rows = [
		["TENANT", "LABEL", "CREATED", "DIGEST"],
		...keys
			.sort(
				(a, b) =>
					(a.tenant ?? "").localeCompare(b.tenant ?? "") || (a.created_at ?? "").localeCompare(b.created_at ?? ""),
			)
			.map((k) => [k.tenant ?? "?", k.label ?? "", k.created_at ?? "?", `${k.digest.slice(0, DIGEST_PREFIX_LENGTH)}…`]),
	];
	const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
	return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] as number) : cell)).join("  ")).join("\n");
}

async function wrangler(args: string[]): Promise<string> {
	const run = await runWrangler(args);
	if (run.code !== 0) {
		const detail = plain(`${run.stderr}\n${run.stdout}`)
			.split("\n")
			.filter((line) => /ERROR|✘|error/i.test(line) || /No KV namespace|not logged in|CLOUDFLARE_API_TOKEN/i.test(line))
			.join("\n")
			.trim();
		throw new UsageError(
			`wrangler ${args.slice(0, 3).join(" ")} failed (exit ${run.code})${detail ? `:\n${detail}` : ""}`,
		);
	}
	return run.stdout;
}

const USAGE =
	"npm run keys -- create <tenant> [--label <text>] | revoke <key|digest prefix> | list   [--remote | --local [--persist-to <dir>]] [--config <path>]";

/** `npm run keys -- …`: the commands above. */
export async function main(argv: string[], log: (line: string) => void = console.log): Promise<number> {
	const { values, positionals } = parseFlags(
		argv,
		{
			label: { type: "string" },
			remote: { type: "boolean", default: false },
			local: { type: "boolean", default: false },
			"persist-to": { type: "string" },
			config: { type: "string" },
		},
		USAGE,
	);
	if (values.remote && values.local) throw new UsageError("--remote or --local, not both");
	if (values["persist-to"] && !values.local) throw new UsageError("--persist-to goes with --local");
	const target: KeysTarget = {
		where: values.local ? "local" : "remote",
		persistTo: values["persist-to"],
		config: values.config,
	};
	const where = target.where === "local" ? "local state" : "the deployed namespace";
	const [command, argument, ...rest] = positionals;
	if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(" ")}\nusage: ${USAGE}`);
	const listed = async () => parseList(await wrangler(listArgs(target)));

	switch (command) {
		case "create": {
			if (!argument) throw new UsageError(`create needs a tenant\nusage: ${USAGE}`);
			if (!TENANT_NAME.test(argument)) throw new UsageError(`not a tenant name (no spaces or commas): ${argument}`);
			const key = generateApiKey();
			const { name, record } = await keyEntry(key, argument, { label: values.label });
			await wrangler(putArgs(name, record, target));
			log(
				[
					`Stored a key for tenant "${argument}" in ${where} (digest ${name.slice(KEY_RECORD_PREFIX.length, KEY_RECORD_PREFIX.length + DIGEST_PREFIX_LENGTH)}…).`,
					"The key, shown this once (only its digest is stored):",
					"",
					`  ${key}`,
					"",
					"It works within a minute (the relay caches a miss for up to 60 s).",
				].join("\n"),
			);
			return 0;
		}
		case "revoke": {
			if (!argument) throw new UsageError(`revoke needs a key or a digest prefix\nusage: ${USAGE}`);
			const digest = await revocationTarget(argument, listed);
			await wrangler(deleteArgs(KEY_RECORD_PREFIX + digest, target));
			log(
				`Revoked the key with digest ${digest.slice(0, DIGEST_PREFIX_LENGTH)}… in ${where}. It stops working within about two minutes (the relay's 60 s cache, then KV's edge cache).`,
			);
			return 0;
		}
		case "list": {
			if (argument) throw new UsageError(`list takes no argument\nusage: ${USAGE}`);
			log(formatList(await listed()));
			return 0;
		}
		default:
			throw new UsageError(`${command ? `unknown command ${command}` : "a command is needed"}\nusage: ${USAGE}`);
	}
}

if (isMain(import.meta.filename)) await runCli("keys", () => main(process.argv.slice(2)));
