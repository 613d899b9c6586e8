/**
 * `npm start`: the embedded default. Runs the relay under `wrangler dev` with local KV
 * and Durable Objects, a local webhook inbox that verifies and prints every push, and,
 * without a `PERPLEXITY_API_KEY`, the Perplexity emulator as the upstream.
 *
 * How the relay gets its settings: `wrangler dev --env-file .dev.vars --env-file
 * .wrangler/start.env`. Env files win over `wrangler.toml` `[vars]`, a later file wins
 * over an earlier one, and once any `--env-file` is given wrangler no longer reads
 * `.dev.vars` by itself. `start.env` (mode 0600, git-ignored) holds only the overrides:
 * the emulator's URL and key, and the relay settings set in this process's environment.
 * Nothing secret goes on a command line.
 *
 * The wrangler-dev helpers it uses are shared with the other harnesses: tools/lib/.
 *
 *   RELAY_PORT (8787), EMULATOR_PORT (8788), INBOX_PORT (8789),
 *   INSPECTOR_PORT (wrangler's choice: 9229, or a free one when it is taken)
 *   --verbose   also print the emulator's request log
 */
import { realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { tenantSecret } from "../src/delivery/sign.ts";
import { devTenant, ensureDevVars, localVars, parseApiKeys, RELAY_VAR_NAMES, writeEnvFile } from "./dev-vars.ts";
import { type RunningEmulator, startEmulator } from "./emulator/server.ts";
import { type RunningInbox, startInbox } from "./inbox/server.ts";
import { isPortFree } from "./lib/ports.ts";
import { spawnWranglerDev, type WranglerDev, waitForHealth } from "./lib/wrangler.ts";

/** Quotes a word for a POSIX shell, for the copy-paste commands in the banner. */
function shellQuote(text: string): string {
	return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'"'"'`)}'`;
}

// ── npm start ────────────────────────────────────────────────────────────────

function portFromEnv(name: string, fallback: number): number {
	const text = process.env[name];
	const port = text ? Number(text) : fallback;
	if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${name} is not a port: ${text}`);
	return port;
}

async function main(): Promise<void> {
	const { values: flags } = parseArgs({ options: { verbose: { type: "boolean", default: false } } });
	const root = join(import.meta.dirname, "..");
	const host = "127.0.0.1";
	const say = (text: string) => console.log(text);
	const fail = (text: string): never => {
		console.error(`npm start: ${text}`);
		process.exit(1);
	};

	const relayPort = portFromEnv("RELAY_PORT", 8787);
	const emulatorPort = portFromEnv("EMULATOR_PORT", 8788);
	const inboxPort = portFromEnv("INBOX_PORT", 8789);
	// wrangler dev's Node inspector for the Worker: unset, wrangler takes 9229 (or another when it is taken).
	const inspectorPort = process.env.INSPECTOR_PORT ? portFromEnv("INSPECTOR_PORT", 9229) : undefined;

	const { created } = ensureDevVars(root);
	if (created) say("Created .dev.vars from .dev.vars.example (local settings; git-ignored).");
	const vars = localVars(root);

	// Settings from this process's environment win over .dev.vars.
	const overrides: Record<string, string> = {};
	for (const name of RELAY_VAR_NAMES) {
		const value = process.env[name];
		if (value) overrides[name] = value;
	}
	const useEmulator = !vars.PERPLEXITY_API_KEY;
	// The inbox listens on 127.0.0.1: unless told otherwise, let callbacks reach it.
	if (vars.ALLOW_PRIVATE_CALLBACKS === undefined) overrides.ALLOW_PRIVATE_CALLBACKS = "true";

	for (const [name, port] of [
		["RELAY_PORT", relayPort],
		["INBOX_PORT", inboxPort],
		...(useEmulator ? [["EMULATOR_PORT", emulatorPort] as const] : []),
	] as const) {
		if (!(await isPortFree(port, host))) fail(`port ${port} is in use (another npm start?). Set ${name} to change it.`);
	}

	let emulator: RunningEmulator | undefined;
	let inbox: RunningInbox | undefined;
	let wrangler: WranglerDev | undefined;
	const overridesFile = join(root, ".wrangler", "start.env");
	let stopping = false;

	async function shutdown(code: number): Promise<never> {
		if (stopping) {
			wrangler?.killNow();
			process.exit(code);
		}
		stopping = true;
		say("\nStopping…");
		await Promise.allSettled([wrangler?.stop(), inbox?.close(), emulator?.close()]);
		rmSync(overridesFile, { force: true });
		process.exit(code);
	}
	process.on("SIGINT", () => void shutdown(0));
	process.on("SIGTERM", () => void shutdown(0));
	// Whatever happens to this process, wrangler's group must not outlive it.
	process.on("exit", () => wrangler?.killNow());

	if (useEmulator) {
		emulator = await startEmulator({
			port: emulatorPort,
			host,
			apiKey: "emulator-key",
			// A tier-3 account's limit, sent in x-ratelimit-* headers: the relay learns it on its first call.
			faults: { requestRateLimitPerMinute: 1000 },
			quiet: !flags.verbose,
			log: (line) => say(`[emulator] ${line}`),
		});
		overrides.PERPLEXITY_BASE_URL = emulator.url;
		overrides.PERPLEXITY_API_KEY = "emulator-key";
	}

	const signingKey = vars.WEBHOOK_SIGNING_KEY;
	const tenants = [...new Set(parseApiKeys(vars.API_KEYS).map((p) => p.tenant))];
	const secrets = signingKey ? await Promise.all(tenants.map((t) => tenantSecret(signingKey, t))) : [];
	if (!signingKey) say("WEBHOOK_SIGNING_KEY is not set in .dev.vars: the inbox cannot verify signatures.");
	inbox = await startInbox({
		port: inboxPort,
		host,
		secrets,
		print: true,
		log: (text) => {
			const [header, ...body] = text.trimEnd().split("\n");
			say([`[inbox] ${header}`, ...body.map((line) => (line ? `        ${line}` : ""))].join("\n"));
			say("");
		},
	});

	writeEnvFile(overridesFile, overrides);
	wrangler = spawnWranglerDev({
		root,
		port: relayPort,
		ip: host,
		persistTo: join(root, ".wrangler", "state"),
		envFiles: [join(root, ".dev.vars"), overridesFile],
		inspectorPort,
		// Liveness probes (ours, the demo's) are not worth a line each.
		onLine: (line) => (/\] GET \/healthz \d{3}/.test(line) ? undefined : say(`[relay] ${line}`)),
	});
	void wrangler.exited.then((code) => {
		if (stopping) return;
		console.error(`npm start: wrangler dev exited (${code}).`);
		void shutdown(1);
	});

	try {
		await waitForHealth(`${wrangler.url}/healthz`, { timeoutMs: 60_000, exited: wrangler.exited });
	} catch (error) {
		if (stopping) return;
		console.error(`npm start: the relay did not come up: ${(error as Error).message}`);
		await shutdown(1);
	}

	const dev = devTenant(vars);
	const apiKey = dev?.key ?? "<an API key from API_KEYS>";
	const auth = shellQuote(`Authorization: Bearer ${apiKey}`);
	const job = {
		request: { model: "sonar", messages: [{ role: "user", content: "What is a Cloudflare Durable Object alarm?" }] },
		callback_url: `${inbox.url}/hooks/curl`,
	};
	const api =
		(vars.UPSTREAM_API ?? overrides.UPSTREAM_API) === "sonar"
			? "the retired Sonar async API (UPSTREAM_API=sonar)"
			: "the Agent API, background mode";
	const upstream = useEmulator
		? `${emulator?.url}  (Perplexity emulator of ${api}: no account needed)`
		: `${vars.PERPLEXITY_BASE_URL || "https://api.perplexity.ai (wrangler.toml)"}  (real Perplexity: ${api}; key set)`;
	say(
		[
			"",
			"────────────────────────────────────────────────────────────────────────",
			" sonar-relay is ready",
			"",
			`   relay      ${wrangler.url}   (wrangler dev; state in .wrangler/state)`,
			`   dashboard  ${wrangler.url}/dashboard   (sign in with the API key ${apiKey}, from .dev.vars)`,
			`   API docs   ${wrangler.url}/docs`,
			`   upstream   ${upstream}`,
			`   inbox      ${inbox.url}/hooks/<name>   (verifies and prints each push here)`,
			"",
			" Submit a question; the answer is pushed to the inbox and printed below:",
			"",
			`   curl -s ${wrangler.url}/async/chat/completions \\`,
			`     -H ${auth} -H 'Content-Type: application/json' \\`,
			`     -d ${shellQuote(JSON.stringify(job))}`,
			"",
			" Fetch the job (put the returned id in place of <id>):",
			"",
			`   curl -s ${wrangler.url}/async/chat/completions/<id> -H ${auth}`,
			"",
			" Or the whole round trip, verified:   npm run demo",
			"",
			" Ctrl-C stops everything.",
			"────────────────────────────────────────────────────────────────────────",
			"",
		].join("\n"),
	);
}

function isMainModule(): boolean {
	const entry = process.argv[1];
	if (!entry) return false;
	try {
		return realpathSync(entry) === realpathSync(import.meta.filename);
	} catch {
		return false;
	}
}

if (isMainModule()) {
	await main().catch((error: unknown) => {
		const code = (error as NodeJS.ErrnoException).code;
		console.error(`npm start: ${code === "EADDRINUSE" ? "a port is in use" : ""} ${String(error)}`.trim());
		// The "exit" handler takes wrangler's process group down with us.
		process.exit(1);
	});
}
