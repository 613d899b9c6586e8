/**
 * The Agent API's answer shapes, from the official SDK's generated types
 * (`@perplexity-ai/perplexity_ai/src/generated/api.ts`), widened only where
 * `spec/agent-api.md` documents more than the SDK knows: the `incomplete`
 * status with `incomplete_details`, `completed_at`, and the echoed `metadata`.
 * Everything the emulator answers on the Agent paths is built against these,
 * so a shape mistake fails `tsc`.
 */
import type {
	ErrorInfoOutput,
	MessageOutputItemOutput,
	OutputItemOutput,
	ResponseStreamEventOutput,
	ResponsesResponseOutput,
	SearchResultOutput,
	SearchResultsOutputItemOutput,
	StatusOutput,
} from "@perplexity-ai/perplexity_ai/generated/api";

export type {
	ErrorInfoOutput,
	ResponsesRequestInput,
	ResponsesUsageOutput,
	SearchResultOutput,
	SearchResultsOutputItemOutput,
} from "@perplexity-ai/perplexity_ai/generated/api";

/** The SDK's statuses plus `incomplete`, which agent-api.md documents and the SDK's enum lacks. */
export type AgentStatus = StatusOutput | "incomplete";

export const TERMINAL_STATUSES: ReadonlySet<AgentStatus> = new Set(["completed", "failed", "cancelled", "incomplete"]);

/** A `message` output item; an `incomplete` run's message is `incomplete` too. */
export type AgentMessageItem = Omit<MessageOutputItemOutput, "status"> & { status: AgentStatus };

export type AgentOutputItem = Exclude<OutputItemOutput, MessageOutputItemOutput> | AgentMessageItem;

export interface IncompleteDetails {
	reason: "max_output_tokens";
}

/** A Response (`object: "response"`), as `GET /v1/responses/{id}` and the create answer it. */
export type AgentResponse = Omit<ResponsesResponseOutput, "status" | "output"> & {
	status: AgentStatus;
	output: AgentOutputItem[];
	/** Unix seconds; only once `completed`. */
	completed_at?: number;
	/** Only when `incomplete`. */
	incomplete_details?: IncompleteDetails;
	/** The create's `metadata`, echoed. */
	metadata?: Record<string, string>;
};

/** The SDK's stream events, with the widened Response and output items inside. */
type Widen<E> = E extends { response?: ResponsesResponseOutput }
	? Omit<E, "response"> & { response?: AgentResponse }
	: E extends { item: OutputItemOutput }
		? Omit<E, "item"> & { item: AgentOutputItem }
		: E;

export type AgentStreamEvent = Widen<ResponseStreamEventOutput>;

/** An event before it has its place in the stream. */
export type PlannedPayload = AgentStreamEvent extends unknown
	? DistributiveOmit<AgentStreamEvent, "sequence_number">
	: never;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type AgentSearchResult = SearchResultOutput;
export type AgentSearchResultsItem = SearchResultsOutputItemOutput;
export type AgentError = ErrorInfoOutput;

/** `POST /v1/responses/{id}/cancel`'s answer, as the SDK's `responses.cancel` types it. */
export interface CancelAnswer {
	response_id: string;
	status: "cancelling";
}

/** `GET /v1/models`. */
export interface ModelList {
	object: "list";
	data: { id: string; object: "model"; owned_by: string; created: number }[];
}

/** The HTTP error envelope on every Agent path; the HTTP status equals `code`. */
export interface ErrorEnvelope {
	error: { message: string; type: string; code: number; param?: string };
}
