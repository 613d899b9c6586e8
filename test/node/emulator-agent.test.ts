/**
 * The emulated Agent API (JSON side): strict validation, the run lifecycle on an
 * injected clock, terminal shapes (completed, failed, incomplete, cancelled),
 * tenancy, markers, rate limits and global faults. The event stream has its own
 * file (`emulator-agent-stream.test.ts`). Time is an injected clock and waits an
 * injected sleep: nothing here depends on wall time.
 */
import { describe, expect, it } from "vitest";
import { createEmulator, type EmulatorOptions, FAILURE_MESSAGE } from "../../tools/emulator/app.ts";

const KEY = "test-key";
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const SONAR_MS = 2000;

type Body = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: JSON off the wire, read loosely on purpose; the assertions check its shape.
type Json = Record<string, any>;

/** A background create of `perplexity/sonar` with web search; `extra` overrides. */
function makeBody(input: unknown, extra: Body = {}): Body {
	return { model: "perplexity/sonar", input, tools: [{ type: "web_search" }], background: true, ...extra };
}

/** An emulator on a fake clock (perplexity/sonar runs take 2 s), with a sleep that records instead of waiting. */
function makeEmulator(options: EmulatorOptions = {}) {
	let now = T0;
	const sleeps: number[] = [];
	const emulator = createEmulator({
		apiKey: KEY,
		seed: 7,
		now: () => now,
		sleep: async (ms) => {
			sleeps.push(ms);
		},
		durations: { "perplexity/sonar": SONAR_MS },
		...options,
	});
	const call = (path: string, init: RequestInit = {}, key: string | null = KEY) => {
		const headers = new Headers(init.headers);
		if (key !== null) headers.set("authorization", `Bearer ${key}`);
		return emulator.app.request(path, { ...init, headers });
	};
	return {
		emulator,
		sleeps,
		advance(ms: number) {
			now += ms;
		},
		now: () => now,
		call,
		create(body: unknown, { path = "/v1/responses", key = KEY as string | null } = {}) {
			return call(
				path,
				{ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } },
				key,
			);
		},
		get(id: string, { key = KEY as string | null, query = "" } = {}) {
			return call(`/v1/responses/${id}${query}`, {}, key);
		},
		cancel(id: string, { key = KEY as string | null } = {}) {
			return call(`/v1/responses/${id}/cancel`, { method: "POST" }, key);
		},
	};
}

type Emu = ReturnType<typeof makeEmulator>;

async function ok(res: Response): Promise<Json> {
	expect(res.status).toBe(200);
	return (await res.json()) as Json;
}

async function runId(res: Response): Promise<string> {
	const body = await ok(res);
	expect(body.id).toMatch(/^resp_[0-9a-f]{32}$/);
	return body.id;
}

/** Asserts the Agent error envelope (HTTP status == code) and returns its `error`. */
async function agentError(res: Response, status: number, type: string): Promise<Json> {
	expect(res.status).toBe(status);
	const body = (await res.json()) as Json;
	expect(Object.keys(body)).toEqual(["error"]);
	expect(body.error).toMatchObject({ message: expect.any(String), type, code: status });
	return body.error;
}

/** A run created and read once its duration has passed (2 s for perplexity/sonar). */
async function finished(emu: Emu, input: unknown, extra: Body = {}): Promise<Json> {
	const id = await runId(await emu.create(makeBody(input, extra)));
	emu.advance(600_000);
	return ok(await emu.get(id));
}

function messageOf(response: Json): Json {
	const message = response.output.find((item: Json) => item.type === "message");
	if (!message) throw new Error("no message item");
	return message;
}

const textOf = (response: Json): string => messageOf(response).content[0].text;

describe("agent emulator: strict validation", () => {
	it("refuses unknown top-level fields with a 400 naming them, Sonar-era fields included", async () => {
		const emu = makeEmulator();
		for (const field of ["stop", "disable_search", "return_images", "search_mode", "messages", "top_k"]) {
			const error = await agentError(await emu.create(makeBody("Hi", { [field]: true })), 400, "invalid_request_error");
			expect(error.param).toBe(field);
			expect(error.message).toContain(field);
		}
		expect(emu.emulator.stats()).toMatchObject({ creates: 6, createsAccepted: 0, responses: { "400": 6 } });
	});

	it("refuses unknown nested fields, naming their full path", async () => {
		const emu = makeEmulator();
		const cases: [Body, string][] = [
			[
				makeBody("Hi", { tools: [{ type: "web_search", filters: { search_mode: "academic" } }] }),
				"tools[0].filters.search_mode",
			],
			[makeBody("Hi", { tools: [{ type: "web_search", return_images: true }] }), "tools[0].return_images"],
			[makeBody("Hi", { tools: [{ type: "web_search", user_location: { zip: "1" } }] }), "tools[0].user_location.zip"],
			[makeBody("Hi", { tools: [{ type: "fetch_url" }, { type: "function", name: "f", extra: 1 }] }), "tools[1].extra"],
			[makeBody([{ type: "message", role: "user", content: "Hi", name: "me" }]), "input[0].name"],
			[
				makeBody([{ type: "message", role: "user", content: [{ type: "input_text", text: "Hi", cache: true }] }]),
				"input[0].content[0].cache",
			],
			[makeBody("Hi", { reasoning: { effort: "low", summary: "auto" } }), "reasoning.summary"],
			[
				makeBody("Hi", { response_format: { type: "json_schema", json_schema: { name: "a", schema: {}, format: 1 } } }),
				"response_format.json_schema.format",
			],
			[makeBody("Hi", { profile: { type: "custom", id: "p", owner: "x" } }), "profile.owner"],
		];
		for (const [body, param] of cases) {
			const error = await agentError(await emu.create(body), 400, "invalid_request_error");
			expect(error.param).toBe(param);
		}
	});

	it("refuses wrongly typed and out-of-range values, naming them", async () => {
		const emu = makeEmulator();
		const cases: [Body, string][] = [
			[makeBody("Hi", { temperature: 2.5 }), "temperature"],
			[makeBody("Hi", { top_p: -0.1 }), "top_p"],
			[makeBody("Hi", { max_steps: 0 }), "max_steps"],
			[makeBody("Hi", { max_steps: 101 }), "max_steps"],
			[makeBody("Hi", { max_tool_calls: 0 }), "max_tool_calls"],
			[makeBody("Hi", { models: Array(6).fill("perplexity/sonar"), model: undefined }), "models"],
			[makeBody("Hi", { reasoning: { effort: "extreme" } }), "reasoning.effort"],
			[makeBody("Hi", { tools: [{ type: "image_search" }] }), "tools[0].type"],
			[makeBody([{ type: "message", role: "tool", content: "x" }]), "input[0].role"],
			[makeBody([{ role: "user", content: "no type" }]), "input[0].type"],
			[makeBody("Hi", { background: "yes" }), "background"],
			[makeBody(5), "input"],
			[{ model: "perplexity/sonar" }, "input"],
		];
		for (const [body, param] of cases) {
			const error = await agentError(await emu.create(body), 400, "invalid_request_error");
			expect(error.param, JSON.stringify(body)).toBe(param);
		}
	});

	it("checks the web_search filters: MM/DD/YYYY dates, at most 20 domains, known recency values", async () => {
		const emu = makeEmulator();
		const withFilters = (filters: Body) => makeBody("Hi", { tools: [{ type: "web_search", filters }] });
		for (const [filters, param] of [
			[{ search_after_date_filter: "2025-01-31" }, "tools[0].filters.search_after_date_filter"],
			[{ search_before_date_filter: "02/30/2025" }, "tools[0].filters.search_before_date_filter"],
			[{ last_updated_after_filter: "1/5/2025" }, "tools[0].filters.last_updated_after_filter"],
			[{ last_updated_before_filter: "13/01/2025" }, "tools[0].filters.last_updated_before_filter"],
			[
				{ search_domain_filter: Array.from({ length: 21 }, (_, i) => `d${i}.com`) },
				"tools[0].filters.search_domain_filter",
			],
			[{ search_recency_filter: "decade" }, "tools[0].filters.search_recency_filter"],
		] as [Body, string][]) {
			const error = await agentError(await emu.create(withFilters(filters)), 400, "invalid_request_error");
			expect(error.param).toBe(param);
		}
		const valid = withFilters({
			search_domain_filter: Array.from({ length: 20 }, (_, i) => (i === 0 ? "-spam.com" : `d${i}.com`)),
			search_recency_filter: "week",
			search_after_date_filter: "01/31/2025",
			search_before_date_filter: "02/28/2025",
			last_updated_after_filter: "02/29/2024",
			last_updated_before_filter: "12/31/2025",
		});
		expect((await emu.create(valid)).status).toBe(200);
	});

	it("checks metadata: at most 16 keys, keys of at most 64 characters, string values of at most 512", async () => {
		const emu = makeEmulator();
		const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
		expect(
			(await agentError(await emu.create(makeBody("Hi", { metadata: many })), 400, "invalid_request_error")).param,
		).toBe("metadata");
		const longKey = { ["k".repeat(65)]: "v" };
		const keyError = await agentError(
			await emu.create(makeBody("Hi", { metadata: longKey })),
			400,
			"invalid_request_error",
		);
		expect(keyError.param).toMatch(/^metadata/);
		const longValue = await agentError(
			await emu.create(makeBody("Hi", { metadata: { job: "x".repeat(513) } })),
			400,
			"invalid_request_error",
		);
		expect(longValue.param).toBe("metadata.job");
		const numeric = await agentError(
			await emu.create(makeBody("Hi", { metadata: { n: 1 } })),
			400,
			"invalid_request_error",
		);
		expect(numeric.param).toBe("metadata.n");

		const fine = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`.padEnd(64, "x"), "v".repeat(512)]));
		const created = await ok(await emu.create(makeBody("Hi", { metadata: fine })));
		expect(created.metadata).toEqual(fine);
	});

	it("accepts a body using every documented field and every SDK tool and input item kind", async () => {
		const emu = makeEmulator();
		const body = {
			input: [
				{ type: "message", role: "system", content: "Be brief." },
				{ type: "message", role: "developer", content: [{ type: "input_text", text: "Cite sources." }] },
				{ type: "message", role: "user", content: "Earlier question" },
				{ type: "message", role: "assistant", content: "Earlier answer" },
				{ type: "function_call", call_id: "c1", name: "lookup", arguments: "{}" },
				{ type: "function_call_output", call_id: "c1", output: [{ type: "input_text", text: "result" }] },
				{ type: "reasoning", summary: [{ type: "summary_text", text: "thought" }], status: "completed" },
				{
					type: "message",
					role: "user",
					content: [
						{ type: "input_text", text: "What is new in Workers?" },
						{ type: "input_image", image_url: "https://example.com/a.png" },
					],
				},
			],
			instructions: "Answer in English.",
			model: "openai/gpt-5.1",
			models: ["openai/gpt-5.1", "openai/gpt-5-mini"],
			preset: "pro-search",
			max_output_tokens: 4000,
			max_steps: 10,
			max_tool_calls: 5,
			temperature: 0.2,
			top_p: 0.9,
			reasoning: { effort: "xhigh" },
			response_format: { type: "json_schema", json_schema: { name: "a", schema: { type: "object" }, strict: true } },
			tools: [
				{
					type: "web_search",
					filters: { search_domain_filter: ["example.com"], search_recency_filter: "month" },
					search_context_size: "high",
					user_location: { city: "Paris", country: "FR", latitude: 48.8, longitude: 2.3, region: "IDF" },
					max_tokens: 1000,
					max_tokens_per_page: 500,
				},
				{ type: "fetch_url", max_urls: 3 },
				{ type: "function", name: "lookup", description: "d", parameters: { type: "object" }, strict: false },
				{ type: "people_search" },
				{ type: "finance_search" },
				{ type: "sandbox" },
				{ type: "mcp", server_label: "m", server_url: "https://mcp.example.com", headers: { a: "b" } },
				{ type: "connector", id: "c", server_label: "s" },
			],
			language_preference: "en",
			background: true,
			store: true,
			stream: false,
			previous_response_id: "resp_00000000000000000000000000000000",
			profile: { type: "custom", id: "p1", version: "2" },
			skills: [
				{ type: "builtin", name: "office/pdf" },
				{ type: "inline", name: "n", description: "d", instructions: "i" },
			],
			metadata: { job: "j-1" },
		};
		const created = await ok(await emu.create(body, { path: "/v1/agent" }));
		expect(created).toMatchObject({
			status: "queued",
			model: "openai/gpt-5.1",
			previous_response_id: body.previous_response_id,
			metadata: { job: "j-1" },
		});
		const stats = emu.emulator.stats().jobs[created.id];
		expect(stats).toMatchObject({ api: "agent", preset: "low", question: "What is new in Workers?", body });
	});

	it("answers 400 without param to malformed JSON, and 401 in the envelope without a valid key", async () => {
		const emu = makeEmulator();
		const malformed = await agentError(
			await emu.call("/v1/responses", { method: "POST", body: "{oops" }),
			400,
			"invalid_request_error",
		);
		expect(malformed.param).toBeUndefined();
		for (const key of [null, "wrong-key"]) {
			await agentError(await emu.create(makeBody("Hi"), { key }), 401, "authentication_error");
			await agentError(await emu.get("resp_x", { key }), 401, "authentication_error");
			await agentError(await emu.cancel("resp_x", { key }), 401, "authentication_error");
		}
	});
});

describe("agent emulator: models, presets and input", () => {
	it("requires a model, models or preset, and refuses unknown slugs and presets", async () => {
		const emu = makeEmulator();
		const none = await agentError(await emu.create({ input: "Hi", background: true }), 400, "invalid_request_error");
		expect(none.param).toBe("model");
		const unknown = await agentError(
			await emu.create(makeBody("Hi", { model: "sonar-pro" })),
			400,
			"invalid_request_error",
		);
		expect(unknown).toMatchObject({ param: "model", message: expect.stringContaining("sonar-pro") });
		const inList = await agentError(
			await emu.create({ input: "Hi", models: ["openai/gpt-5.1", "gpt-4o"] }),
			400,
			"invalid_request_error",
		);
		expect(inList.param).toBe("models[1]");
		const preset = await agentError(await emu.create({ input: "Hi", preset: "ultra" }), 400, "invalid_request_error");
		expect(preset.param).toBe("preset");
	});

	it("maps the legacy preset names and reports the preset's model", async () => {
		const emu = makeEmulator();
		const expected = {
			"fast-search": "fast",
			"pro-search": "low",
			"deep-research": "medium",
			"advanced-deep-research": "high",
		};
		for (const [legacy, preset] of Object.entries(expected)) {
			const created = await ok(await emu.create({ input: `About ${legacy}`, preset: legacy, background: true }));
			expect(emu.emulator.stats().jobs[created.id]?.preset).toBe(preset);
			expect(created.model).toMatch(/^[a-z]+\/[\w.-]+$/);
		}
		const xhigh = await ok(await emu.create({ input: "Deepest", preset: "xhigh", background: true }));
		expect(emu.emulator.stats().jobs[xhigh.id]?.preset).toBe("xhigh");
		const models = await ok(
			await emu.create({ input: "Fallbacks", models: ["google/gemini-2.5-pro", "xai/grok-4"], background: true }),
		);
		expect(models.model).toBe("google/gemini-2.5-pro");
	});

	it("requires max_output_tokens for anthropic models", async () => {
		const emu = makeEmulator();
		const slug = "anthropic/claude-sonnet-4-5";
		const refused = await agentError(await emu.create(makeBody("Hi", { model: slug })), 400, "invalid_request_error");
		expect(refused.param).toBe("max_output_tokens");
		const inModels = await agentError(
			await emu.create({ input: "Hi", models: ["openai/gpt-5.1", slug] }),
			400,
			"invalid_request_error",
		);
		expect(inModels.param).toBe("max_output_tokens");
		expect((await emu.create(makeBody("Hi", { model: slug, max_output_tokens: 1000 }))).status).toBe(200);
	});

	it("refuses an empty input: empty string, whitespace only, empty list", async () => {
		const emu = makeEmulator();
		for (const input of ["", "  \n\t ", []]) {
			const error = await agentError(await emu.create(makeBody(input)), 400, "invalid_request_error");
			expect(error.param).toBe("input");
		}
	});

	it("serves GET /v1/models without auth", async () => {
		const emu = makeEmulator();
		const res = await emu.call("/v1/models", {}, null);
		const list = await ok(res);
		expect(list.object).toBe("list");
		const ids = list.data.map((m: Json) => m.id);
		for (const slug of [
			"perplexity/sonar",
			"openai/gpt-5.1",
			"openai/gpt-5-mini",
			"anthropic/claude-sonnet-4-5",
			"google/gemini-2.5-pro",
			"xai/grok-4",
		]) {
			expect(ids).toContain(slug);
		}
		for (const model of list.data) {
			expect(model).toEqual({
				id: expect.any(String),
				object: "model",
				owned_by: model.id.split("/")[0],
				created: expect.any(Number),
			});
		}
	});
});

describe("agent emulator: lifecycle", () => {
	it("moves queued → in_progress → completed on the injected clock, with output [] until then", async () => {
		const emu = makeEmulator();
		const body = makeBody("What is Hono?");
		const created = await ok(await emu.create(body));
		expect(created).toEqual({
			id: expect.stringMatching(/^resp_[0-9a-f]{32}$/),
			object: "response",
			created_at: T0 / 1000,
			status: "queued",
			model: "perplexity/sonar",
			output: [],
			background: true,
			store: true,
		});
		const { id } = created;

		expect(await ok(await emu.get(id))).toMatchObject({ status: "queued", output: [] });
		emu.advance(SONAR_MS * 0.1);
		const running = await ok(await emu.get(id));
		expect(running).toMatchObject({ status: "in_progress", output: [] });
		expect(running.usage).toBeUndefined();
		expect(running.completed_at).toBeUndefined();
		emu.advance(SONAR_MS * 0.9 - 1);
		expect((await ok(await emu.get(id))).status).toBe("in_progress");
		emu.advance(1);

		const done = await ok(await emu.get(id));
		expect(done).toMatchObject({
			id,
			status: "completed",
			completed_at: (T0 + SONAR_MS) / 1000,
			model: "perplexity/sonar",
		});
		expect(done.error).toBeUndefined();
		expect(done.output.map((item: Json) => item.type)).toEqual(["search_results", "message"]);

		const stats = emu.emulator.stats();
		expect(stats).toMatchObject({ creates: 1, createsAccepted: 1, gets: 4, cancels: 0 });
		expect(stats.jobs[id]).toEqual({
			api: "agent",
			model: "perplexity/sonar",
			preset: null,
			question: "What is Hono?",
			idempotencyKey: null,
			creates: 1,
			answerLost: false,
			gets: 4,
			cancels: 0,
			streams: 0,
			body,
			createdAtMs: T0,
			finishedAtMs: T0 + SONAR_MS,
			status: "completed",
			firstSeen: { queued: T0, in_progress: T0 + 200, completed: T0 + SONAR_MS },
		});
	});

	it("answers a completed run with search results, a cited message and usage with cost", async () => {
		const emu = makeEmulator();
		const done = await finished(emu, "Why is the sky blue?");
		const [search, message] = done.output;
		expect(search.queries.length).toBeGreaterThanOrEqual(1);
		expect(search.queries[0]).toBe("Why is the sky blue");
		expect(search.results.length).toBeGreaterThanOrEqual(3);
		search.results.forEach((result: Json, i: number) => {
			expect(result).toEqual({
				id: i + 1,
				url: expect.stringMatching(/^https:\/\/[a-z.]*example\.(com|org|net)\//),
				title: expect.any(String),
				snippet: expect.any(String),
				date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
				last_updated: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
				source: "web",
			});
		});

		expect(message).toMatchObject({
			type: "message",
			id: expect.stringMatching(/^msg_/),
			role: "assistant",
			status: "completed",
		});
		expect(message.content).toHaveLength(1);
		const [part] = message.content;
		expect(part.type).toBe("output_text");
		expect(part.text).toMatch(/^## Why is the sky blue/);
		for (const n of [1, 2, 3]) expect(part.text).toContain(`[${n}]`);
		expect(part.annotations.length).toBeGreaterThanOrEqual(3);
		for (const annotation of part.annotations) {
			expect(annotation).toMatchObject({ type: "citation", url: expect.any(String), title: expect.any(String) });
			const marker = part.text.slice(annotation.start_index, annotation.end_index);
			expect(search.results[Number(marker.slice(1, -1)) - 1].url).toBe(annotation.url);
		}

		const { usage } = done;
		expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
		expect(usage.output_tokens).toBe(Math.ceil(part.text.length / 4));
		expect(usage.cost.currency).toBe("USD");
		expect(usage.cost.tool_calls_cost).toBeGreaterThan(0);
		expect(usage.cost.total_cost).toBeCloseTo(
			usage.cost.input_cost + usage.cost.output_cost + usage.cost.tool_calls_cost,
			6,
		);
		expect(usage.tool_calls_details).toEqual({ web_search: { invocation: search.queries.length } });

		const again = await finished(emu, "Why is the sky blue?");
		expect(textOf(again)).toBe(part.text);
		expect(again.id).not.toBe(done.id);
		expect(textOf(await finished(emu, "Why is grass green?"))).not.toBe(part.text);
	});

	it("does no web search for a bare model: no search_results item, no citations", async () => {
		const emu = makeEmulator();
		const done = await finished(emu, "Plain model", { tools: undefined });
		expect(done.output.map((item: Json) => item.type)).toEqual(["message"]);
		const [part] = messageOf(done).content;
		expect(part.text).not.toMatch(/\[\d+\]/);
		expect(part.annotations).toEqual([]);
		expect(done.usage.cost.tool_calls_cost).toBe(0);

		const preset = await finished(emu, "Preset searches", { model: undefined, tools: undefined, preset: "fast" });
		expect(preset.output.map((item: Json) => item.type)).toEqual(["search_results", "message"]);
	});

	it("answers JSON following a json_schema response_format", async () => {
		const emu = makeEmulator();
		const done = await finished(emu, "Structured", {
			response_format: {
				type: "json_schema",
				json_schema: {
					name: "card",
					schema: { type: "object", properties: { title: { type: "string" }, score: { type: "integer" } } },
				},
			},
		});
		expect(JSON.parse(textOf(done))).toEqual({ title: expect.any(String), score: expect.any(Number) });
	});

	it("serves /v1/agent and /v1/responses from one run store", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Shared"), { path: "/v1/agent" }));
		expect((await ok(await emu.get(id))).id).toBe(id);
	});

	it("makes a create without background wait (with the injected sleep) for the terminal Response", async () => {
		const emu = makeEmulator();
		const done = await ok(await emu.create(makeBody("Wait for it", { background: false })));
		expect(done).toMatchObject({ status: "completed", background: false, completed_at: (T0 + SONAR_MS) / 1000 });
		expect(emu.sleeps).toEqual([SONAR_MS]);
		// The run is where the wait left it, though the injected clock did not move.
		expect((await ok(await emu.get(done.id))).status).toBe("completed");

		const stepped = await ok(await emu.create(makeBody("Stepped [[emu:steps=3]]", { background: undefined })));
		expect(stepped.status).toBe("completed");
	});

	it("ends a [[emu:fail]] run failed, as an HTTP 200 with an error object", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Boom [[emu:fail]]")));
		emu.advance(SONAR_MS);
		const failed = await ok(await emu.get(id));
		expect(failed).toMatchObject({
			status: "failed",
			output: [],
			error: { message: FAILURE_MESSAGE, type: "internal_error", code: "internal_error" },
		});
		expect(failed.usage).toBeUndefined();
		expect(emu.emulator.stats().jobs[id]).toMatchObject({ status: "failed", finishedAtMs: T0 + SONAR_MS });
	});

	it("ends incomplete when max_output_tokens is below the answer, truncated to fit", async () => {
		const emu = makeEmulator();
		const full = await finished(emu, "A long enough answer");
		const fullTokens = full.usage.output_tokens;
		expect(fullTokens).toBeGreaterThan(40);

		const cut = await finished(emu, "A long enough answer", { max_output_tokens: 40 });
		expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
		expect(cut.completed_at).toBeUndefined();
		expect(cut.usage.output_tokens).toBe(40);
		expect(messageOf(cut).status).toBe("incomplete");
		expect(textOf(cut)).toBe(textOf(full).slice(0, 160));
		for (const a of messageOf(cut).content[0].annotations) expect(a.end_index).toBeLessThanOrEqual(160);

		const floored = await finished(emu, "A long enough answer", { max_output_tokens: 5 });
		expect(floored.usage.output_tokens).toBe(16);
		const roomy = await finished(emu, "A long enough answer", { max_output_tokens: fullTokens });
		expect(roomy.status).toBe("completed");

		const marked = await finished(emu, "Cut short [[emu:incomplete]]");
		expect(marked).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
		expect(marked.usage.output_tokens).toBe(Math.ceil(textOf(marked).length / 4));
	});
});

describe("agent emulator: cancel", () => {
	it("cancels a running run: cancelling, then cancelled with an error and no output", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Cancel me")));
		emu.advance(500);
		expect(await ok(await emu.cancel(id))).toEqual({ response_id: id, status: "cancelling" });
		emu.advance(10_000);
		const cancelled = await ok(await emu.get(id));
		expect(cancelled).toMatchObject({
			status: "cancelled",
			output: [],
			error: { message: "Response was cancelled", type: "cancelled" },
		});
		const again = await agentError(await emu.cancel(id), 400, "invalid_request_error");
		expect(again.message).toBe("Response is already cancelled");
		const stats = emu.emulator.stats();
		expect(stats.cancels).toBe(2);
		expect(stats.jobs[id]).toMatchObject({ cancels: 2, status: "cancelled", finishedAtMs: T0 + 500 });
	});

	it("refuses to cancel a terminal run, and ends [[emu:cancelled]] runs cancelled by themselves", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Done already")));
		emu.advance(SONAR_MS);
		const error = await agentError(await emu.cancel(id), 400, "invalid_request_error");
		expect(error.message).toBe("Response is already completed");

		const self = await finished(emu, "Give up [[emu:cancelled]]");
		expect(self).toMatchObject({ status: "cancelled", output: [], error: { type: "cancelled" } });
	});
});

describe("agent emulator: tenancy and storage", () => {
	it("hides other keys' runs and unknown ids behind a 404", async () => {
		const emu = makeEmulator({ apiKey: undefined });
		const mine = await runId(await emu.create(makeBody("Mine"), { key: "tenant-a" }));
		await agentError(await emu.get(mine, { key: "tenant-b" }), 404, "not_found_error");
		await agentError(await emu.cancel(mine, { key: "tenant-b" }), 404, "not_found_error");
		await agentError(await emu.get(mine, { key: "tenant-b", query: "?stream=true" }), 404, "not_found_error");
		await agentError(
			await emu.get("resp_0123456789abcdef0123456789abcdef", { key: "tenant-a" }),
			404,
			"not_found_error",
		);
		expect((await emu.get(mine, { key: "tenant-a" })).status).toBe(200);
	});

	it("answers 404 for a store: false run, which still runs", async () => {
		const emu = makeEmulator();
		const created = await ok(await emu.create(makeBody("Forget me", { store: false })));
		expect(created.store).toBe(false);
		await agentError(await emu.get(created.id), 404, "not_found_error");
		await agentError(await emu.cancel(created.id), 404, "not_found_error");
		expect(emu.emulator.stats().jobs[created.id]?.status).toBe("queued");

		const sync = await ok(await emu.create(makeBody("Sync, unstored", { store: false, background: false })));
		expect(sync).toMatchObject({ status: "completed", store: false });
	});

	it("hands out the same seeded ids for the same seed", async () => {
		const ids = async () => {
			const emu = makeEmulator({ seed: 42 });
			return [await runId(await emu.create(makeBody("One"))), await runId(await emu.create(makeBody("Two")))];
		};
		const first = await ids();
		expect(await ids()).toEqual(first);
		expect(new Set(first).size).toBe(2);
	});
});

describe("agent emulator: markers", () => {
	it("follows [[emu:steps=N]] regardless of the clock: queued before the first GET", async () => {
		const emu = makeEmulator();
		const created = await ok(await emu.create(makeBody("Steps [[emu:steps=3]]")));
		expect(created.status).toBe("queued");
		emu.advance(3_600_000);
		expect(emu.emulator.stats().jobs[created.id]?.status).toBe("queued");
		const statuses: string[] = [];
		for (let i = 0; i < 4; i++) statuses.push((await ok(await emu.get(created.id))).status);
		expect(statuses).toEqual(["in_progress", "in_progress", "completed", "completed"]);
	});

	it("reads markers from the last user message's input_text parts only", async () => {
		const emu = makeEmulator();
		const input = [
			{ type: "message", role: "user", content: "Earlier [[emu:fail]]" },
			{ type: "message", role: "assistant", content: "Sure." },
			{
				type: "message",
				role: "user",
				content: [
					{ type: "input_text", text: "Now this" },
					{ type: "input_image", image_url: "https://example.com/a.png" },
					{ type: "input_text", text: "[[emu:steps=1]]" },
				],
			},
		];
		const id = await runId(await emu.create(makeBody(input)));
		expect((await ok(await emu.get(id))).status).toBe("completed");
		expect(emu.emulator.stats().jobs[id]?.question).toBe("Now this");
	});

	it("answers [[emu:get=429x1]] with 429 + Retry-After in the envelope, then the run", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Busy [[emu:get=429x1]] [[emu:retry-after=7]] [[emu:steps=1]]")));
		const limited = await emu.get(id);
		await agentError(limited, 429, "request_rate_limit_exceeded");
		expect(limited.headers.get("retry-after")).toBe("7");
		expect((await ok(await emu.get(id))).status).toBe("completed"); // faulted GETs are not steps
		expect(emu.emulator.stats().jobs[id]?.gets).toBe(2);

		const plain = await runId(await emu.create(makeBody("Down [[emu:get=503x1]]")));
		const unavailable = await emu.get(plain);
		await agentError(unavailable, 503, "service_unavailable");
		expect(unavailable.headers.get("retry-after")).toBeNull();
	});

	it("answers [[emu:create=STATUSxN]] N times, then makes a new run per create (no idempotency)", async () => {
		const emu = makeEmulator();
		const body = makeBody("Flaky [[emu:create=502x2]] [[emu:retry-after=4]]");
		for (let i = 0; i < 2; i++) {
			const res = await emu.create(body);
			await agentError(res, 502, "bad_gateway");
			expect(res.headers.get("retry-after")).toBe("4");
		}
		const first = await runId(await emu.create(body));
		const second = await runId(await emu.create(body));
		expect(second).not.toBe(first);
		expect(emu.emulator.stats()).toMatchObject({ creates: 4, createsAccepted: 2, responses: { "200": 2, "502": 2 } });

		const gateway = makeEmulator();
		await agentError(await gateway.create(makeBody("Slow gateway [[emu:create=504x1]]")), 504, "gateway_timeout");
		await agentError(await gateway.create(makeBody("Broken [[emu:create=500x1]]")), 500, "internal_error");
	});

	it("waits [[emu:delay=MS]] on every call about the run", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Slow [[emu:delay=250]]")));
		await emu.get(id);
		await emu.cancel(id);
		expect(emu.sleeps).toEqual([250, 250, 250]);
	});

	it("carries harmless schema drift on every answer about a [[emu:drift]] run", async () => {
		const emu = makeEmulator();
		const created = await ok(await emu.create(makeBody("Drifting [[emu:drift]]")));
		expect(created).toMatchObject({ status: "queued", service_tier: "default", x_emulator_trace: expect.any(Object) });
		emu.advance(SONAR_MS);
		const done = await ok(await emu.get(created.id));
		expect(done).toMatchObject({ status: "completed", service_tier: "default" });
		expect(done.output.map((item: Json) => item.type)).toEqual(["search_results", "reasoning_trace", "message"]);
		const [search, , message] = done.output;
		expect(search.queries).toBeUndefined();
		expect(search.x_provider).toBe("emulator");
		for (const result of search.results) {
			expect(result.snippet).toBeUndefined();
			expect(result.date).toBeUndefined();
			expect(result.url).toEqual(expect.any(String));
		}
		expect(message.x_finish_reason).toBe("stop");
		expect(message.content.map((part: Json) => part.type)).toEqual(["output_summary", "output_text"]);
		expect(message.content[1].annotations).toBeUndefined();
		expect(message.content[1].text).toEqual(expect.any(String));
		expect(done.usage.cost).toBeUndefined();
		expect(done.usage.output_tokens).toBeGreaterThan(0);
		expect(done.usage.x_cached_tokens).toBe(0);

		const other = await runId(await emu.create(makeBody("Drifting cancel [[emu:drift]]")));
		expect(await ok(await emu.cancel(other))).toMatchObject({
			status: "cancelling",
			x_emulator_trace: expect.any(Object),
		});
	});

	it("answers terminal reads of an [[emu:unusable]] run without status or output", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Broken answer [[emu:unusable]]")));
		expect((await ok(await emu.get(id))).status).toBe("queued");
		emu.advance(SONAR_MS);
		expect(await ok(await emu.get(id))).toEqual({ id, object: "response" });
		expect(await ok(await emu.create(makeBody("Broken sync [[emu:unusable]]", { background: false })))).toEqual({
			id: expect.stringMatching(/^resp_/),
			object: "response",
		});
	});

	it("pads the answer to about [[emu:size=BYTES]]", async () => {
		const emu = makeEmulator();
		const big = textOf(await finished(emu, "Big one [[emu:size=200000]]"));
		expect(Buffer.byteLength(big)).toBeLessThanOrEqual(200_000);
		expect(Buffer.byteLength(big)).toBeGreaterThan(199_000);
		const small = textOf(await finished(emu, "Small one [[emu:size=100]]"));
		expect(Buffer.byteLength(small)).toBeLessThanOrEqual(100);
	});
});

describe("agent emulator: durations", () => {
	it("draws realistic, seeded built-in durations per model and preset", async () => {
		const finishedIn = async (seed: number, body: Body) => {
			const emu = makeEmulator({ seed, durations: undefined });
			const id = await runId(await emu.create(body));
			emu.advance(3_600_000);
			const job = emu.emulator.stats().jobs[id];
			return (job?.finishedAtMs ?? 0) - T0;
		};
		const sonar = await finishedIn(1, makeBody("Quick"));
		expect(sonar).toBeGreaterThan(500);
		expect(sonar).toBeLessThan(15_000);
		const gpt = await finishedIn(1, makeBody("Provider", { model: "openai/gpt-5.1" }));
		expect(gpt).toBeGreaterThan(2_000);
		expect(gpt).toBeLessThan(30_000);
		const deep = await finishedIn(1, { input: "Deep", preset: "medium", background: true });
		expect(deep).toBeGreaterThan(30_000);
		expect(deep).toBeLessThan(1_800_000);
		expect(await finishedIn(1, { input: "Deep", preset: "medium", background: true })).toBe(deep);

		const draws = new Set<number>();
		for (let seed = 1; seed <= 8; seed++)
			draws.add(await finishedIn(seed, { input: "Deep", preset: "medium", background: true }));
		expect(draws.size).toBeGreaterThan(1);
	});

	it("keys durations by preset then model, calls durationFor with the primary key, and lets the marker win", async () => {
		const seen: [string, number][] = [];
		const emu = makeEmulator({
			durations: { medium: 700, "openai/gpt-5-mini": 300 },
			durationFor: (key, seq) => {
				seen.push([key, seq]);
				return key === "xai/grok-4" ? 50 : undefined;
			},
		});
		const ids = [
			await runId(await emu.create({ input: "A", preset: "deep-research", background: true })),
			await runId(await emu.create(makeBody("B", { model: "openai/gpt-5-mini" }))),
			await runId(await emu.create(makeBody("C", { model: "xai/grok-4" }))),
			await runId(await emu.create(makeBody("D [[emu:duration=10]]", { model: "xai/grok-4" }))),
		];
		emu.advance(3_600_000);
		const jobs = emu.emulator.stats().jobs;
		expect(ids.map((id) => (jobs[id]?.finishedAtMs ?? 0) - T0)).toEqual([700, 300, 50, 10]);
		expect(seen).toEqual([
			["medium", 1],
			["openai/gpt-5-mini", 2],
			["xai/grok-4", 3],
		]);
	});
});

describe("agent emulator: rate limits and faults", () => {
	it("sends x-ratelimit headers on every answer and a 429 with Retry-After past requestRateLimitPerMinute", async () => {
		const emu = makeEmulator({ faults: { requestRateLimitPerMinute: 3 } });
		const first = await emu.create(makeBody("Limited"));
		const { id } = await ok(first);
		expect(first.headers.get("x-ratelimit-limit-requests")).toBe("3");
		expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("2");
		expect(first.headers.get("x-ratelimit-reset-requests")).toBe("20s");
		const second = await emu.get(id);
		expect(second.headers.get("x-ratelimit-remaining-requests")).toBe("1");
		const third = await emu.get("resp_missing"); // a 404 takes a token and reports it too
		expect(third.status).toBe(404);
		expect(third.headers.get("x-ratelimit-remaining-requests")).toBe("0");
		expect(third.headers.get("x-ratelimit-reset-requests")).toBe("60s");

		const refused = await emu.cancel(id);
		await agentError(refused, 429, "request_rate_limit_exceeded");
		expect(refused.headers.get("retry-after")).toBe("20");
		expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");

		emu.advance(20_000);
		const again = await emu.get(id);
		expect(again.status).toBe(200);
		expect(again.headers.get("x-ratelimit-remaining-requests")).toBe("0");
		emu.advance(6_000);
		expect((await emu.get(id)).headers.get("x-ratelimit-reset-requests")).toBe("54s");

		// No limit: no headers at all, and other keys have buckets of their own.
		const open = makeEmulator();
		expect((await open.create(makeBody("Open"))).headers.get("x-ratelimit-limit-requests")).toBeNull();
		const shared = makeEmulator({ apiKey: undefined, faults: { requestRateLimitPerMinute: 1 } });
		expect((await shared.create(makeBody("A"), { key: "a" })).status).toBe(200);
		expect((await shared.create(makeBody("B"), { key: "b" })).status).toBe(200);
		expect((await shared.create(makeBody("A2"), { key: "a" })).status).toBe(429);
	});

	it("applies global faults to Agent calls in the error envelope, 429s with Retry-After", async () => {
		const emu = makeEmulator({ faults: { rateLimitRate: 1, retryAfterSeconds: 3, requestRateLimitPerMinute: 10 } });
		const limited = await emu.create(makeBody("Hi"));
		await agentError(limited, 429, "request_rate_limit_exceeded");
		expect(limited.headers.get("retry-after")).toBe("3");
		// A gateway fault takes no token, but still reports the bucket.
		expect(limited.headers.get("x-ratelimit-remaining-requests")).toBe("10");

		emu.emulator.setFaults({ rateLimitRate: 0, errorRate: 1 });
		const types = new Map([
			[500, "internal_error"],
			[502, "bad_gateway"],
			[503, "service_unavailable"],
		]);
		for (let i = 0; i < 6; i++) {
			const res = await emu.get("resp_x");
			expect(types.has(res.status)).toBe(true);
			await agentError(res, res.status, types.get(res.status) as string);
		}

		const hanging = makeEmulator({ faults: { latencyMs: 40, hangRate: 1, hangMs: 5000 } });
		await agentError(await hanging.create(makeBody("Hi")), 504, "gateway_timeout");
		expect(hanging.sleeps).toEqual([40, 5000]);
		expect((await hanging.call("/v1/models", {}, null)).status).toBe(200); // the catalogue is never faulted
	});

	it("starts the run but loses the create's answer at lostAnswerRate: a hang of hangMs, then 504", async () => {
		const emu = makeEmulator({ faults: { lostAnswerRate: 1, hangMs: 5000 } });
		const body = makeBody("Lost answer");
		await agentError(await emu.create(body), 504, "gateway_timeout");
		expect(emu.sleeps).toEqual([5000]);
		// The run exists and runs (billed), unknown to its caller; a retry is a second run.
		const [lost] = Object.entries(emu.emulator.stats().jobs);
		expect(lost?.[1]).toMatchObject({ api: "agent", question: "Lost answer", answerLost: true, status: "queued" });
		emu.advance(SONAR_MS);
		expect((await ok(await emu.get(lost?.[0] as string))).status).toBe("completed");
		emu.emulator.setFaults({ lostAnswerRate: 0 });
		const retried = await runId(await emu.create(body));
		const stats = emu.emulator.stats();
		expect(stats).toMatchObject({ creates: 2, createsAccepted: 2, responses: { "504": 1 } });
		expect(Object.values(stats.jobs).map((job) => [job.question, job.answerLost])).toEqual([
			["Lost answer", true],
			["Lost answer", false],
		]);
		expect(stats.jobs[retried]?.answerLost).toBe(false);

		// Invalid creates make no run, so they lose nothing; the Sonar API has no such fault.
		const strict = makeEmulator({ faults: { lostAnswerRate: 1 } });
		await agentError(await strict.create(makeBody("Bad", { stop: ["x"] })), 400, "invalid_request_error");
		const sonar = await strict.call("/async/chat/completions", {
			method: "POST",
			body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: "Sonar" }] } }),
		});
		expect(sonar.status).toBe(200);
		expect(strict.sleeps).toEqual([]);
		expect(Object.values(strict.emulator.stats().jobs).map((job) => job.answerLost)).toEqual([false]);
	});

	it("draws lostAnswerRate per create from the seed, and is set through POST /__emulator/faults", async () => {
		const emu = makeEmulator();
		const set = await emu.call("/__emulator/faults", { method: "POST", body: '{"lostAnswerRate": 0.25}' }, null);
		expect(await set.json()).toMatchObject({ lostAnswerRate: 0.25 });
		const invalid = await emu.call("/__emulator/faults", { method: "POST", body: '{"lostAnswerRate": 2}' }, null);
		expect(invalid.status).toBe(422);
		const statuses: number[] = [];
		for (let i = 0; i < 400; i++) statuses.push((await emu.create(makeBody(`Job ${i}`))).status);
		const lost = statuses.filter((status) => status === 504).length;
		expect(lost / 400).toBeGreaterThan(0.18);
		expect(lost / 400).toBeLessThan(0.32);
		const jobs = Object.values(emu.emulator.stats().jobs);
		expect(jobs).toHaveLength(400);
		expect(jobs.filter((job) => job.answerLost)).toHaveLength(lost);

		// Same seed, same creates lost.
		const again = makeEmulator({ faults: { lostAnswerRate: 0.25 } });
		const replay: number[] = [];
		for (let i = 0; i < 400; i++) replay.push((await again.create(makeBody(`Job ${i}`))).status);
		expect(replay).toEqual(statuses);
	});

	it("ends a lost-answer hang as soon as the client gives up", async () => {
		// The real sleep: nothing but the client's abort can end a 60 s hang within this test.
		const emu = makeEmulator({ sleep: undefined, faults: { lostAnswerRate: 1, hangMs: 60_000 } });
		const client = new AbortController();
		const started = Date.now();
		const answer = emu.emulator.app.request("/v1/responses", {
			method: "POST",
			body: JSON.stringify(makeBody("Given up")),
			headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
			signal: client.signal,
		});
		setTimeout(() => client.abort(), 50);
		expect((await answer).status).toBe(504);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(Object.values(emu.emulator.stats().jobs).map((job) => job.answerLost)).toEqual([true]);
	});

	it("keeps createRateLimitPerSecond for Agent creates too, one bucket per key across both APIs", async () => {
		const emu = makeEmulator({ faults: { createRateLimitPerSecond: 2 } });
		expect((await emu.create(makeBody("1"))).status).toBe(200);
		const sonar = await emu.call("/async/chat/completions", {
			method: "POST",
			body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: "2" }] } }),
		});
		expect(sonar.status).toBe(200);
		const refused = await emu.create(makeBody("3"));
		await agentError(refused, 429, "request_rate_limit_exceeded");
		expect(refused.headers.get("retry-after")).toBe("1");
	});
});

describe("agent emulator: serving one API or both", () => {
	it("answers the Agent-style 404 on the Sonar paths when only the Agent API is served", async () => {
		const emu = makeEmulator({ apis: ["agent"] });
		for (const path of ["/async/chat/completions", "/v1/async/sonar"]) {
			await agentError(await emu.call(path), 404, "not_found_error");
			await agentError(await emu.call(path, { method: "POST", body: "{}" }), 404, "not_found_error");
			await agentError(await emu.call(`${path}/some-id`), 404, "not_found_error");
		}
		expect(emu.emulator.stats()).toMatchObject({ creates: 0, gets: 0, lists: 0 });
		expect((await emu.create(makeBody("Still here"))).status).toBe(200);
	});

	it("answers 404 on the Agent paths when only the Sonar API is served", async () => {
		const emu = makeEmulator({ apis: ["sonar"] });
		await agentError(await emu.create(makeBody("Gone")), 404, "not_found_error");
		await agentError(await emu.create(makeBody("Gone"), { path: "/v1/agent" }), 404, "not_found_error");
		await agentError(await emu.get("resp_x"), 404, "not_found_error");
		await agentError(await emu.call("/v1/models", {}, null), 404, "not_found_error");
		const sonar = await emu.call("/v1/async/sonar", {
			method: "POST",
			body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: "Hi" }] } }),
		});
		expect(sonar.status).toBe(200);
		expect(emu.emulator.stats().jobs[((await sonar.json()) as Json).id]?.api).toBe("sonar");
	});

	it("forgets Agent runs and counters on reset, keeping the id stream going", async () => {
		const emu = makeEmulator();
		const id = await runId(await emu.create(makeBody("Before")));
		await emu.cancel(id);
		expect((await emu.call("/__emulator/reset", { method: "POST" }, null)).status).toBe(200);
		expect(emu.emulator.stats()).toMatchObject({ creates: 0, cancels: 0, jobs: {} });
		await agentError(await emu.get(id), 404, "not_found_error");
		expect(await runId(await emu.create(makeBody("After")))).not.toBe(id);
	});
});
