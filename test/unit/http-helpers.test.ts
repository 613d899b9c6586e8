/** The shared outbound HTTP helpers (src/http.ts): the bounded stream reader and the timeout test. */
import { describe, expect, it } from "vitest";
import { isTimeoutError, readAtMost } from "../../src/http.ts";

/** A stream of the given chunks that records whether it was cancelled. */
function chunked(...chunks: string[]) {
	const state = { cancelled: false, pulled: 0 };
	const encoder = new TextEncoder();
	const stream = new ReadableStream<Uint8Array>({
		pull(controller) {
			const next = chunks[state.pulled++];
			if (next === undefined) controller.close();
			else controller.enqueue(encoder.encode(next));
		},
		cancel() {
			state.cancelled = true;
		},
	});
	return { stream, state };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("readAtMost", () => {
	it("reads a stream within the limit whole, without overflow", async () => {
		const { stream, state } = chunked("hello ", "world");
		const read = await readAtMost(stream, 11);
		expect(text(read.bytes)).toBe("hello world");
		expect(read.overflow).toBe(false);
		expect(state.cancelled).toBe(false);
	});

	it("stops past the limit: the first maxBytes bytes, overflow, and the rest cancelled unread", async () => {
		const { stream, state } = chunked("abcd", "efgh", "ijkl", "mnop");
		const read = await readAtMost(stream, 6);
		expect(text(read.bytes)).toBe("abcdef");
		expect(read.overflow).toBe(true);
		expect(state.cancelled).toBe(true);
		expect(state.pulled).toBeLessThan(4);
	});

	it("reads an empty stream as no bytes", async () => {
		const read = await readAtMost(chunked().stream, 10);
		expect(read.bytes.byteLength).toBe(0);
		expect(read.overflow).toBe(false);
	});

	it("with a limit of 0, says any byte at all is an overflow", async () => {
		const read = await readAtMost(chunked("x").stream, 0);
		expect(read.bytes.byteLength).toBe(0);
		expect(read.overflow).toBe(true);
	});
});

describe("isTimeoutError", () => {
	it("is true for a timeout signal's abort and for an abort", () => {
		expect(isTimeoutError(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toBe(true);
		expect(isTimeoutError(new DOMException("stopped", "AbortError"))).toBe(true);
	});

	it("is true for what AbortSignal.timeout really throws", async () => {
		const never = new Promise((_, reject) => {
			const signal = AbortSignal.timeout(1);
			signal.addEventListener("abort", () => reject(signal.reason));
		});
		const error = await never.catch((e: unknown) => e);
		expect(isTimeoutError(error)).toBe(true);
	});

	it("is false for network errors and non-errors", () => {
		expect(isTimeoutError(new TypeError("Network connection lost."))).toBe(false);
		expect(isTimeoutError("TimeoutError")).toBe(false);
		expect(isTimeoutError(null)).toBe(false);
	});
});
