/**
 * fast-check arbitraries for the fuzz tests: valid bodies shaped on the real
 * schemas (`src/schemas/`), mutations of them (a field dropped, a wrong type,
 * an out-of-range number, a wrong enum, `__proto__` and duplicate keys), and
 * raw material (awkward strings and numbers, random JSON, invalid UTF-8).
 *
 * Bodies are built as a small JSON tree that can also hold what `JSON.stringify`
 * cannot write: raw number tokens (`-0`, `1e309`, 2^53+1) and objects with
 * duplicate or `__proto__` keys. `toJsonText` writes it.
 *
 * Safety: the relay POSTs to any http(s) callback in tests (ALLOW_PRIVATE_CALLBACKS),
 * so URL fields are only ever drawn from `urlPool`: the loopback inbox, or URLs
 * the SSRF guard refuses even then. `sendsNowhereElse` is the net under that.
 */
import fc from "fast-check";
import { checkCallbackUrl } from "../../src/delivery/url-guard.ts";

declare module "vitest" {
	export interface ProvidedContext {
		/** Runs per fuzz property; vitest.config.ts reads it from FUZZ_RUNS (`npm run fuzz`). 0: each property's default. */
		fuzzRuns: number;
		/** Another seed, from FUZZ_SEED; 0: the fixed one. */
		fuzzSeed: number;
	}
}

// ── A JSON tree that can say what JSON.stringify cannot ──────────────────────

/** A number (or any token) written verbatim: `-0`, `1e309`, `9007199254740993`. */
export class RawJson {
	readonly text: string;
	constructor(text: string) {
		this.text = text;
	}
}

/** An object written entry by entry, so keys may repeat and `__proto__` stays an own key. */
export class JsonEntries {
	readonly entries: [string, Json][];
	constructor(entries: [string, Json][]) {
		this.entries = entries;
	}
}

export type Json = null | boolean | number | string | RawJson | JsonEntries | Json[] | { [key: string]: Json };

/** The JSON text of a tree; `undefined` members are left out, as JSON.stringify does. */
export function toJsonText(value: Json): string {
	if (value instanceof RawJson) return value.text;
	if (value instanceof JsonEntries) {
		return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(",")}}`;
	}
	if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
	if (value !== null && typeof value === "object") {
		const members = Object.keys(value)
			.filter((k) => value[k] !== undefined)
			.map((k) => `${JSON.stringify(k)}:${toJsonText(value[k] as Json)}`);
		return `{${members.join(",")}}`;
	}
	// NaN and ±Infinity are not JSON; JSON.stringify writes null for them, and so do we.
	return JSON.stringify(value) ?? "null";
}

// ── Raw material ─────────────────────────────────────────────────────────────

/** Strings that have broken parsers, validators, loggers and SQL before. */
export const NASTY_STRINGS = [
	"",
	" ",
	"\u0000",
	"\ud800",
	"\udfff",
	"\ufeff",
	"\u202e",
	"\r\n",
	"NaN",
	"Infinity",
	"-Infinity",
	"-0",
	"1e308",
	"9007199254740993",
	"null",
	"true",
	"undefined",
	"__proto__",
	"constructor",
	"prototype",
	"toString",
	"hasOwnProperty",
	"' OR 1=1 --",
	"'); DROP TABLE jobs; --",
	"$" + "{jndi:ldap://x}",
	"{{7*7}}",
	"<script>alert(1)</script>",
	"%00%ff",
	"../../../etc/passwd",
	"[[emu:steps=1]]",
	"😀".repeat(50),
	"a".repeat(5_000),
];

/** Number tokens, verbatim: the extremes and the ones JavaScript reads lossily. */
export const NASTY_NUMBERS: Json[] = [
	0,
	-1,
	1.5,
	2 ** 31,
	2 ** 53,
	Number.MAX_SAFE_INTEGER,
	1e308,
	-1e308,
	5e-324,
	new RawJson("-0"),
	new RawJson("-0.0"),
	new RawJson("9007199254740993"),
	new RawJson("1e309"),
	new RawJson("-1e309"),
	new RawJson("1E400"),
	new RawJson("1e-400"),
	new RawJson("123456789012345678901234567890"),
	new RawJson("0.30000000000000004"),
];

/** Keys that touch the prototype chain, or look like the schemas' own. */
export const NASTY_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "__defineGetter__"];

export const fuzzString: fc.Arbitrary<string> = fc.oneof(
	{ weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
	{ weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
	{ weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
	{ weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((n) => "é".repeat(n)) },
);

export const fuzzNumber: fc.Arbitrary<Json> = fc.oneof(
	fc.integer(),
	fc.double({ noNaN: true, noDefaultInfinity: true }),
	fc.constantFrom(...NASTY_NUMBERS),
);

export const fuzzKey: fc.Arbitrary<string> = fc.oneof(
	{ weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
	{ weight: 1, arbitrary: fc.constantFrom(...NASTY_KEYS) },
);

/** Any JSON, a few levels deep, with awkward leaves, prototype keys and duplicate keys. */
export const fuzzJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
	value: fc.oneof(
		{ depthSize: "small", withCrossShrink: true },
		fc.constant(null),
		fc.boolean(),
		fuzzNumber,
		fuzzString,
		fc.array(tie("value"), { maxLength: 4 }),
		fc.dictionary(fc.string({ maxLength: 12 }), tie("value"), { maxKeys: 4 }),
		fc.array(fc.tuple(fuzzKey, tie("value")), { maxLength: 4 }).map((entries) => new JsonEntries(entries)),
	),
})).value;

// ── URLs: the loopback inbox, or what the guard refuses even in development ──

/** Refused by `checkCallbackUrl` even with ALLOW_PRIVATE_CALLBACKS=true: never fetched. */
export const REFUSED_URLS = [
	"",
	"not a url",
	"/hooks/relative",
	"//127.0.0.1/x",
	"ftp://127.0.0.1/x",
	"file:///etc/passwd",
	"javascript:alert(1)",
	"data:text/plain,hi",
	"gopher://127.0.0.1:70/_",
	"ws://127.0.0.1/x",
	"http://user:pass@127.0.0.1/x",
	"https://:secret@127.0.0.1/x",
	"http://",
	"https://[::1",
	"http://[fe80::1%25eth0]:x/",
	`http://127.0.0.1/${"a".repeat(2_100)}`,
];

/** The inbox names the fuzz tests post to. */
export const INBOX_NAMES = ["fuzz-a", "fuzz-b", "fuzz-c"];

/** Loopback inbox URLs, scripted to succeed or fail, and refused ones. `gone` adds 410s (not for hooks). */
export function urlPool(inbox: string, { gone = true } = {}): fc.Arbitrary<string> {
	const scripts = ["", "?status=200", "?fail=1&status=500", "?fail=1&status=503&retry_after=1"];
	if (gone) scripts.push("?status=410");
	return fc.oneof(
		fc
			.tuple(fc.constantFrom(...INBOX_NAMES), fc.constantFrom(...scripts))
			.map(([name, query]) => `${inbox}/hooks/${name}${query}`),
		fc.constantFrom(...REFUSED_URLS),
	);
}

/**
 * True when every URL field the relay would call back (`callback_url`,
 * `target_url`, `response_url`) is the loopback inbox or one the guard refuses.
 * Mutations put only pool values there; this keeps it so whatever they do.
 */
export function sendsNowhereElse(fields: Record<string, unknown> | null, inbox: string): boolean {
	if (!fields) return true;
	return ["callback_url", "target_url", "response_url"].every((name) => {
		const value = fields[name];
		if (typeof value !== "string") return true;
		return value.startsWith(`${inbox}/`) || !checkCallbackUrl(value, { allowPrivate: true }).ok;
	});
}

// ── Valid bodies, from the schemas ───────────────────────────────────────────

const text = fc.string({ maxLength: 40 });
const exampleUrl = fc.constantFrom(
	"https://example.com/a.png",
	"https://example.com/a.pdf",
	"https://example.com/v.mp4",
);

const contentChunk: fc.Arbitrary<Json> = fc.oneof(
	fc.record({ type: fc.constant("text"), text }),
	fc.record({ type: fc.constant("image_url"), image_url: fc.oneof(exampleUrl, fc.record({ url: exampleUrl })) }),
	fc.record({ type: fc.constant("file_url"), file_url: exampleUrl, file_name: fc.option(text, { nil: null }) }),
	fc.record({ type: fc.constant("pdf_url"), pdf_url: fc.record({ url: exampleUrl }) }),
	fc.record({
		type: fc.constant("video_url"),
		video_url: fc.record({ url: exampleUrl, frame_interval: fc.integer({ min: 1, max: 60 }) }),
	}),
);

const message: fc.Arbitrary<Json> = fc.record({
	role: fc.constantFrom("system", "user", "assistant"),
	content: fc.oneof(text, fc.array(contentChunk, { minLength: 1, maxLength: 3 })),
});

/** Always last: the emulator reads its markers here, and one poll finishes the job. */
const lastUserMessage = text.map((t) => ({ role: "user", content: `${t} [[emu:steps=1]]` }));

export const validRequest: fc.Arbitrary<{ [key: string]: Json }> = fc.record(
	{
		model: fc.constantFrom("sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research"),
		messages: fc
			.tuple(fc.array(message, { maxLength: 3 }), lastUserMessage)
			.map(([rest, last]) => [...rest, last] as Json[]),
		max_tokens: fc.integer({ min: 1, max: 128_000 }),
		n: fc.integer({ min: 1, max: 10 }),
		stream: fc.constant(false),
		stop: fc.oneof(text, fc.array(text, { maxLength: 3 })),
		search_recency_filter: fc.constantFrom("hour", "day", "week", "month", "year"),
		search_mode: fc.constantFrom("web", "academic", "sec"),
		reasoning_effort: fc.constantFrom("minimal", "low", "medium", "high"),
		search_domain_filter: fc.array(fc.constantFrom("example.com", "-example.org"), { maxLength: 2 }),
		return_images: fc.boolean(),
		latitude: fc.double({ min: -90, max: 90, noNaN: true }),
		web_search_options: fc.record(
			{ search_context_size: fc.constantFrom("low", "medium", "high"), search_type: fc.constantFrom("fast", "pro") },
			{ requiredKeys: [] },
		),
		response_format: fc.constantFrom<Json>(
			{ type: "text" },
			{ type: "json_schema", json_schema: { schema: { type: "object" } } },
			{ type: "regex", regex: { regex: "^[a-z]+$" } },
		),
		// Not in the spec: loose objects forward what they do not know.
		temperature: fc.double({ min: 0, max: 2, noNaN: true }),
	},
	{ requiredKeys: ["model", "messages"] },
);

const metadata: fc.Arbitrary<Json> = fc.dictionary(
	fc.string({ maxLength: 10 }),
	fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)),
	{ maxKeys: 4 },
);

const callbackEvents = fc.subarray(["started", "completed", "failed"], { minLength: 1 });

/** A create body the relay accepts: `AsyncApiChatCompletionsRequest` + the push fields. */
export function validCreateBody(inbox: string): fc.Arbitrary<{ [key: string]: Json }> {
	return fc.record(
		{
			request: validRequest,
			callback_url: fc.oneof(
				urlPool(inbox).filter((url) => url.startsWith(inbox)),
				fc.constant(null),
			),
			callback_events: callbackEvents,
			metadata,
			idempotency_key: fc.string({ minLength: 1, maxLength: 8 }),
		},
		{ requiredKeys: ["request"] },
	);
}

/** An Agent-surface run the relay accepts: the Agent API request plus the push fields. */
export function validRunBody(inbox: string): fc.Arbitrary<{ [key: string]: Json }> {
	return fc
		.record(
			{
				input: fc.oneof(
					text.map((t) => `${t}? [[emu:steps=1]]`),
					text.map((t) => [{ type: "message", role: "user", content: `${t}? [[emu:steps=1]]` }]),
				),
				preset: fc.constantFrom("fast", "low", "medium"),
				instructions: text,
				max_output_tokens: fc.integer({ min: 16, max: 4000 }),
				temperature: fc.double({ min: 0, max: 2, noNaN: true }),
				tools: fc.constant<Json>([{ type: "web_search", filters: { search_recency_filter: "week" } }]),
				metadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), {
					maxKeys: 4,
				}),
				callback_url: urlPool(inbox).filter((url) => url.startsWith(inbox)),
				callback_events: fc.subarray(["in_progress", "completed", "failed", "cancelled", "incomplete"], {
					minLength: 1,
				}),
			},
			{ requiredKeys: ["input", "preset"] },
		)
		.filter((body) => !(body.callback_events && !body.callback_url));
}

/** A flat `/v1/ask` body the relay accepts. */
export function validAskBody(inbox: string): fc.Arbitrary<{ [key: string]: Json }> {
	return fc.record(
		{
			query: text.map((t) => `${t}? [[emu:steps=1]]`),
			model: fc.constantFrom("sonar", "sonar-pro"),
			system: text,
			callback_url: urlPool(inbox).filter((url) => url.startsWith(inbox)),
			callback_events: callbackEvents,
			metadata,
			idempotency_key: fc.string({ minLength: 1, maxLength: 8 }),
		},
		{ requiredKeys: ["query"] },
	);
}

export const HOOK_EVENTS = [
	"async_chat_completion.completed",
	"async_chat_completion.failed",
	"async_chat_completion.*",
];

/** A `/v1/hooks` subscription (no 410 targets: a background 410 would remove a hook mid-count). */
export function validHookBody(inbox: string): fc.Arbitrary<{ [key: string]: Json }> {
	return fc.record({
		target_url: urlPool(inbox, { gone: false }).filter((url) => url.startsWith(inbox)),
		event: fc.constantFrom(...HOOK_EVENTS),
	});
}

// ── Mutations: schema-shaped but wrong ───────────────────────────────────────

type Path = (string | number)[];

/** Values of the wrong type, or out of range, for any field. */
const junk: fc.Arbitrary<Json> = fc.oneof(
	fc.constant(null),
	fc.boolean(),
	fuzzNumber,
	fc.constantFrom(...NASTY_STRINGS),
	fc.constant<Json>([]),
	fc.constant<Json>({}),
	fc.constantFrom<Json>([null], [1, "a"], { a: 1 }, new JsonEntries([["__proto__", { polluted: true }]])),
);

/** Targeted wrong values for fields the schemas constrain (paths that may not exist are created). */
const TARGETED: [Path, Json[]][] = [
	[["request"], [null, "sonar", [], 5]],
	[
		["request", "model"],
		[null, 5, [], {}],
	],
	[
		["request", "messages"],
		[null, [], {}, "hi", [{}], [null], [{ role: "user" }]],
	],
	[
		["request", "messages", 0, "role"],
		["robot", "", "USER", null, 0],
	],
	[
		["request", "messages", 0, "content"],
		[5, {}, [{ type: "audio_url" }], [{ type: "text" }], [{}]],
	],
	[
		["request", "max_tokens"],
		[0, -1, 128_001, 1.5, new RawJson("1e309"), new RawJson("-0"), "10", 1e308],
	],
	[
		["request", "n"],
		[0, 11, 2.5, new RawJson("9007199254740993")],
	],
	[
		["request", "stream"],
		[true, "true", 1],
	],
	[
		["request", "top_logprobs"],
		[1.5, "1"],
	],
	[
		["request", "search_recency_filter"],
		["decade", "", 1],
	],
	[
		["request", "reasoning_effort"],
		["max", null, true],
	],
	[
		["request", "tool_choice"],
		["maybe", 1],
	],
	[
		["request", "response_format"],
		[{ type: "xml" }, { type: "json_schema" }, "json"],
	],
	[
		["request", "web_search_options", "search_context_size"],
		["huge", 3],
	],
	[
		["request", "_inputs"],
		[[1.5], ["a"], 3],
	],
	[
		["request", "tools"],
		[[{ type: "function" }], [{ type: "retrieval", function: {} }], "all"],
	],
	[["callback_url"], REFUSED_URLS.slice(0, 6)],
	[["callback_events"], [[], ["done"], ["started", "started", "started", "started"], "completed", [null]]],
	[["metadata"], [[1, 2], "x", 5, { blob: "x".repeat(4_100) }, { blob: "€".repeat(1_400) }]],
	[["idempotency_key"], [5, {}, []]],
	[["query"], ["", "   ", 42, "q".repeat(32_769)]],
	[["system"], [5, "s".repeat(32_769)]],
	[["model"], ["", "m".repeat(201), 5]],
	[["target_url"], REFUSED_URLS.slice(0, 6)],
	[["event"], ["async_chat_completion.started", "completed", "", "*", null]],
];

function clone(value: Json): Json {
	if (value instanceof RawJson) return value;
	if (value instanceof JsonEntries) return new JsonEntries(value.entries.map(([k, v]) => [k, clone(v)]));
	if (Array.isArray(value)) return value.map(clone);
	if (value !== null && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]));
	}
	return value;
}

function isPlainObject(value: Json | undefined): value is { [key: string]: Json } {
	return (
		value !== null &&
		typeof value === "object" &&
		!Array.isArray(value) &&
		!(value instanceof RawJson) &&
		!(value instanceof JsonEntries)
	);
}

/** Every path in the tree, the root included. */
function pathsOf(value: Json, prefix: Path = []): Path[] {
	const paths: Path[] = [prefix];
	if (Array.isArray(value)) {
		for (const [i, v] of value.entries()) paths.push(...pathsOf(v, [...prefix, i]));
	} else if (isPlainObject(value)) {
		for (const [k, v] of Object.entries(value)) paths.push(...pathsOf(v, [...prefix, k]));
	}
	return paths;
}

function getAt(root: Json, path: Path): Json | undefined {
	let node: Json | undefined = root;
	for (const step of path) {
		if (Array.isArray(node)) node = node[step as number];
		else if (isPlainObject(node)) node = node[step as string];
		else return undefined;
	}
	return node;
}

/** Sets (creating plain objects on the way), or deletes with `undefined`. Returns the new root. */
function setAt(root: Json, path: Path, value: Json | undefined): Json {
	if (path.length === 0) return value === undefined ? {} : value;
	let node: Json = root;
	for (const step of path.slice(0, -1)) {
		const next: Json | undefined = Array.isArray(node)
			? node[step as number]
			: isPlainObject(node)
				? node[step as string]
				: undefined;
		if (next === undefined || next === null || typeof next !== "object") {
			if (!isPlainObject(node) && !Array.isArray(node)) return root;
			const created: Json = {};
			if (Array.isArray(node)) node[step as number] = created;
			else node[step as string] = created;
			node = created;
		} else node = next;
	}
	const last = path[path.length - 1] as string | number;
	if (Array.isArray(node) && typeof last === "number") {
		if (value === undefined) node.splice(last, 1);
		else node[last] = value;
	} else if (isPlainObject(node)) {
		if (value === undefined) delete node[last as string];
		// defineProperty keeps `__proto__` an own key instead of setting the prototype.
		else Object.defineProperty(node, String(last), { value, enumerable: true, writable: true, configurable: true });
	}
	return root;
}

export type Mutation =
	| { kind: "drop"; at: number }
	| { kind: "replace"; at: number; value: Json }
	| { kind: "targeted"; target: number; choice: number }
	| { kind: "proto-key"; at: number; key: string; value: Json }
	| { kind: "duplicate-key"; at: number; value: Json; first: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
	fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
	fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: junk }),
	{ weight: 3, arbitrary: fc.record({ kind: fc.constant("targeted" as const), target: fc.nat(), choice: fc.nat() }) },
	fc.record({
		kind: fc.constant("proto-key" as const),
		at: fc.nat(),
		key: fc.constantFrom(...NASTY_KEYS),
		value: junk,
	}),
	fc.record({ kind: fc.constant("duplicate-key" as const), at: fc.nat(), value: junk, first: fc.boolean() }),
);

/** Applies one mutation to (a clone of) a body. */
export function applyMutation(body: Json, m: Mutation): Json {
	const root = clone(body);
	switch (m.kind) {
		case "targeted": {
			const [path, values] = TARGETED[m.target % TARGETED.length] as [Path, Json[]];
			return setAt(root, path, values[m.choice % values.length] as Json);
		}
		case "drop":
		case "replace": {
			const paths = pathsOf(root).filter((p) => m.kind === "replace" || p.length > 0);
			const path = paths[m.at % paths.length];
			if (!path) return root;
			return setAt(root, path, m.kind === "drop" ? undefined : m.value);
		}
		case "proto-key":
		case "duplicate-key": {
			const objects = pathsOf(root).filter((p) => isPlainObject(getAt(root, p)));
			const path = objects[m.at % objects.length];
			const target = path && getAt(root, path);
			if (!path || !isPlainObject(target)) return root;
			const entries = Object.entries(target);
			if (m.kind === "proto-key") entries.push([m.key, m.value]);
			else {
				const [key] = entries[m.at % Math.max(entries.length, 1)] ?? ["request"];
				if (m.first) entries.unshift([key, m.value]);
				else entries.push([key, m.value]);
			}
			return setAt(root, path, new JsonEntries(entries));
		}
	}
}

/** A valid body with one to three mutations: usually invalid, sometimes still valid. */
export function mutated(valid: fc.Arbitrary<{ [key: string]: Json }>): fc.Arbitrary<Json> {
	return fc
		.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }))
		.map(([body, mutations]) => mutations.reduce<Json>(applyMutation, body));
}

// ── Bodies as bytes ──────────────────────────────────────────────────────────

/** Byte sequences that are not UTF-8: a lone continuation, an overlong NUL, a truncated sequence, an encoded surrogate, 0xFF. */
export const INVALID_UTF8: number[][] = [[0x80], [0xc0, 0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xff], [0xfe, 0xff]];

/** The UTF-8 of `text` with invalid sequences spliced in at random offsets. */
export function withInvalidUtf8(text: string): fc.Arbitrary<Uint8Array> {
	const bytes = new TextEncoder().encode(text);
	return fc
		.array(fc.tuple(fc.nat(bytes.length), fc.constantFrom(...INVALID_UTF8)), { minLength: 1, maxLength: 3 })
		.map((splices) => {
			const out = [...bytes];
			for (const [at, bad] of [...splices].sort((a, b) => b[0] - a[0])) out.splice(at, 0, ...bad);
			return new Uint8Array(out);
		});
}

/** Content types a client might send, right or wrong (null: none at all). */
export const CONTENT_TYPES: (string | null)[] = [
	null,
	"application/json",
	"application/json; charset=utf-8",
	"application/json; charset=utf-16",
	"text/plain",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=x",
	"application/xml",
	"*/*",
	"",
	"application/json, text/html",
];

/** A header value workerd accepts: Latin-1, printable, no CR or LF. */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
	fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
	fc.constantFrom("", " ", "null", "-1", "1e309", "9".repeat(40), "\t", "é", "a".repeat(8_000)),
);

export const headerName: fc.Arbitrary<string> = fc.oneof(
	fc.constantFrom(
		"content-length",
		"content-encoding",
		"transfer-encoding",
		"accept",
		"accept-encoding",
		"x-forwarded-for",
		"cf-connecting-ip",
		"x-slack-signature",
		"x-slack-request-timestamp",
		"idempotency-key",
		"cookie",
		"origin",
		"x-http-method-override",
	),
	fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
);

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes in raw. */
function percentEncode(text: string): string {
	try {
		return encodeURIComponent(text);
	} catch {
		return text;
	}
}

/** Query strings: the known parameters with awkward values, unknown ones, repeats, and broken percent-encoding. */
export const queryString: fc.Arbitrary<string> = fc
	.array(
		fc.oneof(
			fc.tuple(
				fc.constantFrom("limit", "next_token", "event"),
				fc.oneof(
					fc.constantFrom(
						"0",
						"1",
						"100",
						"101",
						"-1",
						"1.5",
						"1e2",
						"0x10",
						" 5",
						"NaN",
						"Infinity",
						"9007199254740993",
						"",
						"async_chat_completion.*",
						"async_chat_completion.started",
						"eyJ2IjoxLCJzZXEiOjF9",
						"eyJ2IjoxLCJzZXEiOi0xfQ",
						"eyJ2IjoyLCJzZXEiOjF9",
						"eyJ2IjoxLCJzZXEiOjFlMzA4fQ",
						"x".repeat(513),
					),
					fuzzString.map(percentEncode),
				),
			),
			fc.tuple(fc.constantFrom("__proto__", "constructor", "limit[]", "a"), fc.string({ maxLength: 8 })),
		),
		{ maxLength: 4 },
	)
	.chain((pairs) =>
		fc.constantFrom("", "%", "%zz", "&&", "=").map((junkTail) => {
			const query = pairs.map(([k, v]) => `${k}=${v}`).join("&");
			return query || junkTail ? `?${query}${junkTail}` : "";
		}),
	);
