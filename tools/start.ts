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
 * Also exports the wrangler-dev helpers the end-to-end harness shares (see test/node/stack.ts).
 *
 *   RELAY_PORT (8787), EMULATOR_PORT (8788), INBOX_PORT (8789),
 *   INSPECTOR_PORT (wrangler's choice: 9229, or a free one when it is taken)
 *   --verbose   also print the emulator's request log
 */
import { type ChildProcess, spawn } from "node:child_process";
import { realpathSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { tenantSecret } from "../src/delivery/sign.ts";
import { devTenant, ensureDevVars, localVars, parseApiKeys, RELAY_VAR_NAMES, writeEnvFile } from "./dev-vars.ts";
import { type RunningEmulator, startEmulator } from "./emulator/server.ts";
import { type RunningInbox, startInbox } from "./inbox/server.ts";

/** Where a spawned `wrangler dev` listens, and how to stop it with everything it started. */
export interface WranglerDev {
	child: ChildProcess;
	/** `http://127.0.0.1:<port>` */
	url: string;
	/** Resolves with the exit code (or the signal name) once wrangler has exited. */
	exited: Promise<number | string>;
	/** The last lines wrangler printed (noise filtered out), for error messages. */
	recentOutput(): string;
	/** SIGTERM to wrangler's process group, SIGKILL after `graceMs`; resolves once it has exited. */
	stop(graceMs?: number): Promise<void>;
	/** SIGKILL to the whole process group, synchronously (for `process.on("exit")`). */
	killNow(): void;
}

export interface WranglerDevOptions {
	/** The project root: wrangler's working directory. */
	root: string;
	port: number;
	/** @default "127.0.0.1" */
	ip?: string;
	/** Local state (KV, Durable Objects). */
	persistTo: string;
	/** `--env-file`s, later ones winning. Given any, wrangler does not read `.dev.vars` itself. */
	envFiles?: string[];
	/** @default `<root>/wrangler.toml` */
	configPath?: string;
	/** @default wrangler picks one (9229, or a free one) */
	inspectorPort?: number;
	/** Each line wrangler prints, ANSI-free, minus the harmless offline `Request.cf` warning. */
	onLine?: (line: string) => void;
	/** Environment for wrangler, on top of this process's. */
	env?: Record<string, string>;
	/**
	 * Raise the open-file limit of wrangler (and so workerd) to this, as far as the system
	 * lets it (a non-root user up to its hard limit). Local workerd keeps each Durable
	 * Object's SQLite files open, about four per object: ten thousand jobs in flight
	 * need some 40 000 descriptors.
	 */
	maxOpenFiles?: number;
}

/**
 * Variables that would make wrangler read other files, or all of the process environment,
 * instead of (or on top of) the `--env-file`s it is given.
 */
const WRANGLER_ENV_OVERRIDES = [
	"CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV",
	"CLOUDFLARE_INCLUDE_PROCESS_ENV",
	"CLOUDFLARE_ENV",
];

/**
 * Spawns `wrangler dev` (the project's own, on this Node) in its own process group, so that
 * stopping it stops workerd and esbuild too, and a Ctrl-C reaches only the parent.
 *
 * @example
 * const dev = spawnWranglerDev({ root, port: 8787, persistTo: ".wrangler/state", envFiles: [".dev.vars"] });
 * await waitForHealth(`${dev.url}/healthz`, { exited: dev.exited });
 * await dev.stop();
 */
export function spawnWranglerDev(options: WranglerDevOptions): WranglerDev {
	const ip = options.ip ?? "127.0.0.1";
	const args = [
		join(options.root, "node_modules", ".bin", "wrangler"),
		"dev",
		"--config",
		options.configPath ?? join(options.root, "wrangler.toml"),
		"--ip",
		ip,
		"--port",
		String(options.port),
		"--persist-to",
		options.persistTo,
		"--show-interactive-dev-session=false",
	];
	if (options.inspectorPort !== undefined) args.push("--inspector-port", String(options.inspectorPort));
	for (const file of options.envFiles ?? []) args.push("--env-file", file);

	const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", ...options.env };
	for (const name of WRANGLER_ENV_OVERRIDES) delete env[name];

	// `ulimit` is a shell builtin: a POSIX sh raises the limit, then becomes wrangler.
	const [command, commandArgs] =
		options.maxOpenFiles !== undefined && process.platform === "linux"
			? [
					"/bin/sh",
					[
						"-c",
						`ulimit -n ${Math.floor(options.maxOpenFiles)} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`,
						"sh",
						process.execPath,
						...args,
					],
				]
			: [process.execPath, args];
	const child = spawn(command, commandArgs, {
		cwd: options.root,
		env,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
	});
	const recent: string[] = [];
	const filter = createNoiseFilter();
	const onLine = (line: string) => {
		if (!filter(line)) return;
		recent.push(line);
		if (recent.length > 60) recent.shift();
		options.onLine?.(line);
	};
	if (child.stdout) forEachLine(child.stdout, onLine);
	if (child.stderr) forEachLine(child.stderr, onLine);

	const exited = new Promise<number | string>((resolve) => {
		child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
		child.once("error", (error) => {
			onLine(`failed to start wrangler: ${error.message}`);
			resolve("spawn error");
		});
	});
	let stopped = false;

	// Signals the whole group: wrangler, its workerd and esbuild.
	const signalGroup = (signal: NodeJS.Signals) => {
		if (stopped || child.pid === undefined) return;
		try {
			process.kill(-child.pid, signal);
		} catch {
			// ESRCH: the group is already gone.
		}
	};

	return {
		child,
		url: `http://${ip}:${options.port}`,
		exited,
		recentOutput: () => recent.join("\n"),
		async stop(graceMs = 5000) {
			signalGroup("SIGTERM");
			const timedOut = await Promise.race([exited.then(() => false), delay(graceMs).then(() => true)]);
			if (timedOut) {
				signalGroup("SIGKILL");
				await Promise.race([exited, delay(2000)]);
			}
			// workerd may outlive wrangler by a moment: make sure nothing of the group is left.
			signalGroup("SIGKILL");
			stopped = true;
		},
		killNow() {
			signalGroup("SIGKILL");
		},
	};
}

/**
 * A line filter dropping wrangler's offline warning about `Request.cf` and the
 * `getaddrinfo ENOTFOUND workers.cloudflare.com` stack trace that follows it.
 */
export function createNoiseFilter(): (line: string) => boolean {
	let inNoise = false;
	return (line) => {
		if (/Unable to fetch the `Request\.cf` object/.test(line)) {
			inNoise = true;
			return false;
		}
		if (inNoise && (/^Error: getaddrinfo \w+ workers\.cloudflare\.com/.test(line) || /^\s+at /.test(line))) {
			return false;
		}
		inNoise = false;
		return true;
	};
}

function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
	let buffered = "";
	stream.setEncoding("utf8");
	stream.on("data", (chunk: string) => {
		buffered += chunk;
		const lines = buffered.split("\n");
		buffered = lines.pop() ?? "";
		for (const line of lines) onLine(stripAnsi(line.replace(/\r$/, "")));
	});
	stream.on("end", () => {
		if (buffered) onLine(stripAnsi(buffered));
	});
}

function stripAnsi(text: string): string {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point.
	return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
}

export function delay(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `url` until it answers 2xx; throws after `timeoutMs`, or as soon as `exited` resolves.
 *
 * @example
 * await waitForHealth("http://127.0.0.1:8787/healthz", { timeoutMs: 60_000, exited: dev.exited });
 */
export async function waitForHealth(
	url: string,
	options: { timeoutMs?: number; intervalMs?: number; exited?: Promise<number | string> } = {},
): Promise<void> {
	const deadline = Date.now() + (options.timeoutMs ?? 60_000);
	let exitedWith: number | string | undefined;
	void options.exited?.then((code) => {
		exitedWith = code;
	});
	while (Date.now() < deadline) {
		if (exitedWith !== undefined) throw new Error(`wrangler dev exited (${exitedWith}) before ${url} answered`);
		try {
			const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
			await response.body?.cancel();
			if (response.ok) return;
		} catch {
			// Not listening yet.
		}
		await delay(options.intervalMs ?? 250);
	}
	throw new Error(`${url} did not answer within ${options.timeoutMs ?? 60_000} ms`);
}

/** Resolves true when nothing listens on `host:port` (by listening on it for a moment). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
	return new Promise((resolve) => {
		const server = createServer();
		server.once("error", () => resolve(false));
		server.listen(port, host, () => server.close(() => resolve(true)));
	});
}

/** A port nothing listens on right now, picked by the OS. */
export function freePort(host = "127.0.0.1"): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, host, () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

/** Quotes a word for a POSIX shell, for the copy-paste commands in the banner. */
export function shellQuote(text: string): string {
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
