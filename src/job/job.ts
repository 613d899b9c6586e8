/**
 * The Job Durable Object: one per job, the id is the job id. A thin shell
 * around `machine.ts`: it loads the state once, performs the I/O of each due
 * action (upstream, KV, the tenant index, webhooks), feeds the outcomes back to
 * the pure machine, saves, and arms its single alarm. All waiting is done with
 * that alarm; nothing here sleeps.
 */
import { DurableObject } from "cloudflare:workers";
import { splitText } from "../bytes.ts";
import { deleteResult, putResult, readResult } from "../cache.ts";
import { readSettings, type Settings, signingKeys } from "../config.ts";
import { deliverEvent } from "../delivery/deliver.ts";
import {
	type AttemptLogEntry,
	type AttemptResult,
	type Delivery,
	describeAttempt,
	findDelivery,
	hostOf,
	JITTER,
	MAX_RETRY_AFTER_MS,
} from "../delivery/outbox.ts";
import { resultLink } from "../delivery/result-link.ts";
import { tenantSecret } from "../delivery/sign.ts";
import { emit } from "../log.ts";
import { chooseWatch } from "../polling/cost.ts";
import { DEFAULT_RESPONSE_CALLBACK_EVENTS, type RelayResponse, type ResponseCreateParams } from "../schemas/agent.ts";
import type { CompletionResponse } from "../schemas/perplexity.ts";
import { type CreateJobBody, DEFAULT_CALLBACK_EVENTS, type Hook, type RelayJob } from "../schemas/relay.ts";
import { type LimitRefusal, limitsFor } from "../tenant/limits.ts";
import { asFailure, isPushback, type UpstreamFailure } from "../upstream/errors.ts";
import type { Admission, AdmitOptions, GateKind } from "../upstream/gate.ts";
import type { RateLimitHint } from "../upstream/http.ts";
import { type UpstreamJob, type UpstreamOrigin, upstreamPort, type WatchEnd } from "../upstream/port.ts";
import type { Action, Outcome } from "./actions.ts";
import { stepLogs } from "./log.ts";
import { apply, cancelJob, dueActions, lostCreate, markCreateSent, newJob, nextWake, redeliver } from "./machine.ts";
import { migrateState } from "./migrate.ts";
import { allowedHostsOf, carriesResult, eventBody, isStandard, linksResult } from "./render.ts";
import { alarmRetryDelay } from "./schedule.ts";
import {
	isFinal,
	type JobIntegration,
	type JobState,
	type JobStats,
	MAX_LATENESS_SAMPLES,
	type Surface,
	surfaceOf,
} from "./state.ts";
import { deliveryStatus, indexEntry, type JobView, toResponse, toView, viewOf } from "./views.ts";

export type CreateJobInput = {
	id: string;
	tenant: string;
	bodyHash: string;
	integration?: JobIntegration | null;
	/** The relay's origin as the caller reached it, for links to the result. */
	origin?: string | null;
	/**
	 * Leave the upstream create to the alarm and answer at once (Slack wants an
	 * answer within 3 s); an upstream rejection then fails the job instead.
	 */
	deferUpstream?: boolean;
} & ({ surface?: "sonar"; body: CreateJobBody } | { surface: "agent"; body: ResponseCreateParams });

export type { JobIntegration, JobView };

/** The attempt log and delivery state of one job (`GET …/deliveries`). */
export interface DeliveryReport {
	job_id: string;
	delivery_status: RelayJob["delivery_status"];
	events: {
		webhook_id: string;
		event: Delivery["type"];
		host: string;
		status: Delivery["status"];
		series: number;
		attempts: number;
		next_attempt_at: string | null;
		last_error: string | null;
	}[];
	attempts: AttemptLogEntry[];
	stats: {
		alarm_runs: number;
		create_attempts: number;
		upstream_polls: number;
		kv_writes: number;
		index_writes: number;
		delivery_attempts: number;
		/** RPCs into other Durable Objects than the Tenant index (the Upstream Gate). */
		other_do_requests: number;
		/** Creates whose answer was lost: each may have started a run upstream the relay does not follow (billed). */
		possible_duplicate_runs: number;
		/** Cancel calls made upstream (a timed-out job stops its run). */
		upstream_cancels: number;
		/** Connections to the run's event stream (the first, and each reconnect). */
		upstream_streams: number;
		/** How long the Job DO held the run's event stream open (ms): billed as Durable Object duration. */
		stream_ms: number;
		alarm_lateness_ms: number[];
	};
}

export type RedeliverJobResult =
	| { ok: true; report: DeliveryReport }
	| { ok: false; status: 404 | 409; detail: string };

export type CreateJobResult =
	| { ok: true; job: JobView; replayed: boolean }
	| { ok: false; status: 409 | 400 | 422 | 429 | 502; detail: string; retryAfterMs?: number | null };

export type CancelJobResult = { ok: true; job: JobView } | { ok: false; status: 404 | 409; detail: string };

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

/** A safety alarm set while a submit is under way. */
const SUBMIT_GRACE_MS = 60_000;

/** Most actions one alarm run performs before re-arming (a safety bound, not a schedule). */
const MAX_ACTIONS_PER_RUN = 32;

const SUBMIT_ACTIONS: ReadonlySet<Action["type"]> = new Set(["create", "index"]);
const INDEX_ONLY: ReadonlySet<Action["type"]> = new Set(["index"]);

export class Job extends DurableObject<Env> {
	private state: JobState | null = null;
	/** The stream being followed, if any: a cancel stops it. */
	private watching: AbortController | null = null;
	/** The state was loaded from storage (not made or last saved by this instance): a restart. */
	private restored = false;
	/**
	 * The result this object holds in its own storage until KV has it (`payload:<n>` pieces, or the
	 * `response`/`output` keys of a job stored before KV was the result's home), and in how many pieces.
	 */
	private stagedPayload: unknown = null;
	private stagedParts = 0;
	private legacyPayload = false;
	/** The state's `response` / `output` are the real ones (false after a restart, until read back from KV). */
	private resultAtHand = true;
	private hydrating: Promise<boolean> | null = null;
	private armedAt: number | null = null;
	/** The run in progress: alarm runs and RPCs that act never overlap, so no action is performed twice. */
	private running: Promise<void> = Promise.resolve();
	/**
	 * A job being submitted, not stored yet: its first save (with the submit's safety alarm) happens just
	 * before anything leaves it (the upstream create, the index entry), in one write with the mark that the
	 * create is on its way. Settled when that save is done (or failed); null once stored.
	 */
	private unstored: Deferred | null = null;
	/** Runs holding the lock now (0 or 1): a run in progress arms the alarm when it ends. */
	private busy = 0;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			const stored = await ctx.storage.get<JobState>("state");
			if (!stored) return;
			const legacy = await ctx.storage.get<unknown>(["response", "output"]);
			const staged = await ctx.storage.list<string>({ prefix: PAYLOAD_PREFIX });
			const pieces = [...staged].sort(([a], [b]) => partIndex(a) - partIndex(b)).map(([, piece]) => piece);
			const payload = pieces.length > 0 ? (JSON.parse(pieces.join("")) as unknown) : null;
			const migrated = migrateState(stored);
			const spec = migrated.spec;
			const agent = surfaceOf(spec) === "agent";
			const response = ((agent ? null : payload) ?? legacy.get("response") ?? null) as CompletionResponse | null;
			const output = ((agent ? payload : null) ?? legacy.get("output") ?? null) as Record<string, unknown> | null;
			this.state = { ...migrated, response, output };
			this.stagedParts = pieces.length;
			this.legacyPayload = legacy.size > 0;
			this.stagedPayload = payloadOf(this.state);
			// A failed Sonar job has no answer to read back.
			this.resultAtHand = !stored.result || this.stagedPayload !== null || (!agent && stored.status !== "COMPLETED");
			this.restored = true;
			this.armedAt = await ctx.storage.getAlarm();
		});
	}

	private get settings(): Settings {
		return readSettings(this.env);
	}

	/**
	 * Stores the job, then creates it upstream. A replay with the same body
	 * returns the same job; another body under the same key is a 409.
	 */
	async create(input: CreateJobInput): Promise<CreateJobResult> {
		// The same key while the first submission is still storing the job: answer once it is stored (or,
		// should that fail, create it here).
		if (this.unstored) await this.unstored.promise;
		if (this.state) {
			if (this.state.spec.tenant !== input.tenant || this.state.spec.bodyHash !== input.bodyHash) {
				return { ok: false, status: 409, detail: "idempotency_key was already used with a different body" };
			}
			await this.requireResult();
			return { ok: true, job: viewOf(this.state), replayed: true };
		}
		const now = Date.now();
		const state = newJob(specOf(input, now), now, !input.deferUpstream);
		this.state = state;
		const unstored = deferred();
		this.unstored = unstored;
		try {
			// Only the create itself (and the index entry) happen in the caller's request; polls are the alarm's.
			// The job is stored before either leaves (`store`), in the same write as the create's mark.
			await this.run(input.deferUpstream ? INDEX_ONLY : SUBMIT_ACTIONS);
			if (this.unstored) await this.store();
		} catch (error) {
			if (this.unstored) {
				// Never stored: keep no phantom of it in memory (a retry with the same key must find nothing).
				this.state = null;
				this.stagedPayload = null;
				this.stagedParts = 0;
				this.unstored = null;
				unstored.resolve();
			}
			throw error;
		}
		const after = this.state as JobState | null;
		if (after?.lifecycle.phase === "rejected") {
			const { status, detail, retryAfterMs } = after.lifecycle;
			// Admitted by the index, then refused (a queue past its deadline, upstream's 4xx): it leaves no entry.
			if (after.admitted !== false) {
				await this.tenantIndex(after.spec.tenant)
					.removeJob(after.spec.id)
					.catch((error: unknown) => this.note("error", "index.remove_failed", after, error));
			}
			await this.forget();
			const known = status === 400 || status === 422 || status === 429 ? status : 502;
			return { ok: false, status: known, detail, retryAfterMs: retryAfterMs ?? null };
		}
		await this.save();
		await this.arm();
		return { ok: true, job: viewOf(after ?? state), replayed: false };
	}

	/**
	 * This job, if it is `tenant`'s, was submitted on `surface`, and is the job `id` names (an object named
	 * by an idempotency key may hold a later job than the one asked for); to anyone else it does not exist.
	 */
	private owned(tenant: string, surface: Surface, id?: string): JobState | null {
		const state = this.state;
		if (!state || state.spec.tenant !== tenant || surfaceOf(state.spec) !== surface) return null;
		return id === undefined || state.spec.id === id ? state : null;
	}

	/** The Sonar-surface job for its own tenant; null for anyone else (to them it does not exist). */
	async view(tenant: string, id?: string): Promise<RelayJob | null> {
		if (!this.owned(tenant, "sonar", id)) return null;
		await this.rearmIfLost();
		await this.requireResult();
		return this.state ? toView(this.state) : null;
	}

	/** The Agent-surface run for its own tenant, as the Agent API's Response object; null for anyone else. */
	async response(tenant: string, id?: string): Promise<RelayResponse | null> {
		if (!this.owned(tenant, "agent", id)) return null;
		await this.rearmIfLost();
		await this.requireResult();
		return this.state ? toResponse(this.state) : null;
	}

	/**
	 * The job as its surface shows it, to whoever holds a signed link to its result (the route checked
	 * the link; it names no tenant); null when there is no such job.
	 */
	async linkedView(id?: string): Promise<JobView | null> {
		if (!this.state || this.state.lifecycle.phase === "rejected") return null;
		// The object named by an idempotency key may hold a later job than the link's.
		if (id !== undefined && this.state.spec.id !== id) return null;
		await this.requireResult();
		return this.state ? viewOf(this.state) : null;
	}

	/**
	 * Puts the result back at hand after a restart: KV is its home once written, and this object keeps
	 * only where it is (`state.result`). False when KV cannot give it now (a failure, or a read that
	 * missed a value written moments ago elsewhere); the caller retries.
	 */
	private hydrate(): Promise<boolean> {
		if (this.resultAtHand || !this.state?.result) return Promise.resolve(true);
		this.hydrating ??= (async () => {
			const jobId = this.state?.spec.id ?? "";
			try {
				const stored = await readResult(this.env.RESULTS, jobId);
				const state = this.state;
				if (!stored || !state || state.spec.id !== jobId || stored.tenant !== state.spec.tenant) return false;
				if (!this.resultAtHand) {
					this.state = { ...state, ...payloadFromView(state, JSON.parse(stored.text) as Record<string, unknown>) };
					this.stagedPayload = payloadOf(this.state);
					this.resultAtHand = true;
				}
				return true;
			} catch (error) {
				if (this.state) this.note("warn", "kv.read_failed", this.state, error);
				return false;
			} finally {
				this.hydrating = null;
			}
		})();
		return this.hydrating;
	}

	/** `hydrate`, or an error the Worker answers with a 503 the caller retries. */
	private async requireResult(): Promise<void> {
		if (!(await this.hydrate())) throw new Error("The job's result is briefly unavailable; retry shortly");
	}

	/** The signed link to this job's result, valid as long as the result is kept; null when none can be made. */
	private async resultUrl(state: JobState, settings: Settings): Promise<string | null> {
		const { origin, id, createdAtMs } = state.spec;
		if (!origin || !settings.webhookSigningKey) return null;
		const { lifecycle } = state;
		// Until the job settles, its result will be kept until at most its deadline plus the TTL.
		const expiresAt =
			lifecycle.phase === "settled"
				? lifecycle.retireAt
				: createdAtMs + (settings.jobTimeoutSeconds + settings.resultTtlSeconds) * 1000;
		return resultLink(origin, id, expiresAt / 1000, settings.webhookSigningKey);
	}

	/**
	 * The upstream id of this Agent-surface run, for a follow-up run's `previous_response_id`; null when it
	 * is not `tenant`'s or has none (yet).
	 */
	async upstreamRunId(tenant: string, id?: string): Promise<string | null> {
		const lifecycle = this.owned(tenant, "agent", id)?.lifecycle;
		return lifecycle && (lifecycle.phase === "polling" || lifecycle.phase === "settled") ? lifecycle.upstreamId : null;
	}

	/** The attempt log, for its own tenant only. */
	async deliveries(tenant: string, surface: Surface = "sonar", id?: string): Promise<DeliveryReport | null> {
		const state = this.owned(tenant, surface, id);
		return state ? deliveryReport(state) : null;
	}

	/**
	 * Cancels the job now: it ends (cancelled), its final event is queued, and the upstream run is
	 * cancelled in the same call when there is one (best effort; retried by the alarm).
	 */
	async cancel(tenant: string, surface: Surface, id?: string): Promise<CancelJobResult> {
		let result: CancelJobResult = { ok: false, status: 404, detail: "Job not found" };
		await this.exclusive(async () => {
			const state = this.owned(tenant, surface, id);
			if (!state) return;
			const next = cancelJob(state, Date.now(), this.settings);
			if (!next.ok) {
				result = { ok: false, status: 409, detail: next.reason };
				return;
			}
			this.state = next.state;
			// Stop following the run's stream: the job has ended.
			this.watching?.abort();
			await this.save();
			await this.run(CANCEL_ACTIONS);
			await this.save();
			await this.arm();
			if (this.state) result = { ok: true, job: viewOf(this.state) };
		});
		return result;
	}

	/** Sends the final event again now (same webhook-id, new attempt series) and reports the attempt. */
	async redeliver(tenant: string, surface: Surface = "sonar", id?: string): Promise<RedeliverJobResult> {
		let result: RedeliverJobResult = { ok: false, status: 404, detail: "Job not found" };
		await this.exclusive(async () => {
			if (!this.owned(tenant, surface, id) || !this.state) return;
			const next = redeliver(this.state, Date.now());
			if (!next.ok) {
				result = { ok: false, status: 409, detail: next.reason };
				return;
			}
			this.state = next.state;
			await this.save();
			await this.run(REDELIVER_ACTIONS);
			await this.save();
			await this.arm();
			if (this.state) result = { ok: true, report: deliveryReport(this.state) };
		});
		return result;
	}

	/**
	 * The alarm guard: whatever a run throws (a platform failure, or a bug) is logged and the job is
	 * armed again after a growing delay (`alarmRetryDelay`), so the runtime never sees a failed alarm,
	 * which it retries a few times and then drops. Only a failure to set the alarm itself escapes.
	 */
	override async alarm(): Promise<void> {
		try {
			await this.runAlarm();
			if (this.state?.alarmFailures) this.state = { ...this.state, alarmFailures: 0 };
		} catch (error) {
			await this.alarmFailed(error);
		}
	}

	/** One alarm run: what is due, then the run's event stream if watching is due. */
	protected async runAlarm(): Promise<void> {
		const scheduledFor = this.armedAt;
		this.armedAt = null;
		await this.exclusive(async () => {
			if (!this.state) return;
			if (this.state.lifecycle.phase === "submitting" && this.state.lifecycle.callerWaiting) {
				// The submitting request died before it answered: the job is the alarm's now, never a rejection.
				this.state = { ...this.state, lifecycle: { ...this.state.lifecycle, callerWaiting: false } };
			}
			// Only a create this instance did not send itself: one it sent is still awaiting its answer.
			const lost = this.restored ? lostCreate(this.state) : null;
			this.restored = false;
			if (lost) {
				// A create was on its way when the relay stopped: its answer is gone, and a run may exist upstream.
				const before = this.state;
				const next = apply(before, lost, Date.now(), this.settings, Math.random());
				this.state = { ...next, stats: countAction(next.stats, { type: "create", heldEpoch: null }, lost) };
				for (const record of stepLogs(before, this.state, { type: "create", heldEpoch: null }, lost)) emit(record);
			}
			const { stats } = this.state;
			const lateness = scheduledFor === null ? [] : [Math.max(0, Date.now() - scheduledFor)];
			this.state = {
				...this.state,
				stats: {
					...stats,
					alarmRuns: stats.alarmRuns + 1,
					alarmLatenessMs: [...stats.alarmLatenessMs, ...lateness].slice(-MAX_LATENESS_SAMPLES),
				},
			};
			await this.run();
			await this.save();
			await this.arm();
		});
		// One stream at a time: an alarm run that comes while another follows the stream leaves it be.
		const watch = this.watching ? null : this.dueWatch();
		if (watch) await this.follow(watch);
	}

	/** After an alarm run threw: logged, counted, and armed again after a growing delay. */
	private async alarmFailed(error: unknown): Promise<void> {
		const state = this.state;
		if (!state) {
			// Nothing is stored (or the job was being forgotten): there is nothing left to drive.
			emit({
				...failureFields(error),
				level: "error",
				event: "job.alarm_failed",
				job: this.ctx.id.toString(),
				tenant: "",
			});
			return;
		}
		const failures = (state.alarmFailures ?? 0) + 1;
		const delay = alarmRetryDelay(failures, Math.random());
		this.state = { ...state, alarmFailures: failures };
		emit({
			...failureFields(error),
			// A platform failure (storage, an overloaded object) is expected now and then; anything else is a bug.
			level: isPlatformError(error) ? "warn" : "error",
			event: "job.alarm_failed",
			job: state.spec.id,
			tenant: state.spec.tenant,
			failures,
			retry_in_ms: delay,
		});
		const at = Date.now() + delay;
		// Should this throw too (storage itself failing), the runtime's own retries, then the sweeper, take over.
		await this.ctx.storage.setAlarm(at);
		this.armedAt = at;
		try {
			await this.save();
		} catch {
			// Best effort: the count stays in memory, and the run's progress is redone if it is lost.
		}
	}

	/**
	 * The sweeper's check: re-arms this job when its alarm is missing, or overdue by more than
	 * `overdueMs` (the runtime lost it), and says what it found. One storage read when all is well.
	 */
	async ensureArmed(overdueMs?: number, id?: string): Promise<ArmCheck> {
		// An object named by an idempotency key may hold a later job than the index row asks about.
		if (id !== undefined && this.state && this.state.spec.id !== id) {
			return { job: id, action: "gone", reason: null, alarm_at: null };
		}
		return this.checkAlarm("sweeper", overdueMs ?? this.settings.sweepOverdueMs);
	}

	/**
	 * A read's check: only when memory says the alarm may be gone (none armed, or long past) does it
	 * look at storage, so a healthy job's GET costs nothing more.
	 */
	private async rearmIfLost(): Promise<void> {
		const state = this.state;
		if (!state || this.busy > 0 || this.unstored) return;
		const now = Date.now();
		const overdueMs = this.settings.sweepOverdueMs;
		if (this.armedAt !== null && this.armedAt >= now - overdueMs) return;
		if (nextWake(state, now, this.settings) === null) return;
		try {
			await this.checkAlarm("get", overdueMs);
		} catch (error) {
			// A read must not fail because of this; the sweeper will look again.
			this.note("warn", "job.rearm_failed", state, error);
		}
	}

	/** Looks at the stored alarm and sets it again when it is missing or overdue. */
	private async checkAlarm(by: "sweeper" | "get", overdueMs: number): Promise<ArmCheck> {
		if (!this.state) return { job: this.ctx.id.toString(), action: "gone", reason: null, alarm_at: null };
		if (this.busy > 0 || this.unstored) {
			// A run (or the submit) is under way: it arms the alarm when it ends.
			return { job: this.state.spec.id, action: "running", reason: null, alarm_at: this.armedAt };
		}
		let check: ArmCheck = { job: this.state.spec.id, action: "gone", reason: null, alarm_at: null };
		await this.exclusive(async () => {
			const state = this.state;
			if (!state) return;
			const now = Date.now();
			const alarm = await this.ctx.storage.getAlarm();
			const due = nextWake(state, now, this.settings);
			if (due === null) {
				check = { job: state.spec.id, action: "idle", reason: null, alarm_at: alarm };
				return;
			}
			if (alarm !== null && alarm >= now - overdueMs) {
				this.armedAt = alarm;
				check = { job: state.spec.id, action: "armed", reason: null, alarm_at: alarm };
				return;
			}
			const reason = alarm === null ? "missing" : "overdue";
			let at = Math.max(Math.ceil(due), now + 1);
			// The same time as the lost alarm would be a no-op for the runtime: set a new one.
			if (at === alarm) at += 1;
			await this.ctx.storage.setAlarm(at);
			this.armedAt = at;
			emit({
				level: "warn",
				event: "job.rearmed",
				job: state.spec.id,
				tenant: state.spec.tenant,
				by,
				reason,
				overdue_ms: alarm === null ? null : now - alarm,
				status: state.status,
				phase: state.lifecycle.phase,
			});
			check = { job: state.spec.id, action: "rearmed", reason, alarm_at: at };
		});
		return check;
	}

	/** The watch of the run's event stream, if one is due now. */
	private dueWatch(): Extract<Action, { type: "watch" }> | null {
		if (!this.state) return null;
		const due = dueActions(this.state, Date.now(), this.settings).find((a) => a.type === "watch");
		return due?.type === "watch" ? due : null;
	}

	/**
	 * Follows the run's event stream, from its cursor, for as long as this alarm run may (under the
	 * platform's 15-minute wall time for an alarm, and the job's deadline). It runs outside the lock:
	 * a cancel or a redelivery is never held up by it (a cancel stops it). Each event that matters is
	 * applied under the lock; the started and progress events go out as they come; the cursor is
	 * saved every few seconds, and the alarm is kept armed a minute ahead, so that an eviction or a
	 * crash resumes from the cursor within a minute. The connection's end is applied like any outcome.
	 */
	private async follow(action: Extract<Action, { type: "watch" }>): Promise<void> {
		const settings = this.settings;
		const start = this.state;
		if (!start || this.watching) return;
		const controller = new AbortController();
		this.watching = controller;
		const started = Date.now();
		const deadline = start.spec.createdAtMs + settings.jobTimeoutSeconds * 1000;
		const budget = setTimeout(
			() => controller.abort(),
			Math.max(0, Math.min(settings.watchBudgetMs, deadline - started)),
		);
		let savedAt = started;
		let limits: RateLimitHint | null = null;
		const upstream = upstreamPort(settings, {
			onLimits: (hint) => {
				limits = hint;
			},
		});
		const keepArmed = async () => {
			const at = Date.now() + WATCH_SAFETY_MS;
			await this.ctx.storage.setAlarm(at);
			this.armedAt = at;
		};
		let end: WatchEnd;
		try {
			await keepArmed();
			end = await upstream.watch(upstreamJobOf(start.spec), action.upstreamId, {
				cursor: action.cursor,
				signal: controller.signal,
				idleTimeoutMs: settings.streamIdleTimeoutMs,
				onUpdate: (update) =>
					this.exclusive(async () => {
						if (!this.state) return;
						const before = this.state;
						const outcome: Outcome = { type: "watch_update", ...update };
						this.state = apply(before, outcome, Date.now(), settings, Math.random());
						for (const record of stepLogs(before, this.state, action, outcome)) emit(record);
						const news =
							before.status !== this.state.status || before.deliveries.length !== this.state.deliveries.length;
						if (news || Date.now() - savedAt >= WATCH_SAVE_EVERY_MS) {
							// The started and progress events go out now, not when the run ends.
							await this.run(WATCH_SIDE_ACTIONS);
							await this.save();
							await keepArmed();
							savedAt = Date.now();
						}
					}),
			});
		} catch (error) {
			// The stream reader turns every failure into an end; anything else is a bug, taken as a drop.
			end = { ended: "dropped", cursor: action.cursor ?? -1, failure: asFailure(error) };
		} finally {
			clearTimeout(budget);
			if (this.watching === controller) this.watching = null;
		}
		await this.exclusive(async () => {
			if (!this.state) return;
			const before = this.state;
			const outcome: Outcome = { type: "watched", end };
			const next = apply(before, outcome, Date.now(), settings, Math.random());
			const { stats } = next;
			this.state = {
				...next,
				stats: {
					...stats,
					streams: (stats.streams ?? 0) + 1,
					streamMs: (stats.streamMs ?? 0) + (Date.now() - started),
				},
			};
			for (const record of stepLogs(before, this.state, action, outcome)) emit(record);
			await this.run();
			await this.save();
			await this.arm();
		});
		if (limits) await this.reportLimits(limits);
	}

	/** Runs `work` after any run in progress has finished. */
	private exclusive(work: () => Promise<void>): Promise<void> {
		const next = this.running.then(async () => {
			this.busy++;
			try {
				await work();
			} finally {
				this.busy--;
			}
		});
		this.running = next.catch(() => {});
		return next;
	}

	/** Performs what is due, one action at a time, until nothing (of the `allowed` kinds) is. */
	private async run(allowed?: ReadonlySet<Action["type"]>): Promise<void> {
		const settings = this.settings;
		for (let i = 0; i < MAX_ACTIONS_PER_RUN && this.state; i++) {
			// A due watch is not performed here: the alarm follows it outside the lock (`follow`).
			const action = dueActions(this.state, Date.now(), settings).find(
				(a) => a.type !== "watch" && (!allowed || allowed.has(a.type)),
			);
			if (!action) return;
			const outcome = await this.perform(action, this.state, settings);
			// Forgotten while the action's I/O was under way (retired, or rejected): nothing to apply.
			if (!this.state) return;
			if (outcome.type === "retired") {
				await this.forget();
				return;
			}
			const before = this.state;
			const next = apply(before, outcome, Date.now(), settings, Math.random());
			this.state = { ...next, stats: countAction(next.stats, action, outcome) };
			for (const record of stepLogs(before, this.state, action, outcome)) emit(record);
		}
	}

	private async perform(action: Action, state: JobState, settings: Settings): Promise<Outcome> {
		let limits: RateLimitHint | null = null;
		let origin: UpstreamOrigin | null = null;
		const upstream = upstreamPort(settings, {
			onLimits: (hint) => {
				limits = hint;
			},
			onOrigin: (said) => {
				origin = said;
			},
		});
		const job = upstreamJobOf(state.spec);
		const outcome = await this.performWith(action, state, settings, upstream, job);
		if (limits) await this.reportLimits(limits);
		// Who answered is recorded as the job runs, never guessed from settings when it is shown.
		if (origin && (outcome.type === "created" || outcome.type === "polled")) return { ...outcome, upstream: origin };
		return outcome;
	}

	private async performWith(
		action: Action,
		state: JobState,
		settings: Settings,
		upstream: ReturnType<typeof upstreamPort>,
		job: UpstreamJob,
	): Promise<Outcome> {
		switch (action.type) {
			case "create": {
				const admission = await this.admit("create", state.spec.model, action.heldEpoch, action.heldSend, {
					tenant: state.spec.tenant,
					deadline: action.deadline,
				});
				if (admission?.refused) {
					const waitS = Math.ceil((admission.at - Date.now()) / 1000);
					return {
						type: "create_refused",
						detail: `the upstream create queue is ${waitS} s long, past this job's ${settings.jobTimeoutSeconds} s timeout: retry later`,
						retryAfterMs: admission.refused.retryAfterMs,
					};
				}
				const plan =
					admission?.plan ?? (state.lifecycle.phase === "submitting" ? (state.lifecycle.plan ?? null) : null);
				if (admission && admission.at > Date.now() + GATE_SLACK_MS) {
					return { type: "create_deferred", at: admission.at, epoch: admission.epoch, send: admission.send, plan };
				}
				// Saved before it leaves: should the relay die before the answer, its restart counts the create.
				// (A job being submitted is stored by this same write.) A storage failure is not a create failure.
				if (this.state) {
					this.state = markCreateSent(this.state, Date.now());
					await this.save();
				}
				try {
					const run = await upstream.create(job);
					const watch = chooseWatch(
						settings.watchMode,
						upstream.canWatch,
						admission?.estimate ?? null,
						settings.watchLagValueUsdPerHour,
					);
					return { type: "created", run, plan, getsPaced: admission?.getsPaced ?? false, watch };
				} catch (error) {
					const failure = asFailure(error);
					if (reportsPushback("create", failure)) await this.report429("create", failure.retryAfterMs);
					return { type: "create_failed", failure };
				}
			}
			case "poll": {
				// Unpaced polls go straight out: the plan spreads them, and the gate steps in after pushback.
				const admission = action.paced
					? await this.admit("get", state.spec.model, action.heldEpoch, action.heldSend, { tenant: state.spec.tenant })
					: null;
				if (admission && admission.at > Date.now() + GATE_SLACK_MS) {
					return { type: "poll_deferred", at: admission.at, epoch: admission.epoch, send: admission.send };
				}
				try {
					const run = await upstream.read(job, action.upstreamId);
					// While GETs are scarce, the gate re-plans this job's polls at the going price of a poll.
					return { type: "polled", run, paced: admission ? admission.getsPaced : undefined, plan: admission?.plan };
				} catch (error) {
					const failure = asFailure(error);
					if (reportsPushback("get", failure)) await this.report429("get", failure.retryAfterMs);
					return { type: "poll_failed", failure };
				}
			}
			case "learn":
				try {
					await this.gate().record(action.model, action.durationMs);
				} catch (error) {
					// Only statistics: the plan stays as it was.
					this.note("warn", "gate.record_failed", state, error);
				}
				return { type: "learned" };
			case "expire":
				return { type: "expired" };
			case "watch":
				// Never performed here (`run` skips it; the alarm's `follow` does it): a no-op end, to be safe.
				return { type: "watched", end: { ended: "stopped", cursor: action.cursor ?? -1 } };
			case "cancel_upstream":
				try {
					await upstream.cancel(action.upstreamId);
					return { type: "upstream_cancelled" };
				} catch (error) {
					return { type: "cancel_failed", failure: asFailure(error) };
				}
			case "cache":
				try {
					// A refresh of the delivery status rewrites the whole value: the result must be at hand.
					if (!(await this.hydrate())) throw new Error("the result could not be read back from KV");
					const current = this.state ?? state;
					const ttl = resultTtlSeconds(current, settings, Date.now());
					const ref = await putResult(this.env.RESULTS, viewOf(current), current.spec.tenant, ttl);
					return { type: "cached", ref };
				} catch (error) {
					this.note("error", "kv.write_failed", state, error);
					return { type: "side_effect_failed" };
				}
			case "index":
				// Never an index entry for a job that is not stored.
				await this.store();
				if (action.admit) {
					try {
						const limits = limitsFor(settings.tenantLimits, state.spec.tenant);
						const admitted = (await this.tenantIndex(state.spec.tenant).admitJob(indexEntry(state), limits)) as
							| { ok: true }
							| { ok: false; refusal: LimitRefusal };
						if (!admitted.ok) {
							return {
								type: "index_refused",
								detail: admitted.refusal.detail,
								retryAfterMs: admitted.refusal.retryAfterMs,
							};
						}
						return { type: "indexed", hooks: [] };
					} catch (error) {
						this.note("error", "index.write_failed", state, error);
						return { type: "side_effect_failed" };
					}
				}
				try {
					const hooks = (await this.tenantIndex(state.spec.tenant).upsertJob(
						indexEntry(state),
						action.fanOut,
					)) as Hook[];
					return { type: "indexed", hooks: hooks.map((hook) => ({ id: hook.id, url: hook.target_url })) };
				} catch (error) {
					this.note("error", "index.write_failed", state, error);
					return { type: "side_effect_failed" };
				}
			case "deliver": {
				const delivery = findDelivery(state.deliveries, action.id);
				if (!delivery) return { type: "side_effect_failed" };
				const { id } = delivery;
				const dropped = await this.dropReason(delivery);
				if (dropped) return { type: "delivery_dropped", id, reason: dropped };
				if (isStandard(delivery) && signingKeys(settings).length === 0) {
					// Never an unsigned push: the attempt fails, and its retries go once the key is set.
					const result = {
						ok: false,
						statusCode: null,
						error: "blocked" as const,
						durationMs: 0,
						retryAfterMs: null,
						responseBody: "not sent: WEBHOOK_SIGNING_KEY is not set, and the relay never sends an unsigned event",
					};
					return { type: "delivery_attempted", id, result };
				}
				const needsResult = isFinal(state) && carriesResult(delivery);
				if (needsResult && !(await this.hydrate())) {
					return { type: "delivery_attempted", id, result: UNAVAILABLE };
				}
				const current = this.state ?? state;
				const linked = needsResult || linksResult(delivery);
				const push = {
					maxBytes: settings.maxPushBytes,
					resultUrl: linked ? await this.resultUrl(current, settings) : null,
				};
				const result = await deliverEvent({
					url: delivery.url,
					webhookId: delivery.webhookId,
					body: eventBody(current, delivery, push),
					secrets: await Promise.all(signingKeys(settings).map((key) => tenantSecret(key, state.spec.tenant))),
					timeoutMs: settings.deliveryTimeoutMs,
					allowPrivate: settings.allowPrivateCallbacks,
					// Slack's response_url may only ever be Slack's (local development lifts it, for a loopback stand-in).
					allowedHosts: settings.allowPrivateCallbacks ? undefined : allowedHostsOf(delivery),
				});
				if (result.statusCode === 410 && delivery.hookId) {
					// 410 Gone from a subscription's target: the subscription goes too, as REST hooks expect.
					await this.tenantIndex(state.spec.tenant)
						.deleteHook(delivery.hookId)
						.catch((error: unknown) => this.note("error", "hook.remove_failed", state, error));
				}
				return { type: "delivery_attempted", id, result };
			}
			case "retire":
				try {
					await deleteResult(this.env.RESULTS, state.spec.id, state.result?.parts ?? 1);
					await this.tenantIndex(state.spec.tenant).removeJob(state.spec.id);
					return { type: "retired" };
				} catch {
					return { type: "side_effect_failed" };
				}
		}
	}

	/**
	 * Why a delivery must not go, if it must not: a retry to a REST-hook subscription that was deleted
	 * meanwhile (asked of the index; its first attempt follows the fan-out at once, so only retries ask).
	 */
	private async dropReason(delivery: Delivery): Promise<string | null> {
		if (!delivery.hookId || delivery.attempts === 0 || !this.state) return null;
		try {
			const exists = await this.tenantIndex(this.state.spec.tenant).hookExists(delivery.hookId);
			return exists ? null : "the REST-hook subscription was deleted";
		} catch (error) {
			// The index is unavailable: the retry goes (a deleted hook's receiver may see one more attempt).
			if (this.state) this.note("warn", "hook.check_failed", this.state, error);
			return null;
		}
	}

	/** A structured line about a side effect that failed (it is retried or, for statistics, dropped). */
	private note(level: "warn" | "error", event: string, state: JobState, error: unknown): void {
		emit({
			level,
			event,
			job: state.spec.id,
			tenant: state.spec.tenant,
			error: error instanceof Error ? error.name : "unknown",
			message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
		});
	}

	private gate() {
		return this.env.GATES.get(this.env.GATES.idFromName(UPSTREAM_GATE_NAME));
	}

	/** A slot from the upstream gate; null when the gate is unreachable (it protects, it must not block). */
	private async admit(
		kind: GateKind,
		model?: string,
		heldEpoch?: number | null,
		heldSend?: boolean,
		options: AdmitOptions = {},
	): Promise<Admission | null> {
		try {
			return (await this.gate().admit(kind, model, heldEpoch ?? undefined, heldSend === true, options)) as Admission;
		} catch (error) {
			if (this.state) this.note("warn", "gate.unavailable", this.state, error);
			return null;
		}
	}

	private async report429(kind: GateKind, retryAfterMs: number | null): Promise<void> {
		await this.gate()
			.report429(kind, retryAfterMs)
			.catch((error: unknown) => {
				if (this.state) this.note("warn", "gate.report_failed", this.state, error);
			});
	}

	/**
	 * Tells the gate what upstream's rate-limit headers said, when it matters: a limit this isolate
	 * has not told it lately (so it follows the account's real limit, up or down), or a window
	 * nearly spent (so it slows down before upstream answers 429). Otherwise it costs nothing.
	 */
	private async reportLimits(hint: RateLimitHint): Promise<void> {
		if (!this.state || !shouldReportLimits(hint, Date.now())) return;
		const { stats } = this.state;
		// Counted here, not from the outcome: only the shell knows the call was made.
		this.state = { ...this.state, stats: { ...stats, gateCalls: (stats.gateCalls ?? 0) + 1 } };
		await this.gate()
			.observeLimits(hint)
			.catch((error: unknown) => {
				if (this.state) this.note("warn", "gate.report_failed", this.state, error);
			});
	}

	private tenantIndex(tenant: string) {
		return this.env.TENANTS.get(this.env.TENANTS.idFromName(tenant));
	}

	/**
	 * Writes the state, never the result in it: once KV has the result (`state.result`), only where it
	 * is; until then (a KV write that failed, a restart before it), the result in pieces of at most
	 * 1 MiB each, since a Durable Object value may be 2 MB. Pieces are written only when the result
	 * changed, and removed once KV has it.
	 */
	private async save(): Promise<void> {
		if (!this.state) return;
		const { response: _response, output: _output, ...rest } = this.state;
		const entries: Record<string, unknown> = { state: { ...rest, response: null, output: null } };
		const removals: string[] = [];
		const payload = payloadOf(this.state);
		let parts = this.stagedParts;
		if (this.state.result) {
			for (let i = 0; i < this.stagedParts; i++) removals.push(payloadKey(i));
			if (this.legacyPayload) removals.push("response", "output");
			parts = 0;
		} else if (payload !== this.stagedPayload) {
			const pieces = payload === null ? [] : splitText(JSON.stringify(payload), STAGE_PART_UNITS);
			pieces.forEach((piece, i) => {
				entries[payloadKey(i)] = piece;
			});
			for (let i = pieces.length; i < this.stagedParts; i++) removals.push(payloadKey(i));
			if (this.legacyPayload) removals.push("response", "output");
			parts = pieces.length;
		}
		// Issued together, with no wait between them: the runtime commits them as one atomic write.
		const writes: Promise<unknown>[] = [];
		const keys = Object.keys(entries);
		for (let i = 0; i < keys.length; i += MAX_KEYS_PER_CALL) {
			writes.push(
				this.ctx.storage.put(Object.fromEntries(keys.slice(i, i + MAX_KEYS_PER_CALL).map((k) => [k, entries[k]]))),
			);
		}
		for (let i = 0; i < removals.length; i += MAX_KEYS_PER_CALL) {
			writes.push(this.ctx.storage.delete(removals.slice(i, i + MAX_KEYS_PER_CALL)));
		}
		// A job's first save arms the safety alarm in the same write: should the submitting request die
		// before it arms the real one, the job still moves on.
		const first = this.unstored;
		const grace = first ? Date.now() + SUBMIT_GRACE_MS : null;
		if (grace !== null) writes.push(this.ctx.storage.setAlarm(grace));
		await Promise.all(writes);
		this.stagedParts = parts;
		this.stagedPayload = this.state?.result ? null : payload;
		if (removals.includes("response")) this.legacyPayload = false;
		if (first) {
			this.armedAt = grace;
			this.unstored = null;
			first.resolve();
		}
	}

	/** Stores a job being submitted, if it is not yet: before anything about it leaves this object. */
	private async store(): Promise<void> {
		if (this.unstored) await this.save();
	}

	private async arm(): Promise<void> {
		if (!this.state) return;
		const due = nextWake(this.state, Date.now(), this.settings);
		// Whole milliseconds, and always after now: re-arming the time of the alarm that is running is a
		// no-op the runtime then forgets, which loses the alarm, so a due wake is set 1 ms ahead instead.
		const wake = due === null ? null : Math.max(Math.ceil(due), Date.now() + 1);
		if (wake === this.armedAt) return;
		if (wake === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(wake);
		this.armedAt = wake;
	}

	/** Drops everything this object stores: a rejected job, or a retired one. */
	private async forget(): Promise<void> {
		this.state = null;
		this.stagedPayload = null;
		this.stagedParts = 0;
		this.legacyPayload = false;
		this.armedAt = null;
		await this.ctx.storage.deleteAlarm();
		await this.ctx.storage.deleteAll();
	}
}

/** A promise and its resolve, for whoever waits on a job being stored. */
interface Deferred {
	promise: Promise<void>;
	resolve: () => void;
}

function deferred(): Deferred {
	let resolve: () => void = () => {};
	const promise = new Promise<void>((done) => {
		resolve = done;
	});
	return { promise, resolve };
}

/** Where a result not yet in KV is kept in this object's storage, in pieces: `payload:0`, `payload:1` … */
const PAYLOAD_PREFIX = "payload:";
const payloadKey = (i: number) => `${PAYLOAD_PREFIX}${i}`;
const partIndex = (key: string) => Number(key.slice(PAYLOAD_PREFIX.length));
/** UTF-16 units per piece: at most 1 MiB however stored (2 bytes a unit at most), under the 2 MB a value may take. */
const STAGE_PART_UNITS = 512 * 1024;
/** Keys one storage call takes. */
const MAX_KEYS_PER_CALL = 128;

/** A final event not sent, because the result it carries could not be read back from KV: retried on the schedule. */
const UNAVAILABLE: AttemptResult = {
	ok: false,
	statusCode: null,
	error: "unavailable",
	message: "not sent: the result could not be read back from KV (retried on the schedule)",
	durationMs: 0,
	retryAfterMs: null,
	responseBody: null,
};

/** The result this job keeps: the answer on the Sonar surface, upstream's Response on the Agent surface. */
function payloadOf(state: JobState): unknown {
	return (surfaceOf(state.spec) === "agent" ? state.output : state.response) ?? null;
}

/** The result, from the job as KV keeps it (what `viewOf` made): a view gives back what it was made of. */
function payloadFromView(state: JobState, view: Record<string, unknown>): Partial<JobState> {
	if (surfaceOf(state.spec) === "sonar") return { response: (view.response as CompletionResponse | null) ?? null };
	const { delivery_status: _status, ...output } = view;
	return { output };
}

/**
 * How long KV keeps a result: until the job retires (which deletes it), plus the longest a delivery
 * series begun just before then can take, so that no delivery ever misses the result it carries.
 */
function resultTtlSeconds(state: JobState, settings: Settings, now: number): number {
	const { lifecycle } = state;
	const retireAt = lifecycle.phase === "settled" ? lifecycle.retireAt : now + settings.resultTtlSeconds * 1000;
	const schedule = settings.deliveryScheduleMs;
	const series = schedule.reduce((sum, ms) => sum + ms, 0) * (1 + JITTER) + schedule.length * MAX_RETRY_AFTER_MS;
	return Math.ceil((Math.max(retireAt, now) - now + series) / 1000);
}

/** One gate per upstream key; this relay has one key. */
export const UPSTREAM_GATE_NAME = "upstream";

/** A slot this close to now is taken at once. */
const GATE_SLACK_MS = 5;

const REDELIVER_ACTIONS: ReadonlySet<Action["type"]> = new Set(["deliver", "cache", "index"]);
/** While a stream is followed: its started and progress events go out, and the index learns the status. */
const WATCH_SIDE_ACTIONS: ReadonlySet<Action["type"]> = new Set(["deliver", "index"]);
/** While a stream is followed, the alarm stays armed this far ahead, so that a crash resumes within it. */
const WATCH_SAFETY_MS = 60_000;
/** While a stream is followed, its cursor is saved at least this often (and at every status change). */
const WATCH_SAVE_EVERY_MS = 5_000;
/** A cancel stops the run upstream and pushes the cancelled event before it answers. */
const CANCEL_ACTIONS: ReadonlySet<Action["type"]> = new Set(["cancel_upstream", "deliver", "cache", "index"]);

/** What the upstream port is asked to run for a job. */
function upstreamJobOf(spec: JobState["spec"]): UpstreamJob {
	return spec.surface === "agent"
		? { jobId: spec.id, surface: "agent", request: spec.request }
		: { jobId: spec.id, surface: "sonar", request: spec.request };
}

/** A new job's spec, from what its surface's create took. */
function specOf(input: CreateJobInput, now: number): JobState["spec"] {
	const common = {
		id: input.id,
		tenant: input.tenant,
		createdAtMs: now,
		bodyHash: input.bodyHash,
		integration: input.integration ?? null,
		origin: input.origin ?? null,
	};
	if (input.surface === "agent") {
		const { callback_url, callback_events, ...request } = input.body;
		return {
			...common,
			surface: "agent",
			model: request.model ?? request.preset ?? request.models?.[0] ?? "",
			request,
			callbackUrl: callback_url ?? null,
			callbackEvents: callback_events ?? DEFAULT_RESPONSE_CALLBACK_EVENTS,
			metadata: request.metadata ?? null,
		};
	}
	const { body } = input;
	return {
		...common,
		model: body.request.model,
		request: body.request,
		callbackUrl: body.callback_url ?? null,
		callbackEvents: body.callback_events ?? DEFAULT_CALLBACK_EVENTS,
		metadata: body.metadata ?? null,
	};
}

/** Which failures slow the gate down for everyone: a 429 for creates; for polls, any pushback (`isPushback`). */
function reportsPushback(kind: GateKind, failure: UpstreamFailure): boolean {
	return kind === "create" ? failure.status === 429 : isPushback(failure);
}

/** RPCs into the Upstream Gate an action made: its slot, a pushback report, a learnt duration. */
function gateCallsOf(action: Action, outcome: Outcome): number {
	const reported =
		(outcome.type === "create_failed" && reportsPushback("create", outcome.failure)) ||
		(outcome.type === "poll_failed" && reportsPushback("get", outcome.failure))
			? 1
			: 0;
	if (action.type === "create") return 1 + reported;
	if (action.type === "poll") return (action.paced ? 1 : 0) + reported;
	return action.type === "learn" ? 1 : 0;
}

/** Counts what an action cost, for the attempt report and the benchmark. */
function countAction(counted: JobStats, action: Action, outcome: Outcome): JobStats {
	const stats = { ...counted, gateCalls: (counted.gateCalls ?? 0) + gateCallsOf(action, outcome) };
	switch (action.type) {
		case "create": {
			if (outcome.type === "create_deferred") return stats;
			const lost = outcome.type === "create_failed" && outcome.failure.ambiguous === true ? 1 : 0;
			return {
				...stats,
				createAttempts: stats.createAttempts + 1,
				possibleDuplicates: (stats.possibleDuplicates ?? 0) + lost,
			};
		}
		case "cancel_upstream":
			return { ...stats, upstreamCancels: (stats.upstreamCancels ?? 0) + 1 };
		case "poll":
			return outcome.type === "poll_deferred" ? stats : { ...stats, polls: stats.polls + 1 };
		case "cache":
			return outcome.type === "cached" ? { ...stats, kvWrites: stats.kvWrites + (outcome.ref?.parts ?? 1) } : stats;
		case "index":
			return outcome.type === "indexed" ? { ...stats, indexWrites: stats.indexWrites + 1 } : stats;
		case "deliver":
			return { ...stats, deliveryAttempts: stats.deliveryAttempts + 1 };
		default:
			return stats;
	}
}

export function deliveryReport(state: JobState): DeliveryReport {
	const { stats } = state;
	return {
		job_id: state.spec.id,
		delivery_status: deliveryStatus(state),
		events: state.deliveries.map((d) => ({
			webhook_id: d.webhookId,
			event: d.type,
			host: hostOf(d.url),
			status: d.status,
			series: d.series,
			attempts: d.attempts,
			next_attempt_at: d.status === "pending" ? new Date(d.nextAt).toISOString() : null,
			last_error: d.lastError,
		})),
		attempts: state.log.map(withErrorMessage),
		stats: {
			alarm_runs: stats.alarmRuns,
			create_attempts: stats.createAttempts,
			upstream_polls: stats.polls,
			kv_writes: stats.kvWrites,
			index_writes: stats.indexWrites,
			delivery_attempts: stats.deliveryAttempts,
			other_do_requests: stats.gateCalls ?? 0,
			possible_duplicate_runs: stats.possibleDuplicates ?? 0,
			upstream_cancels: stats.upstreamCancels ?? 0,
			upstream_streams: stats.streams ?? 0,
			stream_ms: stats.streamMs ?? 0,
			alarm_lateness_ms: stats.alarmLatenessMs,
		},
	};
}

/** An attempt logged before attempts carried their error in words: one made from its class and status. */
function withErrorMessage(entry: AttemptLogEntry): AttemptLogEntry {
	if (entry.error_message !== undefined) return entry;
	const code = entry.status_code;
	const delivered = entry.error === null && code !== null && code >= 200 && code < 300;
	return {
		...entry,
		error_message: delivered ? null : describeAttempt({ error: entry.error, statusCode: code, message: null }),
	};
}

/** A window this nearly spent is worth telling the gate about at once. */
const LOW_REMAINING_SHARE = 0.1;
/** A limit is told to the gate again after this long, so a gate that lost it (evicted) hears it again. */
const LIMIT_REPORT_EVERY_MS = 60_000;
/** What this isolate last told the gate about the limit, and when. */
let reportedLimit: { perSecond: number; at: number } | null = null;

/** Whether an answer's rate-limit headers are worth a gate call (see `Job.reportLimits`). */
export function shouldReportLimits(hint: RateLimitHint, now: number): boolean {
	const { limitPerSecond, remaining, remainingShare } = hint;
	if (remaining === 0 || (remainingShare !== null && remainingShare <= LOW_REMAINING_SHARE)) return true;
	if (limitPerSecond === null) return false;
	if (reportedLimit && reportedLimit.perSecond === limitPerSecond && now - reportedLimit.at < LIMIT_REPORT_EVERY_MS) {
		return false;
	}
	reportedLimit = { perSecond: limitPerSecond, at: now };
	return true;
}

/** The error fields of a log record: its class and the start of its message, never a stack. */
function failureFields(error: unknown): { error: string; message: string } {
	return {
		error: error instanceof Error ? error.name : "unknown",
		message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
	};
}

/** A failure the platform marks as transient (storage, an overloaded or reset object), not a bug of ours. */
function isPlatformError(error: unknown): boolean {
	if (typeof error !== "object" || error === null) return false;
	const flags = error as { retryable?: unknown; overloaded?: unknown };
	return flags.retryable === true || flags.overloaded === true;
}
