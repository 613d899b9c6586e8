/**
 * The sweeper's registry: one Durable Object that knows which tenants have unsettled jobs, and
 * walks them. The cron trigger (`scheduled`) calls `sweep()` every few minutes; each call starts a
 * pass when none is under way, then runs one step. A step calls at most `SWEEP_BATCH` Tenants
 * (each call checks at most `SWEEP_BATCH` Job Durable Objects there), so no invocation makes more
 * subrequests than the platform allows; when tenants are left, the registry's own alarm runs the
 * next step a moment later, and the next cron picks the pass up should that alarm be lost too.
 *
 * It holds tenants, not jobs: a tenant registers when its first unsettled job appears, and leaves
 * when a visit finds its index empty. A tenant whose jobs have all settled is visited again only
 * when the oldest of them should long have retired (`nextDueAt`).
 */
import { DurableObject } from "cloudflare:workers";
import { readSettings, type Settings } from "../config.ts";
import { emit } from "../log.ts";
import type { TenantSweepResult } from "./tenant-sweep.ts";

/** Between two steps of a pass: the registry's alarm runs the next one this soon. */
export const STEP_GAP_MS = 500;
/** A Tenant that does not answer within this is skipped for the pass. */
const TENANT_CALL_TIMEOUT_MS = 120_000;
/** Tenants called at once within a step. */
const CONCURRENCY = 4;

/** What one step did (and the pass so far), as the cron and the tests see it. */
export interface SweepStep {
	/** The pass's start (ms), or null when no tenant had anything to check. */
	pass: number | null;
	/** Calls made to Tenants in this step. */
	calls: number;
	checked: number;
	rearmed: number;
	running: number;
	gone: number;
	failed: number;
	/** The pass continues on the registry's alarm. */
	more: boolean;
}

interface PassTotals {
	/** Calls to Tenants (a tenant with many unsettled jobs takes several). */
	tenant_calls: number;
	checked: number;
	rearmed: number;
	running: number;
	gone: number;
	failed: number;
}

const emptyTotals = (): PassTotals => ({ tenant_calls: 0, checked: 0, rearmed: 0, running: 0, gone: 0, failed: 0 });

export class SweepRegistry extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	/** Steps never overlap (a cron call and the alarm may come together). */
	private running: Promise<unknown> = Promise.resolve();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.sql.exec(`CREATE TABLE IF NOT EXISTS tenants (
			name TEXT PRIMARY KEY,
			registered_at INTEGER NOT NULL,
			due_at INTEGER NOT NULL,
			visited_at INTEGER
		)`);
		this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)");
	}

	/** A tenant has an unsettled job: visit it in the next pass (or this one). */
	register(tenant: string): void {
		const now = Date.now();
		this.sql.exec(
			`INSERT INTO tenants (name, registered_at, due_at) VALUES (?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET registered_at = excluded.registered_at, due_at = MIN(due_at, excluded.due_at)`,
			tenant,
			now,
			now,
		);
	}

	/**
	 * The cron's call: starts a pass unless one is under way, and runs a step of it. `seed` names
	 * tenants to add once (the `API_KEYS` tenants), so that jobs accepted before the registry
	 * existed are swept too.
	 *
	 * @example
	 * await env.SWEEPER.get(env.SWEEPER.idFromName("sweeper")).sweep(["acme"]);
	 */
	sweep(seed: string[] = []): Promise<SweepStep> {
		return this.locked(async () => {
			if (seed.length > 0 && this.meta<number>("seeded") === null) {
				for (const tenant of seed) {
					this.sql.exec("INSERT OR IGNORE INTO tenants (name, registered_at, due_at) VALUES (?, 0, 0)", tenant);
				}
				this.setMeta("seeded", Date.now());
			}
			if (this.meta<number>("pass") === null) {
				const now = Date.now();
				// A new pass visits every tenant due by now, visited in an earlier pass or not.
				if (this.dueTenants(now, now + 1, 1).length === 0) return { ...idleStep(), pass: null };
				this.setMeta("pass", now);
				this.setMeta("totals", JSON.stringify(emptyTotals()));
			}
			return this.step();
		});
	}

	override async alarm(): Promise<void> {
		await this.locked(() => this.step());
	}

	/** The registered tenants, for tests and operators. */
	tenants(): { name: string; registered_at: number; due_at: number; visited_at: number | null }[] {
		return this.sql
			.exec<{ name: string; registered_at: number; due_at: number; visited_at: number | null }>(
				"SELECT name, registered_at, due_at, visited_at FROM tenants ORDER BY name",
			)
			.toArray();
	}

	/** Visits due tenants until the step's subrequest budget is spent or none is left. */
	private async step(): Promise<SweepStep> {
		const pass = this.meta<number>("pass");
		if (pass === null) return { ...idleStep(), pass: null };
		const settings = readSettings(this.env);
		const result: SweepStep = { ...idleStep(), pass };
		let budget = settings.sweepBatch;
		while (budget > 0) {
			const due = this.dueTenants(Date.now(), pass, Math.min(budget, CONCURRENCY));
			if (due.length === 0) break;
			const visits = await Promise.all(due.map((tenant) => this.visit(tenant, pass, settings)));
			budget -= due.length;
			result.calls += due.length;
			for (const visit of visits) {
				if (!visit) {
					result.failed++;
					continue;
				}
				result.checked += visit.checked;
				result.rearmed += visit.rearmed;
				result.running += visit.running;
				result.gone += visit.gone;
				result.failed += visit.failed;
			}
		}
		const totals = this.addTotals(result, result.calls);
		result.more = this.dueTenants(Date.now(), pass, 1).length > 0;
		if (result.more) {
			await this.ctx.storage.setAlarm(Date.now() + STEP_GAP_MS);
		} else {
			this.sql.exec("DELETE FROM meta WHERE key IN ('pass', 'totals')");
			emit({ level: "info", event: "sweeper.pass", ...totals, duration_ms: Date.now() - pass });
		}
		return result;
	}

	/** One call to a tenant; its row then says when to come back (or goes, once the tenant has no jobs). */
	private async visit(tenant: string, pass: number, settings: Settings): Promise<TenantSweepResult | null> {
		const startedAt = Date.now();
		let timer: ReturnType<typeof setTimeout> | undefined;
		try {
			const stub = this.env.TENANTS.get(this.env.TENANTS.idFromName(tenant));
			const timeout = new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new Error("the tenant did not answer in time")), TENANT_CALL_TIMEOUT_MS);
			});
			const result = (await Promise.race([
				stub.sweep({ pass, limit: settings.sweepBatch, overdueMs: settings.sweepOverdueMs }),
				timeout,
			])) as TenantSweepResult;
			if (result.more) return result;
			// A registration during the visit (a new unsettled job) stands: its tenant stays due.
			if (result.nextDueAt === null) {
				this.sql.exec("DELETE FROM tenants WHERE name = ? AND registered_at < ?", tenant, startedAt);
			}
			this.sql.exec(
				`UPDATE tenants SET visited_at = ?, due_at = CASE WHEN registered_at < ? THEN ? ELSE due_at END WHERE name = ?`,
				Date.now(),
				startedAt,
				result.nextDueAt ?? Date.now(),
				tenant,
			);
			return result;
		} catch (error) {
			this.sql.exec("UPDATE tenants SET visited_at = ? WHERE name = ?", Date.now(), tenant);
			emit({
				level: "warn",
				event: "sweeper.tenant_failed",
				tenant,
				error: error instanceof Error ? error.name : "unknown",
				message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
			});
			return null;
		} finally {
			clearTimeout(timer);
		}
	}

	/** Tenants due now and not yet visited in this pass, least recently visited first. */
	private dueTenants(now: number, pass: number, limit: number): string[] {
		return this.sql
			.exec<{ name: string }>(
				`SELECT name FROM tenants WHERE due_at <= ? AND (visited_at IS NULL OR visited_at < ?)
				 ORDER BY COALESCE(visited_at, 0), name LIMIT ?`,
				now,
				pass,
				limit,
			)
			.toArray()
			.map((row) => row.name);
	}

	private addTotals(step: SweepStep, tenants: number): PassTotals {
		const stored = this.meta<string>("totals");
		const totals: PassTotals = stored ? { ...emptyTotals(), ...(JSON.parse(stored) as PassTotals) } : emptyTotals();
		totals.tenant_calls += tenants;
		totals.checked += step.checked;
		totals.rearmed += step.rearmed;
		totals.running += step.running;
		totals.gone += step.gone;
		totals.failed += step.failed;
		this.setMeta("totals", JSON.stringify(totals));
		return totals;
	}

	private meta<T extends string | number>(key: string): T | null {
		const row = this.sql.exec<{ value: T }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
		return row ? row.value : null;
	}

	private setMeta(key: string, value: string | number): void {
		this.sql.exec(
			"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			key,
			value,
		);
	}

	private locked<T>(work: () => Promise<T>): Promise<T> {
		const next = this.running.then(work);
		this.running = next.catch(() => {});
		return next;
	}
}

function idleStep(): SweepStep {
	return { pass: null, calls: 0, checked: 0, rearmed: 0, running: 0, gone: 0, failed: 0, more: false };
}
