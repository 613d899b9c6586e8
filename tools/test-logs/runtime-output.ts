/**
 * Catches what the workerd runtime prints under `@cloudflare/vitest-plugin`: its warnings,
 * "uncaught exception" reports with their native stacks, alarm notices, and any console line
 * that vitest did not intercept.
 *
 * Why a hook on `process.stdout.write`: the plugin (1.5) starts Miniflare with its own
 * `handleStructuredLogs` that writes each runtime message straight to this process's
 * stdout or stderr, and it does not pass Miniflare's top-level options through (only per-Worker
 * ones), so there is no option to hand it another handler. This hook takes exactly the writes
 * made by that function (it looks at the caller in the stack) and leaves every other write,
 * vitest's own reporting included, alone. Should a later plugin rename the function, nothing is
 * caught and the messages print as before: louder, never lost.
 */

/** Where a runtime message went: workerd's stdout or its stderr (warnings and errors). */
export type RuntimeStream = "stdout" | "stderr";

export interface RuntimeOutputOptions {
	/** Called with each message the runtime printed, without its final newline. */
	onMessage: (stream: RuntimeStream, message: string) => void;
	/**
	 * Also print it, as without this hook (`TEST_LOGS=1`).
	 * @default false
	 */
	passThrough?: boolean;
}

/** The plugin's writer: a frame of `handleStructuredLogs` in a file of @cloudflare/vitest-plugin. */
const RUNTIME_WRITER = /\bat handleStructuredLogs \([^\n]*[\\/]@cloudflare[\\/]vitest-plugin[\\/]/;

/**
 * Starts catching the runtime's messages; returns a function that stops.
 *
 * @example
 * const stop = divertRuntimeOutput({ onMessage: (stream, text) => appendTestLog(dir, "runtime", `workerd ${stream}`, text) });
 * // … the run …
 * stop();
 */
export function divertRuntimeOutput(options: RuntimeOutputOptions): () => void {
	const restore = (["stdout", "stderr"] as const).map((name) => {
		const stream = process[name];
		const original = stream.write;
		const write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
			if (typeof chunk === "string" && fromRuntime()) {
				options.onMessage(name, chunk.replace(/\r?\n$/, ""));
				if (!options.passThrough) {
					const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
					if (callback) process.nextTick(callback);
					return true;
				}
			}
			return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
		};
		stream.write = write as typeof stream.write;
		return () => {
			if (stream.write === write) stream.write = original;
		};
	});
	return () => {
		for (const undo of restore) undo();
	};
}

function fromRuntime(): boolean {
	const limit = Error.stackTraceLimit;
	// Deep enough for the plugin's frame right above this hook, and no deeper: this runs on every write.
	Error.stackTraceLimit = 6;
	const stack = new Error().stack ?? "";
	Error.stackTraceLimit = limit;
	return RUNTIME_WRITER.test(stack);
}
