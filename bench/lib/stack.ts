/**
 * Starts what one benchmark scenario runs against, on loopback, and makes sure
 * it all stops: a Worker under `wrangler dev` (the relay, or the bare ceiling
 * Worker) on a fresh temporary state directory, with its settings in one
 * temporary `--env-file` (so a developer's `.dev.vars` never leaks in).
 *
 * wrangler dev runs on a snapshot of the Worker's sources, copied into the
 * temporary directory at start (with `node_modules` linked): wrangler watches
 * its sources and reloads the Worker when they change, and other people edit
 * this tree while a run goes on. A reload mid-run resets every Durable Object,
 * and would be measured as the relay's doing. The snapshot also gives each
 * wrangler its own `.wrangler/tmp`, which concurrent instances otherwise share.
 *
 * Every start registers its stop with a `Cleanup`, which the entry point runs
 * at the end, on an error, and on SIGINT/SIGTERM; wrangler's process group is
 * also SIGKILLed synchronously on process exit, whatever happened.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeEnvFile } from "../../tools/dev-vars.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { spawnWranglerDev, type WranglerDev, waitForHealth } from "../../tools/lib/wrangler.ts";
import { sampleTree, type TreeSampler } from "./proc.ts";

export const ROOT = join(import.meta.dirname, "..", "..");

/** What the relay is built from: copied for each run (see the module header). */
export const RELAY_SOURCES = ["src", "wrangler.toml", "package.json", "tsconfig.json"];

/** Stops registered in start order, run in reverse; safe to run twice. */
export class Cleanup {
	private readonly stops: { label: string; stop: () => Promise<void> }[] = [];
	private readonly kills = new Set<() => void>();
	private running: Promise<void> | undefined;

	constructor() {
		process.on("exit", () => {
			for (const kill of this.kills) kill();
		});
	}

	/** Registers an async stop; returns a function that runs it now and unregisters it. */
	add(label: string, stop: () => Promise<void>, killNow?: () => void): () => Promise<void> {
		const entry = { label, stop };
		this.stops.push(entry);
		if (killNow) this.kills.add(killNow);
		let done: Promise<void> | undefined;
		return () => {
			done ??= (async () => {
				const index = this.stops.indexOf(entry);
				if (index >= 0) this.stops.splice(index, 1);
				try {
					await stop();
				} finally {
					if (killNow) this.kills.delete(killNow);
				}
			})();
			return done;
		};
	}

	/** Runs every stop still registered, newest first; errors are reported, not thrown. */
	run(): Promise<void> {
		this.running ??= (async () => {
			while (this.stops.length > 0) {
				const entry = this.stops.pop();
				if (!entry) break;
				try {
					await entry.stop();
				} catch (error) {
					console.error(`bench: stopping ${entry.label} failed: ${String(error)}`);
				}
			}
			for (const kill of this.kills) kill();
		})();
		return this.running;
	}
}

export interface RunningWorker {
	url: string;
	/** The DevTools inspector of the Worker (`bench/profile.ts` takes CPU profiles through it). */
	inspectorPort: number;
	wrangler: WranglerDev;
	/** Samples workerd (RSS, CPU) under this wrangler dev. */
	sampler: TreeSampler;
	/** Lines wrangler printed that look like errors, with how many there were. */
	/** Warning and error lines: how many, tallied by kind (see `errorKind`), the first of each kind, and the last 20. */
	errorLines(): {
		count: number;
		by_kind: Record<string, number>;
		first_of_kind: Record<string, string>;
		last: string[];
	};
	stop(): Promise<void>;
}

export interface StartWorkerOptions {
	label: string;
	/** The settings, written to one temporary `--env-file`. */
	vars: Record<string, string>;
	/** Files and folders (relative to the repo root) the Worker is built from; copied at start. */
	sources: string[];
	/**
	 * Take `sources` from this git revision (`git archive`) instead of the working tree.
	 * @default undefined: the working tree as it is at start
	 */
	revision?: string;
	/** The wrangler config, relative to the repo root (and one of `sources`). */
	config: string;
	startupTimeoutMs: number;
	sampleMs: number;
	verbose: boolean;
	cleanup: Cleanup;
}

/**
 * Where each run's snapshot and local state go: memory (`/dev/shm`) when there is one, so
 * that the Durable Objects' SQLite writes cost what they cost in workerd, not this VM's disk
 * flushes (on Cloudflare, storage is not a local disk). `BENCH_STATE_ROOT` overrides it.
 */
function stateRoot(): string {
	const chosen = process.env.BENCH_STATE_ROOT;
	if (chosen) return chosen;
	return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

/** `scale` keeps 10 000 Durable Objects open at once, each with its SQLite files (tools/lib/wrangler.ts). */
const MAX_OPEN_FILES = 262_144;

const ERROR_LINE = /\b(error|exception|uncaught|failed)\b/i;

/**
 * Starts a Worker under wrangler dev on free loopback ports and waits for `/healthz`.
 *
 * @example
 * const relay = await startWorker({ label: "relay", vars, sources: RELAY_SOURCES, config: "wrangler.toml", startupTimeoutMs: 90_000, sampleMs: 250, verbose: false, cleanup });
 * await fetch(`${relay.url}/healthz`);
 * await relay.stop();
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
	const dir = mkdtempSync(join(stateRoot(), `sonar-relay-bench-${options.label}-`));
	const snapshot = join(dir, "worker");
	if (options.revision === undefined) {
		for (const source of options.sources) cpSync(join(ROOT, source), join(snapshot, source), { recursive: true });
	} else {
		mkdirSync(snapshot, { recursive: true });
		const tar = join(dir, "sources.tar");
		execFileSync("git", ["archive", "--format=tar", "-o", tar, options.revision, "--", ...options.sources], {
			cwd: ROOT,
		});
		execFileSync("tar", ["-xf", tar, "-C", snapshot]);
	}
	symlinkSync(join(ROOT, "node_modules"), join(snapshot, "node_modules"), "dir");
	const envFile = join(dir, "bench.env");
	writeEnvFile(envFile, options.vars);
	const [port, inspectorPort] = [await freePort(), await freePort()];
	const errors: string[] = [];
	let errorCount = 0;
	const errorKinds = new Map<string, number>();
	const errorSamples = new Map<string, string>();
	const wrangler = spawnWranglerDev({
		root: snapshot,
		port,
		persistTo: join(dir, "state"),
		envFiles: [envFile],
		configPath: join(snapshot, options.config),
		inspectorPort,
		maxOpenFiles: MAX_OPEN_FILES,
		// Per-request log lines cost wrangler CPU on the same two cores; warnings and errors still show.
		env: options.verbose ? {} : { WRANGLER_LOG: "warn" },
		onLine: (line) => {
			if (options.verbose) console.log(`[${options.label}] ${line}`);
			if (ERROR_LINE.test(line)) {
				errorCount++;
				const kind = errorKind(line);
				errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
				if (!errorSamples.has(kind)) errorSamples.set(kind, line.slice(0, 400));
				errors.push(line);
				if (errors.length > 20) errors.shift();
			}
		},
	});
	let sampler: TreeSampler | undefined;
	const stop = options.cleanup.add(
		`wrangler dev (${options.label})`,
		async () => {
			sampler?.stop();
			await wrangler.stop();
			rmSync(dir, { recursive: true, force: true });
		},
		() => wrangler.killNow(),
	);
	try {
		await waitForHealth(`${wrangler.url}/healthz`, {
			timeoutMs: options.startupTimeoutMs,
			exited: wrangler.exited,
		});
	} catch (error) {
		const output = wrangler.recentOutput();
		await stop();
		throw new Error(`${options.label}: wrangler dev did not start: ${(error as Error).message}\n${output}`, {
			cause: error,
		});
	}
	sampler = sampleTree(wrangler.child.pid, { match: /^workerd$/, intervalMs: options.sampleMs });
	const running = sampler;
	return {
		url: wrangler.url,
		inspectorPort,
		wrangler,
		sampler: running,
		errorLines: () => ({
			count: errorCount,
			by_kind: Object.fromEntries([...errorKinds].sort((a, b) => b[1] - a[1])),
			first_of_kind: Object.fromEntries(errorSamples),
			last: [...errors],
		}),
		stop,
	};
}

/**
 * What a warning line is about, for a tally: the relay's structured records by
 * event, call and error (`upstream.retry poll timeout`), anything else by its
 * first words.
 *
 * @example
 * errorKind('▲ [WARNING] {"event":"upstream.retry","call":"poll","error":"timeout"}'); // "upstream.retry poll timeout"
 */
export function errorKind(line: string): string {
	const json = line.indexOf("{");
	if (json >= 0) {
		try {
			const record = JSON.parse(line.slice(json)) as Record<string, unknown>;
			if (typeof record.event === "string") {
				return [record.event, record.call, record.error ?? record.outcome]
					.filter((part) => typeof part === "string")
					.join(" ");
			}
		} catch {
			// Not a record of ours: fall through to its words.
		}
	}
	return line.replace(/\s+/g, " ").trim().split(" ").slice(0, 4).join(" ");
}
