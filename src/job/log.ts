/**
 * What a job's step is worth logging, as pure data: a transition of status or
 * phase (info), an upstream call that will be retried (warn), each delivery
 * attempt (info when delivered, warn when it will be retried, error when the
 * event is dead-lettered). Callback URLs appear as their host only; no body,
 * header or key is ever part of a record.
 */

import { describeAttempt, findDelivery, hostOf } from "../delivery/outbox.ts";
import type { LogRecord } from "../log.ts";
import type { Action, Outcome } from "./actions.ts";
import { type JobState, statusOf } from "./state.ts";

/**
 * @example
 * for (const record of stepLogs(before, after, action, outcome)) emit(record);
 */
export function stepLogs(before: JobState, after: JobState, action: Action, outcome: Outcome): LogRecord[] {
	const base = { job: before.spec.id, tenant: before.spec.tenant };
	const records: LogRecord[] = [];
	if (statusOf(before) !== statusOf(after) || before.lifecycle.phase !== after.lifecycle.phase) {
		records.push({
			level: "info",
			event: "job.transition",
			...base,
			from: `${statusOf(before)}/${before.lifecycle.phase}`,
			to: `${statusOf(after)}/${after.lifecycle.phase}`,
			upstream_status: "run" in outcome ? outcome.run.status : null,
			model: before.spec.model,
		});
	}
	if ((outcome.type === "create_failed" || outcome.type === "poll_failed") && outcome.failure.retryable) {
		records.push({
			level: "warn",
			event: "upstream.retry",
			...base,
			call: action.type,
			upstream_status: outcome.failure.status,
			error: outcome.failure.kind,
			detail: outcome.failure.message,
			retry_after_ms: outcome.failure.retryAfterMs,
			// A create whose answer was lost may have started a run upstream: retrying it may start another.
			...(outcome.type === "create_failed" && outcome.failure.ambiguous
				? { possible_duplicate: true, possible_duplicates: after.stats.possibleDuplicates ?? 0 }
				: {}),
		});
	}
	if (outcome.type === "watched") {
		const was = before.lifecycle.phase === "polling" ? before.lifecycle.watch : null;
		const now = after.lifecycle.phase === "polling" ? after.lifecycle.watch : null;
		if (was && !now && after.lifecycle.phase === "polling") {
			// Watching stopped for good: the run is polled from here on.
			const end = outcome.end;
			records.push({
				level: "warn",
				event: "upstream.watch_fallback",
				...base,
				reason: end.ended === "unsupported" ? "unsupported" : "too_many_drops",
				detail: "failure" in end ? end.failure.message : null,
				cursor: end.cursor,
			});
		} else if (outcome.end.ended === "dropped") {
			records.push({
				level: "info",
				event: "upstream.watch_dropped",
				...base,
				detail: outcome.end.failure.message,
				cursor: outcome.end.cursor,
			});
		}
	}
	if (outcome.type === "upstream_cancelled") {
		records.push({ level: "info", event: "upstream.cancelled", ...base });
	}
	if (outcome.type === "cancel_failed") {
		// A 4xx: nothing left to cancel (the run had finished); worth a line, not a warning.
		const refused = !outcome.failure.retryable;
		records.push({
			level: refused ? "info" : "warn",
			event: refused ? "upstream.cancel_refused" : "upstream.cancel_failed",
			...base,
			detail: outcome.failure.message,
		});
	}
	if (outcome.type === "delivery_attempted") {
		const delivery = findDelivery(after.deliveries, outcome.id);
		const status = delivery?.status ?? "pending";
		records.push({
			level: status === "delivered" ? "info" : status === "failed" ? "error" : "warn",
			event: status === "failed" ? "delivery.dead_letter" : "delivery.attempt",
			...base,
			webhook_id: delivery?.webhookId ?? null,
			type: delivery?.type ?? null,
			host: delivery ? hostOf(delivery.url) : null,
			attempt: delivery?.attempts ?? null,
			series: delivery?.series ?? null,
			status_code: outcome.result.statusCode,
			error: outcome.result.error,
			// What went wrong, in words ("connection refused", "timeout after 15 s"); null when delivered.
			detail: outcome.result.ok ? null : describeAttempt(outcome.result),
			duration_ms: outcome.result.durationMs,
			outcome: status,
		});
	}
	return records;
}

/**
 * The error fields of a log record.
 *
 * @example
 * failureFields(new TypeError("x is undefined")) // { error: "TypeError", message: "x is undefined" }
 */
export function failureFields(error: unknown): { error: string; message: string } {
	return {
		error: error instanceof Error ? error.name : "unknown",
		message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
	};
}
