/**
 * The Sonar API's answer: a `CompletionResponse` (spec/002) around the shared,
 * deterministic answer of `answers.ts`, with the chat completion's citations,
 * `search_results`, images, related questions and `usage.cost`.
 */
import { capitalize, composeAnswer, pick, pickDistinct, type Random, randomInt, tokensOf, usd } from "../answers.ts";
import { stripMarkers } from "../markers.ts";
import type { ApiChatCompletionsRequest, ChatMessage, CompletionResponse, UsageInfo } from "./schemas.ts";

// ── Questions ────────────────────────────────────────────────────────────────

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
	return stripMarkers(lastUserText(messages));
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

function usageOf(
	rng: Random,
	model: string,
	request: ApiChatCompletionsRequest,
	content: string,
	citationCount: number,
): UsageInfo {
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
	/** `[[emu:size=BYTES]]`: pad the content to about this many bytes. */
	sizeBytes?: number;
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
	const schema = request.response_format?.type === "json_schema" ? request.response_format.json_schema.schema : null;
	const { rng, topic, slug, sources, text } = composeAnswer({
		key: model,
		question: questionOf(request.messages),
		jsonSchema: schema,
		sizeBytes: input.sizeBytes,
	});
	const citations = sources.map((source) => source.url);

	const answer: CompletionResponse = {
		id,
		model,
		created,
		usage: usageOf(rng, model, request, text, citations.length),
		object: "chat.completion",
		citations,
		search_results: sources.map(({ title, url, date, last_updated, snippet }) => ({
			title,
			url,
			date,
			last_updated,
			snippet,
			source: "web" as const,
		})),
		choices: [
			{
				index: 0,
				finish_reason: "stop",
				message: { role: "assistant", content: text },
				delta: { role: "assistant", content: text },
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
