/**
 * Following a run's event stream, against recorded and hand-made streams: the
 * SSE framing, the cursor, the run's end read from the terminal event (or, when
 * it carries no Response, from one plain read), drops, an expired cursor, an
 * upstream that does not stream, and a stop. No network: a fake fetcher.
 */
import { describe, expect, it } from "vitest";
import { sseEvents, watchRun } from "../../src/upstream/agent/stream.ts";
import type { UpstreamRun, WatchUpdate } from "../../src/upstream/port.ts";
import completed from "../fixtures/agent/completed.json";

const SETTINGS = {
	upstreamBaseUrl: "https://upstream.invalid",
	upstreamApiKey: "pplx-test-0000",
	upstreamTimeoutMs: 1000,
};
const CONTEXT = { model: "sonar", apiKey: SETTINGS.upstreamApiKey };

const encoder = new TextEncoder();

/** A body that sends these chunks one read at a time, then ends (or errors, when `fail`). */
function body(chunks: string[], fail?: Error): ReadableStream<Uint8Array> {
	const queue = [...chunks];
	return new ReadableStream({
		pull(controller) {
			const chunk = queue.shift();
			if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
			else if (fail) controller.error(fail);
			else controller.close();
		},
	});
}

const sse = (events: Record<string, unknown>[]) =>
	events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);

function streamResponse(chunks: string[], fail?: Error): Response {
	return new Response(body(chunks, fail), { status: 200, headers: { "content-type": "text/event-stream" } });
}

const READ_FAILS = async (): Promise<UpstreamRun> => {
	throw new Error("no read expected");
};

async function watch(response: Response | (() => Response), cursor: number | null = null, read = READ_FAILS) {
	const updates: WatchUpdate[] = [];
	const urls: string[] = [];
	const end = await watchRun(
		SETTINGS,
		"resp_1",
		CONTEXT,
		{ cursor, signal: new AbortController().signal, idleTimeoutMs: 5000, onUpdate: (u) => void updates.push(u), read },
		{
			fetcher: async (url) => {
				urls.push(url);
				return typeof response === "function" ? response() : response;
			},
		},
	);
	return { end, updates, urls };
}

describe("server-sent events", () => {
	it("frames events across chunk boundaries, joins data lines, skips comments", async () => {
		const events = [];
		for await (const event of sseEvents(
			body([": keep-alive\n\nevent: a\nda", 'ta: {"x":1}\n\ndata: line1\ndata: line2\r\n\r\n']),
		)) {
			events.push(event);
		}
		expect(events).toEqual([
			{ event: "a", data: '{"x":1}' },
			{ event: null, data: "line1\nline2" },
		]);
	});
});

describe("watching a run", () => {
	it("follows a run to its end: the cursor, the start, what it searches, and the Sonar-shaped answer", async () => {
		const { end, updates, urls } = await watch(
			streamResponse(
				sse([
					{ type: "response.created", sequence_number: 0 },
					{ type: "response.in_progress", sequence_number: 1 },
					{
						type: "response.reasoning.search_queries",
						sequence_number: 2,
						queries: ["durable object alarms", "x".repeat(300)],
					},
					{ type: "response.output_text.delta", sequence_number: 3, delta: "A Dur" },
					{ type: "response.completed", sequence_number: 4, response: completed },
				]),
			),
		);
		expect(urls).toEqual(["https://upstream.invalid/v1/responses/resp_1?stream=true"]);
		// The delta moves the cursor only, within a second of the last update: not passed on (the end has it).
		expect(updates.map((u) => u.status ?? null)).toEqual(["queued", "in_progress", "in_progress"]);
		expect(updates[2]?.progress?.stage).toBe("searching");
		expect(updates[2]?.progress?.items[0]).toBe("durable object alarms");
		expect(updates[2]?.progress?.items[1]?.length).toBe(120);
		expect(end.ended).toBe("terminal");
		if (end.ended !== "terminal") return;
		expect(end.cursor).toBe(4);
		expect(end.run.status).toBe("completed");
		expect(end.run.result?.choices[0]?.message.content).toContain("Durable Object alarm");
	});

	it("resumes after its cursor, skipping what it has seen", async () => {
		const { end, updates, urls } = await watch(
			streamResponse(
				sse([
					{ type: "response.in_progress", sequence_number: 6 },
					{ type: "response.output_text.delta", sequence_number: 7 },
					{ type: "response.completed", sequence_number: 8, response: completed },
				]),
			),
			6,
		);
		expect(urls[0]).toContain("stream=true&starting_after=6");
		expect(updates.map((u) => u.cursor)).toEqual([7]);
		expect(end).toMatchObject({ ended: "terminal", cursor: 8 });
	});

	it("passes on updates that only move the cursor at most once a second, the first of a connection always", async () => {
		const deltas = Array.from({ length: 2000 }, (_, i) => ({
			type: "response.output_text.delta",
			sequence_number: 10 + i,
			delta: "word ",
		}));
		const { end, updates } = await watch(
			streamResponse(sse([...deltas, { type: "response.completed", sequence_number: 2010, response: completed }])),
			9,
		);
		expect(updates[0]?.cursor).toBe(10);
		// 2000 deltas read in well under a second here: one update, not 2000.
		expect(updates.length).toBeLessThanOrEqual(3);
		expect(end).toMatchObject({ ended: "terminal", cursor: 2010 });
	});

	it("reads the run once when the terminal event carries no Response", async () => {
		let reads = 0;
		const read = async (): Promise<UpstreamRun> => {
			reads++;
			return {
				id: "resp_1",
				status: "failed",
				result: null,
				error: "overloaded",
				createdAt: 1,
				startedAt: null,
				finishedAt: 2,
			};
		};
		const { end } = await watch(
			streamResponse(sse([{ type: "response.failed", sequence_number: 3, error: { message: "overloaded" } }])),
			null,
			read,
		);
		expect(reads).toBe(1);
		expect(end).toMatchObject({ ended: "terminal", run: { status: "failed", error: "overloaded" } });
	});

	it("reports a drop, with its cursor, when the stream ends or breaks before the run does", async () => {
		const closed = await watch(streamResponse(sse([{ type: "response.in_progress", sequence_number: 1 }])));
		expect(closed.end).toMatchObject({ ended: "dropped", cursor: 1 });
		const broken = await watch(
			streamResponse(
				sse([{ type: "response.in_progress", sequence_number: 2 }]),
				new TypeError("Network connection lost."),
			),
		);
		expect(broken.end).toMatchObject({ ended: "dropped", cursor: 2, failure: { kind: "network", retryable: true } });
		const unavailable = await watch(new Response("{}", { status: 503, headers: { "retry-after": "2" } }), 4);
		expect(unavailable.end).toMatchObject({
			ended: "dropped",
			cursor: 4,
			failure: { status: 503, retryAfterMs: 2000 },
		});
	});

	it("falls back when upstream will not stream: an expired cursor, or a plain JSON answer", async () => {
		const expired = await watch(
			new Response(
				JSON.stringify({
					error: { message: "cursor expired", type: "invalid_request_error", code: 400, param: "starting_after" },
				}),
				{ status: 400 },
			),
			9,
		);
		expect(expired.end).toMatchObject({ ended: "unsupported", cursor: 9 });
		const plain = await watch(
			new Response(JSON.stringify({ id: "resp_1", object: "response", status: "in_progress", output: [] }), {
				headers: { "content-type": "application/json" },
			}),
		);
		expect(plain.end.ended).toBe("unsupported");
		// A plain answer that already says the run ended is the end.
		const done = await watch(
			new Response(JSON.stringify(completed), { headers: { "content-type": "application/json" } }),
		);
		expect(done.end).toMatchObject({ ended: "terminal", run: { status: "completed" } });
	});

	it("fails on an error about the run itself", async () => {
		const gone = await watch(
			new Response(JSON.stringify({ error: { message: "No response found", type: "not_found_error", code: 404 } }), {
				status: 404,
			}),
		);
		expect(gone.end).toMatchObject({ ended: "failed", failure: { status: 404, retryable: false } });
	});

	it("stops when told to, with the cursor it reached", async () => {
		const controller = new AbortController();
		const stream = new ReadableStream<Uint8Array>({
			start(c) {
				c.enqueue(encoder.encode(sse([{ type: "response.in_progress", sequence_number: 5 }])[0] as string));
				// …and nothing more: the run goes on.
			},
		});
		const ending = watchRun(
			SETTINGS,
			"resp_1",
			CONTEXT,
			{
				cursor: null,
				signal: controller.signal,
				idleTimeoutMs: 60_000,
				onUpdate: () => controller.abort(),
				read: READ_FAILS,
			},
			{ fetcher: async () => new Response(stream, { headers: { "content-type": "text/event-stream" } }) },
		);
		expect(await ending).toEqual({ ended: "stopped", cursor: 5 });
	});

	it("takes a stream that goes quiet for its idle timeout for dead", async () => {
		const quiet = new ReadableStream<Uint8Array>({ start() {} });
		const end = await watchRun(
			SETTINGS,
			"resp_1",
			CONTEXT,
			{ cursor: 2, signal: new AbortController().signal, idleTimeoutMs: 30, onUpdate: () => {}, read: READ_FAILS },
			{ fetcher: async () => new Response(quiet, { headers: { "content-type": "text/event-stream" } }) },
		);
		expect(end).toMatchObject({ ended: "dropped", cursor: 2, failure: { kind: "timeout" } });
	});
});
