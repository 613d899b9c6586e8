/**
 * The Agent API surface's schemas: what `POST /v1/agent` and `POST
 * /v1/responses` take, and what the relay answers, transcribed from the
 * official SDK's generated types (`ResponsesRequestInput`,
 * `ResponsesResponseOutput`, `OutputItemOutput`, …) and `spec/agent-api.md`.
 *
 * The request is as strict as the Agent API itself: an unknown field, top
 * level or nested, is refused before anything is stored (upstream would answer
 * it with a 400 anyway). The relay adds two push fields, `callback_url` and
 * `callback_events`, which never reach upstream. Answers are loose: the
 * Response object carries whatever upstream put in it.
 *
 * Schema names follow the SDK's exported names (`ResponseCreateParams`,
 * `OutputItem`, `ResponsesUsage`, `ErrorInfo`, `ResponseCancelResponse`), so
 * the OpenAPI document reads like the SDK.
 */
import { z } from "@hono/zod-openapi";
import { refuseUnknownFields, requireCallbackForEvents } from "./fields.ts";
import { DeliveryStatus, ProgressNote, ResultUrl, UpstreamOrigin } from "./relay.ts";

/** At most this many `metadata` keys, each at most 64 characters, each value a string of at most 512. */
export const MAX_METADATA_KEYS = 16;
export const MAX_METADATA_KEY = 64;
export const MAX_METADATA_VALUE = 512;

const DATE = /^\d{2}\/\d{2}\/\d{4}$/;
const dateFilter = z.string().regex(DATE, "a date as MM/DD/YYYY");

export const InputContentPart = z.discriminatedUnion("type", [
	z.strictObject({ type: z.literal("input_text"), text: z.string() }),
	z.strictObject({ type: z.literal("input_image"), image_url: z.string() }),
]);

export const InputMessage = z
	.strictObject({
		type: z.literal("message"),
		role: z.enum(["user", "assistant", "system", "developer"]),
		content: z.union([z.string(), z.array(InputContentPart)]),
	})
	.openapi("InputMessage");

export const WebSearchFilters = z.strictObject({
	search_domain_filter: z.array(z.string().max(253)).max(20).optional(),
	search_recency_filter: z.enum(["hour", "day", "week", "month", "year"]).optional(),
	search_after_date_filter: dateFilter.optional(),
	search_before_date_filter: dateFilter.optional(),
	last_updated_after_filter: dateFilter.optional(),
	last_updated_before_filter: dateFilter.optional(),
});

export const WebSearchTool = z
	.strictObject({
		type: z.literal("web_search"),
		filters: WebSearchFilters.optional(),
		search_context_size: z.enum(["low", "medium", "high"]).optional(),
		user_location: z
			.strictObject({
				city: z.string().optional(),
				country: z.string().optional(),
				latitude: z.number().optional(),
				longitude: z.number().optional(),
				region: z.string().optional(),
			})
			.optional(),
		max_tokens: z.number().int().positive().optional(),
		max_tokens_per_page: z.number().int().positive().optional(),
	})
	.openapi("WebSearchTool");

export const FetchUrlTool = z
	.strictObject({ type: z.literal("fetch_url"), max_urls: z.number().int().positive().optional() })
	.openapi("FetchUrlTool");

/** The Agent API's other tool kinds: their shape is upstream's to check (its 400 reaches the caller at submit). */
const OtherTool = z.looseObject({
	type: z.enum(["people_search", "finance_search", "sandbox", "mcp", "connector"]),
});

export const Tool = z.union([WebSearchTool, FetchUrlTool, OtherTool]);

export const AgentMetadata = z
	.record(z.string().min(1).max(MAX_METADATA_KEY), z.string().max(MAX_METADATA_VALUE))
	.refine((value) => Object.keys(value).length <= MAX_METADATA_KEYS, {
		message: `metadata has at most ${MAX_METADATA_KEYS} keys`,
	})
	.openapi("ResponseMetadata", {
		description: `At most ${MAX_METADATA_KEYS} keys of at most ${MAX_METADATA_KEY} characters, string values of at most ${MAX_METADATA_VALUE}: sent upstream, echoed in every event and GET.`,
	});

/** Events a caller can ask to be pushed. */
export const ResponseCallbackEvent = z
	.enum(["in_progress", "progress", "completed", "failed", "cancelled", "incomplete"])
	.openapi("ResponseCallbackEvent");
export type ResponseCallbackEvent = z.infer<typeof ResponseCallbackEvent>;

export const DEFAULT_RESPONSE_CALLBACK_EVENTS: ResponseCallbackEvent[] = [
	"completed",
	"failed",
	"cancelled",
	"incomplete",
];

/** The Agent API's own request fields (`ResponsesRequestInput`, plus `metadata` and `max_tool_calls` from its docs). */
const requestFields = {
	input: z.union([z.string(), z.array(InputMessage)]),
	instructions: z.string().optional(),
	model: z.string().min(1).max(128).optional(),
	models: z.array(z.string().min(1).max(128)).min(1).max(5).optional(),
	preset: z.string().min(1).max(64).optional(),
	max_output_tokens: z.number().int().positive().optional(),
	max_steps: z.number().int().min(1).max(100).optional(),
	max_tool_calls: z.number().int().min(1).optional(),
	temperature: z.number().min(0).max(2).optional(),
	top_p: z.number().min(0).max(1).optional(),
	reasoning: z.strictObject({ effort: z.enum(["minimal", "low", "medium", "high", "xhigh"]).optional() }).optional(),
	response_format: z
		.strictObject({
			type: z.literal("json_schema"),
			json_schema: z
				.strictObject({
					name: z.string(),
					schema: z.record(z.string(), z.unknown()),
					description: z.string().optional(),
					strict: z.boolean().optional(),
				})
				.optional(),
		})
		.optional(),
	tools: z.array(Tool).optional(),
	language_preference: z.string().optional(),
	previous_response_id: z.string().min(1).max(128).optional(),
	profile: z.looseObject({ id: z.string(), type: z.literal("custom") }).optional(),
	skills: z.array(z.looseObject({ type: z.enum(["builtin", "inline", "custom"]) })).optional(),
	metadata: AgentMetadata.optional(),
	/** Always a background run: accepted for compatibility, whatever it says. */
	background: z.boolean().nullish(),
	/** The relay reads the run back, so it must be stored upstream: `false` is refused. */
	store: z.boolean().optional(),
	/** Async runs are pushed, not streamed: `true` is refused. */
	stream: z.boolean().optional(),
};

/** What the relay sends upstream: the caller's Agent API request, always in background mode. */
export const AgentRunRequest = z.strictObject(requestFields);
export type AgentRunRequest = z.infer<typeof AgentRunRequest>;

/** The Agent API's fields and the relay's push fields; any other is refused, with the name it likely meant. */
const RESPONSE_CREATE_FIELDS = [...Object.keys(requestFields), "callback_url", "callback_events"];

/**
 * `POST /v1/agent` and `POST /v1/responses`: the Agent API request plus the push fields.
 *
 * @example
 * ResponseCreateParams.parse({ preset: "medium", input: "…", callback_url: "https://example.com/hook" });
 */
export const ResponseCreateParams = z
	.looseObject({
		...requestFields,
		callback_url: z.string().max(2048).optional().openapi({ description: "Where to POST events (https)." }),
		callback_events: z
			.array(ResponseCallbackEvent)
			.min(1)
			.max(6)
			.optional()
			.openapi({ description: 'Events to push; default ["completed", "failed", "cancelled", "incomplete"].' }),
	})
	.superRefine((body, ctx) => {
		refuseUnknownFields(body, RESPONSE_CREATE_FIELDS, ctx);
		requireCallbackForEvents(body, ctx);
		if (typeof body.input === "string" ? body.input.trim() === "" : body.input.length === 0) {
			ctx.addIssue({ code: "custom", path: ["input"], message: "input must not be empty" });
		}
		if (!body.model && !body.models && !body.preset) {
			ctx.addIssue({ code: "custom", path: ["model"], message: "one of model, models or preset is required" });
		}
		if (body.stream === true) {
			ctx.addIssue({
				code: "custom",
				path: ["stream"],
				message: "stream must be false: the relay pushes the finished run to callback_url instead of streaming it",
			});
		}
		if (body.store === false) {
			ctx.addIssue({
				code: "custom",
				path: ["store"],
				message: "store must be true (or left out): the relay reads the run back to push it",
			});
		}
	})
	.openapi("ResponseCreateParams");
export type ResponseCreateParams = z.infer<typeof ResponseCreateParams>;

// ── Answers ──────────────────────────────────────────────────────────────────

export const ResponseStatus = z
	.enum(["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"])
	.openapi("ResponseStatus");
export type ResponseStatus = z.infer<typeof ResponseStatus>;

export const ErrorInfo = z
	.looseObject({ message: z.string(), type: z.string().optional(), code: z.string().optional() })
	.openapi("ErrorInfo");

export const OutputItem = z
	.looseObject({ type: z.string() })
	.openapi("OutputItem", { description: "An output item as upstream gave it: message, search_results, and others." });

export const ResponsesUsage = z
	.looseObject({
		input_tokens: z.number(),
		output_tokens: z.number(),
		total_tokens: z.number(),
		cost: z.looseObject({}).optional(),
	})
	.openapi("ResponsesUsage");

/** A run as the relay returns it: upstream's Response object, with the relay's job id as its id. */
export const RelayResponse = z
	.looseObject({
		id: z.string(),
		object: z.literal("response"),
		created_at: z.number().int(),
		completed_at: z.number().int().nullish(),
		status: ResponseStatus,
		model: z.string(),
		output: z.array(OutputItem),
		usage: ResponsesUsage.nullish(),
		error: ErrorInfo.nullish(),
		incomplete_details: z.looseObject({ reason: z.string().optional() }).nullish(),
		background: z.literal(true),
		metadata: AgentMetadata.nullish(),
		delivery_status: DeliveryStatus.nullish().openapi({ description: "Relay extension." }),
		preset: z.string().nullish().openapi({ description: "Relay extension: the preset the run was asked for." }),
		request_preview: z
			.string()
			.nullish()
			.openapi({ description: "Relay extension: the first 200 characters of the input's last user text." }),
		failed_at: z
			.number()
			.int()
			.nullish()
			.openapi({ description: "Relay extension: when a failed or cancelled run ended (Unix seconds)." }),
		upstream: UpstreamOrigin.nullish(),
	})
	.openapi("Response");
export type RelayResponse = z.infer<typeof RelayResponse>;

export const ResponseCancelResponse = z
	.object({ response_id: z.string(), status: z.literal("cancelling") })
	.openapi("ResponseCancelResponse");

/** One line of the list: the run without its output (relay extension). */
export const ResponseSummary = z
	.object({
		id: z.string(),
		object: z.literal("response"),
		created_at: z.number().int(),
		completed_at: z.number().int().nullish(),
		status: ResponseStatus,
		model: z.string(),
		delivery_status: DeliveryStatus.nullish(),
		request_preview: z.string().nullish(),
	})
	.openapi("ResponseSummary");
export type ResponseSummary = z.infer<typeof ResponseSummary>;

export const ResponseList = z
	.object({
		object: z.literal("list"),
		data: z.array(ResponseSummary),
		has_more: z.boolean(),
		next_token: z.string().nullable(),
	})
	.openapi("ResponseList");
export type ResponseList = z.infer<typeof ResponseList>;

/** The Agent API's error envelope, which the Agent surface answers with. */
export const AgentErrorBody = z
	.object({
		error: z.object({
			message: z.string(),
			type: z.string(),
			code: z.number().int(),
			param: z.string().optional(),
		}),
	})
	.openapi("AgentError");

/** The body of every Agent-surface webhook: `{type, timestamp, data: <the Response object>}`. */
export const ResponseWebhookEvent = z
	.object({
		type: z.enum([
			"response.in_progress",
			"response.progress",
			"response.completed",
			"response.failed",
			"response.cancelled",
			"response.incomplete",
		]),
		timestamp: z.string(),
		data: RelayResponse.extend({ progress: ProgressNote.optional(), result_url: ResultUrl.optional() }),
	})
	.openapi("ResponseWebhookEvent");
export type ResponseWebhookEvent = z.infer<typeof ResponseWebhookEvent>;
