/**
 * Starts what one benchmark scenario runs against, on loopback, and makes sure
 * it all stops: a Worker under `wrangler dev` (the relay, or the bare ceiling
 * Worker) on a fresh temporary state directory, with its settings in one
 * temporary `--env-file` (so a developer's `.dev.vars` never leaks in).
 *
 * Every start registers its stop with a `Cleanup`, which the entry point runs
 * at the end, on an error, and on SIGINT/SIGTERM; wrangler's process group is
 * also SIGKILLed synchronously on process exit, whatever happened.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeEnvFile } from "../../tools/dev-vars.ts";
import { freePort, spawnWranglerDev, type WranglerDev, waitForHealth } from "../../tools/start.ts";
import { sampleTree, type TreeSampler } from "./proc.ts";

export const ROOT = join(import.meta.dirname, "..", "..");

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
	wrangler: WranglerDev;
	/** Samples workerd (RSS, CPU) under this wrangler dev. */
	sampler: TreeSampler;
	/** Lines wrangler printed that look like errors, with how many there were. */
	errorLines(): { count: number; last: string[] };
	stop(): Promise<void>;
}

export interface StartWorkerOptions {
	label: string;
	/** The settings, written to one temporary `--env-file`. */
	vars: Record<string, string>;
	/** @default the relay's wrangler.toml */
	configPath?: string;
	startupTimeoutMs: number;
	sampleMs: number;
	verbose: boolean;
	cleanup: Cleanup;
}

const ERROR_LINE = /\b(error|exception|uncaught|failed)\b/i;

/**
 * Starts a Worker under wrangler dev on free loopback ports and waits for `/healthz`.
 *
 * @example
 * const relay = await startWorker({ label: "relay", vars, startupTimeoutMs: 90_000, sampleMs: 250, verbose: false, cleanup });
 * await fetch(`${relay.url}/healthz`);
 * await relay.stop();
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
	const dir = mkdtempSync(join(tmpdir(), `sonar-relay-bench-${options.label}-`));
	const envFile = join(dir, "bench.env");
	writeEnvFile(envFile, options.vars);
	const [port, inspectorPort] = [await freePort(), await freePort()];
	const errors: string[] = [];
	let errorCount = 0;
	const wrangler = spawnWranglerDev({
		root: ROOT,
		port,
		persistTo: join(dir, "state"),
		envFiles: [envFile],
		configPath: options.configPath,
		inspectorPort,
		// Per-request log lines cost wrangler CPU on the same two cores; warnings and errors still show.
		env: options.verbose ? {} : { WRANGLER_LOG: "warn" },
		onLine: (line) => {
			if (options.verbose) console.log(`[${options.label}] ${line}`);
			if (ERROR_LINE.test(line)) {
				errorCount++;
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
		wrangler,
		sampler: running,
		errorLines: () => ({ count: errorCount, last: [...errors] }),
		stop,
	};
}
