/**
 * A job's stored state, as data: what the caller asked for (`JobSpec`), where its lifecycle stands
 * (`Lifecycle`), its outbox of deliveries and attempt log, and the counters kept for operators.
 * The pure machine (`machine.ts`) decides every change to it; the Job DO stores it.
 */
import type { ResultRef } from "../cache.ts";
import type { AttemptLogEntry, Delivery } from "../delivery/outbox.ts";
import type { AgentRunRequest, ResponseCallbackEvent } from "../schemas/agent.ts";
import type { ApiChatCompletionsRequest, AsyncProcessingStatus, CompletionResponse } from "../schemas/perplexity.ts";
import type { CallbackEvent } from "../schemas/relay.ts";
import type { Pacing, Slot } from "../upstream/pacing/port.ts";
import type { ProgressNote, RunStatus, UpstreamOrigin } from "../upstream/port.ts";

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

/**
 * An integration's job (a Slack command): its messages go to the integration's own URL, rendered by
 * formats it registered (`delivery/formats.ts`). Which messages are due when is data the integration
 * set at submission, so the job core knows no integration by name.
 */
export interface JobIntegration {
	/** The integration, and the format of its final message (the answer, or the error). */
	kind: string;
	/** Where every message of the job goes, in order. */
	responseUrl: string;
	/**
	 * A message due `afterMs` after submission if the job still runs then, in `format` (Slack: before
	 * its `response_url`'s 30-minute window closes). A job that settles first drops it. @default null
	 */
	notice?: { format: string; afterMs: number } | null;
	/**
	 * One best-effort message, in `format`, the first time the run reports `stage` with items (Slack's
	 * "Searching: …"). @default null
	 */
	progress?: { format: string; stage: ProgressNote["stage"] } | null;
	/** The integration's own fields (Slack: `responseType`, `question`), handed to its formats untouched. */
	[field: string]: unknown;
}

/**
 * Writes owed by a job in any phase, and their back-off: `index`, the tenant index's entry is not
 * current; after a failed write, when to try again and how many failed in a row (5 s doubling to 1 h).
 */
export interface Owed {
	index: boolean;
	retryAt: number | null;
	failures: number;
}

/** What a settled job owes besides: its result in KV, the subscriptions' fan-out, the learnt duration. */
export interface SettledOwed extends Owed {
	/** The final result (and its delivery status) is not in KV yet. */
	cache: boolean;
	/** The final event is still to be matched against the tenant's subscriptions (once, when the index learns of it). */
	fanout: boolean;
	/** The run's duration (`durationMs`), if known, is still to be reported to the pacer, which learns from it. */
	learn: boolean;
}

export type Lifecycle =
	| {
			phase: "submitting";
			/**
			 * `admit`: the tenant index is still to judge the new job against the tenant's limits
			 * (`TENANT_LIMITS`), before anything is sent upstream.
			 */
			owed: Owed & { admit: boolean };
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
			/** `nextAt` is a slot the pacer gave (shown back to it when it comes due); null: none. @default null */
			slot?: Slot | null;
			/** The pacer's advice given with the slot (its poll plan), kept for the polls. @default none */
			pacing?: Pacing | null;
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
			/** The tenant index had admitted the job (it has an entry, which goes with the rejection). */
			admitted: boolean;
	  }
	| {
			phase: "polling";
			owed: Owed;
			/** Upstream said the run started (`IN_PROGRESS`); until then it is queued (`CREATED`). */
			started: boolean;
			upstreamId: string;
			polls: number;
			/** The last gap between polls; the back-off grows from it once the plan is used up. */
			intervalMs: number;
			nextAt: number;
			/** When upstream accepted the job (ms): the poll plan's zero. */
			acceptedAt?: number;
			/** The pacer's advice: when to poll after `acceptedAt`, and whether polls ask for slots. @default none */
			pacing?: Pacing | null;
			/** `nextAt` is a slot the pacer gave (shown back to it when it comes due); null: none. @default null */
			slot?: Slot | null;
			/** The last poll that found the job unfinished (ms), for the learnt duration. */
			lastPendingAt?: number;
			/** The run is watched through its event stream instead of polled; null or absent: polled. */
			watch?: StreamWatch | null;
	  }
	| {
			phase: "settled";
			owed: SettledOwed;
			/** How the job ended: only a settled job has a final status. */
			ended: FinalStatus;
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

export interface JobState {
	spec: JobSpec;
	lifecycle: Lifecycle;
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
	/**
	 * Where the result is in KV, its one home, once written: from then on the Job DO stores no copy
	 * of `response` / `output` (it reads them back when it needs them). @default null
	 */
	result?: ResultRef | null;
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

/** The contract's status of a job that has ended. */
export type FinalStatus = Extract<AsyncProcessingStatus, "COMPLETED" | "FAILED">;

/**
 * The job's status in the seeds' contract, derived from its phase, so that the two cannot disagree:
 * queued until upstream says the run started, final only once settled.
 *
 * @example
 * statusOf(newJob(spec, now)) // "CREATED"
 */
export function statusOf(state: Pick<JobState, "lifecycle">): AsyncProcessingStatus {
	const { lifecycle } = state;
	if (lifecycle.phase === "settled") return lifecycle.ended;
	return lifecycle.phase === "polling" && lifecycle.started ? "IN_PROGRESS" : "CREATED";
}

/** Whether the job has ended (it is settled, COMPLETED or FAILED). */
export function isFinal(state: Pick<JobState, "lifecycle">): boolean {
	return state.lifecycle.phase === "settled";
}
