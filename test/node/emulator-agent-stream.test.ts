/**
 * The emulated Agent API's event stream: SSE framing, typed events with rising
 * sequence numbers, pacing on the run's timeline, resuming from a cursor, cursor
 * expiry, cancels and `steps` runs seen live, injected drops (in-process and over
 * a real socket). The clock is injected; the sleep either moves it (so a stream
 * plays a whole run at once) or waits for the test to act.
 */
import { describe, expect, it } from "vitest";
import { createEmulator, type EmulatorOptions } from "../../tools/emulator/app.ts";
import { startEmulator } from "../../tools/emulator/server.ts";

const KEY = "test-key";
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const SONAR_MS = 2000;

type Body = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: JSON off the wire, read loosely on purpose; the assertions check its shape.
type Json = Record<string, any>;

function makeBody(input: string, extra: Body = {}): Body {
	return { model: "perplexity/sonar", input, tools: [{ type: "web_search" }], background: true, ...extra };
}

/** An emulator whose sleep moves the clock: a stream plays its run through at once, on emulator time. */
function makeEmulator(options: EmulatorOptions = {}) {
	let now = T0;
	const sleeps: number[] = [];
	const emulator = createEmulator({
		apiKey: KEY,
		seed: 7,
		now: () => now,
		sleep: async (ms) => {
			sleeps.push(ms);
			now += ms;
		},
		durations: { "perplexity/sonar": SONAR_MS },
		...options,
	});
	const call = (path: string, init: RequestInit = {}) => {
		const headers = new Headers(init.headers);
		headers.set("authorization", `Bearer ${KEY}`);
		return emulator.app.request(path, { ...init, headers });
	};
	return {
		emulator,
		sleeps,
		now: () => now,
		advance(ms: number) {
			now += ms;
		},
		call,
		create: (body: unknown) => call("/v1/responses", { method: "POST", body: JSON.stringify(body) }),
		get: (id: string, query = "", init: RequestInit = {}) => call(`/v1/responses/${id}${query}`, init),
		cancel: (id: string) => call(`/v1/responses/${id}/cancel`, { method: "POST" }),
	};
}

interface Frame {
	event: string | undefined;
	data: Json;
}

/** Splits SSE text into frames, checking each is `event: <type>` + `data: <json>`. */
function parseFrames(text: string): Frame[] {
	return text
		.split("\n\n")
		.filter((chunk) => chunk.trim() !== "")
		.map((chunk) => {
			const lines = chunk.split("\n");
			const event = lines.find((line) => line.startsWith("event: "))?.slice(7);
			const data = lines.find((line) => line.startsWith("data: "))?.slice(6);
			if (data === undefined) throw new Error(`a frame without data: ${chunk}`);
			return { event, data: JSON.parse(data) as Json };
		});
}

/** Reads a stream body to its end or its failure: the events read, the error if it broke. */
async function readAll(
	res: Response,
	stopAfter = Number.POSITIVE_INFINITY,
): Promise<{ events: Json[]; error?: unknown }> {
	const reader = (res.body as ReadableStream<Uint8Array>).getReader();
	const decoder = new TextDecoder();
	let text = "";
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			text += decoder.decode(value, { stream: true });
			if (parseFrames(text.slice(0, text.lastIndexOf("\n\n") + 2)).length >= stopAfter) {
				await reader.cancel();
				break;
			}
		}
	} catch (error) {
		return { events: parseFrames(text.slice(0, text.lastIndexOf("\n\n") + 2)).map((f) => f.data), error };
	}
	const frames = parseFrames(text);
	for (const frame of frames) expect(frame.event).toBe(frame.data.type);
	expect(text).not.toContain("[DONE]");
	return { events: frames.map((f) => f.data) };
}

/** Reads one SSE frame at a time from a body, for streams that wait on the test. */
function frameReader(res: Response) {
	const reader = (res.body as ReadableStream<Uint8Array>).getReader();
	const decoder = new TextDecoder();
	let buffer = "";
	return {
		/** The next event, or undefined at the end of the stream. */
		async next(): Promise<Json | undefined> {
			for (;;) {
				const end = buffer.indexOf("\n\n");
				if (end >= 0) {
					const [frame] = parseFrames(buffer.slice(0, end + 2));
					buffer = buffer.slice(end + 2);
					return frame?.data;
				}
				const { done, value } = await reader.read();
				if (done) return undefined;
				buffer += decoder.decode(value, { stream: true });
			}
		},
	};
}

const types = (events: readonly Json[]) => events.map((e) => e.type);
const sequence = (events: readonly Json[]) => events.map((e) => e.sequence_number);

describe("agent emulator: event stream", () => {
	it("streams a create with stream: true as typed SSE events, rising from 0, paced over the run", async () => {
		const emu = makeEmulator();
		const res = await emu.create(makeBody("Stream me", { background: undefined, stream: true }));
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
		const { events, error } = await readAll(res);
		expect(error).toBeUndefined();

		expect(sequence(events)).toEqual(events.map((_, i) => i));
		const head = [
			"response.created",
			"response.in_progress",
			"response.reasoning.started",
			"response.reasoning.search_queries",
			"response.reasoning.search_results",
			"response.reasoning.stopped",
			"response.output_item.added",
			"response.output_item.done",
			"response.output_item.added",
		];
		expect(types(events).slice(0, head.length)).toEqual(head);
		const deltas = events.filter((e) => e.type === "response.output_text.delta");
		expect(deltas.length).toBeGreaterThanOrEqual(3);
		expect(types(events).slice(head.length + deltas.length)).toEqual([
			"response.output_text.done",
			"response.output_item.done",
			"response.completed",
		]);

		const [created, inProgress] = events as [Json, Json];
		expect(created.response).toMatchObject({ status: "queued", output: [] });
		expect(inProgress.response).toMatchObject({ status: "in_progress", output: [] });
		const queries = events[3] as Json;
		const searchDone = events[7] as Json;
		expect(searchDone.item).toMatchObject({ type: "search_results", queries: queries.queries });
		const messageAdded = events[8] as Json;
		expect(messageAdded).toMatchObject({
			output_index: 1,
			item: { type: "message", status: "in_progress", content: [] },
		});
		for (const delta of deltas) {
			expect(delta).toMatchObject({ item_id: messageAdded.item.id, output_index: 1, content_index: 0 });
		}
		const text = deltas.map((d) => d.delta).join("");
		const done = events.at(-3) as Json;
		expect(done.text).toBe(text);

		const completed = events.at(-1) as Json;
		expect(completed.response.status).toBe("completed");
		expect(completed.response.output[1].content[0].text).toBe(text);
		// The stream's final Response is the one a GET answers.
		const fetched = await emu.get(completed.response.id);
		expect(await fetched.json()).toEqual(completed.response);

		// Paced over the 2 s run on the emulator clock, which the sleep moved.
		expect(emu.sleeps.reduce((a, b) => a + b, 0)).toBe(SONAR_MS);
		expect(emu.now()).toBe(T0 + SONAR_MS);
		const stats = emu.emulator.stats();
		expect(stats.streams).toBe(1);
		expect(stats.jobs[completed.response.id]).toMatchObject({ streams: 1, gets: 1, status: "completed" });
	});

	it("streams a run created without stream through GET ?stream=true, and resumes after starting_after", async () => {
		const emu = makeEmulator();
		const { id } = (await (await emu.create(makeBody("Later"))).json()) as Json;
		const all = (await readAll(await emu.get(id, "?stream=true"))).events;
		expect(all.at(-1)?.type).toBe("response.completed");

		const resumed = (await readAll(await emu.get(id, "?stream=true&starting_after=5"))).events;
		expect(sequence(resumed)[0]).toBe(6);
		expect(resumed).toEqual(all.slice(6));

		const last = all.length - 1;
		expect((await readAll(await emu.get(id, `?stream=true&starting_after=${last}`))).events).toEqual([]);
		expect(emu.emulator.stats().jobs[id]).toMatchObject({ streams: 3, gets: 0 });
	});

	it("sends the events already past at once, then waits only for the later ones", async () => {
		const emu = makeEmulator();
		const { id } = (await (await emu.create(makeBody("Halfway"))).json()) as Json;
		emu.advance(SONAR_MS / 2);
		const { events } = await readAll(await emu.get(id, "?stream=true"));
		expect(events.at(-1)?.type).toBe("response.completed");
		// Only the second half of the run was waited for.
		expect(emu.sleeps.reduce((a, b) => a + b, 0)).toBe(SONAR_MS / 2);
	});

	it("refuses an expired, malformed or out-of-range cursor with a 400 naming starting_after", async () => {
		const emu = makeEmulator();
		const { id } = (await (await emu.create(makeBody("Cursor"))).json()) as Json;
		emu.advance(SONAR_MS);
		expect((await emu.get(id, "?stream=true&starting_after=3")).status).toBe(200);

		for (const cursor of ["abc", "-1", "1.5", "999"]) {
			const res = await emu.get(id, `?stream=true&starting_after=${cursor}`);
			expect(res.status).toBe(400);
			expect(((await res.json()) as Json).error).toMatchObject({
				type: "invalid_request_error",
				code: 400,
				param: "starting_after",
			});
		}

		// Event 3 (the search queries) happened at 20 % of the run; ten minutes later it has expired.
		emu.advance(10 * 60_000 - SONAR_MS * 0.8);
		expect((await emu.get(id, "?stream=true&starting_after=3")).status).toBe(200);
		emu.advance(1);
		const expired = await emu.get(id, "?stream=true&starting_after=3");
		expect(expired.status).toBe(400);
		expect(((await expired.json()) as Json).error).toMatchObject({
			param: "starting_after",
			message: expect.stringContaining("expired"),
		});
		// Without a cursor, the whole stream is still there.
		expect((await readAll(await emu.get(id, "?stream=true"))).events.at(-1)?.type).toBe("response.completed");

		const short = makeEmulator({ streamCursorTtlMs: 1000 });
		const run = (await (await short.create(makeBody("Short TTL"))).json()) as Json;
		short.advance(1000);
		expect((await short.get(run.id, "?stream=true&starting_after=0")).status).toBe(200);
		short.advance(1);
		expect((await short.get(run.id, "?stream=true&starting_after=0")).status).toBe(400);
	});

	it("ends failed runs with response.failed, and cancelled or incomplete ones with response.completed", async () => {
		const emu = makeEmulator();
		const failed = (await readAll(await emu.create(makeBody("Boom [[emu:fail]]", { stream: true })))).events;
		expect(failed.at(-1)).toMatchObject({
			type: "response.failed",
			error: { message: "Emulated upstream failure", type: "internal_error" },
		});
		expect(types(failed)).not.toContain("response.output_text.delta");

		const cancelled = (await readAll(await emu.create(makeBody("Quit [[emu:cancelled]]", { stream: true })))).events;
		expect(cancelled.at(-1)).toMatchObject({
			type: "response.completed",
			response: { status: "cancelled", output: [], error: { type: "cancelled" } },
		});

		const cut = (await readAll(await emu.create(makeBody("Cut me short", { stream: true, max_output_tokens: 20 }))))
			.events;
		const final = cut.at(-1) as Json;
		expect(final).toMatchObject({
			type: "response.completed",
			response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } },
		});
		expect(cut.at(-2)).toMatchObject({
			type: "response.output_item.done",
			item: { type: "message", status: "incomplete" },
		});
		const text = cut
			.filter((e) => e.type === "response.output_text.delta")
			.map((e) => e.delta)
			.join("");
		expect(text.length).toBeLessThanOrEqual(80);
		expect(final.response.output[1].content[0].text).toBe(text);
	});

	it("ends a live stream with the cancelled Response when the run is cancelled", async () => {
		// This sleep never ends by itself: the stream waits until the test cancels.
		const emu = makeEmulator({
			sleep: (_ms, signal) =>
				new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true })),
		});
		const { id } = (await (await emu.create(makeBody("Cancel while watching"))).json()) as Json;
		emu.advance(SONAR_MS * 0.3);
		const stream = frameReader(await emu.get(id, "?stream=true"));
		const past: Json[] = [];
		for (let i = 0; i < 4; i++) past.push((await stream.next()) as Json);
		expect(types(past)).toEqual([
			"response.created",
			"response.in_progress",
			"response.reasoning.started",
			"response.reasoning.search_queries",
		]);
		const pending = stream.next(); // waits for the search results, due at 35 %

		expect((await emu.cancel(id)).status).toBe(200);
		const terminal = (await pending) as Json;
		expect(terminal).toMatchObject({
			type: "response.completed",
			sequence_number: 4,
			response: { id, status: "cancelled", output: [] },
		});
		expect(await stream.next()).toBeUndefined();
		expect(((await (await emu.get(id)).json()) as Json).status).toBe("cancelled");
	});

	it("follows a [[emu:steps=N]] run live: its events come with the GETs that move it", async () => {
		const emu = makeEmulator();
		const { id } = (await (await emu.create(makeBody("Stepwise [[emu:steps=2]]"))).json()) as Json;
		emu.advance(3_600_000); // the clock does not move a steps run
		const stream = frameReader(await emu.get(id, "?stream=true"));
		expect((await stream.next())?.type).toBe("response.created");
		const pending = stream.next();

		expect(((await (await emu.get(id)).json()) as Json).status).toBe("in_progress");
		expect((await pending)?.type).toBe("response.in_progress");
		const running: string[] = [];
		for (let i = 0; i < 4; i++) running.push((await stream.next())?.type);
		expect(running).toEqual([
			"response.reasoning.started",
			"response.reasoning.search_queries",
			"response.reasoning.search_results",
			"response.reasoning.stopped",
		]);
		const output = stream.next();

		expect(((await (await emu.get(id)).json()) as Json).status).toBe("completed");
		expect((await output)?.type).toBe("response.output_item.added");
		let last: Json | undefined;
		for (let e = await stream.next(); e; e = await stream.next()) last = e;
		expect(last).toMatchObject({ type: "response.completed", response: { status: "completed" } });
	});

	it("stops waiting when the client goes away, and ends open streams on reset", async () => {
		const signals: AbortSignal[] = [];
		const emu = makeEmulator({
			sleep: (_ms, signal) => {
				if (signal) signals.push(signal);
				return new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
			},
		});
		const { id } = (await (await emu.create(makeBody("Walk away"))).json()) as Json;
		const client = new AbortController();
		const stream = frameReader(await emu.get(id, "?stream=true", { signal: client.signal }));
		expect((await stream.next())?.type).toBe("response.created");
		const pending = stream.next();
		await Promise.resolve();
		expect(signals.at(-1)?.aborted).toBe(false);
		client.abort();
		await pending.catch(() => undefined);
		expect(signals.at(-1)?.aborted).toBe(true);

		const other = (await (await emu.create(makeBody("Reset me"))).json()) as Json;
		const watched = frameReader(await emu.get(other.id, "?stream=true"));
		expect((await watched.next())?.type).toBe("response.created");
		const waiting = watched.next();
		emu.emulator.reset();
		expect(await waiting).toBeUndefined();
	});

	it("streams a store: false run on create, but not through GET", async () => {
		const emu = makeEmulator();
		const { events } = await readAll(await emu.create(makeBody("Unstored", { stream: true, store: false })));
		const final = events.at(-1) as Json;
		expect(final).toMatchObject({ type: "response.completed", response: { status: "completed", store: false } });
		expect((await emu.get(final.response.id, "?stream=true")).status).toBe(404);
	});

	it("carries drift on every event of a [[emu:drift]] run", async () => {
		const emu = makeEmulator();
		const { events } = await readAll(await emu.create(makeBody("Drift [[emu:drift]]", { stream: true })));
		for (const event of events) expect(event.x_emulator_trace).toEqual(expect.any(Object));
		const final = events.at(-1) as Json;
		expect(final.response.output.map((item: Json) => item.type)).toEqual([
			"search_results",
			"reasoning_trace",
			"message",
		]);
		expect(final.response.usage.cost).toBeUndefined();
	});

	it("counts stream opens against requestRateLimitPerMinute and reports the bucket on them", async () => {
		const emu = makeEmulator({ faults: { requestRateLimitPerMinute: 2 } });
		const { id } = (await (await emu.create(makeBody("Limited stream"))).json()) as Json;
		const open = await emu.get(id, "?stream=true");
		expect(open.status).toBe(200);
		expect(open.headers.get("x-ratelimit-remaining-requests")).toBe("0");
		await readAll(open);
		const refused = await emu.get(id, "?stream=true");
		expect(refused.status).toBe(429);
		expect(refused.headers.get("retry-after")).toEqual(expect.stringMatching(/^\d+$/));
	});
});

describe("agent emulator: injected stream drops", () => {
	it("cuts the first connection after N events with [[emu:stream-drop=N]]; a resume then completes", async () => {
		const emu = makeEmulator();
		const first = await readAll(await emu.create(makeBody("Flaky stream [[emu:stream-drop=3]]", { stream: true })));
		expect(first.error).toBeInstanceOf(Error);
		expect(sequence(first.events)).toEqual([0, 1, 2]);
		const id = first.events[0]?.response.id as string;

		const rest = await readAll(await emu.get(id, "?stream=true&starting_after=2"));
		expect(rest.error).toBeUndefined();
		expect(sequence(rest.events)[0]).toBe(3);
		expect(rest.events.at(-1)?.type).toBe("response.completed");
		expect(emu.emulator.stats().jobs[id]?.streams).toBe(2);
	});

	it("cuts each of the first K connections with [[emu:stream-drop=NxK]], counting events per connection", async () => {
		const emu = makeEmulator();
		const { id } = (await (await emu.create(makeBody("Very flaky [[emu:stream-drop=2x2]]"))).json()) as Json;
		const first = await readAll(await emu.get(id, "?stream=true"));
		expect(sequence(first.events)).toEqual([0, 1]);
		expect(first.error).toBeDefined();
		const second = await readAll(await emu.get(id, "?stream=true&starting_after=1"));
		expect(sequence(second.events)).toEqual([2, 3]);
		expect(second.error).toBeDefined();
		const third = await readAll(await emu.get(id, "?stream=true&starting_after=3"));
		expect(third.error).toBeUndefined();
		expect(third.events.at(-1)?.type).toBe("response.completed");
	});

	it("drops a streamDropRate share of connections at a random event, never after the terminal one", async () => {
		const emu = makeEmulator({ faults: { streamDropRate: 1 } });
		const counts: number[] = [];
		for (let i = 0; i < 5; i++) {
			const { events, error } = await readAll(await emu.create(makeBody(`Random drop ${i}`, { stream: true })));
			expect(error).toBeDefined();
			expect(types(events)).not.toContain("response.completed");
			counts.push(events.length);
		}
		expect(new Set(counts).size).toBeGreaterThan(1);

		emu.emulator.setFaults({ streamDropRate: 0 });
		const clean = await readAll(await emu.create(makeBody("No drop", { stream: true })));
		expect(clean.error).toBeUndefined();
	});

	it("cuts the socket over HTTP, and serves the rest of the stream on resume", async () => {
		let now = T0;
		const upstream = await startEmulator({
			apiKey: KEY,
			port: 0,
			quiet: true,
			seed: 3,
			now: () => now,
			sleep: async (ms) => {
				now += ms;
			},
			durations: { "perplexity/sonar": SONAR_MS },
		});
		try {
			const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
			const res = await fetch(`${upstream.url}/v1/responses`, {
				method: "POST",
				headers,
				body: JSON.stringify(makeBody("Over the wire [[emu:stream-drop=4]]", { stream: true })),
				signal: AbortSignal.timeout(10_000),
			});
			expect(res.status).toBe(200);
			const dropped = await readAll(res);
			expect(dropped.error).toBeDefined();
			expect(sequence(dropped.events)).toEqual([0, 1, 2, 3]);

			const id = dropped.events[0]?.response.id as string;
			const resumed = await fetch(`${upstream.url}/v1/responses/${id}?stream=true&starting_after=3`, {
				headers,
				signal: AbortSignal.timeout(10_000),
			});
			const rest = await readAll(resumed);
			expect(rest.error).toBeUndefined();
			expect(sequence(rest.events)[0]).toBe(4);
			expect(rest.events.at(-1)).toMatchObject({ type: "response.completed", response: { id, status: "completed" } });
		} finally {
			await upstream.close();
		}
	});
});
