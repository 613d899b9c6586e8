/**
 * HTTP helpers. For the routers: a size-capped body read, JSON parsing that
 * answers 400 rather than throwing, and zod validation that answers the spec's
 * 422. Bodies are parsed whatever their content-type says, because `curl -d`
 * and many no-code tools send JSON as form-urlencoded. For every outbound call
 * (upstream, webhooks): the one bounded stream reader and the one test of
 * whether a fetch was cut short by its timeout.
 */

import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, RequestValidationError } from "./errors.ts";
import { toValidationError, type ValidationSource } from "./schemas/validation.ts";

/** Reads the raw body as text, refusing (413) anything over `maxBytes`, declared or actual. */
export async function readBody(c: Context, maxBytes: number): Promise<string> {
	return new TextDecoder().decode(await readBodyBytes(c, maxBytes));
}

/** Reads the raw body's bytes, refusing (413) anything over `maxBytes`, declared or actual. */
export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
	const declared = Number(c.req.header("content-length") ?? "0");
	if (declared > maxBytes) throw new ApiError(413, `Request body exceeds ${maxBytes} bytes`);
	const stream = c.req.raw.body;
	if (!stream) return new Uint8Array(0);
	const { bytes, overflow } = await readAtMost(stream, maxBytes);
	if (overflow) throw new ApiError(413, `Request body exceeds ${maxBytes} bytes`);
	return bytes;
}

/**
 * Reads `stream` until it ends or has given more than `maxBytes`, whichever comes first: its first
 * `maxBytes` bytes at most, and whether it held more (then the rest is cancelled, unread). Memory
 * stays bounded by `maxBytes` and one chunk, whatever the sender sends.
 *
 * @example
 * const { bytes, overflow } = await readAtMost(response.body, 4096);
 */
export async function readAtMost(
	stream: ReadableStream<Uint8Array>,
	maxBytes: number,
): Promise<{ bytes: Uint8Array; overflow: boolean }> {
	const reader = stream.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	let overflow = false;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		size += value.byteLength;
		if (size > maxBytes) {
			overflow = true;
			await reader.cancel().catch(() => {});
			break;
		}
	}
	const bytes = new Uint8Array(Math.min(size, maxBytes));
	let offset = 0;
	for (const chunk of chunks) {
		const piece = chunk.subarray(0, bytes.length - offset);
		bytes.set(piece, offset);
		offset += piece.byteLength;
		if (offset >= bytes.length) break;
	}
	return { bytes, overflow };
}

/**
 * Whether a fetch (or the read of its body) was cut short by an abort: its own timeout signal
 * (workerd names it `TimeoutError`; some runtimes say `AbortError`), or an idle timer's.
 *
 * @example
 * isTimeoutError(new DOMException("The operation was aborted due to timeout", "TimeoutError")) // true
 */
export function isTimeoutError(error: unknown): boolean {
	return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

/**
 * The deepest nesting a body may have. The deepest field of a real request
 * (a message's content chunk's URL) sits at 6; a `json_schema` may nest more.
 * Deeper bodies are refused before anything recursive (validation, hashing,
 * the Durable Object's structured clone) sees them.
 */
export const MAX_JSON_DEPTH = 64;

/** The body as JSON; malformed or empty JSON is a 400, nesting past MAX_JSON_DEPTH a 422. */
export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
	const text = await readBody(c, maxBytes);
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new ApiError(400, "Malformed JSON in request body");
	}
	if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
		throw new RequestValidationError({
			detail: [{ loc: ["body"], msg: `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, type: "value_error" }],
		});
	}
	return value;
}

/** Nesting depth of a parsed JSON value, without recursion; stops counting past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
	let deepest = 0;
	const stack: [unknown, number][] = [[value, 1]];
	while (stack.length > 0) {
		const [node, depth] = stack.pop() as [unknown, number];
		if (node === null || typeof node !== "object") continue;
		deepest = Math.max(deepest, depth);
		if (deepest > limit) return deepest;
		for (const child of Object.values(node)) stack.push([child, depth + 1]);
	}
	return deepest;
}

/** Parses `value` with `schema`, or throws the 422 with `loc` rooted at `source`. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, source: ValidationSource): z.output<S> {
	const parsed = schema.safeParse(value, { reportInput: true });
	if (!parsed.success) throw new RequestValidationError(toValidationError(parsed.error, source));
	return parsed.data;
}

/** JSON with object keys sorted, so equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
	if (value && typeof value === "object") {
		const entries = Object.entries(value as Record<string, unknown>)
			.filter(([, v]) => v !== undefined)
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
	}
	return JSON.stringify(value) ?? "null";
}
