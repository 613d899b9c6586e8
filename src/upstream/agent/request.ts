/**
 * The seeds' Sonar request (`ApiChatCompletionsRequest`) as an Agent API
 * background run (`ResponsesRequestInput`), following the mapping table in
 * `spec/agent-api.md`. Pure.
 *
 * The Agent API answers 400 to any field it does not know, nested ones
 * included, so this sends only what the SDK's types name, and it decides every
 * field of the seeds' request one of three ways:
 * - mapped: messages → `input` (leading system turns → `instructions`),
 *   `max_tokens` → `max_output_tokens`, the search filters and
 *   `web_search_options` → a `web_search` tool, `reasoning_effort` →
 *   `reasoning.effort`; `response_format`, `temperature`, `top_p` and
 *   `language_preference` carry over;
 * - accepted at its neutral value (`n: 1`, `stream: false`, `return_images:
 *   false`, …) and dropped;
 * - refused otherwise, with a 422 that names the field and says why, and what
 *   to use instead where something exists. A job upstream cannot run is
 *   refused at submit, never failed later.
 */
import type {
	InputContentPartInput,
	InputItemInput,
	ResponseFormatInput,
	ResponsesRequestInput,
	ToolUserLocationInput,
	WebSearchToolInput,
} from "@perplexity-ai/perplexity_ai/generated/api";
import type { ApiChatCompletionsRequest, ValidationError } from "../../schemas/perplexity.ts";
import { type AgentTarget, knownModelNames, PRESETS, resolveModel } from "../models.ts";

/** What the relay sends: always a background run, so that the create answers at once. */
export type AgentRequest = ResponsesRequestInput & { background: true };

export interface Translation {
	/** The Agent API request; null when there are issues. */
	body: AgentRequest | null;
	/** Why the request cannot run there, as 422 details relative to the request. */
	issues: ValidationError[];
}

type Path = (string | number)[];
type Issue = ValidationError;

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);
const isNullish = (value: unknown) => value === null || value === undefined;
const isOff = (value: unknown) => isNullish(value) || value === false;
const isEmptyList = (value: unknown) => isNullish(value) || (Array.isArray(value) && value.length === 0);
const isEmptyObject = (value: unknown) => isNullish(value) || (isRecord(value) && Object.keys(value).length === 0);

/**
 * Fields with no Agent API equivalent: accepted only at a value that changes nothing.
 * A Map: field names come from the caller, and `__proto__` must not find Object.prototype's.
 */
const NEUTRAL_ONLY = new Map<string, { neutral: (value: unknown) => boolean; why: string }>(
	Object.entries({
		stream: { neutral: isOff, why: "async jobs do not stream; leave stream out or send false" },
		n: {
			neutral: (v) => isNullish(v) || v === 1,
			why: "the Agent API gives one answer per run; send n: 1 or leave it out",
		},
		stop: {
			neutral: (v) => isNullish(v) || v === "" || isEmptyList(v),
			why: "the Agent API has no stop sequences",
		},
		top_k: {
			neutral: (v) => isNullish(v) || v === 0,
			why: "the Agent API has no top_k; use temperature or top_p",
		},
		presence_penalty: { neutral: (v) => isNullish(v) || v === 0, why: "the Agent API has no presence penalty" },
		frequency_penalty: { neutral: (v) => isNullish(v) || v === 0, why: "the Agent API has no frequency penalty" },
		logprobs: { neutral: isOff, why: "the Agent API returns no log probabilities" },
		cum_logprobs: { neutral: isOff, why: "the Agent API returns no log probabilities" },
		top_logprobs: { neutral: (v) => isNullish(v) || v === 0, why: "the Agent API returns no log probabilities" },
		best_of: { neutral: (v) => isNullish(v) || v === 1, why: "the Agent API gives one answer per run" },
		response_metadata: { neutral: isEmptyObject, why: "the Agent API has no response_metadata" },
		diverse_first_token: { neutral: isOff, why: "the Agent API has no diverse_first_token" },
		_inputs: { neutral: isEmptyList, why: "the Agent API takes text, not token ids" },
		_prompt_token_length: { neutral: isNullish, why: "the Agent API takes text, not token ids" },
		tools: {
			neutral: isEmptyList,
			why: "function tools stop an Agent API run for the client's answer (requires_action), which an async job cannot give",
		},
		tool_choice: {
			neutral: (v) => isNullish(v) || v === "none" || v === "auto",
			why: "no tools can be sent, so none can be required",
		},
		search_mode: {
			neutral: (v) => isNullish(v) || v === "web",
			why: "the Agent API searches the web only; academic and SEC search have no equivalent",
		},
		return_images: { neutral: isOff, why: "the Agent API returns no images" },
		return_related_questions: {
			neutral: isOff,
			why: "the Agent API returns no related questions; ask for them in the prompt instead",
		},
		num_search_results: {
			neutral: (v) => isNullish(v) || v === 10,
			why: "the Agent API's web_search tool sets no result count; use web_search_options.search_context_size",
		},
		enable_search_classifier: {
			neutral: isOff,
			why: "the Agent API has no search classifier: the run searches when it has the web_search tool",
		},
		search_language_filter: {
			neutral: isEmptyList,
			why: "the Agent API has no search language filter; language_preference sets the answer's language",
		},
		search_tenant: { neutral: isNullish, why: "the Agent API has no search tenants" },
		ranking_model: { neutral: isNullish, why: "the Agent API has no ranking_model" },
		image_format_filter: { neutral: isEmptyList, why: "the Agent API returns no images" },
		image_domain_filter: { neutral: isEmptyList, why: "the Agent API returns no images" },
		safe_search: { neutral: (v) => isNullish(v) || v === true, why: "the Agent API has no safe_search switch" },
		file_workspace_id: { neutral: isNullish, why: "the Agent API has no file workspaces" },
		updated_before_timestamp: {
			neutral: isNullish,
			why: "the Agent API filters by date, not timestamp; use last_updated_before_filter (MM/DD/YYYY)",
		},
		updated_after_timestamp: {
			neutral: isNullish,
			why: "the Agent API filters by date, not timestamp; use last_updated_after_filter (MM/DD/YYYY)",
		},
		search_internal_properties: { neutral: isEmptyObject, why: "the Agent API has no search_internal_properties" },
		use_threads: { neutral: isOff, why: "the Agent API has no threads; send the conversation in messages" },
		thread_id: { neutral: isNullish, why: "the Agent API has no threads; send the conversation in messages" },
		_debug_pro_search: { neutral: isOff, why: "the Agent API has no _debug_pro_search" },
		user_original_query: { neutral: isNullish, why: "the Agent API has no user_original_query" },
		_force_new_agent: { neutral: isOff, why: "the Agent API has no _force_new_agent" },
	}),
);

/** Fields that change nothing for an async job that sends no tools and asks for no images: dropped. */
const IGNORED: ReadonlySet<string> = new Set(["stream_mode", "num_images", "has_image_url", "parallel_tool_calls"]);

/** Fields this module translates. */
const MAPPED: ReadonlySet<string> = new Set([
	"model",
	"messages",
	"max_tokens",
	"response_format",
	"web_search_options",
	"search_domain_filter",
	"search_recency_filter",
	"search_after_date_filter",
	"search_before_date_filter",
	"last_updated_after_filter",
	"last_updated_before_filter",
	"latitude",
	"longitude",
	"country",
	"reasoning_effort",
	"language_preference",
	"temperature",
	"top_p",
	"disable_search",
]);

const DATE_FILTERS = [
	"search_after_date_filter",
	"search_before_date_filter",
	"last_updated_after_filter",
	"last_updated_before_filter",
] as const;

/** The Agent API takes at most this many domains in `search_domain_filter`. */
export const MAX_DOMAIN_FILTERS = 20;

function issue(loc: Path, msg: string, type = "value_error"): Issue {
	return { loc, msg, type };
}

/** Keys of `value` outside `known`, as `extra_forbidden` issues under `at`. */
function unknownKeys(value: Record<string, unknown>, known: readonly string[], at: Path, what: string): Issue[] {
	return Object.keys(value)
		.filter((key) => !known.includes(key))
		.map((key) => issue([...at, key], `${key} is not a field of ${what} the Agent API can take`, "extra_forbidden"));
}

/**
 * A Sonar date (M/D/YYYY, padded or not) as the Agent API's MM/DD/YYYY; null when it is not a date.
 *
 * @example
 * agentDate("3/1/2025") // "03/01/2025"
 */
export function agentDate(value: string): string | null {
	const match = value.trim().match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/);
	if (!match) return null;
	const [, m, d, y] = match as unknown as [string, string, string, string];
	const month = Number(m);
	const day = Number(d);
	if (month < 1 || month > 12 || day < 1 || day > 31) return null;
	return `${m.padStart(2, "0")}/${d.padStart(2, "0")}/${y}`;
}

/**
 * @example
 * const { body, issues } = toAgentRequest({ model: "sonar", messages: [{ role: "user", content: "Hi" }] }, {});
 * body?.model // "perplexity/sonar"
 */
export function toAgentRequest(
	request: ApiChatCompletionsRequest,
	modelMap: Readonly<Record<string, string>>,
): Translation {
	const issues: Issue[] = [];
	const fields = request as unknown as Record<string, unknown>;

	for (const [key, value] of Object.entries(fields)) {
		if (MAPPED.has(key) || IGNORED.has(key)) continue;
		const rule = NEUTRAL_ONLY.get(key);
		if (!rule) {
			issues.push(issue([key], `${key} is not a field the relay can send to the Agent API`, "extra_forbidden"));
		} else if (!rule.neutral(value)) {
			issues.push(issue([key], `${key} is not supported: ${rule.why}`));
		}
	}

	const target = modelTarget(request.model, modelMap, issues);
	const { input, instructions } = translateMessages(request.messages, issues);
	const tools = webSearchTool(fields, target, issues);
	const responseFormat = translateResponseFormat(request.response_format, issues);
	const temperature = bounded(fields, "temperature", 0, 2, issues);
	const topP = bounded(fields, "top_p", 0, 1, issues);
	if (issues.length > 0) return { body: null, issues };

	const body: AgentRequest = {
		background: true,
		input,
		...(instructions ? { instructions } : {}),
		...(target?.kind === "preset" ? { preset: target.preset } : { model: target?.model }),
		...(typeof request.max_tokens === "number" ? { max_output_tokens: request.max_tokens } : {}),
		...(temperature !== null ? { temperature } : {}),
		...(topP !== null ? { top_p: topP } : {}),
		...(request.reasoning_effort ? { reasoning: { effort: request.reasoning_effort } } : {}),
		...(responseFormat ? { response_format: responseFormat } : {}),
		...(request.language_preference ? { language_preference: request.language_preference } : {}),
		...(tools.length > 0 ? { tools } : {}),
	};
	return { body, issues };
}

function modelTarget(model: string, modelMap: Readonly<Record<string, string>>, issues: Issue[]): AgentTarget | null {
	const target = resolveModel(model, modelMap);
	if (!target) {
		issues.push(
			issue(
				["model"],
				`unknown model ${JSON.stringify(model.slice(0, 60))}: use one of ${knownModelNames(modelMap).join(", ")}, ` +
					`a preset (${[...PRESETS].slice(0, 5).join(", ")}), or an Agent API model slug such as perplexity/sonar`,
			),
		);
	}
	return target;
}

function translateMessages(
	messages: ApiChatCompletionsRequest["messages"],
	issues: Issue[],
): { input: InputItemInput[]; instructions: string | null } {
	const input: InputItemInput[] = [];
	const system: string[] = [];
	messages.forEach((message, index) => {
		const at: Path = ["messages", index];
		const fields = message as unknown as Record<string, unknown>;
		issues.push(
			...unknownKeys(fields, ["role", "content", "reasoning_steps", "tool_calls", "tool_call_id"], at, "a message"),
		);
		if (message.role === "tool" || !isNullish(message.tool_call_id)) {
			issues.push(issue([...at, "role"], "tool messages answer function tools, which the Agent API relay cannot send"));
			return;
		}
		if (!isEmptyList(message.tool_calls)) {
			issues.push(issue([...at, "tool_calls"], "tool calls need function tools, which the relay cannot send"));
			return;
		}
		const content = translateContent(message.content, [...at, "content"], issues);
		if (content === null) return;
		// Leading system turns are the run's instructions; a later one stays where it was said.
		if (message.role === "system" && input.length === 0 && typeof content === "string") {
			system.push(content);
			return;
		}
		input.push({ type: "message", role: message.role, content });
	});
	if (input.length === 0 && issues.length === 0) {
		issues.push(issue(["messages"], "at least one user or assistant message with content is needed"));
	}
	return { input, instructions: system.length > 0 ? system.join("\n\n") : null };
}

/** A message's content as the Agent API's: text as it is, chunks as input parts; null for none. */
function translateContent(
	content: ApiChatCompletionsRequest["messages"][number]["content"],
	at: Path,
	issues: Issue[],
): string | InputContentPartInput[] | null {
	if (content === null || content === undefined) return null;
	if (typeof content === "string") return content;
	const parts: InputContentPartInput[] = [];
	content.forEach((chunk, index) => {
		const where = [...at, index];
		const fields = chunk as unknown as Record<string, unknown>;
		switch (chunk.type) {
			case "text":
				issues.push(...unknownKeys(fields, ["type", "text"], where, "a text part"));
				parts.push({ type: "input_text", text: chunk.text });
				break;
			case "image_url": {
				issues.push(...unknownKeys(fields, ["type", "image_url"], where, "an image part"));
				const url = typeof chunk.image_url === "string" ? chunk.image_url : chunk.image_url.url;
				parts.push({ type: "input_image", image_url: url });
				break;
			}
			default:
				issues.push(
					issue(
						[...where, "type"],
						`${chunk.type} parts are not supported: the Agent API takes text and images only (put a document's text in the message)`,
					),
				);
		}
	});
	return parts.length > 0 ? parts : null;
}

/** The `web_search` tool the request's search settings stand for: one, or none. */
function webSearchTool(
	fields: Record<string, unknown>,
	target: AgentTarget | null,
	issues: Issue[],
): WebSearchToolInput[] {
	const tool: WebSearchToolInput = { type: "web_search" };
	const filters: NonNullable<WebSearchToolInput["filters"]> = {};

	const domains = fields.search_domain_filter;
	if (Array.isArray(domains) && domains.length > 0) {
		if (domains.length > MAX_DOMAIN_FILTERS) {
			issues.push(
				issue(["search_domain_filter"], `the Agent API takes at most ${MAX_DOMAIN_FILTERS} domains`, "too_long"),
			);
		}
		// Scheme-less, as the Agent API wants them; a leading `-` (deny) stays.
		filters.search_domain_filter = (domains as string[]).map((d) => d.trim().replace(/^(-?)[a-z]+:\/\//i, "$1"));
	}
	if (typeof fields.search_recency_filter === "string") {
		filters.search_recency_filter = fields.search_recency_filter as NonNullable<typeof filters.search_recency_filter>;
	}
	for (const name of DATE_FILTERS) {
		const value = fields[name];
		if (typeof value !== "string" || value === "") continue;
		const date = agentDate(value);
		if (date) filters[name] = date;
		else issues.push(issue([name], `${name} must be a date as MM/DD/YYYY`));
	}
	if (Object.keys(filters).length > 0) tool.filters = filters;

	const options = fields.web_search_options;
	let location: ToolUserLocationInput | null = null;
	if (isRecord(options)) {
		issues.push(
			...unknownKeys(
				options,
				["search_context_size", "user_location", "search_type", "image_results_enhanced_relevance"],
				["web_search_options"],
				"web_search_options",
			),
		);
		if (typeof options.search_context_size === "string") {
			tool.search_context_size = options.search_context_size as NonNullable<WebSearchToolInput["search_context_size"]>;
		}
		if (!isNullish(options.search_type)) {
			issues.push(
				issue(
					["web_search_options", "search_type"],
					"search_type is not supported: choose the kind of run with model instead (sonar, sonar-pro, or a preset such as fast or low)",
				),
			);
		}
		if (!isOff(options.image_results_enhanced_relevance)) {
			issues.push(
				issue(
					["web_search_options", "image_results_enhanced_relevance"],
					"image_results_enhanced_relevance is not supported: the Agent API returns no images",
				),
			);
		}
		if (isRecord(options.user_location)) location = userLocation(options.user_location, issues);
	}
	// The request's top-level location fields (older clients) count when web_search_options has none.
	if (!location) {
		location = userLocation(
			{ latitude: fields.latitude, longitude: fields.longitude, country: fields.country },
			issues,
		);
	}
	if (location && Object.keys(location).length > 0) tool.user_location = location;

	const searchOptions = Object.keys(tool).length > 1;
	if (fields.disable_search === true) {
		if (target?.kind === "preset") {
			issues.push(
				issue(
					["disable_search"],
					"disable_search cannot turn off a preset's search: use sonar or an Agent API model slug without search",
				),
			);
		} else if (searchOptions) {
			issues.push(issue(["disable_search"], "disable_search contradicts the search filters and options sent with it"));
		}
		return [];
	}
	// A bare model does no web search, so sonar's gets the tool; a preset bundles it, and only search options override it.
	if (target?.kind === "model" || searchOptions) return [tool];
	return [];
}

function userLocation(value: Record<string, unknown>, issues: Issue[]): ToolUserLocationInput {
	const known = ["latitude", "longitude", "country", "city", "region"] as const;
	issues.push(
		...unknownKeys(
			Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)),
			known,
			["web_search_options", "user_location"],
			"user_location",
		),
	);
	const location: ToolUserLocationInput = {};
	for (const key of known) {
		const field = value[key];
		if (key === "latitude" || key === "longitude") {
			if (typeof field === "number") location[key] = field;
		} else if (typeof field === "string" && field !== "") location[key] = field;
	}
	return location;
}

function translateResponseFormat(
	format: ApiChatCompletionsRequest["response_format"],
	issues: Issue[],
): ResponseFormatInput | null {
	if (!format || format.type === "text") return null;
	if (format.type === "regex") {
		issues.push(
			issue(["response_format", "type"], "regex output is not supported by the Agent API; use json_schema instead"),
		);
		return null;
	}
	const schema = format.json_schema;
	issues.push(
		...unknownKeys(
			schema as unknown as Record<string, unknown>,
			["schema", "name", "description", "strict"],
			["response_format", "json_schema"],
			"json_schema",
		),
	);
	return {
		type: "json_schema",
		json_schema: {
			name: schema.name ?? "schema",
			schema: schema.schema,
			...(schema.description ? { description: schema.description } : {}),
			...(typeof schema.strict === "boolean" ? { strict: schema.strict } : {}),
		},
	};
}

/** A number field within [min, max], or null when it is absent; a 422 when it is anything else. */
function bounded(fields: Record<string, unknown>, name: string, min: number, max: number, issues: Issue[]) {
	const value = fields[name];
	if (isNullish(value)) return null;
	if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
		issues.push(issue([name], `${name} must be a number from ${min} to ${max}`));
		return null;
	}
	return value;
}
