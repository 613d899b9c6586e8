/**
 * The retired Sonar async API's request and response shapes, transcribed for the
 * emulator from the seed OpenAPI files (spec/000–003: `POST /async/chat/completions`,
 * `GET /v1/async/sonar/{id}`, the two list paths).
 *
 * The emulator keeps its own transcription on purpose: it must never validate
 * with the relay's schemas, or it could not catch the relay's mistakes. Objects
 * are loose, as the upstream's pydantic models ignore unknown fields; `nullish`
 * mirrors `anyOf: [T, null]` on a field that is not required.
 */
import { z } from "zod";

// ── Request: AsyncApiChatCompletionsRequest ──────────────────────────────────

const Url = z.looseObject({ url: z.string() });
const VideoUrl = z.looseObject({ url: z.string(), frame_interval: z.union([z.string(), z.int()]).optional() });

const ChatMessageContentChunk = z.discriminatedUnion("type", [
	z.looseObject({ type: z.literal("text"), text: z.string() }),
	z.looseObject({ type: z.literal("image_url"), image_url: z.union([Url, z.string()]) }),
	z.looseObject({ type: z.literal("file_url"), file_url: z.union([Url, z.string()]), file_name: z.string().nullish() }),
	z.looseObject({ type: z.literal("pdf_url"), pdf_url: z.union([Url, z.string()]) }),
	z.looseObject({ type: z.literal("video_url"), video_url: z.union([VideoUrl, z.string()]) }),
]);

const ApiPublicSearchResult = z.looseObject({
	title: z.string(),
	url: z.string(),
	date: z.string().nullish(),
	last_updated: z.string().nullish(),
	snippet: z.string().optional(),
	source: z.enum(["web", "attachment"]).optional(),
});

const ReasoningStep = z.looseObject({
	thought: z.string(),
	type: z.string().nullish(),
	web_search: z
		.looseObject({ search_results: z.array(ApiPublicSearchResult), search_keywords: z.array(z.string()) })
		.nullish(),
	fetch_url_content: z.looseObject({ contents: z.array(ApiPublicSearchResult) }).nullish(),
	execute_python: z.looseObject({ code: z.string(), result: z.string() }).nullish(),
});

const ToolCall = z.looseObject({
	id: z.string().nullish(),
	type: z.literal("function").nullish(),
	function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

export const ChatMessage = z.looseObject({
	role: z.enum(["system", "user", "assistant", "tool"]),
	// Required, but may be null.
	content: z.union([z.string(), z.array(ChatMessageContentChunk), z.null()]),
	reasoning_steps: z.array(ReasoningStep).nullish(),
	tool_calls: z.array(ToolCall).nullish(),
	tool_call_id: z.string().nullish(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const ToolSpec = z.looseObject({
	type: z.literal("function"),
	function: z.looseObject({
		name: z.string(),
		description: z.string(),
		parameters: z.looseObject({
			type: z.string(),
			properties: z.record(z.string(), z.unknown()),
			required: z.array(z.string()).nullish(),
			additional_properties: z.boolean().nullish(),
		}),
		strict: z.boolean().nullish(),
	}),
});

const WebSearchOptions = z.looseObject({
	search_context_size: z.enum(["low", "medium", "high"]).optional(),
	search_type: z.enum(["fast", "pro", "auto"]).nullish(),
	user_location: z
		.looseObject({
			latitude: z.number().nullish(),
			longitude: z.number().nullish(),
			country: z.string().nullish(),
			city: z.string().nullish(),
			region: z.string().nullish(),
		})
		.nullish(),
	image_results_enhanced_relevance: z.boolean().optional(),
});

const ResponseFormat = z.discriminatedUnion("type", [
	z.looseObject({ type: z.literal("text") }),
	z.looseObject({
		type: z.literal("json_schema"),
		json_schema: z.looseObject({
			schema: z.record(z.string(), z.unknown()),
			name: z.string().nullish(),
			description: z.string().nullish(),
			strict: z.boolean().nullish(),
		}),
	}),
	z.looseObject({
		type: z.literal("regex"),
		regex: z.looseObject({
			regex: z.string(),
			name: z.string().nullish(),
			description: z.string().nullish(),
			strict: z.boolean().nullish(),
		}),
	}),
]);

const RecencyFilter = z.enum(["hour", "day", "week", "month", "year"]);

export const ApiChatCompletionsRequest = z.looseObject({
	max_tokens: z.int().gt(0).max(128_000).nullish(),
	n: z.int().min(1).max(10).nullish(),
	model: z.string(),
	stream: z.boolean().nullish(),
	stop: z.union([z.string(), z.array(z.string())]).nullish(),
	cum_logprobs: z.boolean().nullish(),
	logprobs: z.boolean().nullish(),
	top_logprobs: z.int().nullish(),
	best_of: z.int().nullish(),
	response_metadata: z.record(z.string(), z.unknown()).nullish(),
	response_format: ResponseFormat.nullish(),
	diverse_first_token: z.boolean().nullish(),
	_inputs: z.array(z.int()).nullish(),
	_prompt_token_length: z.int().nullish(),
	messages: z.array(ChatMessage),
	tools: z.array(ToolSpec).nullish(),
	tool_choice: z.enum(["none", "auto", "required"]).nullish(),
	parallel_tool_calls: z.boolean().nullish(),
	web_search_options: WebSearchOptions.optional(),
	search_mode: z.enum(["web", "academic", "sec"]).nullish(),
	return_images: z.boolean().nullish(),
	return_related_questions: z.boolean().nullish(),
	num_search_results: z.int().optional(),
	num_images: z.int().optional(),
	enable_search_classifier: z.boolean().nullish(),
	disable_search: z.boolean().nullish(),
	search_domain_filter: z.array(z.string()).nullish(),
	search_language_filter: z.array(z.string()).nullish(),
	search_tenant: z.string().nullish(),
	ranking_model: z.string().nullish(),
	latitude: z.number().nullish(),
	longitude: z.number().nullish(),
	country: z.string().nullish(),
	search_recency_filter: RecencyFilter.nullish(),
	search_after_date_filter: z.string().nullish(),
	search_before_date_filter: z.string().nullish(),
	last_updated_before_filter: z.string().nullish(),
	last_updated_after_filter: z.string().nullish(),
	image_format_filter: z.array(z.string()).nullish(),
	image_domain_filter: z.array(z.string()).nullish(),
	safe_search: z.boolean().nullish(),
	file_workspace_id: z.string().nullish(),
	updated_before_timestamp: z.int().nullish(),
	updated_after_timestamp: z.int().nullish(),
	search_internal_properties: z.record(z.string(), z.unknown()).nullish(),
	use_threads: z.boolean().nullish(),
	thread_id: z.string().nullish(),
	stream_mode: z.enum(["full", "concise"]).optional(),
	_debug_pro_search: z.boolean().optional(),
	has_image_url: z.boolean().optional(),
	reasoning_effort: z.enum(["minimal", "low", "medium", "high"]).nullish(),
	language_preference: z.string().nullish(),
	user_original_query: z.string().nullish(),
	_force_new_agent: z.boolean().nullish(),
});
export type ApiChatCompletionsRequest = z.infer<typeof ApiChatCompletionsRequest>;

export const AsyncApiChatCompletionsRequest = z.looseObject({
	request: ApiChatCompletionsRequest,
	idempotency_key: z.string().nullish(),
});

/** `GET …?limit=&next_token=` (spec/000, 001); the 1–100 bound on `limit` is the emulator's, as upstream's. */
export const ListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).optional(),
	next_token: z.string().optional(),
});

// ── Responses ────────────────────────────────────────────────────────────────

export type AsyncProcessingStatus = "CREATED" | "IN_PROGRESS" | "COMPLETED" | "FAILED";

export interface ApiPublicSearchResult {
	title: string;
	url: string;
	date?: string | null;
	last_updated?: string | null;
	snippet?: string;
	source?: "web" | "attachment";
}

export interface Cost {
	input_tokens_cost: number;
	output_tokens_cost: number;
	reasoning_tokens_cost?: number | null;
	request_cost?: number | null;
	citation_tokens_cost?: number | null;
	search_queries_cost?: number | null;
	total_cost: number;
}

export interface UsageInfo {
	prompt_tokens: number;
	completion_tokens: number;
	total_tokens: number;
	search_context_size?: string | null;
	citation_tokens?: number | null;
	num_search_queries?: number | null;
	reasoning_tokens?: number | null;
	cost: Cost;
}

/** `ChatMessage-Output`, as much of it as the emulator answers with. */
export interface ChatMessageOutput {
	role: "system" | "user" | "assistant" | "tool";
	content: string | null;
}

export interface Choice {
	index: number;
	finish_reason?: "stop" | "length" | null;
	message: ChatMessageOutput;
	delta: ChatMessageOutput;
}

/** spec/002 (`images`, `related_questions`). */
export interface ImageResult {
	image_url: string;
	origin_url: string;
	title: string;
	width: number;
	height: number;
}

export interface CompletionResponse {
	id: string;
	model: string;
	created: number;
	usage?: UsageInfo | null;
	object?: string;
	choices: Choice[];
	citations?: string[] | null;
	search_results?: ApiPublicSearchResult[] | null;
	images?: ImageResult[] | null;
	related_questions?: string[] | null;
	type?: "message" | "info" | "end_of_stream" | null;
	status?: "PENDING" | "COMPLETED" | null;
}

export interface AsyncApiChatCompletionsResponseSummary {
	id: string;
	model: string;
	created_at: number;
	started_at?: number | null;
	completed_at?: number | null;
	failed_at?: number | null;
	status: AsyncProcessingStatus;
}

export interface AsyncApiChatCompletionsResponse extends AsyncApiChatCompletionsResponseSummary {
	response?: CompletionResponse | null;
	error_message?: string | null;
}

export interface ListAsyncApiChatCompletionsResponse {
	requests: AsyncApiChatCompletionsResponseSummary[];
	next_token?: string | null;
}

export interface ValidationError {
	loc: (string | number)[];
	msg: string;
	type: string;
}

export interface HTTPValidationError {
	detail?: ValidationError[];
}
