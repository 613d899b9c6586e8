/**
 * The Tenant Durable Object: one per tenant, in SQLite:
 * - the job index the list endpoint pages through. Jobs report their summary
 *   here when they are accepted and whenever their status or delivery status
 *   changes;
 * - webhook subscriptions (Zapier-style REST hooks). When a job reports that
 *   it settled, the same call answers with the subscriptions its event
 *   matches, so fan-out costs no extra round trip.
 *
 * Pages are newest first by acceptance order (`seq`), so jobs accepted within
 * the same second still have a stable order; `next_token` wraps the last seq.
 * Sonar jobs and Agent-surface runs share the index (a `surface` column) and
 * are listed apart.
 */
import { DurableObject } from "cloudflare:workers";
import type { ResponseList, ResponseStatus, ResponseSummary } from "../schemas/agent.ts";
import { type EventType, type Hook, HookEvent, type RelayJobList, type RelayJobSummary } from "../schemas/relay.ts";
import { TenantSweeper, type TenantSweepRequest, type TenantSweepResult } from "../sweeper/tenant-sweep.ts";
import { encodeCursor } from "./cursor.ts";
import { judge, type LimitRefusal, startOfUtcDay, type TenantLimits, type TenantUsage } from "./limits.ts";

const STATUSES = "'CREATED','IN_PROGRESS','COMPLETED','FAILED'";

/** The CHECK of the hooks table: every event a hook may subscribe to. */
const HOOK_EVENTS = HookEvent.options.map((event) => `'${event}'`).join(",");

/** What a job reports to the index: its summary, the surface it was submitted on, and a run's own status. */
export type IndexEntry = RelayJobSummary & {
	surface: "sonar" | "agent";
	run_status: ResponseStatus | null;
	/** What the run cost upstream (USD), once it finished and upstream said; for `daily_cost_usd`. */
	cost_usd?: number | null;
};

interface HookRow extends Record<string, SqlStorageValue> {
	id: string;
	target_url: string;
	event: string;
	created_at: number;
}

export type CreateHookResult = { ok: true; hook: Hook } | { ok: false; reason: "limit" };

interface JobRow extends Record<string, SqlStorageValue> {
	seq: number;
	id: string;
	surface: string;
	run_status: string | null;
	created_at: number;
	started_at: number | null;
	completed_at: number | null;
	failed_at: number | null;
	model: string;
	status: string;
	delivery_status: string | null;
	request_preview: string | null;
	cost_usd: number | null;
}

export class Tenant extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	/** The sweeper's side: unsettled jobs are a partial index over `jobs` (see `tenant-sweep.ts`). */
	private readonly sweeper: TenantSweeper;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			id TEXT NOT NULL UNIQUE,
			created_at INTEGER NOT NULL,
			started_at INTEGER,
			completed_at INTEGER,
			failed_at INTEGER,
			model TEXT NOT NULL,
			status TEXT NOT NULL CHECK (status IN (${STATUSES})),
			delivery_status TEXT CHECK (delivery_status IN ('pending','delivered','failed')),
			request_preview TEXT
		)`);
		// Indexes created before a column existed (deployed or local state) gain it.
		const columns = new Set(
			this.sql
				.exec<{ name: string }>("PRAGMA table_info(jobs)")
				.toArray()
				.map((c) => c.name),
		);
		if (!columns.has("request_preview")) this.sql.exec("ALTER TABLE jobs ADD COLUMN request_preview TEXT");
		if (!columns.has("surface")) this.sql.exec("ALTER TABLE jobs ADD COLUMN surface TEXT NOT NULL DEFAULT 'sonar'");
		if (!columns.has("run_status")) this.sql.exec("ALTER TABLE jobs ADD COLUMN run_status TEXT");
		if (!columns.has("cost_usd")) this.sql.exec("ALTER TABLE jobs ADD COLUMN cost_usd REAL");
		this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_by_surface ON jobs (surface, seq)");
		// For the tenant's limits: jobs in flight, jobs accepted lately, and what finished today.
		this.sql.exec(
			"CREATE INDEX IF NOT EXISTS jobs_in_flight ON jobs (status) WHERE status IN ('CREATED','IN_PROGRESS')",
		);
		this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at)");
		this.migrateHooks();
		this.sweeper = new TenantSweeper(ctx, env);
	}

	/** The sweeper's call: checks the next unsettled jobs of this pass, re-arming any whose alarm was lost. */
	sweep(request: TenantSweepRequest): Promise<TenantSweepResult> {
		return this.sweeper.sweep(request);
	}

	/**
	 * The hooks table, with a CHECK that names every event of `HookEvent`. SQLite cannot change a
	 * CHECK, so a table made before an event existed (the `response.*` events came later) is
	 * rebuilt, its rows kept.
	 */
	private migrateHooks(): void {
		const create = (name: string) => `CREATE TABLE ${name} (
			id TEXT PRIMARY KEY,
			target_url TEXT NOT NULL,
			event TEXT NOT NULL CHECK (event IN (${HOOK_EVENTS})),
			created_at INTEGER NOT NULL
		)`;
		const existing = this.sql
			.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'hooks'")
			.toArray()[0];
		if (!existing) {
			this.sql.exec(create("hooks"));
		} else if (!existing.sql.includes("'response.*'")) {
			this.ctx.storage.transactionSync(() => {
				this.sql.exec(create("hooks_next"));
				this.sql.exec("INSERT INTO hooks_next SELECT id, target_url, event, created_at FROM hooks");
				this.sql.exec("DROP TABLE hooks");
				this.sql.exec("ALTER TABLE hooks_next RENAME TO hooks");
			});
		}
	}

	/** Jobs in the index; for tests and audits (an invalid input must add none). */
	countJobs(): number {
		return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs").one().n;
	}

	/** Subscribes `target_url` to `event`, up to `limit` subscriptions per tenant. */
	createHook(targetUrl: string, event: HookEvent, limit: number): CreateHookResult {
		const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM hooks").one().n;
		if (count >= limit) return { ok: false, reason: "limit" };
		const hook: Hook = {
			id: `hook_${crypto.randomUUID().replace(/-/g, "")}`,
			target_url: targetUrl,
			event,
			created_at: Math.floor(Date.now() / 1000),
		};
		this.sql.exec(
			"INSERT INTO hooks (id, target_url, event, created_at) VALUES (?, ?, ?, ?)",
			hook.id,
			hook.target_url,
			hook.event,
			hook.created_at,
		);
		return { ok: true, hook };
	}

	listHooks(): Hook[] {
		return this.sql.exec<HookRow>("SELECT * FROM hooks ORDER BY created_at, id").toArray() as Hook[];
	}

	/** True when it existed. */
	deleteHook(id: string): boolean {
		return this.sql.exec("DELETE FROM hooks WHERE id = ?", id).rowsWritten > 0;
	}

	/** The subscriptions an event goes to: its own type, or its surface's `*`. */
	hooksFor(event: EventType): Hook[] {
		const family = `${event.slice(0, event.indexOf("."))}.*`;
		return this.sql
			.exec<HookRow>("SELECT * FROM hooks WHERE event IN (?, ?) ORDER BY created_at, id", event, family)
			.toArray() as Hook[];
	}

	/**
	 * Adds the job on first sight (taking the next seq), updates it afterwards.
	 * With `fanOut`, also answers the subscriptions that event goes to.
	 */
	async upsertJob(job: IndexEntry, fanOut: EventType | null = null): Promise<Hook[]> {
		this.sql.exec(
			`INSERT INTO jobs (id, created_at, started_at, completed_at, failed_at, model, status, delivery_status,
			   request_preview, surface, run_status, cost_usd)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, completed_at = excluded.completed_at,
			   failed_at = excluded.failed_at, status = excluded.status, delivery_status = excluded.delivery_status,
			   run_status = excluded.run_status, cost_usd = excluded.cost_usd`,
			job.id,
			job.created_at,
			job.started_at ?? null,
			job.completed_at ?? null,
			job.failed_at ?? null,
			job.model,
			job.status,
			job.delivery_status ?? null,
			job.request_preview ?? null,
			job.surface,
			job.run_status,
			job.cost_usd ?? null,
		);
		await this.sweeper.noteJob(job);
		return fanOut ? this.hooksFor(fanOut) : [];
	}

	/**
	 * A new job, judged against the tenant's limits: indexed (it counts from now on) and admitted, or
	 * refused with the limit it would break. One call, in this object's single thread, so concurrent
	 * submissions cannot overshoot a limit together. A job already indexed (a replay) is admitted.
	 */
	async admitJob(job: IndexEntry, limits: TenantLimits): Promise<{ ok: true } | { ok: false; refusal: LimitRefusal }> {
		const known = this.sql.exec("SELECT 1 FROM jobs WHERE id = ?", job.id).toArray().length > 0;
		if (!known && Object.keys(limits).length > 0) {
			const now = Date.now();
			const refusal = judge(limits, this.usage(now), { now, oldestCreateInWindowMs: this.oldestCreateInWindow(now) });
			if (refusal) return { ok: false, refusal };
		}
		// The row is written before `upsertJob`'s first wait: judged and counted with nothing in between.
		await this.upsertJob(job);
		return { ok: true };
	}

	/** What the tenant has used now, against its limits (`GET /v1/usage`). */
	usage(now = Date.now()): TenantUsage {
		const nowS = Math.floor(now / 1000);
		const inFlight = this.sql
			.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('CREATED','IN_PROGRESS')")
			.one().n;
		const lastMinute = this.sql
			.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE created_at > ?", nowS - 60)
			.one().n;
		const cost = this.sql
			.exec<{ usd: number | null }>(
				"SELECT SUM(cost_usd) AS usd FROM jobs WHERE cost_usd IS NOT NULL AND COALESCE(completed_at, failed_at) >= ?",
				Math.floor(startOfUtcDay(now) / 1000),
			)
			.one().usd;
		return { in_flight: inFlight, creates_last_minute: lastMinute, cost_today_usd: cost ?? 0 };
	}

	/** When the oldest job accepted in the last minute was (ms): it leaves the window a minute later. */
	private oldestCreateInWindow(now: number): number | null {
		const row = this.sql
			.exec<{ t: number | null }>(
				"SELECT MIN(created_at) AS t FROM jobs WHERE created_at > ?",
				Math.floor(now / 1000) - 60,
			)
			.one();
		return row.t === null ? null : row.t * 1000;
	}

	/** Whether a REST-hook subscription still exists: a job checks before it retries a delivery to it. */
	hookExists(id: string): boolean {
		return this.sql.exec("SELECT 1 FROM hooks WHERE id = ?", id).toArray().length > 0;
	}

	removeJob(id: string): void {
		this.sql.exec("DELETE FROM jobs WHERE id = ?", id);
	}

	/** One page of Sonar jobs, newest first, starting after `beforeSeq` (exclusive) when given. */
	listJobs(limit: number, beforeSeq: number | null): RelayJobList {
		const { page, next } = this.page("sonar", limit, beforeSeq);
		return {
			requests: page.map(
				({ seq: _seq, surface: _surface, run_status: _run, cost_usd: _cost, ...row }) => row as RelayJobSummary,
			),
			next_token: next,
		};
	}

	/** One page of Agent-surface runs, newest first (`GET /v1/responses`). */
	listRuns(limit: number, beforeSeq: number | null): ResponseList {
		const { page, next } = this.page("agent", limit, beforeSeq);
		return {
			object: "list",
			data: page.map(
				(row): ResponseSummary => ({
					id: row.id,
					object: "response",
					created_at: row.created_at,
					completed_at: row.completed_at,
					status: (row.run_status ?? "queued") as ResponseStatus,
					model: row.model,
					delivery_status: row.delivery_status as ResponseSummary["delivery_status"],
					request_preview: row.request_preview,
				}),
			),
			has_more: next !== null,
			next_token: next,
		};
	}

	private page(surface: "sonar" | "agent", limit: number, beforeSeq: number | null) {
		const rows = this.sql
			.exec<JobRow>(
				"SELECT * FROM jobs WHERE surface = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
				surface,
				beforeSeq ?? Number.MAX_SAFE_INTEGER,
				limit + 1,
			)
			.toArray();
		const page = rows.slice(0, limit);
		const last = page[page.length - 1];
		return { page, next: rows.length > limit && last ? encodeCursor(last.seq) : null };
	}
}
