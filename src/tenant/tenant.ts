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
 */
import { DurableObject } from "cloudflare:workers";
import type { EventType, Hook, HookEvent, RelayJobList, RelayJobSummary } from "../schemas/relay.ts";
import { encodeCursor } from "./cursor.ts";

const STATUSES = "'CREATED','IN_PROGRESS','COMPLETED','FAILED'";

const HOOK_EVENTS = "'async_chat_completion.completed','async_chat_completion.failed','async_chat_completion.*'";

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
	created_at: number;
	started_at: number | null;
	completed_at: number | null;
	failed_at: number | null;
	model: string;
	status: string;
	delivery_status: string | null;
	request_preview: string | null;
}

export class Tenant extends DurableObject<Env> {
	private readonly sql: SqlStorage;

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
		// Indexes created before request_preview existed (local development state) gain the column.
		const columns = this.sql.exec<{ name: string }>("PRAGMA table_info(jobs)").toArray();
		if (!columns.some((c) => c.name === "request_preview")) {
			this.sql.exec("ALTER TABLE jobs ADD COLUMN request_preview TEXT");
		}
		this.sql.exec(`CREATE TABLE IF NOT EXISTS hooks (
			id TEXT PRIMARY KEY,
			target_url TEXT NOT NULL,
			event TEXT NOT NULL CHECK (event IN (${HOOK_EVENTS})),
			created_at INTEGER NOT NULL
		)`);
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

	/** The subscriptions an event goes to: its own type, or `*`. */
	hooksFor(event: EventType): Hook[] {
		return this.sql
			.exec<HookRow>("SELECT * FROM hooks WHERE event IN (?, 'async_chat_completion.*') ORDER BY created_at, id", event)
			.toArray() as Hook[];
	}

	/**
	 * Adds the job on first sight (taking the next seq), updates it afterwards.
	 * With `fanOut`, also answers the subscriptions that event goes to.
	 */
	upsertJob(job: RelayJobSummary, fanOut: EventType | null = null): Hook[] {
		this.sql.exec(
			`INSERT INTO jobs (id, created_at, started_at, completed_at, failed_at, model, status, delivery_status, request_preview)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, completed_at = excluded.completed_at,
			   failed_at = excluded.failed_at, status = excluded.status, delivery_status = excluded.delivery_status`,
			job.id,
			job.created_at,
			job.started_at ?? null,
			job.completed_at ?? null,
			job.failed_at ?? null,
			job.model,
			job.status,
			job.delivery_status ?? null,
			job.request_preview ?? null,
		);
		return fanOut ? this.hooksFor(fanOut) : [];
	}

	removeJob(id: string): void {
		this.sql.exec("DELETE FROM jobs WHERE id = ?", id);
	}

	/** One page, newest first, starting after `beforeSeq` (exclusive) when given. */
	listJobs(limit: number, beforeSeq: number | null): RelayJobList {
		const rows = this.sql
			.exec<JobRow>(
				"SELECT * FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?",
				beforeSeq ?? Number.MAX_SAFE_INTEGER,
				limit + 1,
			)
			.toArray();
		const page = rows.slice(0, limit);
		const last = page[page.length - 1];
		return {
			requests: page.map(({ seq: _seq, ...row }) => row as RelayJobSummary),
			next_token: rows.length > limit && last ? encodeCursor(last.seq) : null,
		};
	}
}
