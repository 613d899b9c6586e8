/**
 * The upstream's schemas, transcribed field by field from the OpenAPI documents
 * in `../shared/spec/` (Perplexity's async chat completions API).
 *
 * Both the relay and the local emulator validate with these, so the emulator
 * can never drift from what the relay accepts. Conventions of the transcription:
 * - `anyOf: [T, null]` and not required → `.nullish()`; required → `.nullable()`.
 * - A field with a spec `default` is `.optional()`: the relay forwards what the
 *   caller sent and never injects defaults of its own.
 * - Request objects are loose: unknown fields are kept and forwarded, so a new
 *   upstream parameter works through the relay before the relay knows it.
 * - Response objects are loose too: "extra fields are allowed".
 */
import { z } from "@hono/zod-openapi";

const int = () => z.number().int();

// ── Enums ────────────────────────────────────────────────────────────────────

export const AsyncProcessingStatus = z
	.enum(["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"])
	.openapi("AsyncProcessingStatus", { description: "Status enum for async processing." });
export type AsyncProcessingStatus = z.infer<typeof AsyncProcessingStatus>;

export const ChatMessageRole = z
	.enum(["system", "user", "assistant", "tool"])
	.openapi("ChatMessageRole", { description: "Chat roles enum" });

// ── Message content ──────────────────────────────────────────────────────────

export const UrlObject = z.looseObject({ url: z.string() }).openapi("URL");

export const VideoURL = z
	.looseObject({
		url: z.string(),
		frame_interval: z.union([z.string(), int()]).optional().openapi({ default: 25 }),
	})
	.openapi("VideoURL");

export const ChatMessageContentTextChunk = z
	.looseObject({ type: z.literal("text"), text: z.string() })
	.openapi("ChatMessageContentTextChunk");

export const ChatMessageContentImageChunk = z
	.looseObject({ type: z.literal("image_url"), image_url: z.union([UrlObject, z.string()]) })
	.openapi("ChatMessageContentImageChunk");

export const ChatMessageContentFileChunk = z
	.looseObject({
		type: z.literal("file_url"),
		file_url: z.union([UrlObject, z.string()]),
		file_name: z.string().nullish(),
	})
	.openapi("ChatMessageContentFileChunk");

export const ChatMessageContentPDFChunk = z
	.looseObject({ type: z.literal("pdf_url"), pdf_url: z.union([UrlObject, z.string()]) })
	.openapi("ChatMessageContentPDFChunk");

export const ChatMessageContentVideoChunk = z
	.looseObject({ type: z.literal("video_url"), video_url: z.union([VideoURL, z.string()]) })
	.openapi("ChatMessageContentVideoChunk");

export const ChatMessageContentChunk = z.discriminatedUnion("type", [
	ChatMessageContentTextChunk,
	ChatMessageContentImageChunk,
	ChatMessageContentFileChunk,
	ChatMessageContentPDFChunk,
	ChatMessageContentVideoChunk,
]);

const MessageContent = z.union([z.string(), z.array(ChatMessageContentChunk), z.null()]);

// ── Search results and reasoning ─────────────────────────────────────────────

export const ApiPublicSearchResult = z
	.looseObject({
		title: z.string(),
		url: z.string(),
		date: z.string().nullish(),
		last_updated: z.string().nullish(),
		snippet: z.string().optional().openapi({ default: "" }),
		source: z.enum(["web", "attachment"]).optional().openapi({ default: "web" }),
	})
	.openapi("ApiPublicSearchResult");
export type ApiPublicSearchResult = z.infer<typeof ApiPublicSearchResult>;

export const WebSearchStepDetails = z
	.looseObject({
		search_results: z.array(ApiPublicSearchResult),
		search_keywords: z.array(z.string()),
	})
	.openapi("WebSearchStepDetails");

export const FetchUrlContentStepDetails = z
	.looseObject({ contents: z.array(ApiPublicSearchResult) })
	.openapi("FetchUrlContentStepDetails");

export const ExecutePythonStepDetails = z
	.looseObject({ code: z.string(), result: z.string() })
	.openapi("ExecutePythonStepDetails");

export const ReasoningStep = z
	.looseObject({
		thought: z.string(),
		type: z.string().nullish(),
		web_search: WebSearchStepDetails.nullish(),
		fetch_url_content: FetchUrlContentStepDetails.nullish(),
		execute_python: ExecutePythonStepDetails.nullish(),
	})
	.openapi("ReasoningStep");

export const ToolCallFunction = z
	.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() })
	.openapi("ToolCallFunction");

export const ToolCall = z
	.looseObject({
		id: z.string().nullish(),
		type: z.literal("function").nullish(),
		function: ToolCallFunction.nullish(),
	})
	.openapi("ToolCall");

export const ChatMessage = z
	.looseObject({
		role: ChatMessageRole,
		content: MessageContent,
		reasoning_steps: z.array(ReasoningStep).nullish(),
		tool_calls: z.array(ToolCall).nullish(),
		tool_call_id: z.string().nullish(),
	})
	.openapi("ChatMessage");
export type ChatMessage = z.infer<typeof ChatMessage>;

// ── Tools, formats, search options ───────────────────────────────────────────

export const ParameterSpec = z
	.looseObject({
		type: z.string(),
		properties: z.record(z.string(), z.unknown()),
		required: z.array(z.string()).nullish(),
		additional_properties: z.boolean().nullish(),
	})
	.openapi("ParameterSpec");

export const FunctionSpec = z
	.looseObject({
		name: z.string(),
		description: z.string(),
		parameters: ParameterSpec,
		strict: z.boolean().nullish(),
	})
	.openapi("FunctionSpec");

export const ToolSpec = z.looseObject({ type: z.literal("function"), function: FunctionSpec }).openapi("ToolSpec");

export const JSONSchema = z
	.looseObject({
		schema: z.record(z.string(), z.unknown()),
		name: z.string().nullish().openapi({ default: "schema" }),
		description: z.string().nullish(),
		strict: z.boolean().nullish().openapi({ default: true }),
	})
	.openapi("JSONSchema");

export const RegexSchema = z
	.looseObject({
		regex: z.string(),
		name: z.string().nullish(),
		description: z.string().nullish(),
		strict: z.boolean().nullish(),
	})
	.openapi("RegexSchema");

export const ResponseFormatText = z.looseObject({ type: z.literal("text") }).openapi("ResponseFormatText");
export const ResponseFormatJSONSchema = z
	.looseObject({ type: z.literal("json_schema"), json_schema: JSONSchema })
	.openapi("ResponseFormatJSONSchema");
export const ResponseFormatRegex = z
	.looseObject({ type: z.literal("regex"), regex: RegexSchema })
	.openapi("ResponseFormatRegex");

export const UserLocation = z
	.looseObject({
		latitude: z.number().nullish(),
		longitude: z.number().nullish(),
		country: z.string().nullish(),
		city: z.string().nullish(),
		region: z.string().nullish(),
	})
	.openapi("UserLocation");

export const WebSearchOptions = z
	.looseObject({
		search_context_size: z.enum(["low", "medium", "high"]).optional().openapi({ default: "low" }),
		search_type: z.enum(["fast", "pro", "auto"]).nullish(),
		user_location: UserLocation.nullish(),
		image_results_enhanced_relevance: z.boolean().optional().openapi({ default: false }),
	})
	.openapi("WebSearchOptions");

// ── The request ──────────────────────────────────────────────────────────────

export const ApiChatCompletionsRequest = z
	.looseObject({
		max_tokens: int().gt(0).max(128000).nullish(),
		n: int().min(1).max(10).nullish(),
		model: z.string(),
		stream: z.boolean().nullish().openapi({ default: false }),
		stop: z.union([z.string(), z.array(z.string())]).nullish(),
		cum_logprobs: z.boolean().nullish(),
		logprobs: z.boolean().nullish(),
		top_logprobs: int().nullish(),
		best_of: int().nullish(),
		response_metadata: z.record(z.string(), z.unknown()).nullish(),
		response_format: z
			.discriminatedUnion("type", [ResponseFormatText, ResponseFormatJSONSchema, ResponseFormatRegex])
			.nullish(),
		diverse_first_token: z.boolean().nullish(),
		_inputs: z.array(int()).nullish(),
		_prompt_token_length: int().nullish(),
		messages: z.array(ChatMessage),
		tools: z.array(ToolSpec).nullish(),
		tool_choice: z.enum(["none", "auto", "required"]).nullish(),
		parallel_tool_calls: z.boolean().nullish(),
		web_search_options: WebSearchOptions.optional(),
		search_mode: z.enum(["web", "academic", "sec"]).nullish(),
		return_images: z.boolean().nullish(),
		return_related_questions: z.boolean().nullish(),
		num_search_results: int().optional().openapi({ default: 10 }),
		num_images: int().optional().openapi({ default: 5 }),
		enable_search_classifier: z.boolean().nullish(),
		disable_search: z.boolean().nullish(),
		search_domain_filter: z.array(z.string()).nullish(),
		search_language_filter: z.array(z.string()).nullish(),
		search_tenant: z.string().nullish(),
		ranking_model: z.string().nullish(),
		latitude: z.number().nullish(),
		longitude: z.number().nullish(),
		country: z.string().nullish(),
		search_recency_filter: z.enum(["hour", "day", "week", "month", "year"]).nullish(),
		search_after_date_filter: z.string().nullish(),
		search_before_date_filter: z.string().nullish(),
		last_updated_before_filter: z.string().nullish(),
		last_updated_after_filter: z.string().nullish(),
		image_format_filter: z.array(z.string()).nullish(),
		image_domain_filter: z.array(z.string()).nullish(),
		safe_search: z.boolean().nullish().openapi({ default: true }),
		file_workspace_id: z.string().nullish(),
		updated_before_timestamp: int().nullish(),
		updated_after_timestamp: int().nullish(),
		search_internal_properties: z.record(z.string(), z.unknown()).nullish(),
		use_threads: z.boolean().nullish(),
		thread_id: z.string().nullish(),
		stream_mode: z.enum(["full", "concise"]).optional().openapi({ default: "full" }),
		_debug_pro_search: z.boolean().optional().openapi({ default: false }),
		has_image_url: z.boolean().optional().openapi({ default: false }),
		reasoning_effort: z.enum(["minimal", "low", "medium", "high"]).nullish(),
		language_preference: z.string().nullish(),
		user_original_query: z.string().nullish(),
		_force_new_agent: z.boolean().nullish(),
	})
	.openapi("ApiChatCompletionsRequest");
export type ApiChatCompletionsRequest = z.infer<typeof ApiChatCompletionsRequest>;

export const AsyncApiChatCompletionsRequest = z
	.looseObject({
		request: ApiChatCompletionsRequest,
		idempotency_key: z.string().nullish(),
	})
	.openapi("AsyncApiChatCompletionsRequest");
export type AsyncApiChatCompletionsRequest = z.infer<typeof AsyncApiChatCompletionsRequest>;

// ── Responses ────────────────────────────────────────────────────────────────

export const Cost = z
	.looseObject({
		input_tokens_cost: z.number(),
		output_tokens_cost: z.number(),
		reasoning_tokens_cost: z.number().nullish(),
		request_cost: z.number().nullish(),
		citation_tokens_cost: z.number().nullish(),
		search_queries_cost: z.number().nullish(),
		total_cost: z.number(),
	})
	.openapi("Cost");

export const UsageInfo = z
	.looseObject({
		prompt_tokens: int(),
		completion_tokens: int(),
		total_tokens: int(),
		search_context_size: z.string().nullish(),
		citation_tokens: int().nullish(),
		num_search_queries: int().nullish(),
		reasoning_tokens: int().nullish(),
		cost: Cost,
	})
	.openapi("UsageInfo");

export const Choice = z
	.looseObject({
		index: int(),
		finish_reason: z.enum(["stop", "length"]).nullish(),
		message: ChatMessage,
		delta: ChatMessage,
	})
	.openapi("Choice");

export const ImageResult = z
	.looseObject({
		image_url: z.string(),
		origin_url: z.string(),
		title: z.string(),
		width: int(),
		height: int(),
	})
	.openapi("ImageResult");

export const CompletionResponse = z
	.looseObject({
		id: z.string(),
		model: z.string(),
		created: int(),
		usage: UsageInfo.nullish(),
		object: z.string().optional().openapi({ default: "chat.completion" }),
		choices: z.array(Choice),
		citations: z.array(z.string()).nullish(),
		search_results: z.array(ApiPublicSearchResult).nullish(),
		images: z.array(ImageResult).nullish(),
		related_questions: z.array(z.string()).nullish(),
		type: z.enum(["message", "info", "end_of_stream"]).nullish(),
		status: z.enum(["PENDING", "COMPLETED"]).nullish(),
	})
	.openapi("CompletionResponse");
export type CompletionResponse = z.infer<typeof CompletionResponse>;

export const AsyncApiChatCompletionsResponse = z
	.looseObject({
		id: z.string(),
		model: z.string(),
		created_at: int(),
		started_at: int().nullish(),
		completed_at: int().nullish(),
		response: CompletionResponse.nullish(),
		failed_at: int().nullish(),
		error_message: z.string().nullish(),
		status: AsyncProcessingStatus,
	})
	.openapi("AsyncApiChatCompletionsResponse");
export type AsyncApiChatCompletionsResponse = z.infer<typeof AsyncApiChatCompletionsResponse>;

export const AsyncApiChatCompletionsResponseSummary = z
	.looseObject({
		id: z.string(),
		created_at: int(),
		started_at: int().nullish(),
		completed_at: int().nullish(),
		failed_at: int().nullish(),
		model: z.string(),
		status: AsyncProcessingStatus,
	})
	.openapi("AsyncApiChatCompletionsResponseSummary");
export type AsyncApiChatCompletionsResponseSummary = z.infer<typeof AsyncApiChatCompletionsResponseSummary>;

export const ListAsyncApiChatCompletionsResponse = z
	.looseObject({
		next_token: z.string().nullish(),
		requests: z.array(AsyncApiChatCompletionsResponseSummary),
	})
	.openapi("ListAsyncApiChatCompletionsResponse");
export type ListAsyncApiChatCompletionsResponse = z.infer<typeof ListAsyncApiChatCompletionsResponse>;

export const ValidationError = z
	.object({
		loc: z.array(z.union([z.string(), int()])),
		msg: z.string(),
		type: z.string(),
	})
	.openapi("ValidationError");
export type ValidationError = z.infer<typeof ValidationError>;

export const HTTPValidationError = z
	.object({ detail: z.array(ValidationError).optional() })
	.openapi("HTTPValidationError");
export type HTTPValidationError = z.infer<typeof HTTPValidationError>;
