/**
 * The upstream port: the one interface the Job Durable Object calls, and the
 * small normalised view of an upstream run it gets back. Two adapters stand
 * behind it:
 * - `agent` (the default): Perplexity's Agent API in background mode
 *   (`POST /v1/agent`, `GET /v1/responses/{id}`, cancel), translating the
 *   seeds' Sonar-shaped request and result both ways;
 * - `sonar`: the retired async chat completions API, for gateways that still
 *   serve it (`UPSTREAM_API=sonar`).
 *
 * Nothing outside `src/upstream/` knows which one runs: the job speaks of
 * runs, statuses, results and failures, and the submit path asks the port what
 * it cannot run (`check`) before anything is stored.
 */
import type { Settings } from "../config.ts";
import type { AgentRunRequest } from "../schemas/agent.ts";
import type { ApiChatCompletionsRequest, CompletionResponse, ValidationError } from "../schemas/perplexity.ts";
import type { UpstreamFailure } from "./errors.ts";
import type { UpstreamOrigin } from "./http.ts";

export type UpstreamApi = "agent" | "sonar";

export type { UpstreamOrigin };

/**
 * Where a run stands upstream, in the Agent API's words (the Sonar adapter maps its four onto them).
 * `incomplete` ended early (a token cap); `cancelled` was stopped before it finished.
 */
export type RunStatus = "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
	"completed",
	"incomplete",
	"failed",
	"cancelled",
]);

/** An upstream run as the job sees it, whichever API ran it. */
export interface UpstreamRun {
	/** Upstream's id for the run (`resp_…`, or the Sonar request id). */
	id: string;
	status: RunStatus;
	/** The answer, in the seeds' `CompletionResponse` shape, for a Sonar-surface job; null until there is one. */
	result: CompletionResponse | null;
	/**
	 * Upstream's Response object as it came (read leniently, nothing dropped), for an Agent-surface
	 * job once the run has ended: the relay hands it back with its own id. Null otherwise.
	 */
	native?: Record<string, unknown> | null;
	/** Why the run failed, was cancelled, or ended without an answer: upstream's words, redacted. */
	error: string | null;
	/** Unix seconds, when upstream says. */
	createdAt: number | null;
	startedAt: number | null;
	finishedAt: number | null;
}

/**
 * What the port is asked to run, and the relay's job id: a request in the seeds' Sonar shape (which
 * the agent adapter translates), or, from the Agent surface, an Agent API request (sent as it is).
 */
export type UpstreamJob =
	| { jobId: string; surface?: "sonar"; request: ApiChatCompletionsRequest }
	| { jobId: string; surface: "agent"; request: AgentRunRequest };

/** What a job asks the port to check before it is stored. */
export type UpstreamCheck =
	| { surface?: "sonar"; request: ApiChatCompletionsRequest }
	| { surface: "agent"; request: AgentRunRequest };

/** What a run is doing, from its reasoning events: for progress pushes and Slack's "Searching: …". */
export interface ProgressNote {
	stage: "searching" | "reading";
	/** The queries searched, or the URLs read (at most a few, each shortened). */
	items: string[];
}

/** Something the job should hear while a watched run goes on. */
export interface WatchUpdate {
	/** The last `sequence_number` read: where a reconnect resumes. */
	cursor: number;
	/** The run's status, when this event said it (`queued`, `in_progress`). */
	status?: RunStatus;
	progress?: ProgressNote;
}

/** How one watch of a run's event stream ended. */
export type WatchEnd =
	/** The run ended: its terminal state, read from the stream (or, failing that, with one plain read). */
	| { ended: "terminal"; cursor: number; run: UpstreamRun }
	/** The connection closed or failed before the terminal event: resume from `cursor`. */
	| { ended: "dropped"; cursor: number; failure: UpstreamFailure }
	/** The job stopped watching (its time budget ran out, or it was cancelled). */
	| { ended: "stopped"; cursor: number }
	/** Upstream will not stream this run from this cursor (an expired cursor; no event stream): poll instead. */
	| { ended: "unsupported"; cursor: number; failure: UpstreamFailure }
	/** A terminal error about the run itself (a 404, a 401): the job cannot follow it any more. */
	| { ended: "failed"; cursor: number; failure: UpstreamFailure };

export interface WatchOptions {
	/** The last `sequence_number` already seen; null to start from the beginning. */
	cursor: number | null;
	/** Stops the watch (the job was cancelled, or its alarm's time is up). */
	signal: AbortSignal;
	/** No event for this long: the connection is taken for dead. */
	idleTimeoutMs: number;
	onUpdate: (update: WatchUpdate) => void | Promise<void>;
}

export interface UpstreamPort {
	/** The API this port calls: for logs, `/healthz` and the start banner only. No decision reads it. */
	readonly api: UpstreamApi;
	/**
	 * What of the request this upstream cannot run, as 422 details whose `loc` is relative to the
	 * request (`["max_tokens"]`, `["messages", 0, "content", 1]`). Empty when all of it can run.
	 */
	check(job: UpstreamCheck): ValidationError[];
	/** Starts the run. Throws `UpstreamError`, whose failure says whether a run may have started anyway. */
	create(job: UpstreamJob): Promise<UpstreamRun>;
	/** Where the run stands now. */
	read(job: UpstreamJob, upstreamId: string): Promise<UpstreamRun>;
	/** Asks upstream to stop the run (best effort: a finished run stays finished). */
	cancel(upstreamId: string): Promise<void>;
	/** Whether this upstream streams a run's events, so that `watch` can follow it. */
	readonly canWatch: boolean;
	/** Follows the run's event stream from `cursor` until it ends, drops, or is stopped (see `WatchEnd`). */
	watch(job: UpstreamJob, upstreamId: string, options: WatchOptions): Promise<WatchEnd>;
}

export type PortSettings = Pick<
	Settings,
	"upstreamApi" | "upstreamBaseUrl" | "upstreamApiKey" | "upstreamTimeoutMs" | "modelMap"
>;
