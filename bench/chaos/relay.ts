/**
 * The relay under `wrangler dev`, crashable: `crash()` SIGKILLs wrangler's whole
 * process group (wrangler's Node, workerd, everything it started) and starts it
 * again on the same port and the same persisted state directory, as a machine
 * losing power would leave it.
 */
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { freePort, isPortFree } from "../../tools/lib/ports.ts";
import { delay, spawnWranglerDev, type WranglerDev, waitForHealth } from "../../tools/lib/wrangler.ts";

export interface CrashRecord {
	/** ms since the run started */
	killedAtMs: number;
	/** Processes in wrangler's group when it was killed (wrangler's Node, workerd…). */
	processesKilled: number;
	/** ms from the SIGKILL to /healthz answering again. */
	downMs: number;
	readyAtMs: number;
}

export interface CrashableRelay {
	/** `http://127.0.0.1:<port>`, the same across restarts. */
	url: string;
	/** False from a SIGKILL until the restarted relay answers /healthz. */
	isUp(): boolean;
	crash(runStartedAtMs: number): Promise<CrashRecord>;
	/**
	 * Fires the Worker's `scheduled` handler once (wrangler dev serves `/cdn-cgi/local/scheduled`).
	 * @example await relay.fireScheduled("*\/1 * * * *") // { status: 200, outcome: "ok" }
	 */
	fireScheduled(cron: string): Promise<{ status: number; outcome: string }>;
	recentOutput(): string;
	/** SIGTERM, then SIGKILL: the whole tree, whatever state it is in. */
	stop(): Promise<void>;
	/** SIGKILL now, synchronously (for `process.on("exit")`). */
	killNow(): void;
}

/** Pids whose process group is `pgid`, from Linux `/proc` (empty elsewhere). */
export function groupMembers(pgid: number): number[] {
	const members: number[] = [];
	let names: string[];
	try {
		names = readdirSync("/proc");
	} catch {
		return members;
	}
	for (const name of names) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const stat = readFileSync(`/proc/${name}/stat`, "utf8");
			// Fields after the command's closing parenthesis: state, ppid, pgrp…
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(name));
		} catch {
			// Gone between readdir and read.
		}
	}
	return members;
}

/**
 * Starts the relay and resolves once it answers /healthz.
 *
 * @example
 * const relay = await startCrashableRelay({ root, port, persistTo, envFile });
 * await relay.crash(runStartedAt); // SIGKILL, restart on the same state
 * await relay.stop();
 */
export async function startCrashableRelay(options: {
	root: string;
	port: number;
	persistTo: string;
	envFile: string;
	verbose: boolean;
	log: (line: string) => void;
	/** Every line wrangler prints, across restarts, is appended here. */
	logFile: string;
}): Promise<CrashableRelay> {
	let current: WranglerDev | undefined;
	let up = false;
	const output: string[] = [];

	let buffered: string[] = [];
	const flush = () => {
		if (buffered.length === 0) return;
		appendFileSync(options.logFile, `${buffered.join("\n")}\n`);
		buffered = [];
	};
	const flusher = setInterval(flush, 1000);
	flusher.unref();

	const spawnOnce = async (): Promise<WranglerDev> => {
		buffered.push(`=== wrangler dev start at ${new Date().toISOString()} ===`);
		const dev = spawnWranglerDev({
			root: options.root,
			port: options.port,
			persistTo: options.persistTo,
			envFiles: [options.envFile],
			inspectorPort: await freePort(),
			onLine: (line) => {
				output.push(line);
				buffered.push(`${new Date().toISOString()} ${line}`);
				if (output.length > 200) output.shift();
				if (options.verbose) options.log(`[relay] ${line}`);
			},
		});
		current = dev;
		return dev;
	};

	/** Starts wrangler; a start that dies early (a port not yet released) is retried, 3 times at most. */
	const start = async () => {
		let lastError: unknown;
		for (let attempt = 1; attempt <= 3; attempt++) {
			for (let i = 0; i < 40 && !(await isPortFree(options.port)); i++) await delay(250);
			const dev = await spawnOnce();
			try {
				await waitForHealth(`http://127.0.0.1:${options.port}/healthz`, { timeoutMs: 120_000, exited: dev.exited });
				up = true;
				return;
			} catch (error) {
				lastError = error;
				await dev.stop(2000);
				options.log(`wrangler dev did not come up (attempt ${attempt}): ${(error as Error).message}`);
			}
		}
		throw new Error(`wrangler dev did not start: ${String(lastError)}\n${output.slice(-30).join("\n")}`);
	};

	await start();

	return {
		url: `http://127.0.0.1:${options.port}`,
		isUp: () => up,
		async crash(runStartedAtMs) {
			const dev = current;
			if (!dev?.child.pid) throw new Error("no wrangler dev to crash");
			const pgid = dev.child.pid;
			const processesKilled = groupMembers(pgid).length;
			const killedAt = Date.now();
			up = false;
			dev.killNow();
			await Promise.race([dev.exited, delay(5000)]);
			// workerd may take a moment longer to be reaped: wait (bounded) until the group is empty.
			for (let i = 0; i < 50 && groupMembers(pgid).length > 0; i++) await delay(100);
			buffered.push(`=== SIGKILL to process group ${pgid} at ${new Date(killedAt).toISOString()} ===`);
			const left = groupMembers(pgid);
			if (left.length > 0)
				throw new Error(`processes of wrangler's group ${pgid} survived SIGKILL: ${left.join(", ")}`);
			await start();
			const readyAt = Date.now();
			return {
				killedAtMs: killedAt - runStartedAtMs,
				processesKilled,
				downMs: readyAt - killedAt,
				readyAtMs: readyAt - runStartedAtMs,
			};
		},
		async fireScheduled(cron) {
			const url = `http://127.0.0.1:${options.port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}&format=json`;
			try {
				const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
				const text = await response.text();
				let outcome = text.slice(0, 200);
				try {
					outcome = String((JSON.parse(text) as { outcome?: unknown }).outcome ?? outcome);
				} catch {
					// Not JSON: keep the text.
				}
				return { status: response.status, outcome };
			} catch (error) {
				return { status: 0, outcome: String(error) };
			}
		},
		recentOutput: () => output.slice(-60).join("\n"),
		async stop() {
			up = false;
			await current?.stop();
			clearInterval(flusher);
			flush();
		},
		killNow() {
			current?.killNow();
		},
	};
}
