/**
 * An Agent run's answer: the shared deterministic answer of `answers.ts` as
 * Agent API output items (`search_results`, then the assistant `message` with
 * citation annotations) and `usage` with its cost, truncated when the run ends
 * `incomplete`. Also `withDrift`, the harmless schema drift of `[[emu:drift]]`.
 */
import { composeAnswer, hashString, mulberry32, randomInt, tokensOf, usd } from "../answers.ts";
import { MODELS, PRESETS, type PresetName, TOOL_PRICES } from "./catalog.ts";
import type {
	AgentMessageItem,
	AgentOutputItem,
	AgentResponse,
	AgentSearchResult,
	AgentSearchResultsItem,
	ResponsesUsageOutput,
} from "./types.ts";

/** What `max_output_tokens` is raised to when set lower. */
export const MIN_OUTPUT_TOKENS = 16;

export interface AgentAnswerInput {
	/** The model the Response names. */
	model: string;
	preset: PresetName | null;
	question: string;
	/** Whether the run searched the web: a preset, or a `web_search` tool. A bare model does not. */
	search: boolean;
	/** Pages fetched by a `fetch_url` tool, for the cost. */
	fetchUrl: boolean;
	jsonSchema: Record<string, unknown> | null;
	/** The texts the run was given (instructions and input), for `usage.input_tokens`. */
	inputTexts: readonly string[];
	/** As sent; raised to MIN_OUTPUT_TOKENS. */
	maxOutputTokens?: number;
	/** `[[emu:incomplete]]`: end incomplete even without a tight `max_output_tokens`. */
	forceIncomplete: boolean;
	sizeBytes?: number;
}

export interface AgentAnswer {
	queries: string[];
	results: AgentSearchResult[];
	/** The `search_results` output item, or null when the run did not search. */
	searchItem: AgentSearchResultsItem | null;
	/** The message text, cut to `max_output_tokens` when incomplete. */
	text: string;
	annotations: NonNullable<AgentMessageItem["content"][number]["annotations"]>;
	/** Whether the answer did not fit in `max_output_tokens` (or `[[emu:incomplete]]` asked). */
	incomplete: boolean;
	usage: ResponsesUsageOutput;
}

/** Search queries a run issues: the question itself first, then variations on it. */
function queriesOf(topic: string, count: number): string[] {
	const variations = [topic, `${topic} overview`, `${topic} latest news`, `${topic} explained`, `${topic} statistics`];
	return Array.from({ length: count }, (_, i) => variations[i % variations.length] + (i >= 5 ? ` ${i}` : ""));
}

/** A citation annotation for each `[n]` in the text that names a source. */
function citationsOf(text: string, results: readonly AgentSearchResult[]): AgentAnswer["annotations"] {
	const annotations: AgentAnswer["annotations"] = [];
	for (const match of text.matchAll(/\[(\d+)\]/g)) {
		const source = results[Number(match[1]) - 1];
		if (!source || match.index === undefined) continue;
		annotations.push({
			type: "citation",
			url: source.url,
			title: source.title,
			start_index: match.index,
			end_index: match.index + match[0].length,
		});
	}
	return annotations;
}

/**
 * The answer of a run, deterministic in (model, preset, question, request flags).
 *
 * @example
 * const answer = buildAgentAnswer({ model: "perplexity/sonar", preset: null, question: "What is KV?", search: true, … });
 * answer.searchItem?.results.length; // 3 to 5
 */
export function buildAgentAnswer(input: AgentAnswerInput): AgentAnswer {
	const key = `${input.model}|${input.preset ?? ""}`;
	const composed = composeAnswer({
		key,
		question: input.question,
		jsonSchema: input.jsonSchema,
		cite: input.search && !input.jsonSchema,
		sizeBytes: input.sizeBytes,
	});
	// Its own PRNG: figures added later never shift the text of an existing answer.
	const rng = mulberry32(hashString(`${key}\n${input.question}\nagent`));
	const [minQueries, maxQueries] = input.preset ? PRESETS[input.preset].queries : [1, 3];
	const queries = input.search ? queriesOf(composed.topic, randomInt(rng, minQueries, maxQueries)) : [];
	const results: AgentSearchResult[] = input.search
		? composed.sources.map((source, i) => ({
				id: i + 1,
				url: source.url,
				title: source.title,
				snippet: source.snippet,
				date: source.date,
				last_updated: source.last_updated,
				source: "web",
			}))
		: [];

	const fullTokens = tokensOf(composed.text);
	const cap = input.maxOutputTokens === undefined ? undefined : Math.max(MIN_OUTPUT_TOKENS, input.maxOutputTokens);
	let outputTokens = fullTokens;
	let incomplete = false;
	if (cap !== undefined && cap < fullTokens) {
		outputTokens = cap;
		incomplete = true;
	} else if (input.forceIncomplete) {
		outputTokens = Math.max(1, Math.min(cap ?? fullTokens, Math.floor(fullTokens / 2)));
		incomplete = true;
	}
	const text = incomplete ? composed.text.slice(0, outputTokens * 4) : composed.text;

	const price = MODELS.get(input.model)?.price ?? { input: 1, output: 1 };
	const inputTokens = input.inputTexts.reduce((sum, t) => sum + 4 + tokensOf(t), 0);
	const fetches = input.fetchUrl ? randomInt(rng, 1, 3) : 0;
	const inputCost = usd((inputTokens * price.input) / 1e6);
	const outputCost = usd((outputTokens * price.output) / 1e6);
	const toolCallsCost = usd(queries.length * TOOL_PRICES.web_search + fetches * TOOL_PRICES.fetch_url);
	const usage: ResponsesUsageOutput = {
		input_tokens: inputTokens,
		output_tokens: outputTokens,
		total_tokens: inputTokens + outputTokens,
		cost: {
			input_cost: inputCost,
			output_cost: outputCost,
			tool_calls_cost: toolCallsCost,
			total_cost: usd(inputCost + outputCost + toolCallsCost),
			currency: "USD",
		},
		...((queries.length > 0 || fetches > 0) && {
			tool_calls_details: {
				...(queries.length > 0 && { web_search: { invocation: queries.length } }),
				...(fetches > 0 && { fetch_url: { invocation: fetches } }),
			},
		}),
	};

	return {
		queries,
		results,
		searchItem: input.search ? { type: "search_results", queries, results } : null,
		text,
		annotations: citationsOf(text, results),
		incomplete,
		usage,
	};
}

/** The assistant message of a run, at `status`. */
export function messageItem(id: string, answer: AgentAnswer, status: AgentMessageItem["status"]): AgentMessageItem {
	return {
		type: "message",
		id,
		role: "assistant",
		status,
		content: [{ type: "output_text", text: answer.text, annotations: answer.annotations }],
	};
}

/** A terminal run's output items: search results (if it searched), then its message. */
export function outputOf(id: string, answer: AgentAnswer, status: AgentMessageItem["status"]): AgentOutputItem[] {
	const message = messageItem(id, answer, status);
	return answer.searchItem ? [answer.searchItem, message] : [message];
}

// ── Drift ────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

/**
 * `[[emu:drift]]`: the same Response with the drift a lenient reader must shrug
 * off. Unknown top-level and nested fields; an unknown output item type before
 * the message; an unknown content part before the text; no `usage.cost`; no
 * `annotations`; search results without `snippet` and `date`; a
 * `search_results` item without `queries`.
 */
export function withDrift(response: AgentResponse): Json {
	const drifted: Json = {
		...response,
		service_tier: "default",
		x_emulator_trace: { region: "emu-1", hops: 2 },
	};
	if (response.usage) {
		const { cost: _cost, ...usage } = response.usage;
		drifted.usage = { ...usage, x_cached_tokens: 0 };
	}
	const output: unknown[] = [];
	for (const item of response.output) {
		if (item.type === "search_results") {
			const { queries: _queries, ...rest } = item;
			output.push({
				...rest,
				x_provider: "emulator",
				results: item.results.map(({ snippet: _snippet, date: _date, ...result }) => ({
					...result,
					x_rank: result.id,
				})),
			});
		} else if (item.type === "message") {
			output.push({
				type: "reasoning_trace",
				id: `rt_${item.id.slice(4)}`,
				steps: [{ kind: "plan", text: "Searched, read, then wrote the answer." }],
			});
			output.push({
				...item,
				x_finish_reason: "stop",
				content: [
					{ type: "output_summary", summary: "A short summary of the answer." },
					...item.content.map(({ annotations: _annotations, ...part }) => ({ ...part, x_logprobs: null })),
				],
			});
		} else {
			output.push(item);
		}
	}
	drifted.output = output;
	return drifted;
}

/** Drift on an answer that is not a Response (a stream event, a cancel answer): one unknown field. */
export function withFieldDrift<T extends object>(value: T): T & { x_emulator_trace: Json } {
	return { ...value, x_emulator_trace: { region: "emu-1", hops: 2 } };
}
