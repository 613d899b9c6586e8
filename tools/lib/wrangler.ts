/**
 * `wrangler dev` as a child process, for every Node-side harness: `npm start`, the end-to-end
 * tests (test/node/stack.ts), the benchmark (bench/lib/stack.ts) and the chaos run
 * (bench/chaos/relay.ts). It spawns the project's own wrangler in its own process group (so that
 * stopping it stops workerd and esbuild too), filters wrangler's harmless offline noise, and waits
 * for the relay's health check.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

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

/** Resolves after `ms` milliseconds. */
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
