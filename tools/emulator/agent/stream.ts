/**
 * An Agent API event-stream connection: Server-Sent Events, `event: <type>` and
 * `data: <json>` per event, no `[DONE]` marker; the stream closes after the
 * terminal event. It sends the run's planned events from a cursor on, the past
 * ones at once and the later ones as their instants come, waiting with the
 * injected `sleep`. It stops when the client goes away.
 *
 * A dropped connection (`[[emu:stream-drop=N]]`, the `streamDropRate` fault) is
 * cut abruptly: on Node the socket is destroyed mid-body; in-process, the body
 * stream errors. Either way the client sees no terminal event and no clean end.
 */
import type { Runtime } from "../runtime.ts";
import { withDrift, withFieldDrift } from "./answer.ts";
import { type AgentRun, eventsOf, type PlannedEvent, runNow } from "./run.ts";

export interface StreamOptions {
	runtime: Runtime;
	run: AgentRun;
	/** The last sequence number the client has; -1 for all. */
	startingAfter: number;
	/** The client's request signal: the stream stops when it aborts. */
	signal: AbortSignal;
	/** Cut the connection once this many events have been sent on it. */
	dropAfter?: number;
	/** Cuts the transport abruptly (Node: destroys the socket); absent in-process. */
	destroy?: () => void;
	/** Streams open on this emulator, so `reset()` can end them. */
	open: Set<AbortController>;
}

/** Resolves when the run changes (or the signal aborts). */
function changed(run: AgentRun, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			run.waiters.delete(done);
			signal.removeEventListener("abort", done);
			resolve();
		};
		run.waiters.add(done);
		signal.addEventListener("abort", done, { once: true });
	});
}

/**
 * Waits `ms` with the injected sleep, unless the run changes first (a cancel).
 * True when the whole wait was slept: the caller may then trust that its time has come.
 */
export async function sleepUnlessChanged(
	runtime: Runtime,
	run: AgentRun,
	ms: number,
	signal: AbortSignal,
): Promise<boolean> {
	const wake = new AbortController();
	const stop = () => wake.abort();
	signal.addEventListener("abort", stop, { once: true });
	let woken = false;
	const onChange = () => {
		woken = true;
		wake.abort();
	};
	run.waiters.add(onChange);
	try {
		await Promise.race([runtime.sleep(ms, wake.signal), changed(run, wake.signal)]);
	} finally {
		run.waiters.delete(onChange);
		signal.removeEventListener("abort", stop);
		// Ends the losing wait (a real timer), so nothing outlives the call.
		wake.abort();
	}
	return !woken && !signal.aborted;
}

/**
 * The next event of the stream, waiting for its instant; undefined if the
 * client went away or there is none.
 */
async function nextEvent(runtime: Runtime, run: AgentRun, index: number, signal: AbortSignal) {
	for (;;) {
		if (signal.aborted) return undefined;
		const planned: PlannedEvent | undefined = eventsOf(run)[index];
		if (!planned) return undefined;
		const now = runNow(run, runtime.now());
		if (planned.atMs <= now) return planned;
		if (!Number.isFinite(planned.atMs)) {
			// A `steps` run: only a GET (or a cancel) moves it on.
			await changed(run, signal);
			continue;
		}
		if (await sleepUnlessChanged(runtime, run, planned.atMs - now, signal)) {
			// The sleep said the instant has come, even if an injected clock did not move: believe it.
			run.advancedToMs = Math.max(run.advancedToMs, planned.atMs);
		}
	}
}

const encoder = new TextEncoder();

/** `[[emu:drift]]` on an event: an unknown field, and the drifted Response inside, if any. */
function drifted(event: PlannedEvent["event"]): { type: string } {
	const withField: { type: string; response?: unknown } = withFieldDrift(event);
	if ("response" in event && event.response) withField.response = withDrift(event.response);
	return withField;
}

/** One SSE frame. */
function frame(event: object & { type: string }): Uint8Array {
	return encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/**
 * The body of an event-stream answer.
 *
 * @example
 * return c.body(openStream({ runtime, run, startingAfter: -1, signal: c.req.raw.signal, open }), 200, SSE_HEADERS);
 */
export function openStream(options: StreamOptions): ReadableStream<Uint8Array> {
	const { runtime, run, open } = options;
	const local = new AbortController();
	const stop = () => local.abort();
	options.signal.addEventListener("abort", stop, { once: true });
	open.add(local);
	let cursor = options.startingAfter + 1;
	let sent = 0;
	const finish = () => {
		options.signal.removeEventListener("abort", stop);
		open.delete(local);
		local.abort();
	};

	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			if (options.dropAfter !== undefined && sent >= options.dropAfter) {
				finish();
				if (options.destroy) {
					options.destroy();
					controller.close();
				} else {
					controller.error(new Error("Emulated stream drop"));
				}
				return;
			}
			const planned = await nextEvent(runtime, run, cursor, local.signal);
			if (!planned) {
				finish();
				controller.close();
				return;
			}
			controller.enqueue(frame(run.markers.drift ? drifted(planned.event) : planned.event));
			cursor++;
			sent++;
			if (planned.terminal) {
				finish();
				controller.close();
			}
		},
		cancel() {
			finish();
		},
	});
}

export const SSE_HEADERS = {
	"content-type": "text/event-stream; charset=utf-8",
	"cache-control": "no-cache",
} as const;
