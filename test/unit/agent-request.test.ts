/**
 * Contract tests of the Sonar → Agent API request translation: every field of
 * the seeds' `ApiChatCompletionsRequest` (and the sampling fields older Sonar
 * clients send beside them) is mapped, accepted at its neutral value, or
 * refused with a 422 that names it. The list of fields comes from the schema
 * itself, so a field added to the transcription without a rule fails here.
 */
import { describe, expect, it } from "vitest";
import { ApiChatCompletionsRequest } from "../../src/schemas/perplexity.ts";
import { agentDate, toAgentRequest } from "../../src/upstream/agent/request.ts";
import { parseModelMap, resolveModel } from "../../src/upstream/models.ts";

type Request = Parameters<typeof toAgentRequest>[0];

const BASE = { model: "sonar", messages: [{ role: "user" as const, content: "What is a Durable Object?" }] };

function translate(extra: Record<string, unknown>, modelMap: Record<string, string> = {}) {
	return toAgentRequest({ ...BASE, ...extra } as Request, modelMap);
}

/** Fields with no equivalent: values that change nothing, and a value that would. */
const NEUTRAL_OR_REFUSED: Record<string, { neutral: unknown[]; refused: unknown }> = {
	stream: { neutral: [false, null], refused: true },
	n: { neutral: [1, null], refused: 2 },
	stop: { neutral: [null, [], ""], refused: ["\n\n"] },
	cum_logprobs: { neutral: [false, null], refused: true },
	logprobs: { neutral: [false, null], refused: true },
	top_logprobs: { neutral: [null, 0], refused: 3 },
	best_of: { neutral: [null, 1], refused: 2 },
	response_metadata: { neutral: [null, {}], refused: { a: 1 } },
	diverse_first_token: { neutral: [false, null], refused: true },
	_inputs: { neutral: [null, []], refused: [1, 2] },
	_prompt_token_length: { neutral: [null], refused: 12 },
	tools: {
		neutral: [null, []],
		refused: [
			{ type: "function", function: { name: "f", description: "d", parameters: { type: "object", properties: {} } } },
		],
	},
	tool_choice: { neutral: [null, "none", "auto"], refused: "required" },
	search_mode: { neutral: [null, "web"], refused: "academic" },
	return_images: { neutral: [false, null], refused: true },
	return_related_questions: { neutral: [false, null], refused: true },
	num_search_results: { neutral: [10, null], refused: 5 },
	enable_search_classifier: { neutral: [false, null], refused: true },
	search_language_filter: { neutral: [null, []], refused: ["fr"] },
	search_tenant: { neutral: [null], refused: "t" },
	ranking_model: { neutral: [null], refused: "r" },
	image_format_filter: { neutral: [null, []], refused: ["png"] },
	image_domain_filter: { neutral: [null, []], refused: ["example.com"] },
	safe_search: { neutral: [true, null], refused: false },
	file_workspace_id: { neutral: [null], refused: "ws" },
	updated_before_timestamp: { neutral: [null], refused: 1_700_000_000 },
	updated_after_timestamp: { neutral: [null], refused: 1_700_000_000 },
	search_internal_properties: { neutral: [null, {}], refused: { x: 1 } },
	use_threads: { neutral: [false, null], refused: true },
	thread_id: { neutral: [null], refused: "th" },
	_debug_pro_search: { neutral: [false], refused: true },
	user_original_query: { neutral: [null], refused: "q" },
	_force_new_agent: { neutral: [false, null], refused: true },
	// Not in the seed schema, but sent by older Sonar clients (the chat API had them).
	top_k: { neutral: [0, null], refused: 40 },
	presence_penalty: { neutral: [0, null], refused: 0.5 },
	frequency_penalty: { neutral: [0, null], refused: 1.2 },
};

/** Fields that change nothing for an async job without tools or images, whatever their value. */
const IGNORED: Record<string, unknown> = {
	stream_mode: "concise",
	num_images: 3,
	has_image_url: true,
	parallel_tool_calls: true,
};

/** Fields that are translated (each has its own test below). */
const MAPPED = [
	"model",
	"messages",
	"max_tokens",
	"response_format",
	"web_search_options",
	"search_domain_filter",
	"search_recency_filter",
	"search_after_date_filter",
	"search_before_date_filter",
	"last_updated_before_filter",
	"last_updated_after_filter",
	"latitude",
	"longitude",
	"country",
	"reasoning_effort",
	"language_preference",
	"disable_search",
];

describe("every field of the seeds' request has a rule", () => {
	it("covers the transcribed schema field by field", () => {
		const fields = Object.keys(ApiChatCompletionsRequest.shape);
		const ruled = new Set([...Object.keys(NEUTRAL_OR_REFUSED), ...Object.keys(IGNORED), ...MAPPED]);
		expect(fields.filter((field) => !ruled.has(field))).toEqual([]);
	});

	it.each(Object.entries(NEUTRAL_OR_REFUSED))("%s: accepted at a neutral value, refused otherwise", (field, rule) => {
		for (const value of rule.neutral) {
			const { body, issues } = translate({ [field]: value });
			expect(issues, `${field}: ${JSON.stringify(value)}`).toEqual([]);
			// `tools` is also the Agent API's own field: only the relay's web_search tool may be in it.
			if (field === "tools") expect(body?.tools).toEqual([{ type: "web_search" }]);
			else expect(body && field in body).toBe(false);
		}
		const { body, issues } = translate({ [field]: rule.refused });
		expect(body).toBeNull();
		expect(issues).toHaveLength(1);
		expect(issues[0]?.loc).toEqual([field]);
		expect(issues[0]?.msg).toContain(field);
	});

	it.each(Object.entries(IGNORED))("%s is accepted and not sent", (field, value) => {
		const { body, issues } = translate({ [field]: value });
		expect(issues).toEqual([]);
		expect(body && field in body).toBe(false);
	});

	it("refuses a field no API knows, naming it", () => {
		const { issues } = translate({ callbackUrl: "https://example.com" });
		expect(issues).toEqual([
			{
				loc: ["callbackUrl"],
				msg: "callbackUrl is not a field the relay can send to the Agent API",
				type: "extra_forbidden",
			},
		]);
	});

	it("says what to use instead where something exists", () => {
		expect(translate({ updated_after_timestamp: 1 }).issues[0]?.msg).toContain("last_updated_after_filter");
		expect(translate({ return_related_questions: true }).issues[0]?.msg).toContain("ask for them in the prompt");
		expect(translate({ response_format: { type: "regex", regex: { regex: "a+" } } }).issues[0]?.msg).toContain(
			"use json_schema",
		);
	});
});

describe("mapped fields", () => {
	it("runs sonar as perplexity/sonar with the web_search tool, in the background", () => {
		const { body } = translate({});
		expect(body).toEqual({
			background: true,
			model: "perplexity/sonar",
			input: [{ type: "message", role: "user", content: "What is a Durable Object?" }],
			tools: [{ type: "web_search" }],
		});
	});

	it("maps the retired models to presets, and passes presets and slugs through", () => {
		expect(translate({ model: "sonar-pro" }).body).toMatchObject({ preset: "low" });
		expect(translate({ model: "sonar-reasoning-pro" }).body).toMatchObject({ preset: "low" });
		expect(translate({ model: "sonar-deep-research" }).body).toMatchObject({ preset: "medium" });
		expect(translate({ model: "xhigh" }).body).toMatchObject({ preset: "xhigh" });
		expect(translate({ model: "deep-research" }).body).toMatchObject({ preset: "deep-research" });
		const slug = translate({ model: "openai/gpt-5.1" }).body;
		expect(slug).toMatchObject({ model: "openai/gpt-5.1", tools: [{ type: "web_search" }] });
		// A preset bundles its own tools: none is sent unless search options override them.
		expect(translate({ model: "sonar-pro" }).body?.tools).toBeUndefined();
		expect(translate({ model: "sonar-pro" }).body?.model).toBeUndefined();
	});

	it("refuses an unknown model, listing what would work", () => {
		const { issues } = translate({ model: "gpt-4" });
		expect(issues[0]?.loc).toEqual(["model"]);
		expect(issues[0]?.msg).toMatch(/unknown model "gpt-4": use one of sonar, sonar-pro.*a preset.*perplexity\/sonar/);
	});

	it("follows MODEL_MAP over the built-in map", () => {
		const map = parseModelMap('{"sonar-pro": "high", "house": "openai/gpt-5.1", "bad": "not a model", "n": 3}');
		expect(map.rejected).toEqual(["bad", "n"]);
		expect(translate({ model: "sonar-pro" }, map.map).body).toMatchObject({ preset: "high" });
		expect(translate({ model: "house" }, map.map).body).toMatchObject({ model: "openai/gpt-5.1" });
		expect(resolveModel("constructor", map.map)).toBeNull();
		expect(resolveModel("__proto__", map.map)).toBeNull();
		expect(parseModelMap("[1]").rejected).toEqual(["MODEL_MAP is not a JSON object"]);
	});

	it("turns leading system turns into instructions and keeps the conversation as input items", () => {
		const { body } = translate({
			messages: [
				{ role: "system", content: "Be brief." },
				{ role: "system", content: "Cite sources." },
				{ role: "user", content: "Hi" },
				{ role: "assistant", content: "Hello." },
				{ role: "system", content: "Answer in French from now on." },
				{ role: "user", content: [{ type: "text", text: "What is KV?" }] },
			],
		});
		expect(body?.instructions).toBe("Be brief.\n\nCite sources.");
		expect(body?.input).toEqual([
			{ type: "message", role: "user", content: "Hi" },
			{ type: "message", role: "assistant", content: "Hello." },
			{ type: "message", role: "system", content: "Answer in French from now on." },
			{ type: "message", role: "user", content: [{ type: "input_text", text: "What is KV?" }] },
		]);
	});

	it("sends images as input_image parts and refuses file, PDF and video parts", () => {
		const { body } = translate({
			messages: [
				{
					role: "user",
					content: [
						{ type: "text", text: "What is this?" },
						{ type: "image_url", image_url: { url: "https://example.com/a.png" } },
					],
				},
			],
		});
		expect(body?.input).toEqual([
			{
				type: "message",
				role: "user",
				content: [
					{ type: "input_text", text: "What is this?" },
					{ type: "input_image", image_url: "https://example.com/a.png" },
				],
			},
		]);
		for (const part of [
			{ type: "file_url", file_url: { url: "https://example.com/a.docx" } },
			{ type: "pdf_url", pdf_url: "https://example.com/a.pdf" },
			{ type: "video_url", video_url: "https://example.com/a.mp4" },
		]) {
			const { issues } = translate({ messages: [{ role: "user", content: [{ type: "text", text: "x" }, part] }] });
			expect(issues).toHaveLength(1);
			expect(issues[0]?.loc).toEqual(["messages", 0, "content", 1, "type"]);
			expect(issues[0]?.msg).toContain(`${part.type} parts are not supported`);
		}
	});

	it("refuses tool turns and messages with fields the Agent API does not take", () => {
		expect(translate({ messages: [{ role: "tool", content: "42", tool_call_id: "c1" }] }).issues[0]?.loc).toEqual([
			"messages",
			0,
			"role",
		]);
		expect(translate({ messages: [{ role: "user", content: "Hi", name: "ann" }] }).issues[0]).toMatchObject({
			loc: ["messages", 0, "name"],
			type: "extra_forbidden",
		});
		expect(translate({ messages: [{ role: "system", content: "Only instructions." }] }).issues[0]?.loc).toEqual([
			"messages",
		]);
	});

	it("maps max_tokens, reasoning_effort, temperature, top_p and language_preference", () => {
		const { body } = translate({
			max_tokens: 500,
			reasoning_effort: "high",
			temperature: 0.2,
			top_p: 0.9,
			language_preference: "fr",
		});
		expect(body).toMatchObject({
			max_output_tokens: 500,
			reasoning: { effort: "high" },
			temperature: 0.2,
			top_p: 0.9,
			language_preference: "fr",
		});
		expect(translate({ temperature: 3 }).issues[0]?.loc).toEqual(["temperature"]);
		expect(translate({ top_p: "high" }).issues[0]?.loc).toEqual(["top_p"]);
	});

	it("moves the search filters and web_search_options onto the web_search tool", () => {
		const { body, issues } = translate({
			search_domain_filter: ["https://nature.com", "-reddit.com", "arxiv.org"],
			search_recency_filter: "month",
			search_after_date_filter: "3/1/2025",
			last_updated_before_filter: "12/31/2025",
			web_search_options: {
				search_context_size: "high",
				user_location: { country: "GB", city: "London", latitude: null },
			},
		});
		expect(issues).toEqual([]);
		expect(body?.tools).toEqual([
			{
				type: "web_search",
				filters: {
					search_domain_filter: ["nature.com", "-reddit.com", "arxiv.org"],
					search_recency_filter: "month",
					search_after_date_filter: "03/01/2025",
					last_updated_before_filter: "12/31/2025",
				},
				search_context_size: "high",
				user_location: { country: "GB", city: "London" },
			},
		]);
	});

	it("overrides a preset's web_search only when search options are given", () => {
		const { body } = translate({ model: "sonar-deep-research", search_recency_filter: "week" });
		expect(body).toMatchObject({
			preset: "medium",
			tools: [{ type: "web_search", filters: { search_recency_filter: "week" } }],
		});
	});

	it("uses the top-level location fields of older clients", () => {
		const { body } = translate({ latitude: 51.5, longitude: -0.12, country: "GB" });
		expect(body?.tools?.[0]).toMatchObject({ user_location: { latitude: 51.5, longitude: -0.12, country: "GB" } });
	});

	it("refuses what the web_search tool cannot take", () => {
		expect(
			translate({ search_domain_filter: Array.from({ length: 21 }, (_, i) => `d${i}.com`) }).issues[0]?.loc,
		).toEqual(["search_domain_filter"]);
		expect(translate({ search_before_date_filter: "2025-01-01" }).issues[0]).toMatchObject({
			loc: ["search_before_date_filter"],
			msg: "search_before_date_filter must be a date as MM/DD/YYYY",
		});
		expect(translate({ web_search_options: { search_type: "pro" } }).issues[0]?.loc).toEqual([
			"web_search_options",
			"search_type",
		]);
		expect(translate({ web_search_options: { image_results_enhanced_relevance: true } }).issues[0]?.loc).toEqual([
			"web_search_options",
			"image_results_enhanced_relevance",
		]);
		expect(
			translate({ web_search_options: { search_context_size: "low", image_results_enhanced_relevance: false } }).issues,
		).toEqual([]);
	});

	it("turns search off for a model, but cannot for a preset", () => {
		expect(translate({ disable_search: true }).body).toEqual({
			background: true,
			model: "perplexity/sonar",
			input: [{ type: "message", role: "user", content: "What is a Durable Object?" }],
		});
		expect(translate({ disable_search: false }).body?.tools).toEqual([{ type: "web_search" }]);
		expect(translate({ model: "sonar-pro", disable_search: true }).issues[0]?.loc).toEqual(["disable_search"]);
		expect(translate({ disable_search: true, search_recency_filter: "day" }).issues[0]?.loc).toEqual([
			"disable_search",
		]);
	});

	it("maps json_schema response formats; text is the default and is not sent", () => {
		expect(translate({ response_format: { type: "text" } }).body?.response_format).toBeUndefined();
		const schema = { type: "object", properties: { answer: { type: "string" } } };
		expect(
			translate({ response_format: { type: "json_schema", json_schema: { schema } } }).body?.response_format,
		).toEqual({
			type: "json_schema",
			json_schema: { name: "schema", schema },
		});
		expect(
			translate({ response_format: { type: "json_schema", json_schema: { schema, name: "a", strict: true } } }).body
				?.response_format,
		).toEqual({ type: "json_schema", json_schema: { name: "a", schema, strict: true } });
	});

	it("reports every problem of a request at once", () => {
		const { issues } = translate({ n: 3, return_images: true, model: "nope" });
		expect(issues.map((issue) => issue.loc[0]).sort()).toEqual(["model", "n", "return_images"]);
	});
});

describe("dates", () => {
	it("pads Sonar dates to MM/DD/YYYY and refuses what is not a date", () => {
		expect(agentDate("3/1/2025")).toBe("03/01/2025");
		expect(agentDate("12/31/2025")).toBe("12/31/2025");
		expect(agentDate("13/01/2025")).toBeNull();
		expect(agentDate("2025-01-01")).toBeNull();
	});
});
