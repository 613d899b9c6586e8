/**
 * The chaos run's figures, computed from what the caller, the receiver, the relay
 * (GET and `/deliveries`), the emulator and the state directory on disk each saw,
 * and their rendering: a console table, `chaos-latest.json` and `chaos-latest.md`.
 */
import type { DeliveriesView, JobView, SubmitResult } from "./client.ts";
import type { EventRecord } from "./receiver.ts";
import type { CrashRecord } from "./relay.ts";
import type { StateInspection } from "./state.ts";

export interface CrashMoment extends CrashRecord {
	/** Jobs accepted when the SIGKILL came. */
	acceptedBefore: number;
	/** Accepted jobs whose final event had not been pushed (2xx) yet. */
	inFlight: number;
	/** Jobs not yet accepted (submissions still to come or being retried). */
	notYetAccepted: number;
}

/** The relay's own log (wrangler dev's output), counted. */
export interface RelayLogSummary {
	lines: number;
	/** Structured records by level and event. */
	records: Record<string, number>;
	/** Non-transition records by event and cause (call, status, error). */
	causes: Record<string, number>;
	/** Lines that are not records but mention an error. */
	other_errors: number;
	other_error_samples: string[];
}

/** One upstream run the emulator made for a relay job's question. */
export interface UpstreamRunView {
	api: string;
	/** Its create's answer was lost by the emulator's `lostAnswerRate` fault: the relay never learnt its id. */
	answerLost: boolean;
	gets: number;
	/** Event-stream connections to the run (the emulator's count). @default 0 */
	streams?: number;
	cancels: number;
	/** ms since the run started. */
	createdAtMs: number;
	status: string;
}

/**
 * What the relay's log says about the alarm faults, job by job, in log order: each alarm the chaos
 * Worker dropped (`chaos.alarm_dropped`), each re-arm and by whom (`job.rearmed`: the sweeper or a
 * GET), each injected throw (`chaos.alarm_throw`) and each one the alarm guard caught (`job.alarm_failed`).
 */
export interface AlarmFaultLog {
	dropped: Map<string, number[]>;
	rearmed: Map<string, { line: number; by: string }[]>;
	thrown: Map<string, number>;
	caught: Map<string, number>;
}

/**
 * Reads the alarm-fault records from the relay's log lines (wrangler dev's output: a timestamp,
 * then the record's JSON).
 *
 * @example
 * readAlarmFaults(['2026-12-01T00:00:00Z {"event":"chaos.alarm_dropped","job":"j1"}']).dropped // Map { "j1" => [0] }
 */
export function readAlarmFaults(lines: readonly string[]): AlarmFaultLog {
	const log: AlarmFaultLog = { dropped: new Map(), rearmed: new Map(), thrown: new Map(), caught: new Map() };
	lines.forEach((line, index) => {
		if (!line.includes('"chaos.alarm_') && !line.includes('"job.rearmed"') && !line.includes('"job.alarm_failed"')) {
			return;
		}
		const start = line.indexOf("{");
		let record: { event?: unknown; job?: unknown; by?: unknown };
		try {
			record = JSON.parse(line.slice(start)) as typeof record;
		} catch {
			return;
		}
		if (typeof record.job !== "string") return;
		const job = record.job;
		if (record.event === "chaos.alarm_dropped") log.dropped.set(job, [...(log.dropped.get(job) ?? []), index]);
		else if (record.event === "job.rearmed") {
			log.rearmed.set(job, [...(log.rearmed.get(job) ?? []), { line: index, by: String(record.by) }]);
		} else if (record.event === "chaos.alarm_throw") log.thrown.set(job, (log.thrown.get(job) ?? 0) + 1);
		else if (record.event === "job.alarm_failed") log.caught.set(job, (log.caught.get(job) ?? 0) + 1);
	});
	return log;
}

/** How each dropped alarm came back: by whom the first re-arm after the job's last drop was made. */
export function alarmRecovery(log: AlarmFaultLog, acceptedIds: readonly string[], settled: (id: string) => boolean) {
	const byWhom: Record<string, number> = {};
	const notRearmed: string[] = [];
	const notSettled: string[] = [];
	let drops = 0;
	const droppedJobs = acceptedIds.filter((id) => log.dropped.has(id));
	for (const id of droppedJobs) {
		const lines = log.dropped.get(id) ?? [];
		drops += lines.length;
		const lastDrop = Math.max(...lines);
		const first = (log.rearmed.get(id) ?? []).find((r) => r.line > lastDrop);
		if (!first) notRearmed.push(id);
		else byWhom[first.by] = (byWhom[first.by] ?? 0) + 1;
		if (!settled(id)) notSettled.push(id);
	}
	const thrownJobs = acceptedIds.filter((id) => log.thrown.has(id));
	return {
		/** Jobs whose alarm the chaos Worker dropped, and the drops. */
		dropped_jobs: droppedJobs.length,
		drops,
		/** Dropped jobs re-armed after their last drop by the sweeper, and settled. */
		recovered_by_sweeper: droppedJobs.filter((id) => {
			const last = Math.max(...(log.dropped.get(id) ?? []));
			return (log.rearmed.get(id) ?? []).find((r) => r.line > last)?.by === "sweeper" && settled(id);
		}).length,
		rearmed_by: byWhom,
		not_rearmed: notRearmed,
		dropped_not_settled: notSettled,
		/** Jobs whose alarm run threw (injected), the throws, and those the guard caught. */
		thrown_jobs: thrownJobs.length,
		throws: thrownJobs.reduce((sum, id) => sum + (log.thrown.get(id) ?? 0), 0),
		caught_by_guard: thrownJobs.reduce((sum, id) => sum + (log.caught.get(id) ?? 0), 0),
		thrown_not_settled: thrownJobs.filter((id) => !settled(id)),
		/** Re-arms of jobs whose alarm was not dropped by the harness (lost some other way). */
		other_rearms: [...log.rearmed.keys()].filter((id) => !log.dropped.has(id)).length,
	};
}

export interface RunInput {
	seed: number;
	quick: boolean;
	startedAt: string;
	wallTimeS: number;
	drained: boolean;
	/** The relay's `WATCH_MODE`: with "stream", every job should follow its run's event stream. */
	watchMode: string;
	settings: Record<string, unknown>;
	submissions: SubmitResult[];
	plannedFailures: ReadonlySet<number>;
	crashes: CrashMoment[];
	skippedCrashes: string[];
	receiverEvents: ReadonlyMap<string, EventRecord>;
	/** Per accepted job id: the final read-back. */
	views: ReadonlyMap<string, JobView>;
	deliveries: ReadonlyMap<string, DeliveriesView>;
	inspection: StateInspection | null;
	emulator: {
		creates: number;
		createsAccepted: number;
		idempotentReplays: number;
		gets: number;
		/** Event-stream requests received (stream GETs). */
		streams: number;
		cancels: number;
		responses: Record<string, number>;
		/**
		 * Every upstream run made for each accepted job, joined by the job's question (unique per
		 * job): the Agent API has no idempotency key to join on. Oldest first.
		 */
		runsByJob: ReadonlyMap<string, readonly UpstreamRunView[]>;
	};
	sweeper: { cron: string; fired: number; outcomes: Record<string, number> } | null;
	/** The alarm faults, from the relay's log; null when the chaos Worker did not run. */
	alarmFaults: AlarmFaultLog | null;
	relayLog: RelayLogSummary;
	/** When the drain ended (ms since the epoch). */
	endedAtMs: number;
	/** Load on this machine: the run shares its cores with whatever else runs. */
	machine: { cpus: number; loadavg_start: number[]; loadavg_end: number[]; harness_cpu_s: number };
	/** ms since the run started, absolute ms of each SIGKILL (for duplicate explanations). */
	runStartedAtMs: number;
}

const FINAL = new Set(["async_chat_completion.completed", "async_chat_completion.failed"]);

/** A request written before a SIGKILL can reach the receiver (and be answered) a little after it. */
const IN_FLIGHT_SLACK_MS = 1000;
/**
 * An upstream run created this long before a SIGKILL (or up to IN_FLIGHT_SLACK_MS after it) may
 * have been answered to a relay that died before it saved the run's id: the relay's UPSTREAM_TIMEOUT_MS
 * in the chaos run (2 s), plus the time a loaded machine takes to save.
 */
const CRASH_CREATE_WINDOW_MS = 10_000;

/** Why an upstream run beyond the one a relay job follows exists. */
export type ExtraRunCause = "lost_answer" | "crash" | "unexplained";

export interface ExtraRuns {
	/** Upstream runs for the job's question. */
	runs: number;
	/** The extra runs by cause; `lost_answer` is the emulator's fault, the rest is "other". */
	byCause: Record<ExtraRunCause, number>;
	extra: number;
}

/**
 * A relay job's upstream runs beyond the one it needs, by cause. The relay follows one run whose
 * create it got the answer of (the one it polled or streamed most); every run whose create answer the
 * emulator lost (`answerLost`) is extra, and so is every other answered run. An answered extra
 * created shortly before a SIGKILL is put down to the crash (the answer reached a relay that
 * died before saving the run's id); any other is unexplained.
 *
 * @example
 * extraRunsOf([{ answerLost: true, gets: 0, createdAtMs: 100, … }, { answerLost: false, gets: 3, createdAtMs: 2500, … }], []);
 * // { runs: 2, extra: 1, byCause: { lost_answer: 1, crash: 0, unexplained: 0 } }
 */
export function extraRunsOf(runs: readonly UpstreamRunView[], killedAtMs: readonly number[]): ExtraRuns {
	const byCause: Record<ExtraRunCause, number> = { lost_answer: 0, crash: 0, unexplained: 0 };
	const answered = runs.filter((run) => !run.answerLost);
	byCause.lost_answer = runs.length - answered.length;
	const reads = (run: UpstreamRunView) => run.gets + (run.streams ?? 0);
	const followed = answered.reduce<UpstreamRunView | undefined>(
		(best, run) => (best === undefined || reads(run) > reads(best) ? run : best),
		undefined,
	);
	for (const run of answered) {
		if (run === followed) continue;
		const nearCrash = killedAtMs.some(
			(k) => run.createdAtMs <= k + IN_FLIGHT_SLACK_MS && k - run.createdAtMs <= CRASH_CREATE_WINDOW_MS,
		);
		byCause[nearCrash ? "crash" : "unexplained"]++;
	}
	return { runs: runs.length, byCause, extra: byCause.lost_answer + byCause.crash + byCause.unexplained };
}

function quantile(values: number[], q: number): number | null {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

function add(counts: Record<string, number>, key: string, n = 1) {
	counts[key] = (counts[key] ?? 0) + n;
}

export function computeReport(input: RunInput) {
	const accepted = input.submissions.filter((s) => s.jobId !== null);
	const acceptedIds = accepted.map((s) => s.jobId as string);
	const acceptedSet = new Set(acceptedIds);
	const indexOf = new Map(accepted.map((s) => [s.jobId as string, s.index]));
	const killTimes = input.crashes.map((c) => input.runStartedAtMs + c.killedAtMs);

	// ── The receiver's view ──
	const receiverByOutcome: Record<string, number> = {};
	const plans: Record<string, number> = {};
	let arrivals = 0;
	let unverified = 0;
	const pushedIds = new Set<string>();
	const finalPushedJobs = new Map<string, number>(); // job id → first 2xx (absolute ms)
	const orphanPushes: string[] = [];
	const duplicates: {
		webhook_id: string;
		job_id: string | null;
		receiver_2xx: number;
		relay_logged_2xx: number | null;
		later_by_ms: number[];
		explanation: string;
		receiver: string[];
		relay_log: string[];
	}[] = [];
	for (const record of input.receiverEvents.values()) {
		add(plans, record.plan);
		arrivals += record.arrivals.length;
		for (const arrival of record.arrivals) {
			add(receiverByOutcome, arrival.outcome);
			if (!arrival.verified) unverified++;
		}
		const ok = record.arrivals.filter((a) => a.outcome === "2xx");
		if (ok.length === 0) continue;
		pushedIds.add(record.webhookId);
		if (record.jobId && !acceptedSet.has(record.jobId)) orphanPushes.push(record.webhookId);
		if (record.jobId && record.type && FINAL.has(record.type)) {
			const first = ok[0]?.atMs ?? 0;
			const known = finalPushedJobs.get(record.jobId);
			if (known === undefined || first < known) finalPushedJobs.set(record.jobId, first);
		}
		if (ok.length > 1) {
			const first = ok[0]?.atMs ?? 0;
			const last = ok[ok.length - 1]?.atMs ?? 0;
			const log = record.jobId ? input.deliveries.get(record.jobId) : undefined;
			const logged = log
				? log.attempts.filter(
						(a) =>
							a.webhook_id === record.webhookId &&
							a.status_code !== null &&
							a.status_code >= 200 &&
							a.status_code < 300,
					).length
				: null;
			const crashBetween = killTimes.some((k) => k >= first && k <= last);
			// The attempt was on its way when wrangler dev was killed: the receiver's 2xx went to a dead relay.
			const inFlightKill = killTimes.find((k) => k < first && first - k <= IN_FLIGHT_SLACK_MS && k <= last);
			// An attempt the relay gave up on (timeout, dropped connection) while the receiver answered it 2xx.
			const abandoned = (log?.attempts ?? []).find((a) => {
				if (a.webhook_id !== record.webhookId || a.error === null) return false;
				const end = Date.parse(a.at);
				return ok.some((o) => o.atMs >= end - a.duration_ms - 1000 && o.atMs <= end + 1000);
			});
			const explanation = crashBetween
				? `crash: a SIGKILL came between the receiver's 2xx and the Job DO saving it (the DO logged ${logged ?? "?"} 2xx of ${ok.length}); the restarted alarm sent it again`
				: inFlightKill !== undefined
					? `crash: the attempt was in flight when wrangler dev was SIGKILLed; the receiver answered 2xx ${first - inFlightKill} ms after the kill, to a dead relay (the DO logged ${logged ?? "?"} 2xx of ${ok.length}); the restarted alarm sent it again`
					: abandoned
						? `timeout: the relay gave up on an attempt (${abandoned.error} after ${abandoned.duration_ms} ms) that the receiver did answer 2xx, and retried it`
						: "UNEXPLAINED: no crash between the 2xx answers, and no abandoned attempt overlapping one";
			duplicates.push({
				webhook_id: record.webhookId,
				job_id: record.jobId,
				receiver_2xx: ok.length,
				relay_logged_2xx: logged,
				later_by_ms: ok.slice(1).map((a) => a.atMs - first),
				explanation,
				receiver: record.arrivals.map((a) => `${new Date(a.atMs).toISOString()} ${a.outcome}`),
				relay_log: (log?.attempts ?? [])
					.filter((a) => a.webhook_id === record.webhookId)
					.map((a) => `${a.at} ${a.status_code ?? a.error} ${a.duration_ms} ms`),
			});
		}
	}

	// ── The relay's view, per accepted job ──
	let completed = 0;
	let failed = 0;
	let failedUnplanned = 0;
	let resultsInKvByGet = 0;
	let deadLettered = 0;
	const lost: string[] = [];
	const stuck: string[] = [];
	const vanished: string[] = [];
	const failureReasons: Record<string, number> = {};
	for (const id of acceptedIds) {
		const view = input.views.get(id);
		const pushed = finalPushedJobs.has(id);
		if (view?.httpStatus !== 200) {
			if (view?.httpStatus === 404) vanished.push(id);
			stuck.push(id);
			if (!pushed) lost.push(id);
			continue;
		}
		if (view.status === "COMPLETED") {
			completed++;
			if (view.hasResponse) resultsInKvByGet++;
		}
		if (view.status === "FAILED") {
			failed++;
			add(failureReasons, (view.errorMessage ?? "none").replace(/[0-9a-f-]{20,}/g, "…").slice(0, 120));
			if (!input.plannedFailures.has(indexOf.get(id) ?? -1)) failedUnplanned++;
		}
		const dead = view.deliveryStatus === "failed";
		if (dead) deadLettered++;
		const settled =
			(view.status === "COMPLETED" || view.status === "FAILED") &&
			(view.deliveryStatus === "delivered" || view.deliveryStatus === "failed");
		if (!settled) stuck.push(id);
		if (!pushed && !dead) lost.push(id);
	}

	// ── The attempt logs (Job DOs' own counters) ──
	const attemptTotals = {
		delivery_attempts: 0,
		log_entries: 0,
		log_by_result: {} as Record<string, number>,
		create_attempts: 0,
		upstream_polls: 0,
		alarm_runs: 0,
		kv_writes: 0,
		index_writes: 0,
		possible_duplicate_runs: 0,
		upstream_cancels: 0,
		upstream_streams: 0,
		stream_ms: 0,
		/** Jobs whose Job DO opened the run's event stream at least once. */
		jobs_streamed: 0,
		/** Jobs that streamed and polled too (after a fallback from the stream, or a drop near the end). */
		jobs_streamed_and_polled: 0,
		/** Jobs that only polled. */
		jobs_polled_only: 0,
		jobs_read: 0,
	};
	for (const id of acceptedIds) {
		const report = input.deliveries.get(id);
		if (report?.httpStatus !== 200 || !report.stats) continue;
		attemptTotals.jobs_read++;
		const stat = (name: string) => {
			const value = report.stats?.[name];
			return typeof value === "number" ? value : 0;
		};
		attemptTotals.delivery_attempts += stat("delivery_attempts");
		attemptTotals.create_attempts += stat("create_attempts");
		attemptTotals.upstream_polls += stat("upstream_polls");
		attemptTotals.alarm_runs += stat("alarm_runs");
		attemptTotals.kv_writes += stat("kv_writes");
		attemptTotals.index_writes += stat("index_writes");
		attemptTotals.possible_duplicate_runs += stat("possible_duplicate_runs");
		attemptTotals.upstream_cancels += stat("upstream_cancels");
		attemptTotals.upstream_streams += stat("upstream_streams");
		attemptTotals.stream_ms += stat("stream_ms");
		if (stat("upstream_streams") > 0) {
			attemptTotals.jobs_streamed++;
			if (stat("upstream_polls") > 0) attemptTotals.jobs_streamed_and_polled++;
		} else if (stat("upstream_polls") > 0) attemptTotals.jobs_polled_only++;
		attemptTotals.log_entries += report.attempts.length;
		for (const attempt of report.attempts) {
			add(attemptTotals.log_by_result, attempt.error ?? String(attempt.status_code ?? "none"));
		}
	}

	// ── On disk ──
	let kvDirect: null | {
		entries_for_accepted: number;
		completed_with_response: number;
		failed: number;
		final_delivery_status: number;
		other_tenant: number;
	} = null;
	const alarmless: string[] = [];
	const unscheduled: string[] = [];
	let storedJobs = 0;
	if (input.inspection?.kv) {
		kvDirect = {
			entries_for_accepted: 0,
			completed_with_response: 0,
			failed: 0,
			final_delivery_status: 0,
			other_tenant: 0,
		};
		for (const id of acceptedIds) {
			const entry = input.inspection.kv.get(id);
			if (!entry) continue;
			kvDirect.entries_for_accepted++;
			if (entry.status === "COMPLETED" && entry.hasResponse) kvDirect.completed_with_response++;
			if (entry.status === "FAILED") kvDirect.failed++;
			if (entry.deliveryStatus === "delivered" || entry.deliveryStatus === "failed") kvDirect.final_delivery_status++;
			if (entry.tenant !== "chaos") kvDirect.other_tenant++;
		}
	}
	if (input.inspection) {
		for (const id of acceptedIds) {
			const job = input.inspection.jobs.get(id);
			if (!job?.stored) continue;
			storedJobs++;
			// Every stored job needs an alarm: unsettled ones for their next step, settled ones to retire.
			if (job.alarmAtMs === null) alarmless.push(id);
			// workerd keeps a second copy of every alarm, in its scheduler's table: only that one fires.
			else if (job.schedulerAlarmAtMs !== undefined && job.schedulerAlarmAtMs !== job.alarmAtMs) unscheduled.push(id);
		}
	}

	// ── Upstream: runs per relay job (joined by question), the extras by cause, and the relay's own count ──
	const killedAtRunMs = input.crashes.map((c) => c.killedAtMs);
	const extraByCause: Record<ExtraRunCause, number> = { lost_answer: 0, crash: 0, unexplained: 0 };
	let maxRuns = 0;
	let jobsWithExtraRuns = 0;
	let jobsWithoutRun = 0;
	let upstreamRuns = 0;
	let runCancels = 0;
	let runStreams = 0;
	const apis = new Set<string>();
	/** Jobs with more real extra runs than the relay counted as possible duplicates. */
	const undercounted: {
		job_id: string;
		extra_runs: number;
		by_cause: Record<ExtraRunCause, number>;
		relay_possible_duplicate_runs: number;
		near_crash: boolean;
		runs: string[];
	}[] = [];
	/** Extra runs that are not the fault's, with their evidence. */
	const otherExtras: { job_id: string; by_cause: Record<ExtraRunCause, number>; runs: string[] }[] = [];
	const describeRun = (run: UpstreamRunView) =>
		`created at ${(run.createdAtMs / 1000).toFixed(1)} s, ${run.answerLost ? "answer lost" : "answered"}, ${run.gets} GETs, ${run.streams ?? 0} streams, ${run.cancels} cancels, ${run.status}`;
	for (const id of acceptedIds) {
		const runs = input.emulator.runsByJob.get(id) ?? [];
		for (const run of runs) {
			apis.add(run.api);
			runCancels += run.cancels;
			runStreams += run.streams ?? 0;
		}
		upstreamRuns += runs.length;
		maxRuns = Math.max(maxRuns, runs.length);
		if (runs.length === 0) jobsWithoutRun++;
		const extra = extraRunsOf(runs, killedAtRunMs);
		for (const cause of Object.keys(extraByCause) as ExtraRunCause[]) extraByCause[cause] += extra.byCause[cause];
		if (extra.extra === 0) continue;
		jobsWithExtraRuns++;
		if (extra.byCause.crash + extra.byCause.unexplained > 0) {
			otherExtras.push({ job_id: id, by_cause: extra.byCause, runs: runs.map(describeRun) });
		}
		const report = input.deliveries.get(id);
		const counted = report?.stats?.possible_duplicate_runs;
		if (typeof counted === "number" && counted < extra.extra) {
			undercounted.push({
				job_id: id,
				extra_runs: extra.extra,
				by_cause: extra.byCause,
				relay_possible_duplicate_runs: counted,
				near_crash: runs.some((run) =>
					killedAtRunMs.some(
						(k) => run.createdAtMs <= k + IN_FLIGHT_SLACK_MS && k - run.createdAtMs <= CRASH_CREATE_WINDOW_MS,
					),
				),
				runs: runs.map(describeRun),
			});
		}
	}
	const extraRuns = extraByCause.lost_answer + extraByCause.crash + extraByCause.unexplained;
	const otherExtraRuns = extraByCause.crash + extraByCause.unexplained;

	// ── Pushes per job: an extra upstream run must never add a push of its own ──
	const finalIdsByJob = new Map<string, Set<string>>();
	for (const record of input.receiverEvents.values()) {
		if (!record.jobId || !record.type || !FINAL.has(record.type)) continue;
		if (!record.arrivals.some((a) => a.outcome === "2xx")) continue;
		const ids = finalIdsByJob.get(record.jobId) ?? new Set<string>();
		ids.add(record.webhookId);
		finalIdsByJob.set(record.jobId, ids);
	}
	const jobsPushedTwice = [...finalIdsByJob.values()].filter((ids) => ids.size > 1).length;

	const lagByJob = acceptedIds.flatMap((id) => {
		const pushedAt = finalPushedJobs.get(id);
		const submission = accepted.find((s) => s.jobId === id);
		const acceptedAt = submission?.acceptedAtMs;
		if (pushedAt === undefined || acceptedAt == null) return [];
		return [{ id, lag: pushedAt - input.runStartedAtMs - acceptedAt, acceptedAt, tries: submission?.tries ?? 0 }];
	});
	const pushLag = lagByJob.map((j) => j.lag);
	// The slowest pushes, with what the Job DO counted: where the time went.
	const slowest = [...lagByJob]
		.sort((a, b) => b.lag - a.lag)
		.slice(0, 5)
		.map((j) => {
			const d = input.deliveries.get(j.id);
			return {
				job_id: j.id,
				push_lag_ms: j.lag,
				accepted_at_s: Math.round(j.acceptedAt / 100) / 10,
				submit_posts: j.tries,
				stats: d?.stats ?? null,
				attempts: d?.attempts.map((a) => `${a.at} ${a.status_code ?? a.error}`) ?? [],
			};
		});

	const refusals: Record<string, number> = {};
	for (const s of input.submissions) for (const [k, v] of Object.entries(s.refusals)) add(refusals, k, v);

	const stuckSet = new Set(stuck);
	const alarmFaults = input.alarmFaults
		? alarmRecovery(input.alarmFaults, acceptedIds, (id) => !stuckSet.has(id))
		: null;

	const notAccepted = input.submissions.length - accepted.length;
	const figures = {
		submitted: input.submissions.length,
		accepted: accepted.length,
		not_accepted: notAccepted,
		submit_posts: input.submissions.reduce((sum, s) => sum + s.tries, 0),
		submit_refusals_by_status: refusals,
		pushed_webhook_ids: pushedIds.size,
		pushed_jobs: acceptedIds.filter((id) => finalPushedJobs.has(id)).length,
		dead_lettered: deadLettered,
		lost: lost.length,
		stuck: stuck.length,
		vanished_404: vanished.length,
		duplicate_webhook_ids: duplicates.length,
		duplicate_extra_2xx: duplicates.reduce((sum, d) => sum + d.receiver_2xx - 1, 0),
		duplicates_by_cause: duplicates.reduce<Record<string, number>>((counts, d) => {
			add(counts, d.explanation.split(":")[0] ?? "?");
			return counts;
		}, {}),
		completed,
		failed,
		failed_planned: input.plannedFailures.size,
		failed_unplanned: failedUnplanned,
		failure_reasons: failureReasons,
		results_in_kv_by_get: resultsInKvByGet,
		kv_on_disk: kvDirect,
		stored_jobs_on_disk: input.inspection ? storedJobs : null,
		stored_jobs_without_alarm: input.inspection ? alarmless.length : null,
		/** An alarm in the object's storage that workerd's alarm scheduler does not hold: it never fires. */
		stored_jobs_alarm_not_scheduled: input.inspection ? unscheduled.length : null,
		attempt_log: attemptTotals,
		receiver: {
			arrivals,
			by_outcome: receiverByOutcome,
			fault_plans: plans,
			unverified_signatures: unverified,
			pushes_for_unknown_jobs: orphanPushes.length,
		},
		/** Jobs whose final event reached the receiver under more than one webhook-id (an extra push). */
		jobs_pushed_twice: jobsPushedTwice,
		upstream: {
			api: [...apis].sort().join("+") || null,
			creates: input.emulator.creates,
			upstream_jobs: input.emulator.createsAccepted,
			/** Runs joined to accepted relay jobs by their question. */
			runs_of_accepted_jobs: upstreamRuns,
			idempotent_replays: input.emulator.idempotentReplays,
			gets: input.emulator.gets,
			responses_by_status: input.emulator.responses,
			max_upstream_runs_per_relay_job: maxRuns,
			relay_jobs_with_extra_runs: jobsWithExtraRuns,
			relay_jobs_without_a_run: jobsWithoutRun,
			/** Runs beyond the one each relay job follows. */
			extra_runs: extraRuns,
			/** `lost_answer`: the emulator's lostAnswerRate fault, by design. `other`: anything else (should be 0). */
			extra_runs_by_cause: { lost_answer: extraByCause.lost_answer, other: otherExtraRuns },
			/** What the "other" extra runs look like: created just before a SIGKILL, or not. */
			other_extra_runs_by_evidence: { crash: extraByCause.crash, unexplained: extraByCause.unexplained },
			/** The relay's own count, summed over jobs (`GET …/deliveries` stats.possible_duplicate_runs). */
			relay_possible_duplicate_runs: attemptTotals.possible_duplicate_runs,
			/** Every real extra run was counted by the relay as a possible duplicate, job by job. */
			relay_counted_every_extra_run: undercounted.length === 0,
			relay_jobs_undercounting_extra_runs: undercounted.length,
			/** Cancels that reached the emulator (all calls), and those that reached the accepted jobs' runs. */
			cancels: input.emulator.cancels,
			cancels_of_accepted_jobs_runs: runCancels,
			/** The relay's own count, summed over jobs (stats.upstream_cancels). */
			relay_upstream_cancels: attemptTotals.upstream_cancels,
		},
		/** Following runs through their event streams (WATCH_MODE=stream), with drops injected. */
		streams: {
			watch_mode: input.watchMode,
			stream_drop_rate:
				(input.settings.upstream_faults as { stream_drop_rate?: number } | undefined)?.stream_drop_rate ?? 0,
			jobs_streamed: attemptTotals.jobs_streamed,
			jobs_streamed_and_polled: attemptTotals.jobs_streamed_and_polled,
			jobs_polled_only: attemptTotals.jobs_polled_only,
			/** The relay's count (`stats.upstream_streams`): a connection cut by a SIGKILL is not in it. */
			relay_stream_connections: attemptTotals.upstream_streams,
			/** Connections beyond each streamed job's first, as the relay counted them. */
			relay_reconnects: attemptTotals.upstream_streams - attemptTotals.jobs_streamed,
			relay_stream_s: Math.round(attemptTotals.stream_ms / 100) / 10,
			/** Every event-stream request the emulator received, and those that reached the accepted jobs' runs. */
			emulator_stream_requests: input.emulator.streams,
			emulator_stream_connections_of_accepted_jobs: runStreams,
			/** The relay's log records: a connection that ended before the run (a drop, a fault, a timeout), and jobs that gave up streaming for polling. */
			relay_log_drops: input.relayLog.records["info upstream.watch_dropped"] ?? 0,
			relay_log_fallbacks: input.relayLog.records["warn upstream.watch_fallback"] ?? 0,
		},
		push_lag_ms: {
			p50: quantile(pushLag, 0.5),
			p99: quantile(pushLag, 0.99),
			max: pushLag.length ? Math.max(...pushLag) : null,
		},
		crashes: input.crashes,
		skipped_crashes: input.skippedCrashes,
		sweeper: input.sweeper,
		alarm_faults: alarmFaults,
		relay_log: input.relayLog,
		machine: input.machine,
		drained_before_deadline: input.drained,
		wall_time_s: input.wallTimeS,
		seed: input.seed,
	};

	const checks = [
		{ check: "lost = 0", ok: figures.lost === 0, required: true },
		{ check: "stuck = 0", ok: figures.stuck === 0, required: true },
		{ check: "every submission accepted", ok: notAccepted === 0, required: true },
		{
			// A chaos run meant to exercise streams must not pass without them.
			check: "jobs followed their runs' event streams (WATCH_MODE=stream)",
			ok: input.watchMode !== "stream" || attemptTotals.jobs_streamed > 0,
			required: input.watchMode === "stream",
		},
		{
			check: "every duplicate explained (a crash or an abandoned attempt)",
			ok: duplicates.every((d) => !d.explanation.startsWith("UNEXPLAINED")),
			required: false,
		},
		{ check: "signatures verify", ok: unverified === 0, required: false },
		{
			check: "no extra upstream run but those whose create answer was lost (the fault)",
			ok: otherExtraRuns === 0,
			required: false,
		},
		{
			check: "the relay counted every extra upstream run as a possible duplicate",
			ok: undercounted.length === 0,
			required: false,
		},
		{
			check: "no job pushed under two webhook-ids (an extra run adds no push)",
			ok: jobsPushedTwice === 0,
			required: false,
		},
		{ check: "no unplanned FAILED job", ok: failedUnplanned === 0, required: false },
		{
			check: "every dropped alarm was set again and its job settled",
			ok: !alarmFaults || (alarmFaults.not_rearmed.length === 0 && alarmFaults.dropped_not_settled.length === 0),
			required: true,
		},
		{
			check: "every job whose alarm threw settled",
			ok: !alarmFaults || alarmFaults.thrown_not_settled.length === 0,
			required: true,
		},
		{ check: "every stored job has an alarm", ok: alarmless.length === 0, required: false },
		{ check: "every stored alarm is in workerd's scheduler", ok: unscheduled.length === 0, required: false },
	];

	// ── Dead letters: the relay's attempts beside what the receiver saw of them ──
	const byJobFinal = new Map<string, EventRecord>();
	for (const record of input.receiverEvents.values()) {
		if (record.jobId && record.type && FINAL.has(record.type)) byJobFinal.set(record.jobId, record);
	}
	const deadLetterIds = acceptedIds.filter((id) => input.views.get(id)?.deliveryStatus === "failed");
	const deadLetters = {
		count: deadLetterIds.length,
		/** Dead-lettered although the receiver planned to accept every attempt but the first (or all). */
		receiver_plan: deadLetterIds.reduce<Record<string, number>>((counts, id) => {
			add(counts, byJobFinal.get(id)?.plan ?? "never arrived");
			return counts;
		}, {}),
		relay_attempts: deadLetterIds.reduce((sum, id) => sum + (input.deliveries.get(id)?.attempts.length ?? 0), 0),
		receiver_arrivals: deadLetterIds.reduce((sum, id) => sum + (byJobFinal.get(id)?.arrivals.length ?? 0), 0),
		samples: deadLetterIds.slice(0, 8).map((id) => ({
			job_id: id,
			receiver_plan: byJobFinal.get(id)?.plan ?? null,
			receiver: (byJobFinal.get(id)?.arrivals ?? []).map((a) => `${new Date(a.atMs).toISOString()} ${a.outcome}`),
			relay_log: (input.deliveries.get(id)?.attempts ?? []).map(
				(a) => `${a.at} ${a.status_code ?? a.error} ${a.duration_ms} ms`,
			),
		})),
	};

	// ── Evidence for every job that is lost or stuck, and for alarm-less ones ──
	const evidenceIds = [
		...new Set([...lost, ...stuck, ...alarmless, ...unscheduled, ...(alarmFaults?.not_rearmed ?? [])]),
	].slice(0, 25);
	const evidence = evidenceIds.map((id) => {
		const d = input.deliveries.get(id);
		const stored = input.inspection?.jobs.get(id);
		return {
			job_id: id,
			index: indexOf.get(id),
			lost: lost.includes(id),
			stuck: stuck.includes(id),
			pushed: finalPushedJobs.has(id),
			get: input.views.get(id) ?? null,
			deliveries: d
				? {
						http_status: d.httpStatus,
						delivery_status: d.deliveryStatus,
						events: d.events,
						last_attempts: d.attempts.slice(-5),
						stats: d.stats,
					}
				: null,
			on_disk: stored
				? {
						stored: stored.stored,
						phase: stored.phase,
						status: stored.status,
						deliveries: stored.deliveries,
						alarm_at: stored.alarmAtMs === null ? null : new Date(stored.alarmAtMs).toISOString(),
						alarm_overdue_s_at_end:
							stored.alarmAtMs === null ? null : Math.round((input.endedAtMs - stored.alarmAtMs) / 100) / 10,
						scheduler_alarm_at:
							stored.schedulerAlarmAtMs === undefined
								? "n/a"
								: stored.schedulerAlarmAtMs === null
									? null
									: new Date(stored.schedulerAlarmAtMs).toISOString(),
						error: stored.error,
					}
				: null,
		};
	});

	return {
		schema: 1 as const,
		kind: "chaos" as const,
		date: input.startedAt,
		quick: input.quick,
		passed: checks.every((c) => c.ok || !c.required),
		checks,
		figures,
		duplicates: duplicates.slice(0, 50),
		extra_runs: {
			other: otherExtras.slice(0, 25),
			undercounted: undercounted.slice(0, 25),
		},
		dead_letters: deadLetters,
		slowest,
		evidence,
		state_notes: input.inspection?.notes ?? [],
		settings: input.settings,
	};
}

export type ChaosReport = ReturnType<typeof computeReport>;

const fmt = (value: unknown): string => {
	if (value === null || value === undefined) return "n/a";
	if (typeof value === "object") {
		if (Object.keys(value).length === 0) return "none";
		return Object.entries(value as Record<string, unknown>)
			.map(([k, v]) => `${k} ${fmt(v)}`)
			.join(", ");
	}
	return String(value);
};

/** The headline rows, shared by the console table and the Markdown. */
export function tableRows(report: ChaosReport): [string, string][] {
	const f = report.figures;
	const crashes = f.crashes
		.map(
			(c) =>
				`at ${(c.killedAtMs / 1000).toFixed(1)} s (${c.inFlight} in flight, ${c.processesKilled} processes, down ${(c.downMs / 1000).toFixed(1)} s)`,
		)
		.join("; ");
	return [
		["accepted", `${f.accepted} of ${f.submitted} (${f.submit_posts} POSTs)`],
		["pushed (unique webhook-id with a 2xx)", `${f.pushed_webhook_ids} (final event of ${f.pushed_jobs} jobs)`],
		["dead-lettered (delivery_status failed)", String(f.dead_lettered)],
		["lost", String(f.lost)],
		["stuck", String(f.stuck)],
		[
			"duplicate pushes",
			`${f.duplicate_webhook_ids} webhook-ids, ${f.duplicate_extra_2xx} extra 2xx (by cause: ${fmt(f.duplicates_by_cause)})`,
		],
		[
			"completed / failed",
			`${f.completed} / ${f.failed} (planned failures ${f.failed_planned}, unplanned ${f.failed_unplanned})`,
		],
		["results in KV (GET: COMPLETED with a response)", String(f.results_in_kv_by_get)],
		[
			"results in KV (on disk)",
			f.kv_on_disk
				? `${f.kv_on_disk.entries_for_accepted} entries: ${f.kv_on_disk.completed_with_response} COMPLETED with a response, ${f.kv_on_disk.failed} FAILED, ${f.kv_on_disk.final_delivery_status} with a final delivery_status`
				: "n/a",
		],
		[
			"attempt log (sum over jobs)",
			`${f.attempt_log.delivery_attempts} delivery attempts (${fmt(f.attempt_log.log_by_result)}); ${f.attempt_log.create_attempts} creates, ${f.attempt_log.upstream_polls} polls, ${f.attempt_log.alarm_runs} alarm runs, ${f.attempt_log.kv_writes} KV writes`,
		],
		[
			"receiver arrivals",
			`${f.receiver.arrivals} (${fmt(f.receiver.by_outcome)}); unverified ${f.receiver.unverified_signatures}`,
		],
		[
			"upstream (emulator)",
			`${fmt(f.upstream.api)} API: ${f.upstream.creates} creates → ${f.upstream.upstream_jobs} runs, ${f.upstream.gets} GETs, ${f.streams.emulator_stream_requests} stream requests, ${f.upstream.cancels} cancels; answers ${fmt(f.upstream.responses_by_status)}`,
		],
		[
			"extra upstream runs (beyond one per relay job)",
			`${f.upstream.extra_runs} in ${f.upstream.relay_jobs_with_extra_runs} jobs, by cause: create answer lost after the run started (fault) ${f.upstream.extra_runs_by_cause.lost_answer}, other ${f.upstream.extra_runs_by_cause.other}${f.upstream.extra_runs_by_cause.other > 0 ? ` (created just before a SIGKILL ${f.upstream.other_extra_runs_by_evidence.crash}, unexplained ${f.upstream.other_extra_runs_by_evidence.unexplained})` : ""}; at most ${f.upstream.max_upstream_runs_per_relay_job} runs per job`,
		],
		[
			"relay's possible_duplicate_runs",
			`${f.upstream.relay_possible_duplicate_runs} (≥ the real extra runs, job by job: ${f.upstream.relay_counted_every_extra_run ? "yes" : `no, ${f.upstream.relay_jobs_undercounting_extra_runs} jobs counted fewer`})`,
		],
		[
			"event streams",
			`WATCH_MODE=${f.streams.watch_mode}, ${Math.round(f.streams.stream_drop_rate * 100)} % of connections cut by the emulator: ${f.streams.jobs_streamed} jobs streamed (${f.streams.jobs_streamed_and_polled} of them polled too, ${f.streams.jobs_polled_only} jobs only polled); ${f.streams.relay_stream_connections} connections as the relay counted them (${f.streams.relay_reconnects} reconnects, ${f.streams.relay_stream_s} s held), ${f.streams.emulator_stream_connections_of_accepted_jobs} at the emulator on the accepted jobs' runs (${f.streams.emulator_stream_requests} stream requests in all); the relay logged ${f.streams.relay_log_drops} ended early, ${f.streams.relay_log_fallbacks} fallbacks to polling`,
		],
		[
			"upstream cancels",
			`${f.upstream.cancels} at the emulator (${f.upstream.cancels_of_accepted_jobs_runs} on the accepted jobs' runs); the relay counted ${f.upstream.relay_upstream_cancels}`,
		],
		["jobs pushed under two webhook-ids", String(f.jobs_pushed_twice)],
		[
			"stored jobs without an alarm (on disk)",
			`${fmt(f.stored_jobs_without_alarm)}; with an alarm workerd's scheduler does not hold: ${fmt(f.stored_jobs_alarm_not_scheduled)}`,
		],
		...alarmFaultRows(report),
		["crashes (SIGKILL of the whole tree)", crashes || "none"],
		[
			"push lag after accept",
			`p50 ${fmt(f.push_lag_ms.p50)} ms, p99 ${fmt(f.push_lag_ms.p99)} ms, max ${fmt(f.push_lag_ms.max)} ms`,
		],
		["wall time", `${f.wall_time_s} s${f.drained_before_deadline ? "" : " (deadline reached)"}`],
		[
			"machine",
			`${f.machine.cpus} CPUs, load average ${f.machine.loadavg_start.map((l) => l.toFixed(1)).join("/")} at the start, ${f.machine.loadavg_end.map((l) => l.toFixed(1)).join("/")} at the end; the harness used ${f.machine.harness_cpu_s} CPU s`,
		],
		["seed", String(f.seed)],
	];
}

/** The alarm faults' rows: `recovered by the sweeper: N of N`, and the guard's figures. */
function alarmFaultRows(report: ChaosReport): [string, string][] {
	const a = report.figures.alarm_faults;
	if (!a) return [];
	const others = Object.entries(a.rearmed_by).filter(([by]) => by !== "sweeper");
	const rest = [
		...others.map(([by, n]) => `by a ${by}: ${n}`),
		...(a.not_rearmed.length ? [`not re-armed: ${a.not_rearmed.length}`] : []),
		...(a.dropped_not_settled.length ? [`not settled: ${a.dropped_not_settled.length}`] : []),
	];
	const sweeps = report.figures.sweeper;
	return [
		[
			"recovered by the sweeper",
			`${a.recovered_by_sweeper} of ${a.dropped_jobs}${rest.length ? ` (${rest.join(", ")})` : ""}`,
		],
		[
			"alarms dropped (chaos Worker)",
			`${a.drops} in ${a.dropped_jobs} jobs; the sweeper fired ${sweeps ? `${sweeps.fired} times (${fmt(sweeps.outcomes)})` : "never"}; jobs re-armed without a drop: ${a.other_rearms}`,
		],
		[
			"alarm runs that threw (alarm guard)",
			`${a.throws} in ${a.thrown_jobs} jobs, ${a.caught_by_guard} caught and re-armed by the guard; not settled: ${a.thrown_not_settled.length}`,
		],
	];
}

export function renderTable(report: ChaosReport): string {
	const rows = tableRows(report);
	const width = Math.max(...rows.map(([k]) => k.length));
	const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
	const checks = report.checks.map((c) => `  ${c.ok ? "ok  " : c.required ? "FAIL" : "warn"}  ${c.check}`);
	return [...lines, "", ...checks].join("\n");
}

export function renderMarkdown(report: ChaosReport): string {
	const f = report.figures;
	const out: string[] = [];
	out.push(`# Chaos run: ${report.passed ? "passed" : "FAILED"}`, "");
	out.push(
		`${report.date}, seed ${f.seed}${report.quick ? ", --quick" : ""}. Reproduce with \`npm run chaos -- --seed ${f.seed}${report.quick ? " --quick" : ""}\`.`,
		"",
	);
	out.push("| figure | value |", "|---|---|");
	for (const [k, v] of tableRows(report)) out.push(`| ${k} | ${v.replaceAll("|", "\\|")} |`);
	out.push("", "| check | result |", "|---|---|");
	for (const c of report.checks)
		out.push(`| ${c.check}${c.required ? " (required)" : ""} | ${c.ok ? "ok" : c.required ? "**FAIL**" : "warning"} |`);
	out.push("", "## Duplicates", "");
	if (report.duplicates.length === 0) out.push("None.");
	else {
		out.push(
			"At-least-once delivery, with the same `webhook-id` each time (receivers deduplicate on it). *crash*: the Job Durable Object had not yet saved the receiver's 2xx when wrangler dev was killed (or the attempt was still in flight then), so the restarted alarm sent the event again. *timeout*: the relay gave up on an attempt (DELIVERY_TIMEOUT_MS) that the receiver did answer 2xx, and retried.",
			"",
			"| webhook-id | 2xx at the receiver | 2xx in the DO's log | later by (ms) | explanation | receiver | relay's attempt log |",
			"|---|---|---|---|---|---|---|",
		);
		for (const d of report.duplicates) {
			out.push(
				`| \`${d.webhook_id}\` | ${d.receiver_2xx} | ${d.relay_logged_2xx ?? "n/a"} | ${d.later_by_ms.join(", ")} | ${d.explanation} | ${d.receiver.join("<br>")} | ${d.relay_log.join("<br>")} |`,
			);
		}
	}
	const u = f.upstream;
	out.push(
		"",
		"## Extra upstream runs",
		"",
		`The Agent API has no idempotency key, so runs are joined to relay jobs by each job's question (unique per job). ${u.runs_of_accepted_jobs} runs for ${f.accepted} accepted jobs (${u.relay_jobs_without_a_run} jobs with none): ${u.extra_runs} extra. *Lost answer*: the emulator started the run, then lost the create's answer (\`lostAnswerRate\`, ${fmt((report.settings.upstream_faults as Record<string, unknown> | undefined)?.lost_answer_rate)} of creates); the relay cannot know the run exists, retries, and must count each such create in \`possible_duplicate_runs\`: ${u.extra_runs_by_cause.lost_answer}. *Other*: any other extra run, which should not exist: ${u.extra_runs_by_cause.other}. The relay counted ${u.relay_possible_duplicate_runs} possible duplicates (it also counts creates whose answer was lost before any run started: the emulator's hangs and 500/502s).`,
	);
	const st = f.streams;
	out.push(
		"",
		"## Event streams",
		"",
		`The relay's \`WATCH_MODE\` was \`${st.watch_mode}\`${st.watch_mode === "stream" ? ": every job follows its run's event stream (`GET /v1/responses/{id}?stream=true`) instead of polling it" : ""}. ` +
			`The emulator cuts ${Math.round(st.stream_drop_rate * 100)} % of stream connections at a random event (\`streamDropRate\`), and its other faults (5xx, 429, hangs) hit stream requests as they hit any call. ` +
			"A connection that ends before the run's terminal event is resumed from the saved cursor (`starting_after`) on the next alarm; five failures in a row fall back to polling; a SIGKILL mid-stream resumes from the cursor saved last. " +
			`Jobs streamed: ${st.jobs_streamed} (of them ${st.jobs_streamed_and_polled} polled too); ${st.jobs_polled_only} only polled. ` +
			`Stream connections: ${st.relay_stream_connections} as the relay counted them (\`stats.upstream_streams\`; a connection cut by a SIGKILL is not counted), ${st.relay_reconnects} of them reconnects, ${st.relay_stream_s} s held in all; ${st.emulator_stream_connections_of_accepted_jobs} as the emulator counted them on the accepted jobs' runs. ` +
			`The relay's log: ${st.relay_log_drops} connections ended before the run did (\`upstream.watch_dropped\`), ${st.relay_log_fallbacks} jobs fell back to polling (\`upstream.watch_fallback\`).`,
	);
	if (report.extra_runs.other.length > 0) {
		out.push(
			"",
			"Other extra runs (*crash*: created at most 10 s before a SIGKILL, so the create's answer may have reached a relay that died before saving the run's id; *unexplained*: not near a crash):",
			"",
			"```json",
			JSON.stringify(report.extra_runs.other, null, 2),
			"```",
		);
	}
	if (report.extra_runs.undercounted.length > 0) {
		out.push(
			"",
			"Jobs with more real extra runs than the relay counted as possible duplicates:",
			"",
			"```json",
			JSON.stringify(report.extra_runs.undercounted, null, 2),
			"```",
		);
	}
	if (report.slowest.length > 0) {
		out.push(
			"",
			"## Slowest pushes",
			"",
			"| job | push lag after accept (ms) | accepted at (s) | submit POSTs | creates | polls | streams | alarm runs |",
			"|---|---|---|---|---|---|---|---|",
		);
		for (const j of report.slowest) {
			const stat = (name: string) => fmt(j.stats?.[name]);
			out.push(
				`| \`${j.job_id.slice(0, 16)}…\` | ${j.push_lag_ms} | ${j.accepted_at_s} | ${j.submit_posts} | ${stat("create_attempts")} | ${stat("upstream_polls")} | ${stat("upstream_streams")} | ${stat("alarm_runs")} |`,
			);
		}
	}
	if (report.dead_letters.count > 0) {
		const d = report.dead_letters;
		out.push(
			"",
			"## Dead letters",
			"",
			`${d.count} final events were dead-lettered (delivery_status \`failed\`) after ${d.relay_attempts} attempts by the relay, of which the receiver saw ${d.receiver_arrivals}. Receiver fault plans of these events: ${fmt(d.receiver_plan)}.`,
			"",
			"```json",
			JSON.stringify(d.samples, null, 2),
			"```",
		);
	}
	if (report.evidence.length > 0) {
		out.push("", "## Lost, stuck or alarm-less jobs", "", "```json", JSON.stringify(report.evidence, null, 2), "```");
	}
	const relayLog = f.relay_log;
	if (relayLog.lines > 0) {
		const top = Object.entries(relayLog.causes)
			.sort((a, b) => b[1] - a[1])
			.slice(0, 20);
		out.push("", "## The relay's log", "", `${relayLog.lines} lines. Records: ${fmt(relayLog.records)}.`, "");
		out.push(
			"| record and cause | count |",
			"|---|---|",
			...top.map(([k, v]) => `| ${k.replaceAll("|", "\\|")} | ${v} |`),
		);
		if (relayLog.other_errors > 0) {
			out.push(
				"",
				`${relayLog.other_errors} other lines mention an error, e.g.:`,
				"",
				"```",
				...relayLog.other_error_samples,
				"```",
			);
		}
	}
	if (f.skipped_crashes.length > 0) out.push("", "## Skipped crashes", "", ...f.skipped_crashes.map((s) => `- ${s}`));
	if (f.sweeper)
		out.push(
			"",
			"## Sweeper trigger",
			"",
			`\`${f.sweeper.cron}\` fired ${f.sweeper.fired} times: ${fmt(f.sweeper.outcomes)}.`,
		);
	if (f.alarm_faults) {
		const a = f.alarm_faults;
		out.push(
			"",
			"## Alarm faults",
			"",
			`The chaos Worker (\`bench/chaos/worker.ts\`) deleted the alarm of ${a.dropped_jobs} jobs (${a.drops} drops), each right after an early alarm run that left it work due within a minute, as the runtime dropping it would: nothing in the job brings it back. The first re-arm after each job's last drop came from: ${fmt(a.rearmed_by)}; not re-armed: ${a.not_rearmed.length}; not settled: ${a.dropped_not_settled.length}. It also made an early alarm run of ${a.thrown_jobs} jobs throw, ${a.throws} times in all, inside the alarm guard, which caught ${a.caught_by_guard} and re-armed each after its back-off; not settled: ${a.thrown_not_settled.length}. Jobs the relay re-armed without a drop by the harness: ${a.other_rearms}.`,
		);
	}
	if (report.state_notes.length > 0)
		out.push("", "## State directory notes", "", ...report.state_notes.map((n) => `- ${n}`));
	out.push("", "## Settings", "", "```json", JSON.stringify(report.settings, null, 2), "```", "");
	return out.join("\n");
}
