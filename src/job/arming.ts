/**
 * Keeping a job's one alarm set: the sweeper's check (`ensureArmed`) and a read's cheap one look at
 * the stored alarm and set it again when the runtime lost it. What to do is the machine's
 * (`commands.ts` `checkAlarm`); this carries it out under the job's lock and logs it.
 */
import { emit } from "../log.ts";
import { checkAlarm } from "./commands.ts";
import type { ArmCheck, JobHost } from "./host.ts";
import { nextWake } from "./machine.ts";
import { statusOf } from "./state.ts";

/**
 * Looks at the stored alarm and sets it again when it is missing or overdue by more than `overdueMs`.
 *
 * @example
 * await lookAtAlarm(host, "sweeper", settings.sweepOverdueMs) // { job, action: "rearmed", reason: "missing", alarm_at }
 */
export async function lookAtAlarm(host: JobHost, by: "sweeper" | "get", overdueMs: number): Promise<ArmCheck> {
	const { store } = host;
	if (!store.state) return { job: host.objectId, action: "gone", reason: null, alarm_at: null };
	if (host.busy || store.unstored) {
		return { job: store.state.spec.id, action: "running", reason: null, alarm_at: store.armedAt };
	}
	let check: ArmCheck = { job: store.state.spec.id, action: "gone", reason: null, alarm_at: null };
	await host.exclusive(async () => {
		const state = store.state;
		if (!state) return;
		const now = Date.now();
		const alarm = await store.storedAlarm();
		const found = checkAlarm(state, alarm, now, overdueMs, host.settings);
		check = { job: state.spec.id, action: found.action, reason: found.reason, alarm_at: found.at };
		if (found.action === "armed") store.armedAt = alarm;
		if (found.action !== "rearmed") return;
		await store.setAlarm(found.at);
		emit({
			level: "warn",
			event: "job.rearmed",
			job: state.spec.id,
			tenant: state.spec.tenant,
			by,
			reason: found.reason,
			overdue_ms: alarm === null ? null : now - alarm,
			status: statusOf(state),
			phase: state.lifecycle.phase,
		});
	});
	return check;
}

/**
 * A read's check: only when memory says the alarm may be gone (none armed, or long past) does it
 * look at storage, so a healthy job's GET costs nothing more. It never fails the read.
 */
export async function rearmIfLost(host: JobHost): Promise<void> {
	const { store, settings } = host;
	const state = store.state;
	if (!state || host.busy || store.unstored) return;
	const now = Date.now();
	const overdueMs = settings.sweepOverdueMs;
	if (store.armedAt !== null && store.armedAt >= now - overdueMs) return;
	if (nextWake(state, now, settings) === null) return;
	try {
		await host.checkAlarm("get", overdueMs);
	} catch (error) {
		// The sweeper will look again.
		host.shell.note("warn", "job.rearm_failed", state, error);
	}
}
