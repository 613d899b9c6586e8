/**
 * Deterministic answers for the Perplexity emulator.
 *
 * Everything an answer says (content, citations, search results, token counts,
 * cost) is drawn from a PRNG seeded with a hash of the model and the question,
 * so the same question to the same model always gets the same answer, whatever
 * the order in which concurrent tests ask. Only the completion `id` and
 * `created` belong to the job.
 */
import type { ApiChatCompletionsRequest, ChatMessage, CompletionResponse } from "../../src/schemas/perplexity.ts";

/** A random number in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a tiny, fast 32-bit PRNG. Good enough for test data; not for secrets.
 *
 * @example
 * const rng = mulberry32(42);
 * rng(); // 0.6011037519201636, always
 */
export function mulberry32(seed: number): Random {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** FNV-1a, 32 bits: a stable hash of a string, for seeding. */
export function hashString(text: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return hash >>> 0;
}

/** An integer in [min, max], both inclusive. */
export function randomInt(rng: Random, min: number, max: number): number {
	return min + Math.floor(rng() * (max - min + 1));
}

/** A version 4 UUID whose bits come from `rng`, so a seeded emulator hands out the same ids. */
export function randomUuid(rng: Random): string {
	const bytes = Array.from({ length: 16 }, () => Math.floor(rng() * 256));
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function pick<T>(rng: Random, items: readonly T[]): T {
	const item = items[Math.floor(rng() * items.length)];
	if (item === undefined) throw new Error("pick from an empty list");
	return item;
}

/** `count` distinct items, in random order. */
function pickDistinct<T>(rng: Random, items: readonly T[], count: number): T[] {
	const pool = [...items];
	const out: T[] = [];
	while (out.length < count && pool.length > 0) {
		out.push(...pool.splice(Math.floor(rng() * pool.length), 1));
	}
	return out;
}

// ── Questions ────────────────────────────────────────────────────────────────

const MARKER = /\[\[emu:[^\]]*\]\]/gi;

/** The text of a message: its string content, or its text chunks joined. */
export function messageText(message: ChatMessage): string {
	const { content } = message;
	if (typeof content === "string") return content;
	if (!Array.isArray(content)) return "";
	return content
		.map((chunk) => (chunk.type === "text" && typeof chunk.text === "string" ? chunk.text : ""))
		.filter((text) => text !== "")
		.join("\n");
}

/** The text of the last user message, markers included: what the emulator reads its markers from. */
export function lastUserText(messages: readonly ChatMessage[]): string {
	for (let i = messages.length - 1; i >= 0; i--) {
		const message = messages[i];
		if (message?.role === "user") return messageText(message);
	}
	return "";
}

/** The question as the answer sees it: the last user message without emulator markers. */
export function questionOf(messages: readonly ChatMessage[]): string {
	return lastUserText(messages).replace(MARKER, " ").replace(/\s+/g, " ").trim();
}

// ── Content ──────────────────────────────────────────────────────────────────

const SITES = [
	{ host: "https://example.com", name: "Example Reference" },
	{ host: "https://docs.example.org", name: "Example Docs" },
	{ host: "https://news.example.net", name: "Example News" },
	{ host: "https://research.example.com", name: "Example Research" },
	{ host: "https://blog.example.org", name: "Example Blog" },
	{ host: "https://wiki.example.net", name: "Example Wiki" },
] as const;

const ASPECTS = [
	"Background",
	"Key facts",
	"Current state",
	"Trade-offs",
	"Practical tips",
	"Common pitfalls",
	"Outlook",
	"Costs",
	"Timeline",
	"Open questions",
] as const;

const LEADS = [
	"In short, {topic} is best understood by looking at a few well-documented facts",
	"Sources broadly agree on the essentials of {topic}, even where details differ",
	"The clearest picture of {topic} comes from combining reference material with recent reporting",
	"{Topic} has been covered extensively, and the main points are consistent across sources",
] as const;

const POINTS = [
	"the most cited sources describe it consistently",
	"recent reporting adds useful context to older references",
	"figures vary by source, so treat precise numbers with care",
	"the official documentation is the most reliable starting point",
	"practitioners recommend starting small and measuring results",
	"several misconceptions persist in informal discussions",
	"the topic has changed noticeably over the last few years",
	"experts expect gradual rather than sudden change",
	"costs depend heavily on scale and local conditions",
	"primary sources should be preferred over summaries",
] as const;

const CLOSINGS = [
	"For a fuller treatment",
	"For details and primary references",
	"To go further",
	"For the underlying data",
] as const;

const FILLER = [
	"Reference works tend to agree on definitions, while news coverage focuses on what changed recently.",
	"Where sources disagree, the difference usually comes from different dates or different scopes.",
	"Practitioners emphasise measuring before optimising and documenting the decisions that were made.",
	"Historical context helps explain why the current situation looks the way it does.",
	"Comparisons across regions or vendors should account for differences in methodology.",
	"Summaries are convenient, but the primary documents remain the authoritative record.",
	"A common mistake is to generalise from a single example without checking the wider evidence.",
	"Experts expect the main trends to continue, with incremental rather than dramatic changes.",
] as const;

function topicOf(question: string): string {
	const topic = question.replace(/[?!.]+$/, "").trim();
	if (topic === "") return "the question";
	return topic.length > 80 ? `${topic.slice(0, 77)}...` : topic;
}

function capitalize(text: string): string {
	return text.charAt(0).toUpperCase() + text.slice(1);
}

function slugOf(topic: string): string {
	const slug = topic
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, "-")
		.replace(/^-+|-+$/g, "")
		.slice(0, 48)
		.replace(/-+$/, "");
	return slug === "" ? "topic" : slug;
}

/** The number of characters a "long answer" reaches: enough to force message splitting in chat apps. */
export const LONG_ANSWER_CHARS = 12_000;

interface Source {
	name: string;
	url: string;
}

function markdownContent(rng: Random, topic: string, sources: readonly Source[], long: boolean): string {
	const fill = (template: string) => template.replace("{topic}", topic).replace("{Topic}", capitalize(topic));
	const aspects = pickDistinct(rng, ASPECTS, randomInt(rng, 3, 4));
	const points = pickDistinct(rng, POINTS, aspects.length);
	const lines = [
		`## ${capitalize(topic)}`,
		"",
		`${fill(pick(rng, LEADS))} [1].`,
		"",
		...aspects.map((aspect, i) => `- **${aspect}**: ${points[i]} [${(i % 3) + 1}].`),
		"",
		`${pick(rng, CLOSINGS)}, see [${sources[0]?.name}](${sources[0]?.url}) [2][3].`,
	];
	let content = lines.join("\n");
	for (let part = 1; long && content.length < LONG_ANSWER_CHARS; part++) {
		const sentences = pickDistinct(rng, FILLER, 5).join(" ");
		content += `\n\n### Part ${part}: ${pick(rng, ASPECTS)}\n\n${sentences} [${(part % 3) + 1}]\n\n${sentences}`;
	}
	return content;
}

/** A small sample value for a JSON schema, so `response_format: json_schema` gets parseable JSON back. */
function sampleFromSchema(rng: Random, schema: unknown, topic: string, depth = 0): unknown {
	if (typeof schema !== "object" || schema === null || depth > 6) return null;
	const node = schema as Record<string, unknown>;
	if (Array.isArray(node.enum) && node.enum.length > 0) return pick(rng, node.enum);
	if ("const" in node) return node.const;
	const type = Array.isArray(node.type) ? node.type[0] : node.type;
	switch (type) {
		case "object": {
			const properties = (node.properties ?? {}) as Record<string, unknown>;
			return Object.fromEntries(
				Object.entries(properties).map(([key, sub]) => [key, sampleFromSchema(rng, sub, topic, depth + 1)]),
			);
		}
		case "array":
			return Array.from({ length: randomInt(rng, 1, 3) }, () => sampleFromSchema(rng, node.items, topic, depth + 1));
		case "string":
			return `${capitalize(topic)}: ${pick(rng, POINTS)}`;
		case "integer":
			return randomInt(rng, 1, 100);
		case "number":
			return Math.round(rng() * 10_000) / 100;
		case "boolean":
			return rng() < 0.5;
		case "null":
			return null;
		default:
			return node.properties ? sampleFromSchema(rng, { ...node, type: "object" }, topic, depth) : null;
	}
}

// ── Usage and cost ───────────────────────────────────────────────────────────

/** USD per million tokens, and per request by search context size (published list prices, rounded). */
interface Price {
	input: number;
	output: number;
	reasoning?: number;
	citation?: number;
	perSearchQuery?: number;
	request: { low: number; medium: number; high: number };
}

const PRICES: Record<string, Price> = {
	sonar: { input: 1, output: 1, request: { low: 0.005, medium: 0.008, high: 0.012 } },
	"sonar-pro": { input: 3, output: 15, request: { low: 0.006, medium: 0.01, high: 0.014 } },
	"sonar-reasoning": { input: 1, output: 5, request: { low: 0.005, medium: 0.008, high: 0.012 } },
	"sonar-reasoning-pro": { input: 2, output: 8, request: { low: 0.006, medium: 0.01, high: 0.014 } },
	"sonar-deep-research": {
		input: 2,
		output: 8,
		reasoning: 3,
		citation: 2,
		perSearchQuery: 0.005,
		request: { low: 0, medium: 0, high: 0 },
	},
};

/** Whether a model spends reasoning tokens (and so reports them). */
export function isReasoningModel(model: string): boolean {
	return model.includes("reasoning") || model.includes("deep-research");
}

const usd = (value: number) => Math.round(value * 1e6) / 1e6;
const tokensOf = (text: string) => Math.ceil(text.length / 4);

function usageOf(
	rng: Random,
	model: string,
	request: ApiChatCompletionsRequest,
	content: string,
	citationCount: number,
): NonNullable<CompletionResponse["usage"]> {
	const price = PRICES[model] ?? (PRICES.sonar as Price);
	const contextSize = request.web_search_options?.search_context_size ?? "low";
	const deep = model.includes("deep-research");
	const prompt_tokens = request.messages.reduce((sum, message) => sum + 4 + tokensOf(messageText(message)), 0);
	const completion_tokens = tokensOf(content);
	const reasoning_tokens = isReasoningModel(model) ? randomInt(rng, 2, 8) * completion_tokens : undefined;
	const citation_tokens = citationCount * randomInt(rng, 150, deep ? 4_000 : 900);
	const num_search_queries = deep ? randomInt(rng, 10, 30) : randomInt(rng, 1, 3);

	const input_tokens_cost = usd((prompt_tokens * price.input) / 1e6);
	const output_tokens_cost = usd((completion_tokens * price.output) / 1e6);
	const reasoning_tokens_cost =
		price.reasoning !== undefined && reasoning_tokens ? usd((reasoning_tokens * price.reasoning) / 1e6) : undefined;
	const citation_tokens_cost = price.citation !== undefined ? usd((citation_tokens * price.citation) / 1e6) : undefined;
	const search_queries_cost =
		price.perSearchQuery !== undefined ? usd(num_search_queries * price.perSearchQuery) : undefined;
	const request_cost = usd(price.request[contextSize]);
	const total_cost = usd(
		input_tokens_cost +
			output_tokens_cost +
			request_cost +
			(reasoning_tokens_cost ?? 0) +
			(citation_tokens_cost ?? 0) +
			(search_queries_cost ?? 0),
	);
	return {
		prompt_tokens,
		completion_tokens,
		total_tokens: prompt_tokens + completion_tokens,
		search_context_size: contextSize,
		citation_tokens,
		num_search_queries,
		...(reasoning_tokens !== undefined && { reasoning_tokens }),
		cost: {
			input_tokens_cost,
			output_tokens_cost,
			...(reasoning_tokens_cost !== undefined && { reasoning_tokens_cost }),
			request_cost,
			...(citation_tokens_cost !== undefined && { citation_tokens_cost }),
			...(search_queries_cost !== undefined && { search_queries_cost }),
			total_cost,
		},
	};
}

// ── The answer ───────────────────────────────────────────────────────────────

export interface AnswerInput {
	/** The completion id (not the job id). */
	id: string;
	model: string;
	request: ApiChatCompletionsRequest;
	/** Unix seconds at which the answer was produced. */
	created: number;
}

function isoDate(rng: Random, after?: string): string {
	const base = after ? Date.parse(after) : Date.UTC(2024, 0, 1);
	const days = randomInt(rng, after ? 0 : 1, after ? 90 : 600);
	return new Date(base + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The full `CompletionResponse` for a job, deterministic in (model, question, request flags).
 *
 * @example
 * const answer = buildAnswer({ id: crypto.randomUUID(), model: "sonar", request, created: 1_700_000_000 });
 * answer.choices[0].message.content; // "## What is Hono\n\n..."
 */
export function buildAnswer(input: AnswerInput): CompletionResponse {
	const { id, model, request, created } = input;
	const question = questionOf(request.messages);
	const rng = mulberry32(hashString(`${model}\n${question}`));
	const topic = topicOf(question);
	const slug = slugOf(topic);

	const sites = pickDistinct(rng, SITES, randomInt(rng, 3, 5));
	const citations = sites.map((site, i) => `${site.host}/articles/${slug}-${i + 1}`);
	const search_results = sites.map((site, i) => {
		const date = isoDate(rng);
		return {
			title: `${capitalize(topic)} | ${site.name}`,
			url: citations[i] as string,
			date,
			last_updated: isoDate(rng, date),
			snippet: `${capitalize(topic)}: ${pick(rng, POINTS)}.`,
			source: "web" as const,
		};
	});

	const schema = request.response_format?.type === "json_schema" ? request.response_format.json_schema.schema : null;
	const content = schema
		? JSON.stringify(sampleFromSchema(rng, { type: "object", ...schema }, topic))
		: markdownContent(
				rng,
				topic,
				sites.map((site, i) => ({ name: site.name, url: citations[i] as string })),
				/long answer/i.test(question),
			);

	const answer: CompletionResponse = {
		id,
		model,
		created,
		usage: usageOf(rng, model, request, content, citations.length),
		object: "chat.completion",
		citations,
		search_results,
		choices: [
			{
				index: 0,
				finish_reason: "stop",
				message: { role: "assistant", content },
				delta: { role: "assistant", content },
			},
		],
	};
	if (request.return_images) {
		const count = Math.min(Math.max(request.num_images ?? 5, 0), 20);
		answer.images = Array.from({ length: count }, (_, i) => ({
			image_url: `https://images.example.com/${slug}/${i + 1}.jpg`,
			origin_url: citations[i % citations.length] as string,
			title: `${capitalize(topic)} (image ${i + 1})`,
			width: pick(rng, [640, 800, 1024, 1280]),
			height: pick(rng, [480, 600, 768, 720]),
		}));
	}
	if (request.return_related_questions) {
		answer.related_questions = pickDistinct(
			rng,
			[
				`What are the main criticisms of ${topic}?`,
				`How has ${topic} changed recently?`,
				`Where can I learn more about ${topic}?`,
				`How does ${topic} compare to the alternatives?`,
				`What are common misconceptions about ${topic}?`,
			],
			randomInt(rng, 3, 5),
		);
	}
	return answer;
}
