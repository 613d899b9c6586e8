/**
 * Post-mortem of the persisted `wrangler dev` state directory, read from disk
 * once the relay is stopped, independently of the relay's own answers:
 *
 * - KV: every `result:<jobId>` entry (`v3/kv/miniflare-KVNamespaceObject/*.sqlite`,
 *   table `_mf_entries`) and its blob (`v3/kv/<namespace>/blobs/<blob_id>`);
 * - each Job Durable Object's SQLite file (`v3/do/<worker>-Job/<id>.sqlite`): the
 *   stored state (`_cf_KV` key `state`, V8-serialized) and its alarm (`_cf_METADATA`
 *   key 1, in ns), and workerd's alarm scheduler table (`metadata.sqlite`,
 *   `_cf_ALARM`).
 *
 * That is how a job stored with no alarm shows, whatever the relay says about it.
 * These are miniflare/workerd storage internals: when a layout is not found, the
 * figure is null and a note says so; nothing fails because of it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { deserialize } from "node:v8";

export interface KvResult {
	status: string | null;
	deliveryStatus: string | null;
	hasResponse: boolean;
	tenant: string | null;
}

export interface StoredJob {
	/** The Job DO's SQLite file exists and holds a `state`. */
	stored: boolean;
	phase: string | null;
	status: string | null;
	deliveries: { webhookId: string; status: string; attempts: number; series: number; nextAtMs: number }[];
	/** The alarm in the object's own storage (ms), null when none is set. */
	alarmAtMs: number | null;
	/** The alarm in workerd's scheduler table (ms), null when none; undefined when the table was not found. */
	schedulerAlarmAtMs: number | null | undefined;
	/** When the state could not be read. */
	error: string | null;
}

export interface StateInspection {
	/** null: the KV store was not found in the state directory. */
	kv: Map<string, KvResult> | null;
	jobs: Map<string, StoredJob>;
	notes: string[];
}

function open(path: string): DatabaseSync {
	try {
		return new DatabaseSync(path, { readOnly: true });
	} catch {
		// A WAL without its -shm cannot be opened read-only; the run's state is a temporary copy anyway.
		return new DatabaseSync(path);
	}
}

const nsToMs = (value: unknown) => (typeof value === "bigint" ? Number(value / 1_000_000n) : null);

function readKv(v3: string, notes: string[]): Map<string, KvResult> | null {
	const storeDir = join(v3, "kv", "miniflare-KVNamespaceObject");
	if (!existsSync(storeDir)) {
		notes.push(`no KV store at ${storeDir}`);
		return null;
	}
	const blobDirs = readdirSync(join(v3, "kv"))
		.filter((name) => name !== "miniflare-KVNamespaceObject")
		.map((name) => join(v3, "kv", name, "blobs"));
	const results = new Map<string, KvResult>();
	for (const file of readdirSync(storeDir)) {
		if (!file.endsWith(".sqlite") || file === "metadata.sqlite") continue;
		const db = open(join(storeDir, file));
		try {
			const hasTable = db.prepare("select 1 from sqlite_master where name = '_mf_entries'").get();
			if (!hasTable) continue;
			const rows = db.prepare("select key, blob_id, metadata from _mf_entries where key like 'result:%'").all() as {
				key: string;
				blob_id: string;
				metadata: string | null;
			}[];
			for (const row of rows) {
				const blob = blobDirs.map((dir) => join(dir, row.blob_id)).find((path) => existsSync(path));
				let value: { status?: string; delivery_status?: string | null; response?: unknown } = {};
				if (blob) {
					try {
						value = JSON.parse(readFileSync(blob, "utf8"));
					} catch {
						value = {};
					}
				}
				let tenant: string | null = null;
				try {
					tenant = (JSON.parse(row.metadata ?? "null") as { tenant?: string } | null)?.tenant ?? null;
				} catch {
					tenant = null;
				}
				results.set(row.key.slice("result:".length), {
					status: value.status ?? null,
					deliveryStatus: value.delivery_status ?? null,
					hasResponse: value.response !== null && value.response !== undefined,
					tenant,
				});
			}
		} finally {
			db.close();
		}
	}
	return results;
}

function readSchedulerAlarms(jobDir: string, notes: string[]): Map<string, number | null> | null {
	const path = join(jobDir, "metadata.sqlite");
	if (!existsSync(path)) {
		notes.push("no alarm scheduler table (metadata.sqlite) for the Job class");
		return null;
	}
	const db = open(path);
	try {
		if (!db.prepare("select 1 from sqlite_master where name = '_cf_ALARM'").get()) {
			notes.push("metadata.sqlite has no _cf_ALARM table");
			return null;
		}
		const statement = db.prepare("select actor_id, scheduled_time from _cf_ALARM");
		statement.setReadBigInts(true);
		const alarms = new Map<string, number | null>();
		for (const row of statement.all() as { actor_id: string; scheduled_time: bigint | null }[]) {
			alarms.set(row.actor_id, nsToMs(row.scheduled_time));
		}
		return alarms;
	} finally {
		db.close();
	}
}

function readJob(path: string, scheduler: Map<string, number | null> | null, id: string): StoredJob {
	const job: StoredJob = {
		stored: false,
		phase: null,
		status: null,
		deliveries: [],
		alarmAtMs: null,
		schedulerAlarmAtMs: scheduler ? (scheduler.get(id) ?? null) : undefined,
		error: null,
	};
	if (!existsSync(path)) return job;
	const db = open(path);
	try {
		const alarm = db.prepare("select value from _cf_METADATA where key = 1");
		alarm.setReadBigInts(true);
		job.alarmAtMs = nsToMs((alarm.get() as { value?: unknown } | undefined)?.value);
		const row = db.prepare("select value from _cf_KV where key = 'state'").get() as { value?: Uint8Array } | undefined;
		if (row?.value) {
			const state = deserialize(Buffer.from(row.value)) as {
				lifecycle?: { phase?: string; started?: boolean; ended?: string };
				deliveries?: { webhookId: string; status: string; attempts: number; series: number; nextAt: number }[];
			};
			job.stored = true;
			job.phase = state.lifecycle?.phase ?? null;
			// The status is the phase's (src/job/state.ts `statusOf`); this reader stays free of the Worker's types.
			const lifecycle = state.lifecycle;
			job.status = !lifecycle
				? null
				: lifecycle.phase === "settled"
					? (lifecycle.ended ?? null)
					: lifecycle.phase === "polling" && lifecycle.started
						? "IN_PROGRESS"
						: "CREATED";
			job.deliveries = (state.deliveries ?? []).map((d) => ({
				webhookId: d.webhookId,
				status: d.status,
				attempts: d.attempts,
				series: d.series,
				nextAtMs: d.nextAt,
			}));
		}
	} catch (error) {
		job.error = String(error);
	} finally {
		db.close();
	}
	return job;
}

/**
 * Reads the KV results and the given jobs' stored state and alarms. Call it with the relay stopped.
 *
 * @example
 * const inspection = inspectState(join(dir, "state"), acceptedJobIds);
 * inspection.jobs.get(id)?.alarmAtMs // null: stored with no alarm
 */
export function inspectState(persistTo: string, jobIds: readonly string[]): StateInspection {
	const notes: string[] = [];
	const v3 = join(persistTo, "v3");
	const kv = readKv(v3, notes);
	const jobs = new Map<string, StoredJob>();
	const doRoot = join(v3, "do");
	const jobDirName = existsSync(doRoot) ? readdirSync(doRoot).find((name) => name.endsWith("-Job")) : undefined;
	if (!jobDirName) {
		notes.push(`no Job Durable Object storage under ${doRoot}`);
		return { kv, jobs, notes };
	}
	const jobDir = join(doRoot, jobDirName);
	const scheduler = readSchedulerAlarms(jobDir, notes);
	for (const id of jobIds) jobs.set(id, readJob(join(jobDir, `${id}.sqlite`), scheduler, id));
	return { kv, jobs, notes };
}
