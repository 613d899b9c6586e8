/**
 * The job state machine: pure functions, no I/O, no clock, no randomness of
 * their own. The Job Durable Object loads a `JobState`, asks `dueActions` what
 * to do now, performs each action's I/O, feeds the outcome to `apply`, saves,
 * and arms its one alarm for `nextWake`. Expected failures (upstream down, a
 * receiver answering 503) are outcomes that become states, never exceptions.
 *
 *   submitting ──created──▶ polling ──COMPLETED/FAILED──▶ settled ──TTL──▶ retired
 *        │                     │
 *        └─terminal 4xx on the first try──▶ rejected (nothing is kept)
 *
 * Side effects that must happen once per change (the KV result, the tenant
 * index) are flags (`cached`, `indexed`) that stay false until done. Deliveries
 * are an outbox beside the lifecycle: the `started` event is sent while polling.
 */
import { exceedsUtf8 } from "../bytes.ts";
import type { ResultRef } from "../cache.ts";
import type { Settings } from "../config.ts";
import { slackProgressMessage, slackResultMessage, slackSearchingMessage } from "../integrations/slack/message.ts";
import { observedDuration } from "../polling/sketch.ts";
import type { AgentRunRequest, RelayResponse, ResponseCallbackEvent, ResponseStatus } from "../schemas/agent.ts";
import type { ApiChatCompletionsRequest, AsyncProcessingStatus, CompletionResponse } from "../schemas/perplexity.ts";
import {
	type CallbackEvent,
	type DeliveryStatus,
	type EventType,
	INTERIM_EVENTS,
	REQUEST_PREVIEW_CHARS,
	type RelayJob,
} from "../schemas/relay.ts";
import { isPushback, type UpstreamFailure } from "../upstream/errors.ts";
import type { ProgressNote, RunStatus, UpstreamOrigin, UpstreamRun, WatchEnd } from "../upstream/port.ts";

// ── State ────────────────────────────────────────────────────────────────────

/**
 * Which API the caller used, and so what its job looks like and which events it gets: `sonar`,
 * the seeds' async chat completions contract (`async_chat_completion.*`), or `agent`, the Agent
 * API's Response objects (`response.*`).
 */
export type Surface = "sonar" | "agent";

/** What the caller asked for; fixed at submission. */
interface JobSpecFields {
	id: string;
	tenant: string;
	/** The model (or preset) the caller named, echoed in views and logs. */
	model: string;
	createdAtMs: number;
	/** SHA-256 of the canonical create body: the same idempotency key with another body is a 409. */
	bodyHash: string;
	callbackUrl: string | null;
	callbackEvents: (CallbackEvent | ResponseCallbackEvent)[];
	metadata: Record<string, unknown> | null;
	/** Delivery through an integration's own format instead of (or beside) Standard Webhooks. */
	integration?: JobIntegration | null;
	/** The relay's origin as the caller reached it, for links to the result (`result_url`). @default null */
	origin?: string | null;
}

export type JobSpec = JobSpecFields &
	(
		| {
				/** @default "sonar" */
				surface?: "sonar";
				/** What the caller asked upstream to run, in the seeds' shape; the upstream port translates it. */
				request: ApiChatCompletionsRequest;
		  }
		| {
				surface: "agent";
				/** The Agent API request, as the caller sent it without the push fields. */
				request: AgentRunRequest;
		  }
	);

export const surfaceOf = (spec: Pick<JobSpec, "surface">): Surface => spec.surface ?? "sonar";

/** The kinds of event a job has; each surface names them its own way. */
export type EventKind = "start" | "progress" | "completed" | "failed" | "cancelled" | "incomplete";

/** A Slack slash command's job: the final result is posted to `response_url` as Block Kit. */
export interface SlackIntegration {
	kind: "slack";
	responseUrl: string;
	responseType: "in_channel" | "ephemeral";
	question: string;
	/** The full result is at this base plus the job id: the link for answers cut to fit Slack's limits. */
	resultBaseUrl: string | null;
}

export type JobIntegration = SlackIntegration;

export type Lifecycle =
	| {
			phase: "submitting";
			attempts: number;
			/**
			 * Creates that failed after they may have started a run (their answer was lost): each retry of
			 * one may start a second, billed run, so they are bounded. @default 0
			 */
			ambiguous?: number;
			nextAt: number;
			lastError: string | null;
			/** The caller is still waiting on this create: a terminal error is theirs to see, and nothing is kept. */
			callerWaiting: boolean;
			/** `nextAt` is a slot the upstream gate reserved, in this rate epoch (shown to the gate when it comes due). */
			reservedEpoch?: number | null;
			/** The slot is a send the gate booked: it goes when due, if the epoch still holds. */
			reservedSend?: boolean;
			/** The poll plan the gate gave with the slot (ms after the upstream create). */
			plan?: number[] | null;
			/**
			 * A create was on its way upstream when this state was saved (ms): found on a restart, its
			 * answer was lost with the relay, and a run may have started. @default null
			 */
			sentAt?: number | null;
	  }
	| {
			phase: "rejected";
			status: number;
			detail: string;
			/** For a 429 (a tenant limit, a create queue past the deadline): when to try again (ms). */
			retryAfterMs?: number | null;
	  }
	| {
			phase: "polling";
			upstreamId: string;
			polls: number;
			/** The last gap between polls; the back-off grows from it once the plan is used up. */
			intervalMs: number;
			nextAt: number;
			/** When upstream accepted the job (ms): the plan's zero. */
			acceptedAt?: number;
			/** When to poll, in ms after `acceptedAt`; null: plain back-off. */
			plan?: number[] | null;
			/** `nextAt` is a slot the upstream gate reserved, in this rate epoch. */
			reservedEpoch?: number | null;
			/** The slot is a send the gate booked. */
			reservedSend?: boolean;
			/**
			 * Polls ask the upstream gate for a slot first. Off until upstream pushes back: set by a GET 429 (this
			 * job's own, or one the gate heard of), cleared when the gate says its GET rate has recovered.
			 */
			paced?: boolean;
			/** The last poll that found the job unfinished (ms), for the learnt duration. */
			lastPendingAt?: number;
			/** The run is watched through its event stream instead of polled; null or absent: polled. */
			watch?: StreamWatch | null;
	  }
	| {
			phase: "settled";
			upstreamId: string | null;
			retireAt: number;
			/** An upstream run to stop (the job timed out while it ran): cancelled best effort, a few tries. */
			cancel?: { attempts: number; nextAt: number } | null;
	  };

/** Following a run's event stream (`WATCH_MODE`): where to resume, and how the connections went. */
export interface StreamWatch {
	/** The last `sequence_number` seen; null before any event. */
	cursor: number | null;
	/** Connections in a row that ended before the run did without a single new event. */
	failures: number;
	/** Connections opened after the first (drops, eviction, an alarm's time budget). */
	reconnects: number;
	/** When the last progress event was queued (ms), to space them out; and how many were. @default null, 0 */
	progressAt?: number | null;
	progressSent?: number;
}

/** Progress events (opt-in) are at least this far apart: a run's search steps come in bursts. */
export const PROGRESS_MIN_INTERVAL_MS = 5_000;

/** A watch whose connections drop this many times in a row, with nothing new, falls back to polling. */
export const MAX_WATCH_FAILURES = 5;
/** A dropped stream is reopened after this, doubling per failure in a row, up to the cap. */
export const WATCH_RETRY_MS = 500;
export const WATCH_MAX_RETRY_MS = 30_000;

export interface Delivery {
	/** `webhook-id`: stable for one event across all its attempts. */
	webhookId: string;
	type: EventType;
	url: string;
	/** When the event happened (ms); the body's `timestamp`. */
	eventAt: number;
	/** Attempts in the current series; a redelivery starts a new series at 0. */
	attempts: number;
	/** 1 for the scheduled series, +1 for each redelivery. */
	series: number;
	status: DeliveryStatus;
	nextAt: number;
	/** The job as it was when the event happened, for events before the final one. */
	snapshot: RelayJob | RelayResponse | null;
	lastError: string | null;
	/** Set when the delivery goes to a REST-hook subscription rather than `callback_url`. */
	hookId: string | null;
	/** One attempt only, never retried (progress events: the next one, or the final one, will come). @default false */
	bestEffort?: boolean;
	/** What the run was doing, for a progress event's body. */
	note?: ProgressNote | null;
	/** The body: a Standard Webhooks event, or an integration's own message. @default "standard" */
	format?: "standard" | "slack" | "slack-progress" | "slack-searching";
	/** When an attempt first got a 2xx (ms), in any series: the end of the push lag. @default null */
	deliveredAt?: number | null;
	/** When the last series was given up (ms): dead-lettered, or dropped. @default null */
	deadLetteredAt?: number | null;
}

/** A subscription an event fans out to. */
export interface HookTarget {
	id: string;
	url: string;
}

/** Why an attempt failed; `unavailable`: not sent, the result could not be read back from KV. */
export type DeliveryErrorClass =
	| "timeout"
	| "dns"
	| "connect"
	| "tls"
	| "redirect"
	| "network"
	| "blocked"
	| "unavailable";

/** One entry of the attempt log (`GET …/deliveries`). */
export interface AttemptLogEntry {
	attempt: number;
	series: number;
	webhook_id: string;
	event: EventType;
	at: string;
	host: string;
	status_code: number | null;
	error: DeliveryErrorClass | null;
	/** What went wrong, in words ("connection refused", "HTTP 503 Service Unavailable"); null when delivered. */
	error_message?: string | null;
	duration_ms: number;
	response_body: string | null;
}

export interface JobState {
	spec: JobSpec;
	lifecycle: Lifecycle;
	status: AsyncProcessingStatus;
	startedAt: number | null;
	completedAt: number | null;
	failedAt: number | null;
	errorMessage: string | null;
	/** The answer, for a Sonar-surface job. */
	response: CompletionResponse | null;
	/**
	 * Where the run stands in the Agent API's words (`queued` … `cancelled`, `incomplete`): what an
	 * Agent-surface job shows, and which `response.*` event it ends with. Null until upstream said.
	 */
	runStatus?: RunStatus | null;
	/** Upstream's Response object once the run ended, for an Agent-surface job. */
	output?: Record<string, unknown> | null;
	/** The final result (and its delivery status) is in KV. */
	cached: boolean;
	/**
	 * Where the result is in KV, its one home, once written: from then on the Job DO stores no copy
	 * of `response` / `output` (it reads them back when it needs them). @default null
	 */
	result?: ResultRef | null;
	/** The tenant index shows the current summary. */
	indexed: boolean;
	/**
	 * The tenant index has judged the new job against the tenant's limits (`TENANT_LIMITS`), before
	 * anything was sent upstream. Only a job being submitted has it false. @default true
	 */
	admitted?: boolean;
	/** The final event was matched against the tenant's subscriptions (once, when the index learnt of it). */
	fannedOut: boolean;
	/** After a failed KV or index write, when to try again. */
	sideEffectRetryAt: number | null;
	/** KV or index writes that failed in a row: their retries back off on it (5 s doubling to 1 h). @default 0 */
	sideEffectFailures?: number;
	/**
	 * Alarm runs in a row that threw (a platform failure or a bug): the shell's alarm guard re-arms
	 * after `alarmRetryDelay` of it instead of letting the runtime drop the alarm. @default 0
	 */
	alarmFailures?: number;
	deliveries: Delivery[];
	log: AttemptLogEntry[];
	/** Counters kept by the DO shell for operators and the benchmark; no decision reads them. */
	stats: JobStats;
	/** How long upstream took, as the relay saw it (ms); reported once to the gate, which learns from it. */
	durationMs?: number | null;
	learned?: boolean;
	/**
	 * Who answered the upstream calls, as the answers said: the local emulator marks its own
	 * (`x-perplexity-emulator`); anything else is taken for Perplexity. Recorded at each create and
	 * poll, so a job shows what really ran it. @default null (not known yet, or stored before it was kept)
	 */
	upstream?: UpstreamOrigin | null;
}

export interface JobStats {
	alarmRuns: number;
	createAttempts: number;
	polls: number;
	kvWrites: number;
	indexWrites: number;
	deliveryAttempts: number;
	/** RPCs into the Upstream Gate DO (slots, 429 reports, learnt durations): billed as DO requests. */
	gateCalls?: number;
	/**
	 * Creates retried after a failure that may have started a run upstream: each may be an extra,
	 * billed run (the Agent API has no idempotency key). @default 0
	 */
	possibleDuplicates?: number;
	/** Cancel calls made upstream (a timed-out job stops its run). @default 0 */
	upstreamCancels?: number;
	/** Connections to the run's event stream. @default 0 */
	streams?: number;
	/** How long the run's event stream was held open, in ms (Durable Object duration). @default 0 */
	streamMs?: number;
	/** Per alarm run: when it ran minus when it was set for (ms); the last 64. */
	alarmLatenessMs: number[];
}

export const MAX_LATENESS_SAMPLES = 64;

// ── Actions and outcomes ─────────────────────────────────────────────────────

export type Action =
	| {
			type: "create";
			heldEpoch: number | null;
			heldSend?: true;
			/** The caller is waiting: a create slot later than this (ms) refuses the job (429) instead. */
			deadline?: number;
	  }
	| { type: "poll"; upstreamId: string; heldEpoch: number | null; paced: boolean; heldSend?: true }
	| { type: "watch"; upstreamId: string; cursor: number | null }
	| { type: "learn"; model: string; durationMs: number }
	| { type: "expire" }
	| { type: "cancel_upstream"; upstreamId: string }
	| { type: "cache" }
	/** `admit`: the job's first index entry, judged against the tenant's limits first. */
	| { type: "index"; fanOut: EventType | null; admit?: true }
	| { type: "deliver"; webhookId: string; url: string }
	| { type: "retire" };

export interface AttemptResult {
	ok: boolean;
	statusCode: number | null;
	error: DeliveryErrorClass | null;
	/** What went wrong, in words; null or absent when delivered. */
	message?: string | null;
	durationMs: number;
	retryAfterMs: number | null;
	responseBody: string | null;
}

export type Outcome =
	| {
			type: "created";
			run: UpstreamRun;
			plan?: number[] | null;
			/** The gate is pacing GETs (upstream answered one with 429 lately): this job's polls ask it first. */
			getsPaced?: boolean;
			/** Follow the run's event stream instead of polling it (the shell's choice, by `WATCH_MODE`). */
			watch?: boolean;
			/** Who answered the create (see `JobState.upstream`). */
			upstream?: UpstreamOrigin;
	  }
	| { type: "create_deferred"; at: number; epoch: number; plan: number[] | null; send?: boolean }
	| { type: "create_failed"; failure: UpstreamFailure }
	/** The gate's create queue reaches past the waiting caller's deadline: refuse rather than accept. */
	| { type: "create_refused"; detail: string; retryAfterMs: number }
	| {
			type: "polled";
			run: UpstreamRun;
			/** A new plan from the gate: the GET budget binds, and polls go where completion is likely. */
			plan?: number[] | null;
			/** What the gate said about GET pacing, when this poll asked it; undefined when it did not. */
			paced?: boolean;
			/** Who answered the poll (see `JobState.upstream`). */
			upstream?: UpstreamOrigin;
	  }
	| { type: "poll_deferred"; at: number; epoch: number; send?: boolean }
	| { type: "poll_failed"; failure: UpstreamFailure }
	/** An event of the watched stream that matters: the cursor moved, the run started, what it searches. */
	| { type: "watch_update"; cursor: number; status?: RunStatus; progress?: ProgressNote }
	/** One connection to the run's event stream ended (see `WatchEnd`). */
	| { type: "watched"; end: WatchEnd }
	| { type: "learned" }
	| { type: "expired" }
	| { type: "upstream_cancelled" }
	| { type: "cancel_failed"; failure: UpstreamFailure }
	/** The result is in KV, there: `ref`. */
	| { type: "cached"; ref?: ResultRef }
	| { type: "indexed"; hooks: HookTarget[] }
	/** The tenant index refused a new job: a tenant limit (`TENANT_LIMITS`) is reached. */
	| { type: "index_refused"; detail: string; retryAfterMs: number }
	| { type: "side_effect_failed" }
	| { type: "delivery_attempted"; webhookId: string; url: string; result: AttemptResult }
	/** A delivery given up without an attempt (its REST-hook subscription was deleted). */
	| { type: "delivery_dropped"; webhookId: string; url: string; reason: string }
	| { type: "retired" };

export type Policy = Pick<
	Settings,
	| "createRetryInitialMs"
	| "pollInitialDelayMs"
	| "pollMaxIntervalMs"
	| "pollMinIntervalMs"
	| "jobTimeoutSeconds"
	| "deliveryScheduleMs"
	| "resultTtlSeconds"
> &
	Partial<Pick<Settings, "ambiguousCreateRetries">>;

/** Growth of the poll interval. */
export const POLL_BACKOFF = 1.5;
/** Create retries back off from `createRetryInitialMs`, doubling, up to this. */
export const CREATE_MAX_BACKOFF_MS = 60_000;
/** A receiver's Retry-After is honoured up to this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
/** A timed-out job's upstream run is cancelled in at most this many tries, this far apart at first (doubling). */
export const CANCEL_ATTEMPTS = 3;
export const CANCEL_RETRY_MS = 5_000;
/** Retries of an ambiguous create when the policy does not say. */
export const DEFAULT_AMBIGUOUS_CREATE_RETRIES = 2;
/** KV or index write failed: try again after this, doubling per failure in a row (±20 %), up to the cap. */
export const SIDE_EFFECT_RETRY_MS = 5_000;
/** Side-effect retries stop growing here: with KV down for a day, a job writes about 30 times, not 17,000. */
export const SIDE_EFFECT_MAX_RETRY_MS = 3_600_000;
/** An alarm run that threw is run again after this, doubling per failure in a row (±20 %), up to the cap. */
export const ALARM_RETRY_MS = 5_000;
export const ALARM_MAX_RETRY_MS = 3_600_000;
/** The attempt log keeps this many entries. */
export const MAX_LOG_ENTRIES = 50;
/** Delivery delays vary by ±20 %, so that receivers recovering from an outage are not hit in lockstep. */
export const JITTER = 0.2;

// ── Construction ─────────────────────────────────────────────────────────────

/**
 * A fresh job, stored before anything is sent upstream. `callerWaiting` is
 * false when the caller was answered before the upstream create (Slack).
 */
export function newJob(spec: JobSpec, now: number, callerWaiting = true): JobState {
	return {
		spec,
		lifecycle: { phase: "submitting", attempts: 0, nextAt: now, lastError: null, callerWaiting },
		status: "CREATED",
		startedAt: null,
		completedAt: null,
		failedAt: null,
		errorMessage: null,
		response: null,
		runStatus: null,
		output: null,
		cached: false,
		indexed: false,
		admitted: false,
		fannedOut: false,
		sideEffectRetryAt: null,
		deliveries: spec.integration?.kind === "slack" ? [slackProgressNotice(spec, spec.integration)] : [],
		log: [],
		stats: emptyStats(),
	};
}

/** A new pending delivery, due at `at`: the one place the outbox entry's defaults live. */
function newDelivery(
	fields: Pick<Delivery, "webhookId" | "type" | "url" | "eventAt"> & Partial<Delivery>,
	at: number,
): Delivery {
	return {
		attempts: 0,
		series: 1,
		status: "pending",
		nextAt: at,
		snapshot: null,
		lastError: null,
		hookId: null,
		...fields,
	};
}

/**
 * Slack's `response_url` takes posts for 30 minutes only. A job still running
 * near the end of that window posts a notice with a link to where its answer
 * will be, while it still can; a job that settles first cancels the notice.
 */
export const SLACK_NOTICE_AFTER_MS = 25 * 60_000;

function slackProgressNotice(spec: JobSpec, slack: SlackIntegration): Delivery {
	return newDelivery(
		{
			webhookId: `msg_${spec.id}_slack_notice`,
			type: "async_chat_completion.started",
			url: slack.responseUrl,
			eventAt: spec.createdAtMs,
			format: "slack-progress",
		},
		spec.createdAtMs + SLACK_NOTICE_AFTER_MS,
	);
}

export function emptyStats(): JobStats {
	return {
		alarmRuns: 0,
		createAttempts: 0,
		polls: 0,
		kvWrites: 0,
		indexWrites: 0,
		deliveryAttempts: 0,
		gateCalls: 0,
		alarmLatenessMs: [],
	};
}

export function isFinal(state: JobState): boolean {
	return state.status === "COMPLETED" || state.status === "FAILED";
}

// ── Deciding ─────────────────────────────────────────────────────────────────

/** The deliveries that may be attempted: per URL, only the oldest unsettled one (events stay in order). */
function deliveryHeads(state: JobState): Delivery[] {
	const seen = new Set<string>();
	const heads: Delivery[] = [];
	for (const delivery of state.deliveries) {
		if (delivery.status !== "pending" || seen.has(delivery.url)) continue;
		seen.add(delivery.url);
		heads.push(delivery);
	}
	return heads;
}

function deadline(state: JobState, policy: Policy): number {
	return state.spec.createdAtMs + policy.jobTimeoutSeconds * 1000;
}

function sideEffectsAllowed(state: JobState, now: number): boolean {
	return state.sideEffectRetryAt === null || state.sideEffectRetryAt <= now;
}

/**
 * The first attempt of a final event is due: it goes before the KV result and
 * the index, so that the push, which is what the caller waits for, waits on
 * nothing, and so that KV and the index are written once, with the delivery
 * status the attempt settled on, instead of twice. A receiver that GETs the job
 * on receipt still finds the result: until KV has it, GET reads the Job DO.
 */
function firstFinalAttemptDue(state: JobState, now: number): boolean {
	if (!isFinal(state)) return false;
	return deliveryHeads(state).some((d) => !INTERIM_EVENTS.has(d.type) && d.attempts === 0 && d.nextAt <= now);
}

/**
 * What is due now, in the order it should run: upstream first, then the first
 * attempt of a final event, then the KV result and the index, then the other
 * deliveries, then retirement.
 */
export function dueActions(state: JobState, now: number, policy: Policy): Action[] {
	const actions: Action[] = [];
	const { lifecycle } = state;
	if (lifecycle.phase === "rejected") return actions;
	// A new job is judged against its tenant's limits, by the tenant index, before anything else.
	if (state.admitted === false && lifecycle.phase === "submitting")
		return [{ type: "index", fanOut: null, admit: true }];
	if (!isFinal(state) && now >= deadline(state, policy)) {
		actions.push({ type: "expire" });
	} else if (lifecycle.phase === "submitting" && lifecycle.nextAt <= now) {
		actions.push({
			type: "create",
			heldEpoch: lifecycle.reservedEpoch ?? null,
			...(lifecycle.reservedSend ? { heldSend: true as const } : {}),
			// The caller waits on its first create: a create queue past the job's deadline refuses it (429).
			...(lifecycle.callerWaiting && lifecycle.attempts === 0 ? { deadline: deadline(state, policy) } : {}),
		});
	} else if (lifecycle.phase === "polling" && lifecycle.nextAt <= now && lifecycle.watch) {
		actions.push({ type: "watch", upstreamId: lifecycle.upstreamId, cursor: lifecycle.watch.cursor });
	} else if (lifecycle.phase === "polling" && lifecycle.nextAt <= now) {
		actions.push({
			type: "poll",
			upstreamId: lifecycle.upstreamId,
			heldEpoch: lifecycle.reservedEpoch ?? null,
			paced: lifecycle.paced === true,
			...(lifecycle.reservedSend ? { heldSend: true as const } : {}),
		});
	}
	if (sideEffectsAllowed(state, now) && !firstFinalAttemptDue(state, now)) {
		if (isFinal(state) && !state.cached) actions.push({ type: "cache" });
		if (!state.indexed) actions.push({ type: "index", fanOut: pendingFanOut(state) });
	}
	for (const delivery of deliveryHeads(state)) {
		if (delivery.nextAt <= now) actions.push({ type: "deliver", webhookId: delivery.webhookId, url: delivery.url });
	}
	if (isFinal(state) && state.durationMs && !state.learned) {
		actions.push({ type: "learn", model: state.spec.model, durationMs: state.durationMs });
	}
	if (lifecycle.phase === "settled" && lifecycle.upstreamId && lifecycle.cancel && lifecycle.cancel.nextAt <= now) {
		actions.push({ type: "cancel_upstream", upstreamId: lifecycle.upstreamId });
	}
	if (
		lifecycle.phase === "settled" &&
		now >= lifecycle.retireAt &&
		deliveryHeads(state).length === 0 &&
		!lifecycle.cancel &&
		// Retiring deletes the KV result and the index entry: a failure backs off like any side effect.
		sideEffectsAllowed(state, now)
	) {
		actions.push({ type: "retire" });
	}
	return actions;
}

/** The final event still to be matched against subscriptions, if any. */
function pendingFanOut(state: JobState): EventType | null {
	if (!isFinal(state) || state.fannedOut) return null;
	return eventTypeOf(state.spec, finalKind(state));
}

/**
 * How the job ended, as an event: on the Sonar surface completed or failed (a cancelled or an
 * incomplete run without text is a failure there); on the Agent surface, the run's own status.
 */
export function finalKind(state: JobState): Exclude<EventKind, "start" | "progress"> {
	if (surfaceOf(state.spec) === "agent") {
		const run = state.runStatus;
		if (run === "completed" || run === "cancelled" || run === "incomplete") return run;
		return state.status === "COMPLETED" ? "completed" : "failed";
	}
	return state.status === "COMPLETED" ? "completed" : "failed";
}

/** The event type a kind of event has on the job's surface. */
export function eventTypeOf(spec: Pick<JobSpec, "surface">, kind: EventKind): EventType {
	if (surfaceOf(spec) === "agent") return `response.${kind === "start" ? "in_progress" : kind}`;
	if (kind === "start") return "async_chat_completion.started";
	if (kind === "progress") return "async_chat_completion.progress";
	return kind === "completed" ? "async_chat_completion.completed" : "async_chat_completion.failed";
}

/** The name a caller uses for a kind of event in `callback_events`. */
function subscriptionName(spec: Pick<JobSpec, "surface">, kind: EventKind): CallbackEvent | ResponseCallbackEvent {
	if (surfaceOf(spec) === "agent") return kind === "start" ? "in_progress" : kind;
	if (kind === "progress") return "progress";
	return kind === "start" ? "started" : kind === "completed" ? "completed" : "failed";
}

/** `msg_<jobId>_<the event type's name>`: stable for one event across every attempt. */
function webhookIdOf(jobId: string, type: EventType): string {
	return `msg_${jobId}_${type.slice(type.indexOf(".") + 1)}`;
}

/** When the alarm should next run; null when nothing is left to do. */
export function nextWake(state: JobState, now: number, policy: Policy): number | null {
	const { lifecycle } = state;
	if (lifecycle.phase === "rejected") return null;
	const times: number[] = [];
	if (lifecycle.phase === "submitting" || lifecycle.phase === "polling") {
		times.push(Math.min(lifecycle.nextAt, deadline(state, policy)));
	}
	if ((isFinal(state) && !state.cached) || !state.indexed) times.push(state.sideEffectRetryAt ?? now);
	if (isFinal(state) && state.durationMs && !state.learned) times.push(now);
	const heads = deliveryHeads(state);
	for (const delivery of heads) times.push(delivery.nextAt);
	if (lifecycle.phase === "settled" && lifecycle.cancel) times.push(lifecycle.cancel.nextAt);
	if (lifecycle.phase === "settled" && heads.length === 0) {
		times.push(Math.max(lifecycle.retireAt, state.sideEffectRetryAt ?? 0));
	}
	return times.length === 0 ? null : Math.max(now, Math.min(...times));
}

// ── Applying outcomes ────────────────────────────────────────────────────────

/** ±JITTER around `delayMs`; `random` is in [0, 1). */
export function jittered(delayMs: number, random: number): number {
	return Math.round(delayMs * (1 - JITTER + 2 * JITTER * random));
}

/**
 * Delay before retry number `failures` (1 for the first retry): `initialMs` doubling per failure
 * in a row, ±JITTER, never more than `maxMs`.
 *
 * @example
 * retryBackoff(1, 5_000, 3_600_000, 0.5) // 5000
 * retryBackoff(20, 5_000, 3_600_000, 0.5) // 3600000
 */
export function retryBackoff(failures: number, initialMs: number, maxMs: number, random: number): number {
	const exponent = Math.min(Math.max(failures, 1) - 1, 30);
	return Math.min(jittered(Math.min(initialMs * 2 ** exponent, maxMs), random), maxMs);
}

/** Delay before retrying a failed KV or index write, after `failures` failures in a row. */
export function sideEffectRetryDelay(failures: number, random: number): number {
	return retryBackoff(failures, SIDE_EFFECT_RETRY_MS, SIDE_EFFECT_MAX_RETRY_MS, random);
}

/** Delay before the alarm guard runs a job again, after `failures` alarm runs in a row threw. */
export function alarmRetryDelay(failures: number, random: number): number {
	return retryBackoff(failures, ALARM_RETRY_MS, ALARM_MAX_RETRY_MS, random);
}

/** Delay before create attempt `attempts + 1`: 1 s, 2 s, 4 s … capped, never sooner than Retry-After. */
export function nextCreateDelay(
	attempts: number,
	retryAfterMs: number | null,
	initialMs: number,
	random: number,
): number {
	const backoff = jittered(Math.min(initialMs * 2 ** attempts, CREATE_MAX_BACKOFF_MS), random);
	return Math.max(backoff, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

/**
 * When to poll next: the first planned time still ahead, or, past the plan
 * (or without one), the last gap grown ×1.5 up to POLL_MAX_INTERVAL_MS.
 */
export function nextPollAt(
	lifecycle: Extract<Lifecycle, { phase: "polling" }>,
	now: number,
	policy: Policy,
): { at: number; intervalMs: number } {
	const { plan, acceptedAt } = lifecycle;
	if (plan && acceptedAt !== undefined) {
		const earliest = now + Math.min(policy.pollMinIntervalMs, policy.pollMaxIntervalMs) / 2;
		const offset = plan.find((o) => acceptedAt + o >= earliest);
		if (offset !== undefined) return { at: acceptedAt + offset, intervalMs: acceptedAt + offset - now };
	}
	const intervalMs = nextPollInterval(lifecycle.intervalMs, policy);
	return { at: now + intervalMs, intervalMs };
}

/** The interval after one more poll: ×1.5, capped. */
export function nextPollInterval(intervalMs: number, policy: Policy): number {
	return Math.min(Math.round(intervalMs * POLL_BACKOFF), policy.pollMaxIntervalMs);
}

/**
 * Delay before the next delivery attempt, or null when the schedule is used up.
 * `attempts` is the number already made.
 */
export function nextDeliveryDelay(
	attempts: number,
	retryAfterMs: number | null,
	schedule: readonly number[],
	random: number,
): number | null {
	const planned = schedule[attempts];
	if (planned === undefined) return null;
	return Math.max(jittered(planned, random), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The finished job's duration from the polls that bracket its end, for the gate to learn from. */
function learntDuration(
	lifecycle: Extract<Lifecycle, { phase: "polling" }>,
	run: UpstreamRun,
	now: number,
): number | null {
	if (lifecycle.acceptedAt === undefined) return null;
	return observedDuration({
		lastPendingMs: (lifecycle.lastPendingAt ?? lifecycle.acceptedAt) - lifecycle.acceptedAt,
		firstDoneMs: now - lifecycle.acceptedAt,
		upstreamSeconds: run.finishedAt !== null && run.createdAt !== null ? run.finishedAt - run.createdAt : null,
	});
}

function enqueue(state: JobState, kind: EventKind, now: number, snapshot: RelayJob | RelayResponse | null): JobState {
	const { callbackUrl, callbackEvents, id } = state.spec;
	if (!callbackUrl || !callbackEvents.includes(subscriptionName(state.spec, kind))) return state;
	const type = eventTypeOf(state.spec, kind);
	const webhookId = webhookIdOf(id, type);
	if (state.deliveries.some((d) => d.webhookId === webhookId && d.url === callbackUrl)) return state;
	const delivery = newDelivery({ webhookId, type, url: callbackUrl, eventAt: now, snapshot }, now);
	return { ...state, deliveries: [...state.deliveries, delivery] };
}

/** Queues the final event for each subscription, once per URL (the callback URL already has it). */
function fanOut(state: JobState, hooks: HookTarget[], now: number): JobState {
	const type = pendingFanOut(state);
	if (!type) return state;
	const webhookId = webhookIdOf(state.spec.id, type);
	const urls = new Set(state.deliveries.filter((d) => d.type === type).map((d) => d.url));
	const added: Delivery[] = [];
	for (const hook of hooks) {
		if (urls.has(hook.url)) continue;
		urls.add(hook.url);
		added.push(newDelivery({ webhookId, type, url: hook.url, eventAt: now, hookId: hook.id }, now));
	}
	return { ...state, fannedOut: true, deliveries: [...state.deliveries, ...added] };
}

function settle(state: JobState, now: number, policy: Policy, upstreamId: string | null, cancelRun = false): JobState {
	const settled: JobState = {
		...state,
		lifecycle: {
			phase: "settled",
			upstreamId,
			retireAt: now + policy.resultTtlSeconds * 1000,
			cancel: cancelRun && upstreamId ? { attempts: 0, nextAt: now } : null,
		},
		cached: false,
		indexed: false,
		// A notice not yet sent would only hold the answer back: drop it.
		deliveries: state.deliveries.filter(
			(d) => !(d.format === "slack-progress" && d.status === "pending" && d.attempts === 0),
		),
	};
	const kind = finalKind(state);
	return enqueueIntegration(enqueue(settled, kind, now, null), kind, now);
}

/** The integration's message for the final event (Slack: the answer, or the error, as Block Kit). */
function enqueueIntegration(state: JobState, kind: EventKind, now: number): JobState {
	const integration = state.spec.integration;
	if (!integration) return state;
	const delivery = newDelivery(
		{
			webhookId: `msg_${state.spec.id}_${integration.kind}`,
			type: eventTypeOf(state.spec, kind),
			url: integration.responseUrl,
			eventAt: now,
			format: integration.kind,
		},
		now,
	);
	return { ...state, deliveries: [...state.deliveries, delivery] };
}

/** Where the job's own final event goes: `callback_url`, or the integration's URL. */
export function primaryUrl(spec: JobSpec): string | null {
	return spec.callbackUrl ?? spec.integration?.responseUrl ?? null;
}

/**
 * Fails the job. `cancelRun`: the upstream run may still be going (the job timed out, or the
 * relay can no longer follow it), so it is cancelled rather than left to run and bill.
 */
function failJob(
	state: JobState,
	now: number,
	policy: Policy,
	message: string,
	upstreamId: string | null,
	cancelRun = false,
	runStatus: RunStatus = "failed",
): JobState {
	return settle(
		{ ...state, status: "FAILED", runStatus, failedAt: seconds(now), errorMessage: message, response: null },
		now,
		policy,
		upstreamId,
		cancelRun,
	);
}

/**
 * The seeds' status for an upstream run: `incomplete` (a token cap) is a completed answer cut
 * short (`finish_reason: "length"`) when it has text, and a failure when it has none; `cancelled`
 * is a failure.
 */
export function contractStatus(run: UpstreamRun): AsyncProcessingStatus {
	switch (run.status) {
		case "queued":
			return "CREATED";
		case "in_progress":
			return "IN_PROGRESS";
		case "completed":
			return "COMPLETED";
		case "incomplete":
			return run.result ? "COMPLETED" : "FAILED";
		case "failed":
		case "cancelled":
			return "FAILED";
	}
}

/** Takes in what upstream says about the run; settles the job when the run is done. */
function observe(state: JobState, run: UpstreamRun, now: number, policy: Policy, upstreamId: string): JobState {
	const previous = state.status;
	const status = contractStatus(run);
	const agent = surfaceOf(state.spec) === "agent";
	let next: JobState = {
		...state,
		status,
		runStatus: run.status,
		startedAt: run.startedAt ?? state.startedAt,
		response: run.result ?? state.response,
		output: run.native ?? state.output ?? null,
	};
	if (status === "IN_PROGRESS" && next.startedAt === null) next.startedAt = seconds(now);
	if (next.status !== previous || next.runStatus !== state.runStatus) next.indexed = false;
	if (previous !== "IN_PROGRESS" && status === "IN_PROGRESS") {
		next = enqueue(next, "start", now, agent ? toResponseView(next) : toEventData(next));
	}
	if (status === "COMPLETED") {
		next.completedAt = run.finishedAt ?? next.completedAt ?? seconds(now);
		if ((agent ? next.output : next.response) == null) {
			return failJob(next, now, policy, "upstream reported the run completed without an answer", upstreamId);
		}
		return settle(next, now, policy, upstreamId);
	}
	if (status === "FAILED") {
		next.failedAt = run.finishedAt ?? next.failedAt ?? seconds(now);
		next.errorMessage = run.error ?? next.errorMessage ?? "upstream reported the job FAILED";
		next.response = null;
		return settle(next, now, policy, upstreamId);
	}
	return next;
}

/**
 * Marks a create as on its way upstream: saved before the call, so that a relay that dies before
 * the answer finds it on its restart (`recoverLostCreate`).
 */
export function markCreateSent(state: JobState, now: number): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "submitting") return state;
	return { ...state, lifecycle: { ...lifecycle, sentAt: now } };
}

/**
 * The outcome of a create whose answer was lost with the relay (a crash, an eviction, a deploy
 * while it was on its way): an ambiguous failure like a timeout, counted as a possible duplicate
 * run and retried within the same bound. Null when no create was in flight.
 */
export function lostCreate(state: JobState): Outcome | null {
	const { lifecycle } = state;
	if (lifecycle.phase !== "submitting" || !lifecycle.sentAt) return null;
	return {
		type: "create_failed",
		failure: {
			kind: "network",
			status: null,
			retryable: true,
			retryAfterMs: null,
			ambiguous: true,
			message: "the relay stopped while this job's create was on its way upstream; a run may have started there",
		},
	};
}

/**
 * The state after an outcome. `random` is in [0, 1) and only jitters delays.
 *
 * @example
 * let state = newJob(spec, now);
 * state = apply(state, { type: "created", upstream }, now, policy, Math.random());
 * state.lifecycle.phase // "polling"
 */
export function apply(state: JobState, outcome: Outcome, now: number, policy: Policy, random: number): JobState {
	const { lifecycle } = state;
	switch (outcome.type) {
		case "created": {
			if (lifecycle.phase !== "submitting") return state;
			const plan = outcome.plan ?? lifecycle.plan ?? null;
			const first = plan?.[0];
			const nextAt = first !== undefined ? now + first : now + policy.pollInitialDelayMs;
			const polling: JobState = {
				...state,
				upstream: outcome.upstream ?? state.upstream ?? null,
				lifecycle: {
					phase: "polling",
					upstreamId: outcome.run.id,
					polls: 0,
					intervalMs: nextAt - now,
					nextAt,
					acceptedAt: now,
					plan,
					reservedEpoch: null,
					reservedSend: false,
					lastPendingAt: now,
					paced: outcome.getsPaced === true,
					// A watch starts at once: the stream says when the run ends, however long it takes.
					...(outcome.watch ? { watch: { cursor: null, failures: 0, reconnects: 0 }, nextAt: now } : {}),
				},
			};
			return observe(polling, outcome.run, now, policy, outcome.run.id);
		}
		case "create_deferred": {
			if (lifecycle.phase !== "submitting") return state;
			return {
				...state,
				lifecycle: {
					...lifecycle,
					nextAt: outcome.at,
					reservedEpoch: outcome.epoch,
					reservedSend: outcome.send === true,
					plan: outcome.plan,
					sentAt: null,
				},
			};
		}
		case "poll_deferred": {
			if (lifecycle.phase !== "polling") return state;
			return {
				...state,
				lifecycle: {
					...lifecycle,
					nextAt: outcome.at,
					reservedEpoch: outcome.epoch,
					reservedSend: outcome.send === true,
				},
			};
		}
		case "learned":
			return { ...state, learned: true };
		case "create_failed": {
			if (lifecycle.phase !== "submitting") return state;
			const { failure } = outcome;
			if (!failure.retryable && lifecycle.callerWaiting) {
				return { ...state, lifecycle: { phase: "rejected", status: failure.status ?? 502, detail: failure.message } };
			}
			if (!failure.retryable) return failJob(state, now, policy, `upstream rejected the job: ${failure.message}`, null);
			const ambiguous = (lifecycle.ambiguous ?? 0) + (failure.ambiguous ? 1 : 0);
			const retries = policy.ambiguousCreateRetries ?? DEFAULT_AMBIGUOUS_CREATE_RETRIES;
			if (failure.ambiguous && ambiguous > retries) {
				return failJob(
					state,
					now,
					policy,
					`upstream did not confirm the job: ${ambiguous} creates lost their answers, and each may have started a run upstream (last error: ${failure.message})`,
					null,
				);
			}
			return {
				...state,
				lifecycle: {
					phase: "submitting",
					attempts: lifecycle.attempts + 1,
					ambiguous,
					nextAt: now + nextCreateDelay(lifecycle.attempts, failure.retryAfterMs, policy.createRetryInitialMs, random),
					lastError: failure.message,
					callerWaiting: false,
					reservedEpoch: null,
					reservedSend: false,
					plan: lifecycle.plan ?? null,
				},
			};
		}
		case "polled": {
			if (lifecycle.phase !== "polling") return state;
			const planned = outcome.plan ? { ...lifecycle, plan: outcome.plan } : lifecycle;
			const next = nextPollAt(planned, now, policy);
			const done = contractStatus(outcome.run) === "COMPLETED" || contractStatus(outcome.run) === "FAILED";
			const polled: JobState = {
				...state,
				upstream: outcome.upstream ?? state.upstream ?? null,
				lifecycle: {
					...planned,
					polls: lifecycle.polls + 1,
					intervalMs: next.intervalMs,
					nextAt: next.at,
					reservedEpoch: null,
					reservedSend: false,
					lastPendingAt: done ? lifecycle.lastPendingAt : now,
					paced: outcome.paced ?? lifecycle.paced,
				},
				durationMs: done ? learntDuration(lifecycle, outcome.run, now) : state.durationMs,
			};
			return observe(polled, outcome.run, now, policy, lifecycle.upstreamId);
		}
		case "poll_failed": {
			if (lifecycle.phase !== "polling") return state;
			const { failure } = outcome;
			if (!failure.retryable) {
				return failJob(
					state,
					now,
					policy,
					`upstream could not report the job: ${failure.message}`,
					lifecycle.upstreamId,
					true,
				);
			}
			// A failed poll backs off: the next planned time, but no sooner than the last gap ×1.5, so that
			// failures in a row space out (up to POLL_MAX_INTERVAL_MS) instead of following a dense plan.
			const next = nextPollAt(lifecycle, now, policy);
			const backoff = nextPollInterval(Math.max(lifecycle.intervalMs, policy.pollMinIntervalMs), policy);
			const wait = Math.max(next.at - now, backoff, Math.min(failure.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
			return {
				...state,
				lifecycle: {
					...lifecycle,
					polls: lifecycle.polls + 1,
					intervalMs: wait,
					nextAt: now + wait,
					reservedEpoch: null,
					reservedSend: false,
					// Upstream said slow down (429, 503): from now on this job's polls queue at the gate.
					paced: lifecycle.paced === true || isPushback(failure),
				},
			};
		}
		case "watch_update": {
			if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
			let watching: JobState = {
				...state,
				lifecycle: {
					...lifecycle,
					watch: { ...lifecycle.watch, cursor: outcome.cursor, failures: 0 },
					lastPendingAt: now,
				},
			};
			if (outcome.status === "in_progress" && state.status === "CREATED") {
				watching = observe(watching, runningRun(lifecycle.upstreamId), now, policy, lifecycle.upstreamId);
			}
			return outcome.progress ? enqueueProgress(watching, outcome.progress, now) : watching;
		}
		case "watched":
			return applyWatched(state, outcome.end, now, policy);
		case "expired": {
			if (isFinal(state) || lifecycle.phase === "rejected" || lifecycle.phase === "settled") return state;
			const upstreamId = lifecycle.phase === "polling" ? lifecycle.upstreamId : null;
			const reason =
				lifecycle.phase === "submitting"
					? `upstream did not accept the job within ${policy.jobTimeoutSeconds} s (last error: ${lifecycle.lastError ?? "none"})`
					: `job did not finish within ${policy.jobTimeoutSeconds} s`;
			return failJob(state, now, policy, reason, upstreamId, true);
		}
		case "upstream_cancelled": {
			if (lifecycle.phase !== "settled") return state;
			return { ...state, lifecycle: { ...lifecycle, cancel: null } };
		}
		case "cancel_failed": {
			if (lifecycle.phase !== "settled" || !lifecycle.cancel) return state;
			const attempts = lifecycle.cancel.attempts + 1;
			// A 4xx means there is nothing left to cancel (the run finished or is gone); give up after a few tries anyway.
			const retry = outcome.failure.retryable && attempts < CANCEL_ATTEMPTS;
			const cancel = retry ? { attempts, nextAt: now + CANCEL_RETRY_MS * 2 ** (attempts - 1) } : null;
			return { ...state, lifecycle: { ...lifecycle, cancel } };
		}
		case "cached":
			return {
				...state,
				cached: true,
				result: outcome.ref ?? state.result ?? null,
				sideEffectRetryAt: null,
				sideEffectFailures: 0,
			};
		case "indexed":
			return fanOut(
				{ ...state, indexed: true, admitted: true, sideEffectRetryAt: null, sideEffectFailures: 0 },
				outcome.hooks,
				now,
			);
		case "index_refused":
		case "create_refused": {
			if (lifecycle.phase !== "submitting") return state;
			return {
				...state,
				lifecycle: { phase: "rejected", status: 429, detail: outcome.detail, retryAfterMs: outcome.retryAfterMs },
			};
		}
		case "side_effect_failed": {
			// Backed off, so that a KV or index outage (or the Free plan's 1,000 KV writes a day, spent) is not hammered.
			// An index that cannot judge a new job (unavailable) lets it in: limits protect, they must not block.
			const failures = (state.sideEffectFailures ?? 0) + 1;
			return {
				...state,
				...(state.admitted === false ? { admitted: true } : {}),
				sideEffectFailures: failures,
				sideEffectRetryAt: now + sideEffectRetryDelay(failures, random),
			};
		}
		case "delivery_dropped":
			return dropDelivery(state, outcome, now);
		case "delivery_attempted":
			return applyAttempt(state, outcome, now, policy, random);
		case "retired":
			return state;
	}
}

/**
 * A progress event for what the run is doing (opt-in, `callback_events: ["progress"]`), at most one
 * every PROGRESS_MIN_INTERVAL_MS, each sent once and never retried; and, for a Slack command, one
 * "Searching: …" message the first time the run searches.
 */
function enqueueProgress(state: JobState, note: ProgressNote, now: number): JobState {
	const { lifecycle, spec } = state;
	if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
	let next = state;
	const slack = spec.integration;
	if (slack?.kind === "slack" && note.stage === "searching" && note.items.length > 0) {
		const webhookId = `msg_${spec.id}_slack_searching`;
		if (!state.deliveries.some((d) => d.webhookId === webhookId)) {
			const delivery = newDelivery(
				{
					webhookId,
					type: eventTypeOf(spec, "progress"),
					url: slack.responseUrl,
					eventAt: now,
					format: "slack-searching",
					note,
					bestEffort: true,
				},
				now,
			);
			// Ahead of the 25-minute notice, which waits unsent until then: messages to one URL go in order.
			const at = next.deliveries.findIndex((d) => d.url === slack.responseUrl && d.attempts === 0);
			const deliveries = [...next.deliveries];
			deliveries.splice(at === -1 ? deliveries.length : at, 0, delivery);
			next = { ...next, deliveries };
		}
	}
	const { watch } = lifecycle;
	const { callbackUrl, callbackEvents } = spec;
	const due = watch.progressAt == null || now - watch.progressAt >= PROGRESS_MIN_INTERVAL_MS;
	if (!callbackUrl || !callbackEvents.includes(subscriptionName(spec, "progress")) || !due) return next;
	const sent = (watch.progressSent ?? 0) + 1;
	const type = eventTypeOf(spec, "progress");
	const view = surfaceOf(spec) === "agent" ? toResponseView(next) : toEventData(next);
	const delivery = newDelivery(
		{
			webhookId: `${webhookIdOf(spec.id, type)}_${sent}`,
			type,
			url: callbackUrl,
			eventAt: now,
			snapshot: { ...view, progress: note },
			bestEffort: true,
		},
		now,
	);
	return {
		...next,
		lifecycle: { ...lifecycle, watch: { ...watch, progressAt: now, progressSent: sent } },
		deliveries: [...next.deliveries, delivery],
	};
}

/** A run known only to be running: what a stream's `in_progress` event says. */
function runningRun(upstreamId: string): UpstreamRun {
	return {
		id: upstreamId,
		status: "in_progress",
		result: null,
		error: null,
		createdAt: null,
		startedAt: null,
		finishedAt: null,
	};
}

/**
 * The end of one connection to the run's event stream. The run's end settles the job as a poll
 * would (its duration known to the event). A drop reconnects from the cursor, sooner after progress,
 * later after failures in a row; too many in a row, or a stream upstream refuses (an expired cursor,
 * no event stream), fall back to polling. An error about the run itself fails the job.
 */
function applyWatched(state: JobState, end: WatchEnd, now: number, policy: Policy): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "polling" || !lifecycle.watch) return state;
	const watch = { ...lifecycle.watch, cursor: end.cursor >= 0 ? end.cursor : lifecycle.watch.cursor };
	switch (end.ended) {
		case "terminal": {
			const done = contractStatus(end.run) === "COMPLETED" || contractStatus(end.run) === "FAILED";
			const watched: JobState = {
				...state,
				lifecycle: { ...lifecycle, watch, polls: lifecycle.polls },
				durationMs:
					done && lifecycle.acceptedAt !== undefined ? Math.max(1, now - lifecycle.acceptedAt) : state.durationMs,
			};
			return observe(
				watched,
				{ ...end.run, id: end.run.id || lifecycle.upstreamId },
				now,
				policy,
				lifecycle.upstreamId,
			);
		}
		case "stopped":
			// The alarm's time budget ran out (or an eviction is near): pick up again at once.
			return {
				...state,
				lifecycle: { ...lifecycle, watch: { ...watch, reconnects: watch.reconnects + 1 }, nextAt: now },
			};
		case "dropped": {
			const failures = watch.failures + 1;
			if (failures >= MAX_WATCH_FAILURES) return toPolling(state, now, policy);
			const wait = Math.max(
				Math.min(WATCH_RETRY_MS * 2 ** (failures - 1), WATCH_MAX_RETRY_MS),
				Math.min(end.failure.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS),
			);
			return {
				...state,
				lifecycle: {
					...lifecycle,
					watch: { ...watch, failures, reconnects: watch.reconnects + 1 },
					nextAt: now + wait,
					paced: lifecycle.paced === true || isPushback(end.failure),
				},
			};
		}
		case "unsupported":
			return toPolling(state, now, policy);
		case "failed":
			return failJob(
				state,
				now,
				policy,
				`upstream could not report the job: ${end.failure.message}`,
				lifecycle.upstreamId,
				true,
			);
	}
}

/** Stops watching the run's stream and polls it on its plan from now on. */
function toPolling(state: JobState, now: number, policy: Policy): JobState {
	const { lifecycle } = state;
	if (lifecycle.phase !== "polling") return state;
	const polling = { ...lifecycle, watch: null };
	const next = nextPollAt(polling, now, policy);
	return { ...state, lifecycle: { ...polling, nextAt: next.at, intervalMs: next.intervalMs } };
}

function applyAttempt(
	state: JobState,
	outcome: Extract<Outcome, { type: "delivery_attempted" }>,
	now: number,
	policy: Policy,
	random: number,
): JobState {
	const index = state.deliveries.findIndex((d) => d.webhookId === outcome.webhookId && d.url === outcome.url);
	const delivery = state.deliveries[index];
	if (delivery?.status !== "pending") return state;
	const { result } = outcome;
	const attempts = delivery.attempts + 1;
	const gone = result.statusCode === 410;
	const delay =
		result.ok || gone || delivery.bestEffort
			? null
			: nextDeliveryDelay(attempts, result.retryAfterMs, policy.deliveryScheduleMs, random);
	const status: DeliveryStatus = result.ok ? "delivered" : delay === null ? "failed" : "pending";
	const updated: Delivery = {
		...delivery,
		attempts,
		status,
		nextAt: delay === null ? delivery.nextAt : now + delay,
		lastError: result.ok ? null : describeAttempt(result),
		// The first success only: a redelivery later does not shorten or lengthen the push lag.
		deliveredAt: result.ok ? (delivery.deliveredAt ?? now) : (delivery.deliveredAt ?? null),
		deadLetteredAt: status === "failed" ? now : (delivery.deadLetteredAt ?? null),
	};
	const entry: AttemptLogEntry = {
		attempt: attempts,
		series: delivery.series,
		webhook_id: delivery.webhookId,
		event: delivery.type,
		at: new Date(now).toISOString(),
		host: hostOf(delivery.url),
		status_code: result.statusCode,
		error: result.error,
		error_message: result.ok ? null : describeAttempt(result),
		duration_ms: result.durationMs,
		response_body: result.responseBody,
	};
	const deliveries = state.deliveries.map((d, i) => (i === index ? updated : d));
	const finalChanged = status !== "pending" && !INTERIM_EVENTS.has(delivery.type);
	return {
		...state,
		deliveries,
		log: [...state.log, entry].slice(-MAX_LOG_ENTRIES),
		// The KV copy and the index carry delivery_status: refresh them when it changes.
		cached: finalChanged ? false : state.cached,
		indexed: finalChanged ? false : state.indexed,
	};
}

/**
 * What the run cost upstream (USD), as its usage reported it: the Sonar-shaped result's
 * `usage.cost.total_cost`, else the Agent API Response's. Null when upstream reported none.
 */
export function runCostUsd(state: JobState): number | null {
	const fromResult = state.response?.usage?.cost?.total_cost;
	if (typeof fromResult === "number" && Number.isFinite(fromResult)) return fromResult;
	const usage = state.output?.usage;
	const cost = usage && typeof usage === "object" ? (usage as { cost?: { total_cost?: unknown } }).cost : undefined;
	const total = cost?.total_cost;
	return typeof total === "number" && Number.isFinite(total) ? total : null;
}

/** A delivery given up without an attempt: it fails with the reason, and is not retried. */
function dropDelivery(state: JobState, outcome: Extract<Outcome, { type: "delivery_dropped" }>, now: number): JobState {
	const index = state.deliveries.findIndex((d) => d.webhookId === outcome.webhookId && d.url === outcome.url);
	const delivery = state.deliveries[index];
	if (delivery?.status !== "pending") return state;
	const updated: Delivery = { ...delivery, status: "failed", lastError: outcome.reason, deadLetteredAt: now };
	const finalChanged = !INTERIM_EVENTS.has(delivery.type) && delivery.hookId === null;
	return {
		...state,
		deliveries: state.deliveries.map((d, i) => (i === index ? updated : d)),
		cached: finalChanged ? false : state.cached,
		indexed: finalChanged ? false : state.indexed,
	};
}

export type CancelResult = { ok: true; state: JobState } | { ok: false; reason: string };

/**
 * The caller cancels the job: it ends now (`cancelled` on the Agent surface; `FAILED` with
 * `error_message: "cancelled"` on the Sonar one), its final event is queued like any other, and
 * the upstream run, if one was started, is cancelled too (best effort, as on a timeout).
 *
 * @example
 * const result = cancelJob(state, Date.now(), policy);
 * if (result.ok) state = result.state; // then run what is due: the upstream cancel, the event
 */
export function cancelJob(state: JobState, now: number, policy: Policy): CancelResult {
	const { lifecycle } = state;
	if (isFinal(state) || lifecycle.phase === "settled" || lifecycle.phase === "rejected") {
		const agent = surfaceOf(state.spec) === "agent";
		const status = agent ? responseStatus(state) : state.status;
		return {
			ok: false,
			reason: `the ${agent ? "run" : "job"} has already ended (${status}): there is nothing to cancel`,
		};
	}
	const upstreamId = lifecycle.phase === "polling" ? lifecycle.upstreamId : null;
	return { ok: true, state: failJob(state, now, policy, "cancelled", upstreamId, upstreamId !== null, "cancelled") };
}

export type RedeliverResult = { ok: true; state: JobState } | { ok: false; reason: string };

/**
 * Sends the final event to `callback_url` again, now, with the same `webhook-id` (receivers dedupe on
 * it). A delivered or dead-lettered event starts a new attempt series on the full schedule. One still
 * waiting out its back-off (a receiver fixed since its last failure) is sent now instead of at its next
 * attempt, in the same series. Nothing is ever mid-send when this runs: attempts and this both hold the
 * job's lock, so no 409 says "in flight" when nothing is.
 */
export function redeliver(state: JobState, now: number): RedeliverResult {
	if (!isFinal(state) || state.lifecycle.phase !== "settled") {
		return { ok: false, reason: "the job has not settled yet: there is no final event to send" };
	}
	const callbackUrl = primaryUrl(state.spec);
	const finals = state.deliveries.filter((d) => d.url === callbackUrl && !INTERIM_EVENTS.has(d.type));
	if (!callbackUrl || finals.length === 0) {
		return { ok: false, reason: "the job has no callback_url for its final event" };
	}
	const deliveries = state.deliveries.map((d) => {
		if (!finals.includes(d)) return d;
		// Waiting for its next attempt: that attempt is now.
		if (d.status === "pending") return { ...d, nextAt: Math.min(d.nextAt, now) };
		return { ...d, status: "pending" as const, attempts: 0, series: d.series + 1, nextAt: now, lastError: null };
	});
	return { ok: true, state: { ...state, deliveries } };
}

/** A failed attempt in words: the deliverer's own sentence, or one made from its class and status. */
export function describeAttempt(result: Pick<AttemptResult, "error" | "message" | "statusCode">): string {
	if (result.message) return result.message;
	if (result.error) return result.statusCode ? `${result.error} (${result.statusCode})` : result.error;
	return `HTTP ${result.statusCode ?? "?"}`;
}

export function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return "";
	}
}

// ── Views ────────────────────────────────────────────────────────────────────

/** `delivery_status` of the final event to `callback_url`, or null when there is none to send. */
export function deliveryStatus(state: JobState): DeliveryStatus | null {
	const { callbackEvents } = state.spec;
	const callbackUrl = primaryUrl(state.spec);
	if (!callbackUrl) return null;
	const final = state.deliveries.find((d) => d.url === callbackUrl && !INTERIM_EVENTS.has(d.type));
	if (final) return final.status;
	const wantsFinal = callbackEvents.some((name) => name !== "started" && name !== "in_progress");
	return wantsFinal && !isFinal(state) ? "pending" : null;
}

/** The final event to `callback_url` (or an integration's response URL), if the job has one. */
function primaryFinal(state: JobState): Delivery | undefined {
	const callbackUrl = primaryUrl(state.spec);
	if (!callbackUrl) return undefined;
	return state.deliveries.find((d) => d.url === callbackUrl && !INTERIM_EVENTS.has(d.type));
}

/**
 * The push lag of a settled job (ms): from the end of its run as the relay learnt it
 * (`completed_at` / `failed_at`, whole seconds) to the first 2xx of its final event to
 * `callback_url`. Null without a delivered final event. Since the end is known to the second
 * only, the lag reads up to a second long.
 *
 * @example
 * pushLagMs(state) // 840: the run ended at 12:00:00, the receiver took the event at 12:00:00.84
 */
export function pushLagMs(state: JobState): number | null {
	const ended = state.completedAt ?? state.failedAt;
	const deliveredAt = primaryFinal(state)?.deliveredAt;
	if (ended === null || deliveredAt === undefined || deliveredAt === null) return null;
	return Math.max(0, Math.round(deliveredAt - ended * 1000));
}

/** When the final event to `callback_url` was dead-lettered (Unix seconds); null unless it is now. */
export function deadLetteredAt(state: JobState): number | null {
	const final = primaryFinal(state);
	if (final?.status !== "failed") return null;
	// Dead-lettered before the time was kept: the job's end stands in.
	return final.deadLetteredAt ? seconds(final.deadLetteredAt) : (state.completedAt ?? state.failedAt);
}

/** The start of the last user message's text. */
export function requestPreview(spec: JobSpec): string | null {
	const text = spec.surface === "agent" ? agentInputText(spec.request) : sonarUserText(spec.request);
	const trimmed = text.replace(/\s+/g, " ").trim();
	if (!trimmed) return null;
	return trimmed.length > REQUEST_PREVIEW_CHARS ? `${trimmed.slice(0, REQUEST_PREVIEW_CHARS - 1)}…` : trimmed;
}

/** The last user message's text, of a Sonar request. */
function sonarUserText(request: ApiChatCompletionsRequest): string {
	const user = [...request.messages].reverse().find((m) => m.role === "user");
	const content = user?.content;
	if (typeof content === "string") return content;
	return Array.isArray(content) ? content.map((chunk) => (chunk.type === "text" ? chunk.text : "")).join(" ") : "";
}

/** The input's text, of an Agent API request: the string, or the last user message's text parts. */
function agentInputText(request: AgentRunRequest): string {
	if (typeof request.input === "string") return request.input;
	const user = [...request.input].reverse().find((m) => m.role === "user");
	const content = user?.content;
	if (typeof content === "string") return content;
	return (content ?? []).map((part) => (part.type === "input_text" ? part.text : "")).join(" ");
}

/** The job as the event body's `data` carries it. */
export function toEventData(state: JobState): RelayJob {
	return {
		id: state.spec.id,
		model: state.spec.model,
		created_at: seconds(state.spec.createdAtMs),
		started_at: state.startedAt,
		completed_at: state.completedAt,
		failed_at: state.failedAt,
		error_message: state.errorMessage,
		status: state.status,
		response: state.status === "COMPLETED" ? state.response : null,
		metadata: state.spec.metadata,
		request_preview: requestPreview(state.spec),
	};
}

/** The job as GET returns it. */
export function toView(state: JobState): RelayJob {
	return { ...toEventData(state), delivery_status: deliveryStatus(state), upstream: state.upstream ?? null };
}

/** What a job's Agent API status is, when upstream has not said (a job that never got to run). */
function responseStatus(state: JobState): ResponseStatus {
	const run = state.runStatus;
	if (run && run !== "queued" && run !== "in_progress") return run;
	if (state.status === "FAILED") return "failed";
	if (state.status === "COMPLETED") return "completed";
	return run ?? (state.status === "IN_PROGRESS" ? "in_progress" : "queued");
}

/** Fields of upstream's Response the relay never passes on: a caller's MCP credentials could be echoed there. */
const WITHHELD_RESPONSE_FIELDS = ["tools", "instructions", "id"];

/**
 * An Agent-surface job as the Agent API's Response object: upstream's own Response once the run
 * ended (its output, usage, error), with the relay's job id as its `id` and the caller's metadata.
 */
export function toResponseView(state: JobState): RelayResponse {
	const upstream = Object.fromEntries(
		Object.entries(state.output ?? {}).filter(([key]) => !WITHHELD_RESPONSE_FIELDS.includes(key)),
	);
	const status = responseStatus(state);
	const terminal = status !== "queued" && status !== "in_progress";
	const error =
		status === "failed" || status === "cancelled"
			? ((upstream.error as RelayResponse["error"]) ?? { message: state.errorMessage ?? status, type: status })
			: null;
	return {
		...(terminal ? upstream : {}),
		id: state.spec.id,
		object: "response",
		created_at: seconds(state.spec.createdAtMs),
		completed_at: status === "completed" || status === "incomplete" ? state.completedAt : null,
		status,
		model: typeof upstream.model === "string" ? upstream.model : state.spec.model,
		output: terminal && Array.isArray(upstream.output) ? (upstream.output as RelayResponse["output"]) : [],
		usage: terminal ? ((upstream.usage as RelayResponse["usage"]) ?? null) : null,
		error,
		background: true,
		metadata: (state.spec.metadata as Record<string, string> | null) ?? null,
		// Relay extensions: what was asked, and when a run that did not complete ended.
		...(state.spec.surface === "agent" && state.spec.request.preset ? { preset: state.spec.request.preset } : {}),
		request_preview: requestPreview(state.spec),
		failed_at: status === "failed" || status === "cancelled" ? state.failedAt : null,
	};
}

/** An Agent-surface job as GET returns it: the Response, with the relay's delivery status. */
export function toResponse(state: JobState): RelayResponse {
	return { ...toResponseView(state), delivery_status: deliveryStatus(state), upstream: state.upstream ?? null };
}

/** How a delivery's body is made: its size limit and the link to the result. */
export interface PushOptions {
	/** `MAX_PUSH_BYTES`: a larger Standard Webhooks event goes without the result, with `result_url` instead. */
	maxBytes: number;
	/**
	 * The signed link to the job's result (and the "full answer" link of a Slack message); null when
	 * none can be made, and then the event goes whole.
	 */
	resultUrl: string | null;
}

/**
 * The body of one delivery. Deterministic for a settled job, so every attempt sends the same bytes.
 * A final Standard Webhooks event over `push.maxBytes` is a claim check: the same event without the
 * result (`response` on the Sonar surface; a run's `output` and `output_text`) and with `result_url`.
 */
export function eventBody(state: JobState, delivery: Delivery, push?: PushOptions): string {
	const resultUrl = push?.resultUrl ?? undefined;
	if (delivery.format === "slack" && state.spec.integration?.kind === "slack") {
		return JSON.stringify(slackResultMessage(state, state.spec.integration, resultUrl));
	}
	if (delivery.format === "slack-progress" && state.spec.integration?.kind === "slack") {
		return JSON.stringify(slackProgressMessage(state, state.spec.integration, resultUrl));
	}
	if (delivery.format === "slack-searching" && state.spec.integration?.kind === "slack") {
		return JSON.stringify(slackSearchingMessage(state.spec.integration, delivery.note ?? null));
	}
	const agent = surfaceOf(state.spec) === "agent";
	const data = delivery.snapshot ?? (agent ? toResponseView(state) : toEventData(state));
	const event = { type: delivery.type, timestamp: new Date(delivery.eventAt).toISOString(), data };
	const body = JSON.stringify(event);
	if (!push?.resultUrl || delivery.snapshot || !exceedsUtf8(body, push.maxBytes)) return body;
	const { output_text: _text, ...rest } = data as Record<string, unknown>;
	const claim = agent
		? { ...rest, output: [], result_url: push.resultUrl }
		: { ...data, response: null, result_url: push.resultUrl };
	return JSON.stringify({ ...event, data: claim });
}

/** Whether a delivery's body carries the job's result (and so needs it at hand): a final event, or Slack's answer. */
export function carriesResult(delivery: Delivery): boolean {
	if (delivery.format === "slack") return true;
	return (delivery.format ?? "standard") === "standard" && !delivery.snapshot && !INTERIM_EVENTS.has(delivery.type);
}
