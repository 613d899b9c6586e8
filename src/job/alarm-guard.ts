/**
 * The Job DO's alarm guard: a run that threw is logged (the error's class and the start of its
 * message, never a stack; a warning when the platform marked it transient, else an error, a bug),
 * counted, and armed again after a growing delay.
 */
import { emit } from "../log.ts";
import type { JobHost } from "./host.ts";
import { failureFields } from "./log.ts";
import { alarmRetryDelay } from "./schedule.ts";

/** A failure the platform marks as transient (storage, an overloaded or reset object), not a bug of ours. */
export function isPlatformError(error: unknown): boolean {
	if (typeof error !== "object" || error === null) return false;
	const flags = error as { retryable?: unknown; overloaded?: unknown };
	return flags.retryable === true || flags.overloaded === true;
}

/**
 * After an alarm run threw: logged, counted, and armed again after a growing delay
 * (`alarmRetryDelay`), so the runtime never sees a failed alarm, which it retries a few times and
 * then drops. Only a failure to set the alarm itself escapes.
 *
 * @example
 * try { await runAlarm(); } catch (error) { await recordAlarmFailure(host, error); }
 */
export async function recordAlarmFailure(host: JobHost, error: unknown): Promise<void> {
	const { store } = host;
	const state = store.state;
	if (!state) {
		// Nothing is stored (or the job was being forgotten): there is nothing left to drive.
		emit({ ...failureFields(error), level: "error", event: "job.alarm_failed", job: host.objectId, tenant: "" });
		return;
	}
	const failures = (state.alarmFailures ?? 0) + 1;
	const delay = alarmRetryDelay(failures, Math.random());
	store.state = { ...state, alarmFailures: failures };
	emit({
		...failureFields(error),
		// A platform failure (storage, an overloaded object) is expected now and then; anything else is a bug.
		level: isPlatformError(error) ? "warn" : "error",
		event: "job.alarm_failed",
		job: state.spec.id,
		tenant: state.spec.tenant,
		failures,
		retry_in_ms: delay,
	});
	// Should this throw too (storage itself failing), the runtime's own retries, then the sweeper, take over.
	await store.setAlarm(Date.now() + delay);
	try {
		await host.save();
	} catch {
		// Best effort: the count stays in memory, and the run's progress is redone if it is lost.
	}
}
