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
 *
 * For the operations view, the index also keeps each job's push lag and when its
 * final delivery was dead-lettered (`stats`, `deadLettered`), and its searchable
 * metadata in `job_metadata`, keyed by (key, value, seq) so a filtered page is an
 * index range (`listJobs`/`listRuns` with filters).
 */
import { DurableObject } from "cloudflare:workers";
import type { ResponseList, ResponseStatus, ResponseSummary } from "../schemas/agent.ts";
import type { OpsStats, StatsWindow } from "../schemas/ops.ts";
import { type EventType, type Hook, HookEvent, type RelayJobList, type RelayJobSummary } from "../schemas/relay.ts";
import { TenantSweeper, type TenantSweepRequest, type TenantSweepResult } from "../sweeper/tenant-sweep.ts";
import { encodeCursor } from "./cursor.ts";
import type { IndexEntry } from "./index-entry.ts";
import { judge, type LimitRefusal, startOfUtcDay, type TenantLimits, type TenantUsage } from "./limits.ts";
import { indexedMetadata, type MetadataPair } from "./metadata.ts";
import { type EndedRow, MAX_STATS_ROWS, scanSince, summarizeStats, WINDOW_SECONDS } from "./stats.ts";

const STATUSES = "'CREATED','IN_PROGRESS','COMPLETED','FAILED'";

/** The CHECK of the hooks table: every event a hook may subscribe to. */
const HOOK_EVENTS = HookEvent.options.map((event) => `'${event}'`).join(",");

/** A dead-lettered job, for `POST /v1/deliveries/recover`. */
export interface DeadLetteredJob {
	seq: number;
	id: string;
	surface: "sonar" | "agent";
}

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
	push_lag_ms: number | null;
	dead_lettered_at: number | null;
}

/** The columns of a page: the summary the list endpoints answer with, and what they need to make it. */
const PAGE_COLUMNS =
	"j.seq, j.id, j.surface, j.run_status, j.created_at, j.started_at, j.completed_at, j.failed_at, j.model, j.status, j.delivery_status, j.request_preview";

/** When a job's final delivery failed, for the index rows of jobs dead-lettered before it was kept: its end. */
const DEAD_LETTERED_AT = "COALESCE(dead_lettered_at, completed_at, failed_at, created_at)";

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
		if (!columns.has("push_lag_ms")) this.sql.exec("ALTER TABLE jobs ADD COLUMN push_lag_ms INTEGER");
		if (!columns.has("dead_lettered_at")) this.sql.exec("ALTER TABLE jobs ADD COLUMN dead_lettered_at INTEGER");
		this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_by_surface ON jobs (surface, seq)");
		// For the tenant's limits: jobs in flight, jobs accepted lately, and what finished today.
		this.sql.exec(
			"CREATE INDEX IF NOT EXISTS jobs_in_flight ON jobs (status) WHERE status IN ('CREATED','IN_PROGRESS')",
		);
		this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at)");
		// For the operations view: jobs by when they ended, and the dead-lettered ones by when they were.
		this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_by_end ON jobs (COALESCE(completed_at, failed_at))");
		this.sql.exec(
			`CREATE INDEX IF NOT EXISTS jobs_dead_lettered ON jobs (${DEAD_LETTERED_AT}) WHERE delivery_status = 'failed'`,
		);
		// Search by metadata: a filtered page walks (key, value, seq) newest first, then joins the job by seq.
		this.sql.exec(`CREATE TABLE IF NOT EXISTS job_metadata (
			key TEXT NOT NULL,
			value TEXT NOT NULL,
			seq INTEGER NOT NULL,
			PRIMARY KEY (key, value, seq)
		) WITHOUT ROWID`);
		this.sql.exec("CREATE INDEX IF NOT EXISTS job_metadata_by_seq ON job_metadata (seq)");
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

	/** One subscription of this tenant, or null. */
	getHook(id: string): Hook | null {
		return (this.sql.exec<HookRow>("SELECT * FROM hooks WHERE id = ?", id).toArray()[0] as Hook | undefined) ?? null;
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
		const searchable = indexedMetadata(job.metadata);
		// Metadata is fixed at submission: its entries are written with the job's first row only.
		const isNew =
			searchable.length > 0 && this.sql.exec("SELECT 1 FROM jobs WHERE id = ?", job.id).toArray().length === 0;
		const { seq } = this.sql
			.exec<{ seq: number }>(
				`INSERT INTO jobs (id, created_at, started_at, completed_at, failed_at, model, status, delivery_status,
			   request_preview, surface, run_status, cost_usd, push_lag_ms, dead_lettered_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, completed_at = excluded.completed_at,
			   failed_at = excluded.failed_at, status = excluded.status, delivery_status = excluded.delivery_status,
			   run_status = excluded.run_status, cost_usd = excluded.cost_usd, push_lag_ms = excluded.push_lag_ms,
			   dead_lettered_at = excluded.dead_lettered_at
			 RETURNING seq`,
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
				job.push_lag_ms ?? null,
				job.dead_lettered_at ?? null,
			)
			.one();
		if (isNew) this.indexMetadata(seq, searchable);
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

	private indexMetadata(seq: number, pairs: MetadataPair[]): void {
		for (const [key, value] of pairs) {
			this.sql.exec("INSERT OR IGNORE INTO job_metadata (key, value, seq) VALUES (?, ?, ?)", key, value, seq);
		}
	}

	removeJob(id: string): void {
		this.sql.exec("DELETE FROM job_metadata WHERE seq IN (SELECT seq FROM jobs WHERE id = ?)", id);
		this.sql.exec("DELETE FROM jobs WHERE id = ?", id);
	}

	/**
	 * One page of Sonar jobs, newest first, starting after `beforeSeq` (exclusive) when given; with
	 * `filters`, only jobs whose metadata has every one of those key/value pairs.
	 */
	listJobs(limit: number, beforeSeq: number | null, filters: MetadataPair[] = []): RelayJobList {
		const { page, next } = this.page("sonar", limit, beforeSeq, filters);
		return {
			requests: page.map(({ seq: _seq, surface: _surface, run_status: _run, ...row }) => row as RelayJobSummary),
			next_token: next,
		};
	}

	/** One page of Agent-surface runs, newest first (`GET /v1/responses`), filtered like `listJobs`. */
	listRuns(limit: number, beforeSeq: number | null, filters: MetadataPair[] = []): ResponseList {
		const { page, next } = this.page("agent", limit, beforeSeq, filters);
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

	private page(surface: "sonar" | "agent", limit: number, beforeSeq: number | null, filters: MetadataPair[] = []) {
		const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
		const [first, ...rest] = filters;
		const rows = (
			first
				? this.sql.exec<PageRow>(
						// The first pair's index range, newest first; each further pair is one index lookup per row.
						`SELECT ${PAGE_COLUMNS} FROM job_metadata m JOIN jobs j ON j.seq = m.seq
						 WHERE m.key = ? AND m.value = ? AND m.seq < ? AND j.surface = ?
						 ${rest.map(() => "AND EXISTS (SELECT 1 FROM job_metadata o WHERE o.key = ? AND o.value = ? AND o.seq = m.seq)").join(" ")}
						 ORDER BY m.seq DESC LIMIT ?`,
						first[0],
						first[1],
						before,
						surface,
						...rest.flat(),
						limit + 1,
					)
				: this.sql.exec<PageRow>(
						`SELECT ${PAGE_COLUMNS} FROM jobs j WHERE j.surface = ? AND j.seq < ? ORDER BY j.seq DESC LIMIT ?`,
						surface,
						before,
						limit + 1,
					)
		).toArray();
		const page = rows.slice(0, limit);
		const last = page[page.length - 1];
		return { page, next: rows.length > limit && last ? encodeCursor(last.seq) : null };
	}

	/**
	 * The numbers of the operations view over `window` (`GET /v1/stats`): three bounded queries, each
	 * reading at most `MAX_STATS_ROWS` rows (newest first) through an index.
	 */
	stats(window: StatsWindow, now = Date.now()): OpsStats {
		const nowS = Math.floor(now / 1000);
		const since = scanSince(window, nowS);
		const created = this.sql
			.exec<{ created_at: number }>(
				"SELECT created_at FROM jobs WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?",
				since,
				MAX_STATS_ROWS,
			)
			.toArray()
			.map((row) => row.created_at);
		const ended = this.sql
			.exec<EndedRow>(
				`SELECT COALESCE(completed_at, failed_at) AS ended, status, run_status, push_lag_ms FROM jobs
				 WHERE COALESCE(completed_at, failed_at) >= ? ORDER BY COALESCE(completed_at, failed_at) DESC LIMIT ?`,
				since,
				MAX_STATS_ROWS,
			)
			.toArray();
		const deadLettered = this.sql
			.exec<{ n: number }>(
				`SELECT COUNT(*) AS n FROM (SELECT 1 FROM jobs WHERE delivery_status = 'failed' AND ${DEAD_LETTERED_AT} >= ? LIMIT ?)`,
				nowS - WINDOW_SECONDS[window],
				MAX_STATS_ROWS,
			)
			.one().n;
		return summarizeStats({
			window,
			now: nowS,
			created,
			ended,
			deadLettered,
			truncated: created.length >= MAX_STATS_ROWS || ended.length >= MAX_STATS_ROWS || deadLettered >= MAX_STATS_ROWS,
		});
	}

	/**
	 * The next `limit` jobs whose final delivery is dead-lettered, dead-lettered at or after `since`
	 * (Unix seconds), in index order after `afterSeq`; and how many more there are after them.
	 */
	deadLettered(since: number, afterSeq: number, limit: number): { jobs: DeadLetteredJob[]; remaining: number } {
		const where = `delivery_status = 'failed' AND ${DEAD_LETTERED_AT} >= ? AND seq > ?`;
		const jobs = this.sql
			.exec<{ seq: number; id: string; surface: string }>(
				`SELECT seq, id, surface FROM jobs WHERE ${where} ORDER BY seq LIMIT ?`,
				since,
				afterSeq,
				limit,
			)
			.toArray()
			.map((row) => ({ seq: row.seq, id: row.id, surface: row.surface === "agent" ? "agent" : "sonar" }) as const);
		const last = jobs[jobs.length - 1];
		const remaining = last
			? this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE ${where}`, since, last.seq).one().n
			: 0;
		return { jobs, remaining };
	}
}

type PageRow = Pick<
	JobRow,
	| "seq"
	| "id"
	| "surface"
	| "run_status"
	| "created_at"
	| "started_at"
	| "completed_at"
	| "failed_at"
	| "model"
	| "status"
	| "delivery_status"
	| "request_preview"
>;
