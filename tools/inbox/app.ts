/**
 * The local webhook inbox: a receiver for sonar-relay's pushes that records every
 * delivery, verifies its Standard Webhooks signature, and answers as the callback
 * URL's query tells it to, so that tests can script flaky or gone receivers.
 *
 * - `POST /hooks/:name`: record a delivery. The answer is scripted by the query:
 *   - `fail=N&status=S&retry_after=R`: the first N deliveries to this name answer S
 *     (default 500), with `Retry-After: R` when given; later ones answer 200.
 *   - `status=S` alone: answer S every time (e.g. 410 to stop deliveries).
 *   - `hang_ms=M`: wait M ms (at most 60 000) before answering (with `fail`, only the failing deliveries).
 *   - `location=URL`: the `Location` header of a scripted 3xx.
 * - `GET /__inbox/events?name=X`: `{ events }`, for one name or all of them.
 * - `DELETE /__inbox/events?name=X`: forget the events (and the counts), of one name or all.
 */
import { Hono } from "hono";
import { Webhook } from "standardwebhooks";
import { messageText } from "../../src/schemas/content.ts";

/** One POST the inbox received. */
export interface Delivery {
	/** The `:name` of `/hooks/:name`: one name per receiver under test. */
	name: string;
	path: string;
	query: Record<string, string>;
	/** Header names are lower-cased. */
	headers: Record<string, string>;
	/** The raw body text, exactly as signed. */
	body: string;
	/** When it arrived, in ms since the epoch. */
	receivedAt: number;
	/** Whether a configured secret verifies the signature; null when no secret is configured. */
	verified: boolean | null;
	/** 1 for the first delivery to this name, 2 for the next, … */
	seq: number;
	/** The status the inbox answered (or will answer, while it hangs). */
	answered: number;
}

export interface InboxOptions {
	/**
	 * `whsec_…` secrets to verify signatures with; any one that verifies is enough.
	 * @default [] (nothing is verified: `verified` is null)
	 */
	secrets?: string[];
	/**
	 * Print each delivery readably (see `formatDelivery`).
	 * @default false
	 */
	print?: boolean;
	/**
	 * Where printed deliveries go.
	 * @default console.log
	 */
	log?: (text: string) => void;
}

export interface Inbox {
	/** The Hono app: serve it, or drive it with `app.request()`. */
	app: Hono;
	/** Deliveries in arrival order, for one name or all of them. */
	events(name?: string): Delivery[];
	/** Forgets deliveries and the per-name counts, for one name or all of them. */
	clear(name?: string): void;
	/** Ends every pending `hang_ms` wait now, so a server can close without waiting for them. */
	releaseHangs(): void;
}

/** The longest `hang_ms` honoured, so that no scripted wait outlives a test run by much. */
export const MAX_HANG_MS = 60_000;

/**
 * Creates an inbox.
 *
 * @example
 * const inbox = createInbox({ secrets: [await tenantSecret(signingKey, "dev")] });
 * await inbox.app.request("/hooks/a?fail=2&status=503&retry_after=5", { method: "POST", body, headers });
 * inbox.events("a")[0]?.verified // true
 */
export function createInbox(options: InboxOptions = {}): Inbox {
	const secrets = options.secrets ?? [];
	const webhooks = secrets.map((secret) => new Webhook(secret));
	const log = options.log ?? ((text: string) => console.log(text));
	let deliveries: Delivery[] = [];
	const counts = new Map<string, number>();
	const hangs = new Set<() => void>();

	function verify(body: string, headers: Record<string, string>): boolean | null {
		if (webhooks.length === 0) return null;
		return webhooks.some((webhook) => {
			try {
				// Signature only: a signed body that is not JSON still counts as verified.
				webhook.verify(body, headers, { jsonParse: false });
				return true;
			} catch {
				return false;
			}
		});
	}

	function hang(ms: number, signal: AbortSignal): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer);
				signal.removeEventListener("abort", done);
				hangs.delete(done);
				resolve();
			};
			const timer = setTimeout(done, ms);
			signal.addEventListener("abort", done);
			hangs.add(done);
		});
	}

	const app = new Hono();

	app.get("/", (c) =>
		c.json({
			inbox: "sonar-relay local webhook inbox",
			receive: "POST /hooks/:name[?fail=N&status=S&retry_after=R&hang_ms=M&location=URL]",
			events: "GET /__inbox/events[?name=X]",
			clear: "DELETE /__inbox/events[?name=X]",
		}),
	);

	app.post("/hooks/:name", async (c) => {
		const name = c.req.param("name");
		const body = await c.req.text();
		const headers: Record<string, string> = {};
		c.req.raw.headers.forEach((value, key) => {
			headers[key.toLowerCase()] = value;
		});
		const query = c.req.query();
		const seq = (counts.get(name) ?? 0) + 1;
		counts.set(name, seq);
		const answer = scriptedAnswer(query, seq);
		const delivery: Delivery = {
			name,
			path: c.req.path,
			query,
			headers,
			body,
			receivedAt: Date.now(),
			verified: verify(body, headers),
			seq,
			answered: answer.status,
		};
		deliveries.push(delivery);
		if (options.print) log(formatDelivery(delivery));

		if (answer.hangMs > 0) await hang(answer.hangMs, c.req.raw.signal);
		if (answer.retryAfter !== undefined) c.header("Retry-After", answer.retryAfter);
		if (answer.location !== undefined) c.header("Location", answer.location);
		if (answer.status === 200) return c.json({ ok: true });
		// 204 and 205 may not carry a body.
		if (answer.status === 204 || answer.status === 205) return c.body(null, answer.status);
		return c.json({ ok: answer.status < 300, scripted: true }, answer.status as 500);
	});

	app.get("/__inbox/events", (c) => c.json({ events: events(c.req.query("name")) }));

	app.delete("/__inbox/events", (c) => {
		clear(c.req.query("name"));
		return c.json({ ok: true });
	});

	function events(name?: string): Delivery[] {
		return name === undefined ? [...deliveries] : deliveries.filter((d) => d.name === name);
	}

	function clear(name?: string): void {
		if (name === undefined) {
			deliveries = [];
			counts.clear();
		} else {
			deliveries = deliveries.filter((d) => d.name !== name);
			counts.delete(name);
		}
	}

	function releaseHangs(): void {
		for (const done of [...hangs]) done();
	}

	return { app, events, clear, releaseHangs };
}

interface ScriptedAnswer {
	status: number;
	retryAfter?: string;
	/** `Location` for a scripted 3xx. */
	location?: string;
	hangMs: number;
}

/** What the query of a callback URL asks the inbox to answer to delivery number `seq`. */
export function scriptedAnswer(query: Record<string, string>, seq: number): ScriptedAnswer {
	const hangMs = Math.min(Math.max(toInt(query.hang_ms) ?? 0, 0), MAX_HANG_MS);
	const status = toStatus(query.status);
	const fail = toInt(query.fail);
	const retryAfter = query.retry_after || undefined;
	const location = query.location || undefined;
	if (fail !== undefined) {
		// A hang is a way of failing: with `fail`, only the failing deliveries hang.
		if (seq <= fail) return { status: status ?? 500, retryAfter, location, hangMs };
		return { status: 200, hangMs: 0 };
	}
	if (status !== undefined) return { status, retryAfter, location, hangMs };
	return { status: 200, hangMs };
}

function toInt(text: string | undefined): number | undefined {
	if (text === undefined || !/^\d+$/.test(text)) return undefined;
	return Number(text);
}

function toStatus(text: string | undefined): number | undefined {
	const status = toInt(text);
	return status !== undefined && status >= 200 && status <= 599 ? status : undefined;
}

/** The parts of a webhook event the printers read; everything is optional, bodies are untrusted. */
export interface EventData {
	id?: string;
	model?: string;
	status?: string;
	error_message?: string | null;
	response?: {
		choices?: { message?: { content?: unknown } }[];
		citations?: unknown[] | null;
		search_results?: { title?: string; url?: string }[] | null;
	} | null;
}

export interface WebhookEvent {
	type?: string;
	timestamp?: string;
	data?: EventData;
}

/** Parses a delivery body; null when it is not a JSON object. */
export function parseEvent(body: string): WebhookEvent | null {
	try {
		const value: unknown = JSON.parse(body);
		return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as WebhookEvent) : null;
	} catch {
		return null;
	}
}

/** How many characters of an answer are printed. */
export const ANSWER_PREVIEW_CHARS = 1500;

/** The Markdown answer of a completed job, or undefined. */
export function answerText(data: EventData | undefined): string | undefined {
	const content = data?.response?.choices?.[0]?.message?.content;
	return typeof content === "string" || Array.isArray(content) ? messageText(content) : undefined;
}

/** The sources of a completed job: search results when present, else the bare citations. */
export function sources(data: EventData | undefined): { title?: string; url: string }[] {
	const results = data?.response?.search_results;
	if (Array.isArray(results) && results.length > 0) {
		return results.filter((r) => r && typeof r.url === "string").map((r) => ({ title: r.title, url: r.url as string }));
	}
	const citations = data?.response?.citations;
	if (Array.isArray(citations)) return citations.filter((c) => typeof c === "string").map((url) => ({ url }));
	return [];
}

/**
 * The answer (cut to `maxChars`) and a numbered list of sources, indented for a terminal.
 *
 * @example
 * console.log(formatAnswer(event.data));
 */
export function formatAnswer(data: EventData | undefined, maxChars = ANSWER_PREVIEW_CHARS, indent = "  "): string {
	const lines: string[] = [];
	const text = answerText(data);
	if (text !== undefined) {
		const cut = text.length > maxChars ? `${text.slice(0, maxChars).trimEnd()} […]` : text;
		for (const line of cut.split("\n")) lines.push(line ? `${indent}${line}` : "");
	}
	const list = sources(data);
	if (list.length > 0) {
		lines.push("", `${indent}Sources:`);
		list.forEach((source, i) => {
			lines.push(`${indent}${String(i + 1).padStart(3)}. ${source.title ? `${source.title} — ` : ""}${source.url}`);
		});
	}
	return lines.join("\n");
}

/**
 * A delivery, readably: a header line (time, event type, job id, signature), then the
 * answer and sources of a completed job, or the error of a failed one.
 */
export function formatDelivery(delivery: Delivery): string {
	const time = new Date(delivery.receivedAt).toTimeString().slice(0, 8);
	const event = parseEvent(delivery.body);
	const mark =
		delivery.verified === null ? "– unverified (no secret)" : delivery.verified ? "✓ verified" : "✗ BAD SIGNATURE";
	const type = event?.type ?? "(not a JSON event)";
	const job = event?.data?.id ?? "?";
	const lines = [`[${time}] ${type}  job ${job}  ${mark}  → /hooks/${delivery.name} #${delivery.seq}`];
	if (delivery.answered !== 200) lines[0] += `  (answered ${delivery.answered})`;
	if (!event) {
		lines.push(`  ${delivery.body.slice(0, 300)}`);
	} else if (type.endsWith(".completed")) {
		lines.push(formatAnswer(event.data));
	} else if (type.endsWith(".failed")) {
		lines.push(`  error: ${event.data?.error_message ?? "(no error_message)"}`);
	}
	return `${lines.join("\n")}\n`;
}
