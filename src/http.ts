/**
 * HTTP helpers. For the routers: a size-capped body read, JSON parsing that answers 400 rather than
 * throwing, and the hook that turns a route's zod validation failure into the spec's 422. Bodies are
 * parsed whatever their content-type says, because `curl -d` and many no-code tools send JSON as
 * form-urlencoded: `jsonBody` reads them and hands the route's validator JSON. For every outbound
 * call (upstream, webhooks): the one bounded stream reader and the one test of whether a fetch was
 * cut short by its timeout.
 */

import type { z } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import { createMiddleware } from "hono/factory";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "./env.ts";
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

/** The body's text as JSON: malformed or empty JSON is a 400, nesting past MAX_JSON_DEPTH a 422. */
function checkJson(text: string): unknown {
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

/**
 * Route middleware for a JSON body: reads it capped at `MAX_BODY_BYTES` (413), parses it (400),
 * refuses nesting past `MAX_JSON_DEPTH` (422), and passes it on as `application/json` whatever the
 * caller's content-type said, so the route's own validator (declared with `createRoute`) checks it.
 *
 * @example
 * const create = createRoute({ method: "post", path: "/", middleware: [jsonBody], request: jsonRequest(CreateJobBody, example), … });
 */
export const jsonBody = createMiddleware<AppEnv>(async (c, next) => {
	const text = await readBody(c, c.get("settings").maxBodyBytes);
	checkJson(text);
	const headers = new Headers(c.req.raw.headers);
	headers.set("content-type", "application/json");
	c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: text });
	await next();
});

/** Where each of Hono's validation targets sits in a 422's `loc`. */
const SOURCES: Record<string, ValidationSource> = { json: "body", form: "body", query: "query", param: "path" };

/**
 * The `defaultHook` of every OpenAPIHono router: a route's failed validation becomes the spec's 422
 * (`HTTPValidationError`, `loc` rooted at `body`, `query` or `path`), thrown so that a surface with
 * its own error envelope (the Agent API's) renders it in its `onError`.
 *
 * @example
 * new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
 */
export function validationHook(
	result: { target: string } & ({ success: true } | { success: false; error: z.ZodError; data?: unknown }),
): void {
	if (result.success) return;
	const source = SOURCES[result.target] ?? "header";
	throw new RequestValidationError(toValidationError(withInputs(result.error, result.data), source));
}

/**
 * The issues with the value each was about: zod reports it only when asked (`reportInput`), and the
 * route's validator does not ask, but a 422 tells a missing field from one of the wrong type by it.
 */
function withInputs(error: z.ZodError, input: unknown): z.ZodError {
	for (const issue of error.issues) {
		if (issue.code !== "invalid_type" || "input" in issue) continue;
		let value: unknown = input;
		for (const key of issue.path) {
			value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
		}
		Object.assign(issue, { input: value });
	}
	return error;
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

/**
 * A stored JSON document of `schema` (a result from KV), sent as stored: a long answer is not
 * parsed and written out again. Typed as the route's JSON answer, which the text already is.
 *
 * @example
 * if (cached !== null) return storedJson(c, RelayJob, cached);
 */
export function storedJson<S extends z.ZodType>(
	c: Context,
	_schema: S,
	text: string,
	headers: Record<string, string> = {},
): TypedResponse<JSONParsed<z.output<S>>, 200, "json"> {
	const response = c.body(text, 200, { ...headers, "content-type": "application/json" });
	return response as unknown as TypedResponse<JSONParsed<z.output<S>>, 200, "json">;
}
