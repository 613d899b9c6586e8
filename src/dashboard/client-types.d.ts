/**
 * Types of the dashboard's client (`src/public/dashboard/app.js`), for its JSDoc
 * (`tsc -p tsconfig.client.json`): the shapes of the relay's JSON answers, with
 * only the fields the client reads, and the client's own kinds and views.
 *
 * The real API shapes are the zod schemas in `src/schemas/` (`relay.ts`,
 * `agent.ts`, `perplexity.ts`, `ops.ts`); the name each type follows is noted.
 * A field the client reads defensively (`data.response || {}`, `lag.samples ?`) is
 * optional here even where the API always sends it: the type says what the client
 * copes with. Types only, outside `src/public/` so it is never served; the client
 * imports them with `@typedef {import("../../dashboard/client-types").X} X`.
 */

// ── The client's own shapes ──────────────────────────────────────────────

/** The two kinds of job the relay runs: Sonar API jobs and Agent API runs. */
export type Kind = "sonar" | "agent";

/**
 * A child of the client's h() and svg() (`N`: the DOM's Node), or text, never markup; absent ones
 * (null, undefined, false) are skipped and arrays flattened.
 */
export type Child<N> = N | string | number | boolean | null | undefined | Child<N>[];

/** A status's words and badge colour. */
export interface StatusLabel {
	label: string;
	tone: string;
}

/** One kind's endpoints, statuses and words (`KINDS` in app.js). */
export interface KindSpec {
	api: string;
	route: string;
	noun: string;
	title: string;
	listTitle: string;
	listLive: string;
	statuses: Record<string, StatusLabel>;
	ended: Record<string, boolean>;
	/** The jobs of a list page, whichever kind's page it is. */
	items(page: ListPage | null): JobView[];
}

/** A hash route (`parseRoute`): the list of a kind, a job's page, or one of the other views. */
export type Route =
	| { name: "jobs"; kind: Kind; unknown?: boolean }
	| { name: "job"; kind: Kind; id: string; unknown?: undefined }
	| { name: "new" | "secret" | "ops"; unknown?: undefined };

/** A metadata search of the list: `metadata[key]=value`. */
export interface Search {
	key: string;
	value: string;
}

/** One kind's list: the loaded jobs, the next page's token, its filter and search, its loads in flight. */
export interface ListState {
	jobs: JobView[];
	nextToken: string | null;
	loaded: boolean;
	polls: number;
	filter: string;
	search: Search | null;
	/** The number of the latest load, and of the latest load that reset the list (`loadJobs`). */
	seq?: number;
	resetSeq?: number;
}

/** A step of the job page's timeline; `at` in Unix seconds. */
export interface TimelineStep {
	label: string;
	at: number | null | undefined;
	state: "done" | "waiting" | "failed";
	note?: string | null;
}

/** A problem the submit form shows: in its summary, and on the field it names, if any. */
export type FormIssue =
	| { field: string; message: string; fieldMessage?: string }
	| { field: null; message: string; fieldMessage?: string };

// ── The relay's answers ──────────────────────────────────────────────────

export type DeliveryStatus = "pending" | "delivered" | "failed";

/** A search result (`ApiPublicSearchResult`); a run's `search_results` items carry the same fields. */
export interface SearchResult {
	url: string;
	title?: string;
	snippet?: string;
	date?: string | null;
	last_updated?: string | null;
}

/** A chunk of a chat message's content (`ChatMessageContentChunk`); the client reads the text ones. */
export interface ContentChunk {
	type: string;
	text?: string;
}

/** The upstream's cost of a job or run (`Cost`; a run's `usage.cost` is loose). */
export interface Cost {
	total_cost?: number;
	currency?: string;
}

/** A Sonar job's chat completion (`CompletionResponse`). */
export interface CompletionResponse {
	choices?: Array<{ message: { content: string | ContentChunk[] | null } }>;
	citations?: string[] | null;
	search_results?: SearchResult[] | null;
	usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; cost?: Cost } | null;
}

/** A citation annotation on a run's answer text: the URL of the `[n]` marker between the indexes. */
export interface Annotation {
	url?: string;
	start_index?: number;
	end_index?: number;
}

/** A part of a run's `message` item: the client reads the `output_text` ones. */
export interface OutputPart {
	type: string;
	text: string;
	annotations?: Annotation[];
}

/**
 * An output item of a run (`OutputItem`, loose: as upstream gave it). The client reads `message`
 * items (`content`) and `search_results` items (`results`), and checks each before reading it.
 */
export interface OutputItem {
	type: string;
	content?: OutputPart[];
	results?: SearchResult[];
}

/**
 * A job or a run as GET returns it (`RelayJob`, `RelayResponse`), or a line of a list (their
 * summaries): the fields the client reads, of both kinds. Those of one kind are absent on the other.
 */
export interface JobView {
	id: string;
	model: string;
	/** A Sonar job's `AsyncProcessingStatus` (CREATED …) or a run's `ResponseStatus` (queued …). */
	status: string;
	created_at: number;
	completed_at?: number | null;
	delivery_status?: DeliveryStatus | null;
	request_preview?: string | null;
	metadata?: Record<string, unknown> | null;
	upstream?: "emulator" | "perplexity" | null;
	// A Sonar job's
	started_at?: number | null;
	failed_at?: number | null;
	error_message?: string | null;
	response?: CompletionResponse | null;
	// A run's
	output?: OutputItem[];
	error?: { message?: string } | null;
	incomplete_details?: { reason?: string } | null;
	usage?: { input_tokens: number; output_tokens: number; total_tokens: number; cost?: Cost } | null;
}

/** A page of a list: a Sonar one (`RelayJobList`: `requests`) or a run one (`ResponseList`: `data`). */
export interface ListPage {
	requests?: JobView[];
	data?: JobView[];
	next_token?: string | null;
}

/** What a create answers (`RelayJob` or `RelayResponse`): the client reads its id. */
export interface Created {
	id: string;
}

/** What a cancel answers: the job (Sonar, `RelayJob`) or `ResponseCancelResponse` (`status: "cancelling"`). */
export interface CancelAnswer {
	status?: string;
	error_message?: string | null;
}

/** A 422's issue (`ValidationError`). */
export interface ValidationIssue {
	loc: Array<string | number>;
	msg: string;
}

/** An error body: the Sonar surface's `{detail}` (`ErrorDetail`, `HTTPValidationError`) or the Agent surface's `{error}`. */
export interface ErrorBody {
	detail?: string | ValidationIssue[];
	error?: { message?: string; param?: string };
}

/** `GET /v1/usage` (`TenantUsageReport`). */
export interface UsageReport {
	limits?: {
		max_in_flight?: number | null;
		creates_per_minute?: number | null;
		daily_cost_usd?: number | null;
	};
	usage: { in_flight: number; creates_last_minute: number; cost_today_usd: number };
}

/** A delivery attempt (`DeliveryAttempt`). */
export interface DeliveryAttempt {
	attempt: number;
	series: number;
	webhook_id: string;
	event: string;
	at: string;
	status_code: number | null;
	error: string | null;
	error_message: string | null;
	duration_ms: number;
	response_body: string | null;
}

/** An event to deliver and its state (an item of `DeliveryReport.events`). */
export interface DeliveryEvent {
	event: string;
	host: string;
	status: DeliveryStatus;
	series: number;
	attempts: number;
	next_attempt_at: string | null;
	last_error: string | null;
}

/** `GET …/deliveries` and `POST …/redeliver` (`DeliveryReport`). */
export interface DeliveryReport {
	delivery_status: DeliveryStatus | null;
	events?: DeliveryEvent[];
	attempts?: DeliveryAttempt[];
}

/** `GET /v1/webhook-secret` (`WebhookSecret`). */
export interface WebhookSecret {
	secret?: string;
	next_secret?: string;
}

export type StatsWindow = "1h" | "24h" | "7d";

/** An hour of `jobs_per_hour`. */
export interface HourCounts {
	hour: string;
	accepted: number;
	completed: number;
	failed: number;
}

/** An hour of `push_lag.hourly`. */
export interface HourLag {
	hour: string;
	p50_ms: number | null;
	p99_ms: number | null;
	samples: number;
}

/** `GET /v1/stats` (`OpsStats`). */
export interface OpsStats {
	window: StatsWindow;
	from: string;
	to: string;
	counts?: Record<string, number>;
	jobs_per_hour?: HourCounts[];
	push_lag?: { p50_ms?: number | null; p99_ms?: number | null; samples?: number; hourly: HourLag[] };
	scan?: { max_rows: number; truncated: boolean };
}

/** `POST /v1/deliveries/recover` (`RecoverReport`). */
export interface RecoverReport {
	redelivered: number;
	delivered: number;
	failed: number;
	remaining: number;
	next_token: string | null;
	jobs?: Array<{ id: string; redelivered: boolean; detail: string | null }>;
}

/** A REST hook subscription (`Hook`). */
export interface Hook {
	id: string;
	target_url: string;
	event: string;
	created_at: number;
}

/** `POST /v1/hooks/{id}/test` (`HookTestReport`). */
export interface HookTestReport {
	event: string;
	webhook_id: string;
	target_host: string;
	delivered: boolean;
	status_code: number | null;
	duration_ms: number;
	error: string | null;
	error_message: string | null;
}
