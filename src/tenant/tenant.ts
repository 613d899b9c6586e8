/**
 * The Tenant Durable Object: one per tenant, holding the index the list
 * endpoint pages through (SQLite). Jobs report their summary here when they
 * are accepted and whenever their status or delivery status changes.
 *
 * Pages are newest first by acceptance order (`seq`), so jobs accepted within
 * the same second still have a stable order; `next_token` wraps the last seq.
 */
import { DurableObject } from "cloudflare:workers";
import type { RelayJobList, RelayJobSummary } from "../schemas/relay.ts";

const STATUSES = "'CREATED','IN_PROGRESS','COMPLETED','FAILED'";

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
			delivery_status TEXT CHECK (delivery_status IN ('pending','delivered','failed'))
		)`);
	}

	/** Adds the job on first sight (taking the next seq), updates it afterwards. */
	upsertJob(job: RelayJobSummary): void {
		this.sql.exec(
			`INSERT INTO jobs (id, created_at, started_at, completed_at, failed_at, model, status, delivery_status)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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
		);
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

/** `next_token` is opaque to callers: a versioned, base64url-wrapped position. */
export function encodeCursor(seq: number): string {
	return btoa(JSON.stringify({ v: 1, seq }))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
}

/** The position in a `next_token`, or null when it is not one of ours. */
export function decodeCursor(token: string): number | null {
	try {
		const json = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
		const parsed = JSON.parse(json) as { v?: unknown; seq?: unknown };
		return parsed.v === 1 && Number.isSafeInteger(parsed.seq) && (parsed.seq as number) > 0
			? (parsed.seq as number)
			: null;
	} catch {
		return null;
	}
}
