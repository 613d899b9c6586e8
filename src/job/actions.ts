/**
 * What the machine asks the shell to do (`Action`), and what the shell reports back (`Outcome`):
 * the only vocabulary between the pure machine and the Job DO's I/O.
 */
import type { ResultRef } from "../cache.ts";
import type { AttemptResult, HookTarget } from "../delivery/outbox.ts";
import type { WatchEstimate } from "../polling/cost.ts";
import type { EventType } from "../schemas/relay.ts";
import type { UpstreamFailure } from "../upstream/errors.ts";
import type { Pacing, Slot } from "../upstream/pacing/port.ts";
import type { ProgressNote, RunStatus, UpstreamOrigin, UpstreamRun, WatchEnd } from "../upstream/port.ts";

export type Action =
	| {
			type: "create";
			/** The pacing slot the job waited for, shown back to the pacer; null: none. */
			slot: Slot | null;
			/** The caller is waiting: a create slot later than this (ms) refuses the job (429) instead. */
			deadline?: number;
	  }
	/** `pacing`: the advice the job holds, which says whether the poll asks the pacer first. */
	| { type: "poll"; upstreamId: string; slot: Slot | null; pacing: Pacing }
	| { type: "watch"; upstreamId: string; cursor: number | null }
	| { type: "learn"; model: string; durationMs: number }
	| { type: "expire" }
	| { type: "cancel_upstream"; upstreamId: string }
	| { type: "cache" }
	/** `admit`: the job's first index entry, judged against the tenant's limits first. */
	| { type: "index"; fanOut: EventType | null; admit?: true }
	| { type: "deliver"; id: string }
	| { type: "retire" };

export type Outcome =
	| {
			type: "created";
			run: UpstreamRun;
			/** The pacer's advice with the create (a poll plan, whether polls ask it first); absent: no word. */
			pacing?: Pacing;
			/** The upstream can stream its runs' events: the machine chooses stream or poll (`watchesRun`). */
			canWatch?: boolean;
			/** The pacer's estimate of the model's runs (their length, and their cost when polled on its plan). */
			estimate?: WatchEstimate | null;
			/** Who answered the create (see `JobState.upstream`). */
			upstream?: UpstreamOrigin;
	  }
	/** The pacer gave a later slot; `pacing`, its advice with it (a new poll plan; absent: the one held stays). */
	| { type: "create_deferred"; at: number; slot: Slot; pacing?: Pacing }
	| { type: "create_failed"; failure: UpstreamFailure }
	/** The gate's create queue reaches past the waiting caller's deadline: refuse rather than accept. */
	| { type: "create_refused"; detail: string; retryAfterMs: number }
	| {
			type: "polled";
			run: UpstreamRun;
			/**
			 * The pacer's advice, when this poll asked it: whether GETs are still paced, and a new plan when the
			 * GET budget binds (polls go where completion is likely). Absent: no word, the held advice stays.
			 */
			pacing?: Pacing;
			/** Who answered the poll (see `JobState.upstream`). */
			upstream?: UpstreamOrigin;
	  }
	| { type: "poll_deferred"; at: number; slot: Slot }
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
	| { type: "delivery_attempted"; id: string; result: AttemptResult }
	/** A delivery given up without an attempt (its REST-hook subscription was deleted). */
	| { type: "delivery_dropped"; id: string; reason: string }
	| { type: "retired" };
