/**
 * The sweeper's side of a Tenant Durable Object. The tenant's job index already knows which of
 * its jobs are unsettled (their status, or a pending delivery): a partial SQLite index over those
 * rows is the active-jobs table, kept by the writes the jobs make anyway. One call checks at most
 * `limit` of them (`Job.ensureArmed`: one storage read each when all is well), from a cursor that
 * lasts for the registry's pass, so a pass over thousands of jobs is many small calls, each within
 * the platform's subrequest limit. Rows far past the point where their job should have retired are
 * checked too (a retirement whose alarm was lost).
 *
 * The tenant tells the registry (`SweepRegistry`) that it has unsettled jobs, once, when the first
 * one appears, and forgets that it did when a sweep finds none left; so the registry holds only
 * tenants with something to check, and a busy tenant costs it nothing per job.
 */

import { readSettings } from "../config.ts";
import { objectIdOf } from "../job/id.ts";
import type { ArmCheck } from "../job/job.ts";
import { emit } from "../log.ts";

/** Which index rows are unsettled: the same expression in the partial index and in the queries, so SQLite uses it. */
export const UNSETTLED = "(status IN ('CREATED','IN_PROGRESS') OR delivery_status = 'pending')";

/** A settled job retires after its result's TTL: rows this much later than that are worth a look. */
export const RETIRE_GRACE_MS = 3 * 86_400_000;
/** A Job Durable Object that does not answer within this is counted as failed (and checked again next pass). */
export const JOB_CHECK_TIMEOUT_MS = 10_000;
/** Job Durable Objects checked at once. */
const CONCURRENCY = 6;

export interface TenantSweepRequest {
	/** The registry's pass (its start, ms): the cursor restarts for a new pass. */
	pass: number;
	/** Job Durable Objects to check in this call, at most. */
	limit: number;
	/** An alarm this far past its time is taken for lost. */
	overdueMs: number;
}

export interface TenantSweepResult {
	checked: number;
	rearmed: number;
	/** Jobs whose run was under way (it arms the alarm when it ends). */
	running: number;
	/** Index rows without a job behind them, removed. */
	gone: number;
	/** Jobs that did not answer (checked again next pass). */
	failed: number;
	/** More jobs are due in this pass: call again. */
	more: boolean;
	/** When this tenant next needs a visit: now while it has unsettled jobs, null once its index is empty. */
	nextDueAt: number | null;
}

/** The registry's stub, as a Tenant sees it. */
export interface SweepRegistration {
	register(tenant: string): Promise<void>;
}

export class TenantSweeper {
	private readonly ctx: DurableObjectState;
	private readonly env: Env;
	private readonly sql: SqlStorage;
	/** The pass the cursor belongs to, the last seq checked, and whether the retirement check ran. */
	private cursor = { pass: -1, afterSeq: 0, staleChecked: false };
	/** This tenant is in the registry (as far as it knows): its next unsettled job need not say so. */
	private registered: boolean;

	constructor(ctx: DurableObjectState, env: Env) {
		this.ctx = ctx;
		this.env = env;
		this.sql = ctx.storage.sql;
		this.sql.exec(`CREATE INDEX IF NOT EXISTS jobs_unsettled ON jobs (seq) WHERE ${UNSETTLED}`);
		this.sql.exec("CREATE TABLE IF NOT EXISTS sweep_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
		this.registered =
			this.sql.exec<{ value: number }>("SELECT value FROM sweep_state WHERE key = 'registered_at'").toArray().length >
			0;
	}

	/**
	 * After a job's index row changed: a tenant that now has an unsettled job, and is not known to
	 * the registry, registers (one call per tenant per busy spell, not per job). A failure is logged
	 * and tried again with the next job.
	 */
	async noteJob(entry: { status: string; delivery_status?: string | null }): Promise<void> {
		if (this.registered) return;
		const unsettled =
			entry.status === "CREATED" || entry.status === "IN_PROGRESS" || entry.delivery_status === "pending";
		const tenant = this.ctx.id.name;
		if (!unsettled || !tenant) return;
		try {
			await (this.registry() as unknown as SweepRegistration).register(tenant);
			this.sql.exec(
				"INSERT INTO sweep_state (key, value) VALUES ('registered_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
				Date.now(),
			);
			this.registered = true;
		} catch (error) {
			emit({
				level: "warn",
				event: "sweeper.register_failed",
				tenant,
				error: error instanceof Error ? error.name : "unknown",
				message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
			});
		}
	}

	/** Checks the next `limit` unsettled jobs of this pass (and, once a pass, rows overdue for retirement). */
	async sweep(request: TenantSweepRequest): Promise<TenantSweepResult> {
		const now = Date.now();
		if (this.cursor.pass !== request.pass) this.cursor = { pass: request.pass, afterSeq: 0, staleChecked: false };
		const limit = Math.max(1, Math.floor(request.limit));
		const rows = this.sql
			.exec<{ seq: number; id: string }>(
				`SELECT seq, id FROM jobs WHERE seq > ? AND ${UNSETTLED} ORDER BY seq LIMIT ?`,
				this.cursor.afterSeq,
				limit,
			)
			.toArray();
		const last = rows[rows.length - 1];
		if (last) this.cursor.afterSeq = last.seq;
		const ids = rows.map((row) => row.id);
		const horizon = this.retireHorizonMs();
		if (ids.length < limit && !this.cursor.staleChecked) {
			// The oldest rows, in acceptance order (seq), so no scan: only those past any retirement count.
			this.cursor.staleChecked = true;
			const oldest = this.sql
				.exec<{ id: string; created_at: number }>(
					"SELECT id, created_at FROM jobs ORDER BY seq LIMIT ?",
					limit - ids.length,
				)
				.toArray();
			for (const row of oldest) {
				if (row.created_at * 1000 + horizon < now && !ids.includes(row.id)) ids.push(row.id);
			}
		}
		const checks = await checkAll(ids, (id) => this.checkJob(id, request.overdueMs));
		const gone = checks.filter((c) => c?.action === "gone").map((c) => c?.job as string);
		for (const id of gone) this.sql.exec("DELETE FROM jobs WHERE id = ?", id);
		const more =
			this.sql.exec(`SELECT 1 FROM jobs WHERE seq > ? AND ${UNSETTLED} LIMIT 1`, this.cursor.afterSeq).toArray()
				.length > 0;
		const nextDueAt = this.nextDueAt(now, horizon);
		if (nextDueAt !== now && this.registered) {
			// Nothing unsettled: the registry will hold the tenant back (or drop it), so the next unsettled job registers again.
			this.sql.exec("DELETE FROM sweep_state WHERE key = 'registered_at'");
			this.registered = false;
		}
		return {
			checked: checks.length,
			rearmed: checks.filter((c) => c?.action === "rearmed").length,
			running: checks.filter((c) => c?.action === "running").length,
			gone: gone.length,
			failed: checks.filter((c) => c === null).length,
			more,
			nextDueAt,
		};
	}

	/** Now while any job is unsettled; else when the oldest row is past any retirement; null when there are none. */
	private nextDueAt(now: number, horizon: number): number | null {
		if (this.sql.exec(`SELECT 1 FROM jobs WHERE ${UNSETTLED} LIMIT 1`).toArray().length > 0) return now;
		const oldest = this.sql
			.exec<{ created_at: number }>("SELECT created_at FROM jobs ORDER BY seq LIMIT 1")
			.toArray()[0];
		return oldest ? Math.max(now, oldest.created_at * 1000 + horizon) : null;
	}

	/** How long after its acceptance a job has surely retired: its timeout, the result's TTL, and a grace. */
	private retireHorizonMs(): number {
		const settings = readSettings(this.env);
		return settings.jobTimeoutSeconds * 1000 + settings.resultTtlSeconds * 1000 + RETIRE_GRACE_MS;
	}

	/** One job's `ensureArmed`; null when it failed or did not answer in time. */
	private async checkJob(id: string, overdueMs: number): Promise<ArmCheck | null> {
		let timer: ReturnType<typeof setTimeout> | undefined;
		try {
			const objectId = objectIdOf(id);
			if (!objectId) return { job: id, action: "gone", reason: null, alarm_at: null };
			const stub = this.env.JOBS.get(this.env.JOBS.idFromString(objectId));
			const timeout = new Promise<null>((resolve) => {
				timer = setTimeout(() => resolve(null), JOB_CHECK_TIMEOUT_MS);
			});
			return ((await Promise.race([stub.ensureArmed(overdueMs, id), timeout])) as ArmCheck | null) ?? null;
		} catch {
			return null;
		} finally {
			clearTimeout(timer);
		}
	}

	private registry() {
		return this.env.SWEEPER.get(this.env.SWEEPER.idFromName(SWEEP_REGISTRY_NAME));
	}
}

/** The one registry of tenants with unsettled jobs. */
export const SWEEP_REGISTRY_NAME = "sweeper";

/** `check` over every id, a few at a time, in order (also the recovery of dead-lettered deliveries). */
export async function checkAll<T>(ids: readonly string[], check: (id: string) => Promise<T>): Promise<T[]> {
	const results: T[] = new Array(ids.length);
	let next = 0;
	const worker = async () => {
		while (next < ids.length) {
			const i = next++;
			results[i] = await check(ids[i] as string);
		}
	};
	await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
	return results;
}
