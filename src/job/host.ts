/**
 * What the Job DO lends the modules that carry out its work (following a stream, checking its
 * alarm, guarding an alarm run): its storage, settings and lock, and its steps. Its own members
 * stay private, so that the object's RPC surface is only its public methods.
 */
import { readSettings, type Settings } from "../config.ts";
import { emit } from "../log.ts";
import type { Action, Outcome } from "./actions.ts";
import type { Allowance } from "./budget.ts";
import { failureFields } from "./log.ts";
import type { Shell } from "./perform.ts";
import type { JobState } from "./state.ts";
import { JobStore } from "./store.ts";

/** What `ensureArmed` found, for the sweeper's counts. */
export interface ArmCheck {
	job: string;
	/**
	 * `armed`: an alarm is set and not overdue; `rearmed`: it was missing or overdue and is set again;
	 * `running`: a run is under way (it arms the alarm when it ends); `idle`: nothing is left to do;
	 * `gone`: nothing is stored (retired, or never accepted).
	 */
	action: "armed" | "rearmed" | "running" | "idle" | "gone";
	reason: "missing" | "overdue" | null;
	alarm_at: number | null;
}

export interface JobHost {
	readonly store: JobStore;
	readonly settings: Settings;
	readonly shell: Shell;
	/** The Durable Object's id, for a log line about a job that is not stored. */
	readonly objectId: string;
	/** A run (or the submit) is under way: it arms the alarm when it ends. */
	readonly busy: boolean;
	/** The stream being followed, if any: a cancel stops it. */
	watching: AbortController | null;
	/** Runs `work` after any run in progress has finished. */
	exclusive(work: () => Promise<void>): Promise<void>;
	/** Applies an outcome to the state, counts it (a stream's connection and time, with `streamMs`) and logs it. */
	step(action: Action, outcome: Outcome, streamMs?: number): void;
	/** Performs what is due (of the `allowed` kinds), within the invocation's `allowance` (a new one if none). */
	run(allowed?: ReadonlySet<Action["type"]>, allowance?: Allowance): Promise<void>;
	save(): Promise<void>;
	arm(): Promise<void>;
	/** Looks at the stored alarm (the DO's own method, so that a check can be observed). */
	checkAlarm(by: "sweeper" | "get", overdueMs: number): Promise<ArmCheck>;
}

/** The job's lock: alarm runs and RPCs that act never overlap, so no action is performed twice. */
export class Lock {
	private running: Promise<void> = Promise.resolve();
	/** Runs holding the lock now (0 or 1). */
	private holders = 0;

	get busy(): boolean {
		return this.holders > 0;
	}

	/**
	 * Runs `work` after any run in progress has finished.
	 *
	 * @example
	 * await lock.run(async () => { state = await step(state); });
	 */
	run(work: () => Promise<void>): Promise<void> {
		const next = this.running.then(async () => {
			this.holders++;
			try {
				await work();
			} finally {
				this.holders--;
			}
		});
		this.running = next.catch(() => {});
		return next;
	}
}

/** The Job DO's own steps, which the host calls back (so that a test's patch of one is honoured). */
export type HostSteps = Pick<JobHost, "exclusive" | "step" | "run" | "save" | "checkAlarm">;

/**
 * The host of a Job DO: its storage (loaded in `blockConcurrencyWhile`), settings and shell read
 * from the bindings at each use (so that a binding swapped in a test is the one used), its lock,
 * and its own steps.
 *
 * @example
 * this.host = createHost(ctx, () => this.env, this.lock, { step: (a, o) => this.step(a, o), ... });
 */
export function createHost(ctx: DurableObjectState, env: () => Env, lock: Lock, steps: HostSteps): JobHost {
	const note = (level: "warn" | "error", event: string, state: JobState, error: unknown) =>
		emit({ level, event, job: state.spec.id, tenant: state.spec.tenant, ...failureFields(error) });
	const store = new JobStore(
		ctx.storage,
		() => env().RESULTS,
		(state, error) => note("warn", "kv.read_failed", state, error),
	);
	ctx.blockConcurrencyWhile(() => store.load());
	return {
		...steps,
		store,
		objectId: ctx.id.toString(),
		watching: null,
		get settings() {
			return readSettings(env());
		},
		get shell() {
			return { env: env(), settings: readSettings(env()), store, save: steps.save, note };
		},
		get busy() {
			return lock.busy;
		},
		arm: () => store.arm(readSettings(env())),
	};
}
