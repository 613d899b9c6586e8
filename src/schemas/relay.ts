/**
 * The relay's own additions to the upstream API: the push fields on create,
 * what a job looks like when the relay returns it, list queries, and the
 * webhook event body. Everything here extends `perplexity.ts`, never forks it.
 */
import { z } from "@hono/zod-openapi";
import { refuseUnknownFields, requireCallbackForEvents } from "./fields.ts";
import {
	AsyncApiChatCompletionsRequest,
	AsyncApiChatCompletionsResponse,
	AsyncApiChatCompletionsResponseSummary,
	ListAsyncApiChatCompletionsResponse,
} from "./perplexity.ts";

/** Longest `request.model` the relay accepts: it is stored, logged, shown and keyed on. */
export const MAX_MODEL_NAME = 128;

/** Longest `idempotency_key` the relay accepts. */
export const MAX_IDEMPOTENCY_KEY = 255;

/** Largest `metadata`, measured as UTF-8 JSON. */
export const MAX_METADATA_BYTES = 4096;

export const CallbackEvent = z.enum(["started", "progress", "completed", "failed"]).openapi("CallbackEvent");
export type CallbackEvent = z.infer<typeof CallbackEvent>;

export const DEFAULT_CALLBACK_EVENTS: CallbackEvent[] = ["completed", "failed"];

export const DeliveryStatus = z
	.enum(["pending", "delivered", "failed"])
	.openapi("DeliveryStatus", { description: "Delivery of the final event to `callback_url`; null without one." });
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const Metadata = z
	.record(z.string(), z.unknown())
	.refine((value) => new TextEncoder().encode(JSON.stringify(value)).length <= MAX_METADATA_BYTES, {
		message: `metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
	})
	.openapi("Metadata", { description: "Any JSON object up to 4 KiB, echoed in every event and GET." });

/** The push fields, top-level beside `request`. */
export const PushFields = {
	callback_url: z.string().max(2048).nullish().openapi({ description: "Where to POST events (https)." }),
	callback_events: z
		.array(CallbackEvent)
		.min(1)
		.max(4)
		.nullish()
		.openapi({ description: 'Events to push; default ["completed", "failed"].' }),
	metadata: Metadata.nullish(),
};

/** The create body's top-level fields; any other is refused (a typo must not silently drop a push). */
const CREATE_JOB_FIELDS = ["request", "idempotency_key", ...Object.keys(PushFields)] as const;

/** Create body: the upstream's request plus the push fields. Async jobs do not stream. */
export const CreateJobBody = AsyncApiChatCompletionsRequest.extend(PushFields)
	.superRefine((body, ctx) => {
		refuseUnknownFields(body, CREATE_JOB_FIELDS, ctx);
		requireCallbackForEvents(body, ctx);
		if (typeof body.idempotency_key === "string" && body.idempotency_key.length > MAX_IDEMPOTENCY_KEY) {
			ctx.addIssue({
				code: "custom",
				path: ["idempotency_key"],
				message: `idempotency_key must be at most ${MAX_IDEMPOTENCY_KEY} characters`,
			});
		}
		if (body.request.model.length > MAX_MODEL_NAME) {
			ctx.addIssue({
				code: "custom",
				path: ["request", "model"],
				message: `model must be at most ${MAX_MODEL_NAME} characters`,
			});
		}
		if (body.request.stream === true) {
			ctx.addIssue({
				code: "custom",
				path: ["request", "stream"],
				message: "stream must be false: async jobs do not stream",
			});
		}
	})
	.openapi("CreateAsyncChatCompletion");
export type CreateJobBody = z.infer<typeof CreateJobBody>;

/** A job as the relay returns it: the upstream object, with our id, plus metadata and delivery state. */
/** The start of the job's last user message, so lists and dashboards can say what was asked. */
export const REQUEST_PREVIEW_CHARS = 200;
const RequestPreview = z
	.string()
	.nullish()
	.openapi({ description: `The first ${REQUEST_PREVIEW_CHARS} characters of the last user message.` });

/** Who ran a job upstream, recorded when it ran (relay extension, on GET only; events do not carry it). */
export const UpstreamOrigin = z.enum(["emulator", "perplexity"]).openapi("UpstreamOrigin", {
	description:
		"Who answered the job's upstream calls: `emulator` when the local Perplexity emulator did (it marks its " +
		"answers), `perplexity` otherwise. Null until upstream has answered, and for jobs stored before it was kept.",
});
export type UpstreamOrigin = z.infer<typeof UpstreamOrigin>;

export const RelayJob = AsyncApiChatCompletionsResponse.extend({
	metadata: Metadata.nullish(),
	delivery_status: DeliveryStatus.nullish(),
	request_preview: RequestPreview,
	upstream: UpstreamOrigin.nullish(),
}).openapi("RelayAsyncChatCompletion");
export type RelayJob = z.infer<typeof RelayJob>;

export const RelayJobSummary = AsyncApiChatCompletionsResponseSummary.extend({
	delivery_status: DeliveryStatus.nullish(),
	request_preview: RequestPreview,
}).openapi("RelayAsyncChatCompletionSummary");
export type RelayJobSummary = z.infer<typeof RelayJobSummary>;

export const RelayJobList = ListAsyncApiChatCompletionsResponse.extend({
	requests: z.array(RelayJobSummary),
}).openapi("RelayAsyncChatCompletionList");
export type RelayJobList = z.infer<typeof RelayJobList>;

/** Query of the list endpoint: `limit` 1–100 (default 20) and an opaque `next_token`. */
export const ListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).optional().default(20),
	next_token: z.string().min(1).max(512).optional(),
});

/**
 * Every event the relay pushes: the Sonar surface's `async_chat_completion.*`, and the Agent surface's
 * `response.*`, named as OpenAI's webhooks name the events of background responses.
 */
export const EventType = z
	.enum([
		"async_chat_completion.started",
		"async_chat_completion.progress",
		"async_chat_completion.completed",
		"async_chat_completion.failed",
		"response.in_progress",
		"response.progress",
		"response.completed",
		"response.failed",
		"response.cancelled",
		"response.incomplete",
	])
	.openapi("WebhookEventType");
export type EventType = z.infer<typeof EventType>;

/** The events that say a run started: sent once, while it runs. */
export const START_EVENTS: ReadonlySet<EventType> = new Set(["async_chat_completion.started", "response.in_progress"]);

/** The events sent while a run goes on (started, progress); every other event is a final one. */
export const INTERIM_EVENTS: ReadonlySet<EventType> = new Set([
	...START_EVENTS,
	"async_chat_completion.progress",
	"response.progress",
]);

/**
 * What a watched run is doing, in a `progress` event (opt-in, `callback_events: ["progress"]`): the
 * queries it searches, or the pages it reads. Only on progress events.
 */
export const ProgressNote = z
	.object({
		stage: z.enum(["searching", "reading"]),
		items: z.array(z.string()).openapi({ description: "The queries searched, or the URLs read (a few, shortened)" }),
	})
	.openapi("ProgressNote");

/**
 * On an event too large to carry its result (over `MAX_PUSH_BYTES`), instead of it: a signed link,
 * valid while the result is kept, that returns the job as GET does, without an API key.
 */
export const ResultUrl = z.string().openapi({
	description:
		"Only on an event whose body would exceed MAX_PUSH_BYTES (1 MiB by default): the result was left out " +
		"(`response` is null; on a run, `output` is empty) and is fetched from here, a signed link valid while " +
		"the result is kept (RESULT_TTL_SECONDS). A GET needs no API key and returns the job as GET returns it.",
	example:
		"https://relay.example.com/v1/results/3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f?expires=1764417600&signature=Xq3…",
});

/** The body of every webhook the relay sends. */
export const WebhookEvent = z
	.object({
		type: z.enum([
			"async_chat_completion.started",
			"async_chat_completion.progress",
			"async_chat_completion.completed",
			"async_chat_completion.failed",
		]),
		timestamp: z.string(),
		data: RelayJob.extend({ progress: ProgressNote.optional(), result_url: ResultUrl.optional() }),
	})
	.openapi("WebhookEvent");
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/**
 * What a REST hook subscribes to: a final event of either surface, or a surface's `*` (every final
 * event of it: completed and failed; for runs, cancelled and incomplete too).
 */
export const HookEvent = z
	.enum([
		"async_chat_completion.completed",
		"async_chat_completion.failed",
		"async_chat_completion.*",
		"response.completed",
		"response.failed",
		"response.cancelled",
		"response.incomplete",
		"response.*",
	])
	.openapi("HookEvent");
export type HookEvent = z.infer<typeof HookEvent>;

export const CreateHookBody = z
	.object({ target_url: z.string().min(1).max(2048), event: HookEvent })
	.openapi("CreateHook");

export const Hook = z
	.object({ id: z.string(), target_url: z.string(), event: HookEvent, created_at: z.number().int() })
	.openapi("Hook");
export type Hook = z.infer<typeof Hook>;

/** The Agent API's presets a caller may name instead of a model (`/v1/ask`'s `preset`, Slack's `preset:`). */
export const Preset = z.enum(["fast", "low", "medium", "high", "xhigh"]).openapi("Preset", {
	description: "An Agent API preset: fast, low, medium (deep research), high, xhigh.",
});
export type Preset = z.infer<typeof Preset>;

/** The flat submit for forms and no-code tools (`POST /v1/ask`). */
const ASK_FIELDS = ["query", "model", "preset", "system", "idempotency_key", ...Object.keys(PushFields)] as const;

export const AskBody = z
	.looseObject({
		query: z.string().trim().min(1).max(32_768),
		model: z.string().min(1).max(200).optional(),
		preset: Preset.optional().openapi({ description: "Run the question on this preset instead of a model." }),
		system: z.string().max(32_768).optional(),
		...PushFields,
		idempotency_key: z.string().min(1).max(255).nullish(),
	})
	.refine((ask) => !(ask.model && ask.preset), {
		path: ["preset"],
		message: "name a model or a preset, not both",
	})
	.superRefine((ask, ctx) => {
		refuseUnknownFields(ask, ASK_FIELDS, ctx);
		requireCallbackForEvents(ask, ctx);
	})
	.openapi("Ask");
export type AskBody = z.infer<typeof AskBody>;

/** Every error but a 422: `{"detail": "<message>"}`. */
export const ErrorDetail = z
	.object({ detail: z.string().openapi({ example: "Job not found" }) })
	.openapi("ErrorDetail");

export const HookList = z.object({ hooks: z.array(Hook) }).openapi("HookList");

export const WebhookSecret = z
	.object({
		secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
		next_secret: z.string().optional().openapi({ description: "Only during a key rotation." }),
	})
	.openapi("WebhookSecret");

const LimitValue = z.number().nullable();

/** `GET /v1/usage`: the tenant's limits (`TENANT_LIMITS`; null: none) and what it has used against them. */
export const TenantUsageReport = z
	.object({
		tenant: z.string(),
		limits: z.object({
			max_in_flight: LimitValue.openapi({ description: "Jobs accepted and not yet settled" }),
			creates_per_minute: LimitValue.openapi({ description: "Jobs accepted in the last 60 s" }),
			daily_cost_usd: LimitValue.openapi({ description: "Upstream cost of the jobs that finished since 00:00 UTC" }),
		}),
		usage: z.object({
			in_flight: z.number().int(),
			creates_last_minute: z.number().int(),
			cost_today_usd: z.number(),
		}),
		day_resets_at: z.string().openapi({ description: "When cost_today_usd starts again from 0 (ISO 8601, UTC)" }),
	})
	.openapi("TenantUsage");
export type TenantUsageReport = z.infer<typeof TenantUsageReport>;

export const DeliveryAttempt = z
	.object({
		attempt: z.number().int(),
		series: z.number().int().openapi({ description: "1 for the scheduled series, +1 per redelivery." }),
		webhook_id: z.string(),
		event: EventType,
		at: z.string().openapi({ format: "date-time" }),
		host: z.string().openapi({ description: "The callback URL's host only." }),
		status_code: z.number().int().nullable(),
		error: z
			.enum(["timeout", "dns", "connect", "tls", "redirect", "network", "blocked", "unavailable"])
			.nullable()
			.openapi({
				description:
					"The class of a failure without an answer (or with a redirect); `unavailable`: not sent, the result could not be read back from KV.",
			}),
		error_message: z.string().nullable().openapi({
			description:
				'What went wrong, in words: "connection refused", "DNS lookup failed", "TLS error", "timeout after 15 s", "redirect not followed (302)", "HTTP 503 Service Unavailable"; null when delivered.',
		}),
		duration_ms: z.number(),
		response_body: z.string().nullable().openapi({ description: "The first 512 bytes of the answer." }),
	})
	.openapi("DeliveryAttempt");

export const DeliveryReport = z
	.object({
		job_id: z.string(),
		delivery_status: DeliveryStatus.nullable(),
		events: z.array(
			z.object({
				webhook_id: z.string(),
				event: EventType,
				host: z.string(),
				status: DeliveryStatus,
				series: z.number().int(),
				attempts: z.number().int(),
				next_attempt_at: z.string().nullable(),
				last_error: z.string().nullable(),
			}),
		),
		attempts: z.array(DeliveryAttempt).openapi({ description: "The last 50 attempts, oldest first." }),
		stats: z.object({
			alarm_runs: z.number().int(),
			create_attempts: z.number().int(),
			upstream_polls: z.number().int(),
			kv_writes: z.number().int(),
			index_writes: z.number().int(),
			delivery_attempts: z.number().int(),
			other_do_requests: z.number().int().openapi({
				description: "RPCs into the Upstream Gate Durable Object (slots, 429 reports, rate limits, learnt durations).",
			}),
			possible_duplicate_runs: z.number().int().openapi({
				description:
					"Creates whose answer was lost (a timeout, a dropped connection, a 5xx): each may have started a run upstream that the relay does not follow, and that is billed. The Agent API has no idempotency key.",
			}),
			upstream_cancels: z
				.number()
				.int()
				.openapi({ description: "Cancel calls made upstream: a job that timed out stops its run." }),
			upstream_streams: z
				.number()
				.int()
				.openapi({ description: "Connections to the run's event stream (the first, and each reconnect)." }),
			stream_ms: z.number().openapi({
				description: "How long the Job DO held the run's event stream open (ms): billed as Durable Object duration.",
			}),
			alarm_lateness_ms: z.array(z.number()),
		}),
	})
	.openapi("DeliveryReport");
/** The attempt log and delivery state of one job (`GET …/deliveries`), as the Job DO reports it. */
export type DeliveryReport = z.infer<typeof DeliveryReport>;
