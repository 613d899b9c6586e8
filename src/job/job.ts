/**
 * The Job Durable Object: one per job, the id is the job id. A thin shell around the pure machine:
 * it loads the state once (`store.ts`), asks what is due (`machine.ts`), carries each action out
 * (`perform.ts`, `follow.ts` for a run's event stream), applies the outcome, saves, and arms its
 * single alarm. The decisions, even those about a caller's call (`commands.ts`), are the machine's.
 */
import { DurableObject } from "cloudflare:workers";
import type { Settings } from "../config.ts";
import { emit } from "../log.ts";
import type { RelayResponse } from "../schemas/agent.ts";
import type { RelayJob } from "../schemas/relay.ts";
import type { Action, Outcome } from "./actions.ts";
import { recordAlarmFailure } from "./alarm-guard.ts";
import { lookAtAlarm, rearmIfLost } from "./arming.ts";
import { type Allowance, spend, subrequestsOf } from "./budget.ts";
import { command, submit } from "./calls.ts";
import { advance, beginAlarmRun, cancelJob, linkedJob, ownedBy, redeliver, upstreamIdOf } from "./commands.ts";
import { follow } from "./follow.ts";
import { type ArmCheck, createHost, type JobHost, Lock } from "./host.ts";
import { stepLogs } from "./log.ts";
import { dueActions } from "./machine.ts";
import { perform } from "./perform.ts";
import { deliveryReport } from "./report.ts";
import type { CreateJobInput } from "./spec.ts";
import type { JobIntegration, JobState, Surface } from "./state.ts";
import { type JobView, toResponse, toView, viewOf } from "./views.ts";

export type { ArmCheck, CreateJobInput, JobIntegration, JobView };

/** The attempt log and delivery state of one job (`GET …/deliveries`): the API's one zod type. */
export type DeliveryReport = import("../schemas/relay.ts").DeliveryReport;

export type RedeliverJobResult =
	| { ok: true; report: DeliveryReport }
	| { ok: false; status: 404 | 409; detail: string };

export type CreateJobResult =
	| { ok: true; job: JobView; replayed: boolean }
	| { ok: false; status: 409 | 400 | 422 | 429 | 502; detail: string; retryAfterMs?: number | null };

export type CancelJobResult = { ok: true; job: JobView } | { ok: false; status: 404 | 409; detail: string };

/** Most actions one alarm run performs before re-arming (a safety bound, not a schedule). */
const MAX_ACTIONS_PER_RUN = 32;

export class Job extends DurableObject<Env> {
	private readonly lock = new Lock();
	/** What the modules that carry out the work may use of this object (`host.ts`), its storage among them. */
	private readonly host: JobHost;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.host = createHost(ctx, () => this.env, this.lock, {
			exclusive: (work) => this.exclusive(work),
			step: (action, outcome, streamMs) => this.step(action, outcome, streamMs),
			run: (allowed, allowance) => this.run(allowed, allowance),
			save: () => this.save(),
			checkAlarm: (by, overdueMs) => this.checkAlarm(by, overdueMs),
		});
	}

	private get settings(): Settings {
		return this.host.settings;
	}
	private get state(): JobState | null {
		return this.host.store.state;
	}
	private set state(state: JobState | null) {
		this.host.store.state = state;
	}
	private set armedAt(at: number | null) {
		this.host.store.armedAt = at;
	}

	/** Stores the job, then creates it upstream. A replay with the same body returns the same job; another body, 409. */
	async create(input: CreateJobInput): Promise<CreateJobResult> {
		return submit(this.host, input);
	}

	/** The Sonar-surface job for its own tenant; null for anyone else (to them it does not exist). */
	async view(tenant: string, id?: string): Promise<RelayJob | null> {
		return (await this.read(tenant, "sonar", id)) ? toView(this.state as JobState) : null;
	}

	/** The Agent-surface run for its own tenant, as the Agent API's Response object; null for anyone else. */
	async response(tenant: string, id?: string): Promise<RelayResponse | null> {
		return (await this.read(tenant, "agent", id)) ? toResponse(this.state as JobState) : null;
	}

	private async read(tenant: string, surface: Surface, id?: string): Promise<boolean> {
		if (!ownedBy(this.state, tenant, surface, id)) return false;
		await rearmIfLost(this.host);
		await this.host.store.requireResult();
		return this.state !== null;
	}

	/** The job as its surface shows it, to whoever holds a signed link to its result (the route checked it). */
	async linkedView(id?: string): Promise<JobView | null> {
		if (!linkedJob(this.state, id)) return null;
		await this.host.store.requireResult();
		return this.state ? viewOf(this.state) : null;
	}

	/** The upstream id of this Agent-surface run, for a follow-up's `previous_response_id`; null if none. */
	async upstreamRunId(tenant: string, id?: string): Promise<string | null> {
		return upstreamIdOf(ownedBy(this.state, tenant, "agent", id));
	}

	/** The attempt log, for its own tenant only. */
	async deliveries(tenant: string, surface: Surface = "sonar", id?: string): Promise<DeliveryReport | null> {
		const state = ownedBy(this.state, tenant, surface, id);
		return state ? deliveryReport(state) : null;
	}

	/** Cancels the job now: it ends, its final event is queued, and the upstream run is cancelled (best effort). */
	async cancel(tenant: string, surface: Surface, id?: string): Promise<CancelJobResult> {
		const change = (state: JobState) => cancelJob(state, Date.now(), this.settings);
		const refused = await command(this.host, { tenant, surface, id }, change, { stopWatching: true });
		return refused ? { ok: false, ...refused } : { ok: true, job: viewOf(this.state as JobState) };
	}

	/** Sends the final event again now (same webhook-id, new attempt series) and reports the attempt. */
	async redeliver(tenant: string, surface: Surface = "sonar", id?: string): Promise<RedeliverJobResult> {
		const change = (state: JobState) => redeliver(state, Date.now());
		const refused = await command(this.host, { tenant, surface, id }, change, { stopWatching: false });
		return refused ? { ok: false, ...refused } : { ok: true, report: deliveryReport(this.state as JobState) };
	}

	/**
	 * The alarm guard: whatever a run throws (a platform failure, or a bug) is logged and the job is armed
	 * again after a growing delay, so the runtime never drops the alarm. Only a failure to set it escapes.
	 */
	override async alarm(): Promise<void> {
		try {
			await this.runAlarm();
			if (this.state?.alarmFailures) this.state = { ...this.state, alarmFailures: 0 };
		} catch (error) {
			await recordAlarmFailure(this.host, error);
		}
	}

	/** One alarm run: load, step, perform, save, re-arm; then the run's event stream if watching is due. */
	protected async runAlarm(): Promise<void> {
		const scheduledFor = this.host.store.armedAt;
		this.armedAt = null;
		// One invocation: its actions, the stream it follows and the runs while and after share one allowance.
		const allowance = this.allowance();
		await this.exclusive(async () => {
			if (!this.state) return;
			const run = { restored: this.host.store.restored, scheduledFor };
			const start = beginAlarmRun(this.state, run, Date.now(), this.settings, Math.random());
			this.host.store.restored = false;
			this.state = start.state;
			for (const record of start.logs) emit(record);
			await this.run(undefined, allowance);
			await this.save();
			await this.host.arm();
		});
		// One stream at a time: an alarm run that comes while another follows the stream leaves it be.
		const watch =
			this.host.watching || !this.state
				? undefined
				: dueActions(this.state, Date.now(), this.settings).find((a) => a.type === "watch");
		// A stream the allowance cannot pay for waits: the job is armed for now, and the next invocation follows it.
		if (
			watch?.type === "watch" &&
			this.state &&
			spend(allowance, subrequestsOf(watch, this.state, this.host.store.resultCost()))
		) {
			await follow(this.host, watch, allowance);
		}
	}

	/** The sweeper's check: re-arms this job when its alarm is missing or overdue, and says what it found. */
	async ensureArmed(overdueMs?: number, id?: string): Promise<ArmCheck> {
		// An object named by an idempotency key may hold a later job than the index row asks about.
		if (id !== undefined && this.state && this.state.spec.id !== id) {
			return { job: id, action: "gone", reason: null, alarm_at: null };
		}
		return this.checkAlarm("sweeper", overdueMs ?? this.settings.sweepOverdueMs);
	}

	/** Looks at the stored alarm and sets it again when it is missing or overdue (`arming.ts`). */
	private checkAlarm(by: "sweeper" | "get", overdueMs: number): Promise<ArmCheck> {
		return lookAtAlarm(this.host, by, overdueMs);
	}

	/** A new invocation's subrequest allowance (`budget.ts`). */
	private allowance(): Allowance {
		return { spent: 0, limit: this.settings.subrequestBudget };
	}

	/** Runs `work` after any run in progress has finished. */
	private exclusive(work: () => Promise<void>): Promise<void> {
		return this.lock.run(work);
	}

	/**
	 * Performs what is due, one action at a time, until nothing (of the `allowed` kinds) is, or the next
	 * would pass the invocation's subrequest budget (`budget.ts`): the alarm, re-armed at once, goes on.
	 */
	private async run(allowed?: ReadonlySet<Action["type"]>, allowance = this.allowance()): Promise<void> {
		for (let i = 0; i < MAX_ACTIONS_PER_RUN && this.state; i++) {
			// A due watch is not performed here: the alarm follows it outside the lock (`follow`).
			const due = dueActions(this.state, Date.now(), this.settings);
			const action = due.find((a) => a.type !== "watch" && (!allowed || allowed.has(a.type)));
			if (!action) return;
			if (!spend(allowance, subrequestsOf(action, this.state, this.host.store.resultCost()))) return;
			const outcome = await perform(this.host.shell, action, this.state);
			// Forgotten while the action's I/O was under way (retired, or rejected): nothing to apply.
			if (!this.state) return;
			if (outcome.type === "retired") return this.forget();
			this.step(action, outcome);
		}
	}

	/** Applies an outcome, counts what its action cost, and logs what is worth it. */
	private step(action: Action, outcome: Outcome, streamMs?: number): void {
		const before = this.state;
		if (!before) return;
		this.state = advance(before, action, outcome, Date.now(), this.settings, Math.random(), streamMs);
		for (const record of stepLogs(before, this.state, action, outcome)) emit(record);
	}

	private save(): Promise<void> {
		return this.host.store.save();
	}

	/** Drops everything this object stores: a rejected job, or a retired one. */
	private forget(): Promise<void> {
		return this.host.store.forget();
	}
}
