/**
 * Structured logs: one JSON object per line, which Workers Logs and
 * `wrangler tail --format json` index field by field. Callers pass plain
 * fields; nothing here adds bodies, keys or full URLs, and `emit` is the only
 * place the relay writes a log line for a job.
 */

export type LogLevel = "info" | "warn" | "error";

export interface LogRecord {
	level: LogLevel;
	/** What happened: `job.transition`, `upstream.retry`, `delivery.attempt`, `delivery.dead_letter`. */
	event: string;
	job: string;
	tenant: string;
	[field: string]: string | number | boolean | null;
}

/** A record about the relay's own upkeep rather than one job: the sweeper's runs. */
export interface SystemLogRecord {
	level: LogLevel;
	/** What happened: `sweeper.pass`, `sweeper.tenant_failed`. */
	event: string;
	[field: string]: string | number | boolean | null;
}

/** Writes one record as one JSON line, at its level. */
export function emit(record: LogRecord | SystemLogRecord): void {
	const line = JSON.stringify(record);
	if (record.level === "error") console.error(line);
	else if (record.level === "warn") console.warn(line);
	else console.log(line);
}
