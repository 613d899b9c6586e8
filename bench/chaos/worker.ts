/**
 * The chaos run's Worker: the relay exactly as `src/index.ts` exports it, except that its Job
 * Durable Object can be made to lose its alarm, and to throw from its alarm, as `CHAOS_FAULTS`
 * says. Only the chaos harness runs it: it copies this file into its snapshot of the code and
 * points that snapshot's `main` here. The deployed Worker's `main` is `src/index.ts`, which never
 * reads `CHAOS_FAULTS`, so the faults cannot be turned on in production, by a var or otherwise.
 *
 * `CHAOS_FAULTS` is JSON, e.g. `{"seed": 42, "dropAlarmRate": 0.05, "throwAlarmRate": 0.05, "throws": 3}`:
 * - a seeded `dropAlarmRate` of the jobs lose their alarm once, right after an early alarm run that
 *   left them work due within a minute (`chaos.alarm_dropped`): as the runtime dropping it would;
 *   nothing but the sweeper (or a GET, once the alarm is `SWEEP_OVERDUE_MS` late) brings them back;
 * - a seeded `throwAlarmRate` of the jobs throw from an early alarm run `throws` times in a row
 *   (`chaos.alarm_throw`), inside the alarm guard: it must re-arm them with its back-off.
 */
import { readSettings } from "../../src/config.ts";
import relay, { Job as RelayJob } from "../../src/index.ts";
import { nextWake } from "../../src/job/machine.ts";
import { type JobState, statusOf } from "../../src/job/state.ts";
import { emit } from "../../src/log.ts";

export { SweepRegistry, Tenant, UpstreamGate } from "../../src/index.ts";

interface ChaosFaults {
	seed: number;
	/** Share of jobs that lose their alarm once. */
	dropAlarmRate: number;
	/** Share of jobs whose alarm throws `throws` times in a row. */
	throwAlarmRate: number;
	throws: number;
}

/** A job is dropped or thrown on this early alarm run (1–3), so that it still has work ahead. */
const EARLY_RUNS = 3;
/** Only a job with work due this soon loses its alarm: a lost retirement alarm would be found days later. */
const DROP_WHEN_DUE_WITHIN_MS = 60_000;

let parsed: { source: string; faults: ChaosFaults | null } | null = null;

function faultsOf(env: Env): ChaosFaults | null {
	const source = (env as unknown as { CHAOS_FAULTS?: string }).CHAOS_FAULTS ?? "";
	if (parsed?.source === source) return parsed.faults;
	let faults: ChaosFaults | null = null;
	try {
		const value = source ? (JSON.parse(source) as Partial<ChaosFaults>) : null;
		if (value) {
			faults = {
				seed: Number(value.seed) || 0,
				dropAlarmRate: Number(value.dropAlarmRate) || 0,
				throwAlarmRate: Number(value.throwAlarmRate) || 0,
				throws: Math.max(1, Number(value.throws) || 3),
			};
		}
	} catch {
		faults = null;
	}
	parsed = { source, faults };
	return faults;
}

/** A seeded draw in [0, 1) per job and purpose (FNV-1a): the same plan across restarts. */
function draw(seed: number, jobId: string, purpose: string): number {
	let hash = 0x811c9dc5;
	for (const char of `${seed}:${purpose}:${jobId}`) {
		hash ^= char.charCodeAt(0);
		hash = Math.imul(hash, 0x01000193);
	}
	return (hash >>> 0) / 2 ** 32;
}

/** Which early alarm run (1–3) a fault hits. */
const runOf = (seed: number, jobId: string, purpose: string) =>
	1 + Math.floor(draw(seed, jobId, `${purpose}:run`) * EARLY_RUNS);

export class Job extends RelayJob {
	protected override async runAlarm(): Promise<void> {
		const faults = faultsOf(this.env);
		const shell = this as unknown as { state: JobState | null };
		const before = shell.state;
		if (faults && before) {
			const { id, tenant } = before.spec;
			const failures = before.alarmFailures ?? 0;
			if (
				draw(faults.seed, id, "throw") < faults.throwAlarmRate &&
				before.stats.alarmRuns + 1 === runOf(faults.seed, id, "throw") &&
				failures < faults.throws
			) {
				emit({ level: "warn", event: "chaos.alarm_throw", job: id, tenant, failures });
				throw new Error("chaos: an injected failure of the alarm run");
			}
		}
		await super.runAlarm();
		const after = shell.state;
		if (!faults || !after) return;
		const { id, tenant } = after.spec;
		if (draw(faults.seed, id, "drop") >= faults.dropAlarmRate) return;
		if (after.stats.alarmRuns !== runOf(faults.seed, id, "drop")) return;
		const now = Date.now();
		const wake = nextWake(after, now, readSettings(this.env));
		if (wake === null || wake - now > DROP_WHEN_DUE_WITHIN_MS) return;
		// Storage only, as the runtime losing it would: the object still believes it is armed.
		await this.ctx.storage.deleteAlarm();
		emit({
			level: "warn",
			event: "chaos.alarm_dropped",
			job: id,
			tenant,
			status: statusOf(after),
			phase: after.lifecycle.phase,
			alarm_runs: after.stats.alarmRuns,
		});
	}
}

export default relay;
