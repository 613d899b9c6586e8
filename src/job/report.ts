/**
 * A job's delivery report (`GET …/deliveries`): each event's state, the attempt log, and the job's
 * counters, as the API shows them. Pure.
 */
import { type AttemptLogEntry, describeAttempt, hostOf } from "../delivery/outbox.ts";
import type { DeliveryReport } from "../schemas/relay.ts";
import type { JobState } from "./state.ts";
import { deliveryStatus } from "./views.ts";

/**
 * The report's fields, in the API's names (the `DeliveryReport` the Job DO answers with).
 *
 * @example
 * deliveryReport(state).stats.delivery_attempts // 3
 */
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
function withErrorMessage(entry: AttemptLogEntry): DeliveryReport["attempts"][number] {
	if (entry.error_message !== undefined) return { ...entry, error_message: entry.error_message };
	const code = entry.status_code;
	const delivered = entry.error === null && code !== null && code >= 200 && code < 300;
	return {
		...entry,
		error_message: delivered ? null : describeAttempt({ error: entry.error, statusCode: code, message: null }),
	};
}
