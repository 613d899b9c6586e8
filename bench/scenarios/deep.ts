/**
 * Scenario `deep`: where deep research lives. N `sonar-deep-research` jobs (the Agent API's
 * `medium` preset upstream), lognormal durations of minutes, arriving over several minutes (a
 * seeded Poisson process), each with a callback to the receiver. The same jobs and arrivals run:
 *
 * - on the relay in each watch mode (`WATCH_MODE=stream`, `poll`, `auto`), each on its own fresh
 *   relay: fresh state, so the poll mode starts from the table prior and learns;
 * - straight on the upstream with the official SDK, `responses.create({…, background: true})`
 *   then `responses.retrieve` every X s: the fixed pollers' frontier.
 *
 * Per mode: push lag (arrival − the emulator's completion instant), upstream requests per job
 * (creates + GETs + stream connections, from the emulator), the relay's counters (alarm runs,
 * polls, stream connections, `stream_ms`), the estimated Cloudflare bill with the held streams'
 * duration as its own line, and the lag-weighted total: the bill plus the lag valued at
 * `WATCH_LAG_VALUE_USD_PER_HOUR`, which is what `auto` weighs. And how fast the learnt plan
 * converges: figures per block of jobs in completion order, beside the gate's learnt median,
 * replayed from the durations it was told (the gate has no public read-out).
 */
import Perplexity from "@perplexity-ai/perplexity_ai";
import {
	addSample,
	type DurationSketch,
	planPolls,
	priorSketch,
	quantile as sketchQuantile,
} from "../../src/polling/sketch.ts";
import { startEmulator } from "../../tools/emulator/server.ts";
import { costPer1000Jobs } from "../lib/cost.ts";
import { readCounters, type Submission, sleep, submitAll, submitFigures, waitUntil } from "../lib/load.ts";
import { mean, quantile, round, summary } from "../lib/stats.ts";
import { jobText, lognormalDurations, poissonArrivals, relayBody } from "../lib/workload.ts";
import type { BenchOptions, DeepMode } from "../options.ts";
import { TERMINAL } from "./baseline.ts";
import {
	BENCH_API_KEY,
	EMULATOR_API_KEY,
	joinUpstream,
	pushFigures,
	questionsOf,
	relaySetting,
	type ScenarioContext,
	startRelayStack,
	upstreamFigures,
} from "./common.ts";

/** The model of every deep job: the relay runs it as the Agent API's `medium` preset. */
export const DEEP_MODEL = "sonar-deep-research";
/** What the relay's built-in model map makes of `sonar-deep-research`; the SDK pollers ask for the same. */
export const DEEP_PRESET = "medium";
/**
 * The relay's prior median for the model before it has learnt anything (`PRIOR_MEDIANS_MS` in
 * src/upstream/gate.ts, which imports `cloudflare:workers` and so cannot be imported here).
 */
export const TABLE_PRIOR_MEDIAN_MS = 180_000;

/** The jobs and their arrivals: the same for every mode and every fixed poller. */
export interface DeepWorkload {
	durations: number[];
	/** ms after the start, sorted. */
	arrivalsMs: number[];
}

/**
 * The deep workload: durations from seed + 2, arrivals from seed + 3 (steady uses the seed,
 * its ingest burst seed + 1).
 *
 * @example
 * deepWorkload(options).durations.length; // options.deepJobs
 */
export function deepWorkload(options: BenchOptions): DeepWorkload {
	return {
		durations: lognormalDurations(options.deepJobs, {
			medianMs: options.deepMedianMs,
			sigma: options.deepSigma,
			seed: options.seed + 2,
		}),
		arrivalsMs: poissonArrivals(options.deepJobs, options.deepArrivalS * 1000, options.seed + 3),
	};
}

const textOf = (workload: DeepWorkload, index: number) => jobText("deep", index, workload.durations[index] as number);

/** How long after the first arrival the last push may come: the last arrival, the longest job, the grace. */
function waitBudgetMs(options: BenchOptions, workload: DeepWorkload): number {
	return Math.max(...workload.arrivalsMs) + Math.max(...workload.durations) + options.graceMs;
}

/** What a caller's hour of waiting is worth to the relay (`WATCH_LAG_VALUE_USD_PER_HOUR`, default 1). */
export function lagValueUsdPerHour(options: BenchOptions): number {
	const value = Number(relaySetting("WATCH_LAG_VALUE_USD_PER_HOUR", options.relayVars) ?? "1");
	return Number.isFinite(value) && value >= 0 ? value : 1;
}

/** The relay's prior median for the deep jobs in this run. */
function priorMedianOf(options: BenchOptions): number {
	const told = options.relayVars.POLL_PRIOR_MEDIAN_MS ?? options.deepPriorMedianMs;
	return told === undefined ? TABLE_PRIOR_MEDIAN_MS : Number(told);
}

/** One relay job of the deep workload, as the bench saw it. */
export interface DeepJobRow {
	index: number;
	/** The job's duration as asked of the emulator (ms). */
	durationMs: number;
	/** Emulator instants of the run the relay followed (ms since the epoch). */
	createdAtMs: number;
	finishedAtMs: number | null;
	/** When its final push arrived; null when lost. */
	arrivedAtMs: number | null;
	lagMs: number | null;
	/** Every upstream request made for the job: creates + GETs + stream connections + cancels. */
	requests: number;
	gets: number;
	streams: number;
	/** The relay's own counters (`GET …/deliveries`); null when not read. */
	alarmRuns: number | null;
	polls: number | null;
	relayStreams: number | null;
	streamMs: number | null;
}

/** The poll-plan settings the gate plans with (production defaults unless `--relay-var` changes them). */
interface PlanSettings {
	pollCostMs: number;
	tailCost: number;
	minGapMs: number;
	maxGapMs: number;
	horizonMs: number;
	firstQuantile: number;
}

/** The gate's plan settings under these relay settings (`--relay-var` overrides; production's otherwise). */
function planSettings(overrides: Record<string, string>): PlanSettings {
	const setting = (name: string, fallback: number) => {
		const value = Number(relaySetting(name, overrides));
		return Number.isFinite(value) && value > 0 ? value : fallback;
	};
	return {
		pollCostMs: setting("POLL_COST_MS", 250),
		tailCost: setting("POLL_LAG_COST", 0.01),
		minGapMs: setting("POLL_MIN_INTERVAL_MS", 250),
		maxGapMs: setting("POLL_MAX_INTERVAL_MS", 30_000),
		horizonMs: setting("JOB_TIMEOUT_SECONDS", 3600) * 1000,
		firstQuantile: setting("POLL_FIRST_QUANTILE", 0.2),
	};
}

/**
 * What a plan does to jobs of these durations, as the relay follows it: the planned polls, then
 * (past the plan) the last gap grown ×1.5 up to the longest gap. GETs per job and lag p50: the
 * plan's own figures on this workload, without the machine's delays.
 *
 * @example
 * planOnWorkload([60_000, 90_000, 120_000], [30_000, 100_000, 119_000], 30_000); // { gets_per_job: 2.67, … }
 */
export function planOnWorkload(plan: readonly number[], durations: readonly number[], maxGapMs: number) {
	const gets: number[] = [];
	const lags: number[] = [];
	for (const duration of durations) {
		let polls = 0;
		let at = 0;
		let gap = plan.length > 1 ? (plan[plan.length - 1] as number) - (plan[plan.length - 2] as number) : 1000;
		for (const offset of plan) {
			polls++;
			at = offset;
			if (at >= duration) break;
		}
		while (at < duration) {
			gap = Math.min(Math.round(gap * 1.5), maxGapMs);
			at += gap;
			polls++;
		}
		gets.push(polls);
		lags.push(at - duration);
	}
	return { gets_per_job: round(mean(gets), 2), lag_p50_ms: round(quantile(lags, 0.5)) };
}

/**
 * How the learnt plan converges, from the jobs' own figures:
 * - **blocks**: consecutive blocks of jobs in upstream completion order, with their push lag, GETs
 *   and requests per job, and what the gate had learnt when the block's jobs were created (a job
 *   keeps the plan it was given at its create);
 * - **learnt**: the gate's sketch replayed from the durations it was told, in the order it was told
 *   them (each job's, when its push arrived: the relay learns a duration just after the push),
 *   from the prior; its p50 and p90 after k samples, and what the plan it gives does on this
 *   workload (`planOnWorkload`);
 * - **oracle**: what the gate would plan had it learnt every duration of the workload, without the
 *   order's bias (early completions are the short jobs), and what that plan does on the workload;
 *   each block beside what it would have done on the block's jobs. The measure of convergence.
 */
export function convergence(
	rows: readonly DeepJobRow[],
	options: {
		startedAtMs: number;
		priorMedianMs: number;
		blockSize: number;
		plan: PlanSettings;
		durations: readonly number[];
	},
) {
	const learntOrder = rows
		.filter((r): r is DeepJobRow & { arrivedAtMs: number } => r.arrivedAtMs !== null)
		.sort((a, b) => a.arrivedAtMs - b.arrivedAtMs);
	const sketches: DurationSketch[] = [priorSketch(options.priorMedianMs)];
	for (const row of learntOrder)
		sketches.push(addSample(sketches[sketches.length - 1] as DurationSketch, row.durationMs));
	const learntBy = (t: number) => learntOrder.filter((r) => r.arrivedAtMs <= t).length;
	const p50After = (k: number) => round(sketchQuantile(sketches[k] as DurationSketch, 0.5));
	let truth = priorSketch(quantile(options.durations, 0.5) ?? options.priorMedianMs);
	for (const duration of options.durations) truth = addSample(truth, duration);
	const oraclePlan = planPolls(truth, options.plan);
	const onWorkload = (plan: readonly number[], durations: readonly number[]) =>
		planOnWorkload(plan, durations, options.plan.maxGapMs);

	const done = rows
		.filter((r): r is DeepJobRow & { finishedAtMs: number } => r.finishedAtMs !== null)
		.sort((a, b) => a.finishedAtMs - b.finishedAtMs);
	const blocks = [];
	for (let start = 0; start < done.length; start += options.blockSize) {
		const block = done.slice(start, start + options.blockSize);
		const lags = block.flatMap((r) => (r.lagMs === null ? [] : [r.lagMs]));
		const learntAtCreate = block.map((r) => learntBy(r.createdAtMs));
		const learnt = round(quantile(learntAtCreate, 0.5)) ?? 0;
		blocks.push({
			jobs: `${start + 1}–${start + block.length}`,
			completed_s: [
				round(((block[0]?.finishedAtMs ?? 0) - options.startedAtMs) / 1000, 1),
				round(((block[block.length - 1]?.finishedAtMs ?? 0) - options.startedAtMs) / 1000, 1),
			],
			lag_p50_ms: round(quantile(lags, 0.5)),
			lag_p95_ms: round(quantile(lags, 0.95)),
			lag_mean_ms: round(mean(lags)),
			gets_per_job: round(mean(block.map((r) => r.gets)), 2),
			requests_per_job: round(mean(block.map((r) => r.requests)), 2),
			samples_learnt_at_create_p50: learnt,
			learnt_p50_ms_at_create: p50After(learnt),
			oracle: onWorkload(
				oraclePlan,
				block.map((r) => r.durationMs),
			),
		});
	}

	const counts = [0, 8, 16, 32, 64, 100, 200, 300, 400, 500, 1000].filter((k) => k < learntOrder.length);
	counts.push(learntOrder.length);
	const learnt = counts.map((k) => {
		const sketch = sketches[k] as DurationSketch;
		const plan = planPolls(sketch, options.plan);
		return {
			samples: k,
			at_s: k === 0 ? 0 : round(((learntOrder[k - 1]?.arrivedAtMs ?? 0) - options.startedAtMs) / 1000, 1),
			learnt_p50_ms: p50After(k),
			learnt_p90_ms: round(sketchQuantile(sketch, 0.9)),
			plan_first_poll_ms: plan[0] ?? null,
			plan_polls: plan.length,
			plan_on_workload: onWorkload(plan, options.durations),
		};
	});
	const oracle = {
		learnt_p50_ms: round(sketchQuantile(truth, 0.5)),
		learnt_p90_ms: round(sketchQuantile(truth, 0.9)),
		plan_first_poll_ms: oraclePlan[0] ?? null,
		plan_polls: oraclePlan.length,
		plan_on_workload: onWorkload(oraclePlan, options.durations),
	};
	return { block_size: options.blockSize, blocks, learnt, oracle };
}

/** The block size of the convergence table: 100 jobs from 500 on, else a fifth of the jobs. */
function blockSizeFor(jobs: number): number {
	return jobs >= 500 ? 100 : Math.max(1, Math.ceil(jobs / 5));
}

/**
 * Recomputes every mode's `convergence` from the jobs' rows (`deep-jobs.json`), after a change to
 * how it is computed (`--report-from`). `relayOverrides`: the settings the run's relay had.
 */
export function recomputeConvergence(
	modes: Partial<Record<DeepMode, { convergence: unknown; poll_prior_median_ms: number; started_at_ms?: number }>>,
	rowsByMode: Partial<Record<string, DeepJobRow[]>>,
	relayOverrides: Record<string, string>,
	firstArrivalMs: number,
): void {
	for (const [mode, result] of Object.entries(modes)) {
		const rows = rowsByMode[mode];
		if (!result || !rows || rows.length === 0) continue;
		// Runs before `started_at_ms` was kept: the first create, less the first arrival's offset.
		const startedAtMs = result.started_at_ms ?? Math.min(...rows.map((r) => r.createdAtMs)) - firstArrivalMs;
		result.convergence = convergence(rows, {
			startedAtMs,
			priorMedianMs: result.poll_prior_median_ms,
			blockSize: blockSizeFor(rows.length),
			plan: planSettings(relayOverrides),
			durations: rows.map((r) => r.durationMs),
		});
	}
}

/** Submits job i at `startedAtMs + arrivalsMs[i]`, each as its own caller. */
async function submitAtArrivals(
	url: string,
	callbackUrl: string,
	workload: DeepWorkload,
	startedAtMs: number,
): Promise<Submission[]> {
	return Promise.all(
		workload.arrivalsMs.map(async (at, index) => {
			await sleep(Math.max(0, startedAtMs + at - Date.now()));
			const [submission] = await submitAll({
				url,
				apiKey: BENCH_API_KEY,
				count: 1,
				bodyFor: () => relayBody(DEEP_MODEL, textOf(workload, index), callbackUrl),
				concurrency: 1,
			});
			return { ...(submission as Submission), index };
		}),
	);
}

/** One watch mode of the relay on the deep workload, on a fresh relay. */
export async function runDeepMode(ctx: ScenarioContext, workload: DeepWorkload, mode: DeepMode) {
	const { options } = ctx;
	const label = `deep-${mode}`;
	const vars: Record<string, string> = { WATCH_MODE: mode };
	if (options.deepPriorMedianMs !== undefined) vars.POLL_PRIOR_MEDIAN_MS = String(options.deepPriorMedianMs);
	const stack = await startRelayStack(ctx, label, {}, {}, vars);
	try {
		const { relay, receiver, emulator } = stack;
		const finals = receiver.finalByJob();
		relay.sampler.resetPeak();
		const cpuBefore = relay.sampler.snapshot();
		const count = workload.durations.length;
		ctx.log(
			`${label}: ${count} ${DEEP_MODEL} jobs arriving over ${options.deepArrivalS} s, median ${options.deepMedianMs / 1000} s σ ${options.deepSigma}; WATCH_MODE=${mode}`,
		);
		const startedAtMs = Date.now();
		// This receiver gets this mode's pushes only.
		const progress = setInterval(
			() =>
				ctx.log(`${label}: t=${Math.round((Date.now() - startedAtMs) / 1000)} s, ${finals.size} of ${count} pushed`),
			60_000,
		);
		let submissions: Submission[];
		let drained: boolean;
		try {
			submissions = await submitAtArrivals(
				`${relay.url}/async/chat/completions`,
				stack.callbackUrl,
				workload,
				startedAtMs,
			);
			const ids = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
			drained = await waitUntil(
				() => ids.every((id) => finals.has(id)),
				Math.max(0, startedAtMs + waitBudgetMs(options, workload) - Date.now()),
				250,
			);
		} finally {
			clearInterval(progress);
		}
		const jobIds = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		const cpuAfter = relay.sampler.snapshot();
		const peakRss = relay.sampler.peakRssBytes();
		const lastPush = Math.max(...jobIds.map((id) => finals.get(id)?.arrivedAtMs ?? 0));
		await sleep(options.dupWindowMs);

		const submit = submitFigures(submissions);
		const questions = questionsOf(submissions, (i) => textOf(workload, i));
		const upstream = joinUpstream(emulator.emulator.stats().jobs, questions);
		const { lags, ...push } = pushFigures(jobIds, receiver, upstream);
		ctx.log(`${label}: reading each job's counters back from the relay`);
		const counters = await readCounters({ relayUrl: relay.url, apiKey: BENCH_API_KEY, jobIds, concurrency: 16 });

		const indexOf = new Map(submissions.flatMap((s) => (s.jobId ? [[s.jobId, s.index] as const] : [])));
		const rows: DeepJobRow[] = jobIds.flatMap((id) => {
			const followed = upstream.byJob.get(id);
			if (!followed) return [];
			const runs = upstream.runsByJob.get(id) ?? [];
			const sum = (pick: (run: (typeof runs)[number]) => number) => runs.reduce((total, run) => total + pick(run), 0);
			const arrival = finals.get(id);
			const c = counters.byJob.get(id);
			const index = indexOf.get(id) as number;
			return [
				{
					index,
					durationMs: workload.durations[index] as number,
					createdAtMs: followed.createdAtMs,
					finishedAtMs: followed.finishedAtMs,
					arrivedAtMs: arrival?.arrivedAtMs ?? null,
					lagMs: arrival && followed.finishedAtMs !== null ? arrival.arrivedAtMs - followed.finishedAtMs : null,
					requests: sum((run) => run.creates + run.gets + run.streams + run.cancels),
					gets: sum((run) => run.gets),
					streams: sum((run) => run.streams),
					alarmRuns: c?.alarm_runs ?? null,
					polls: c?.upstream_polls ?? null,
					relayStreams: c?.upstream_streams ?? null,
					streamMs: c?.stream_ms ?? null,
				},
			];
		});

		const all = [...counters.byJob.values()];
		const perJob = (pick: (c: (typeof all)[number]) => number | null) =>
			counters.available ? round(mean(all.map((c) => pick(c) ?? 0)), 2) : null;
		const alarmRuns = perJob((c) => c.alarm_runs);
		const indexWrites = perJob((c) => c.index_writes);
		const kvWrites = perJob((c) => c.kv_writes);
		const otherDo = perJob((c) => c.other_do_requests) ?? 0;
		const streamReported = all.some((c) => c.stream_ms !== null);
		const streamMsPerJob = streamReported ? (mean(all.map((c) => c.stream_ms ?? 0)) ?? 0) : null;
		const cost =
			alarmRuns !== null && indexWrites !== null && kvWrites !== null && jobIds.length > 0
				? costPer1000Jobs({
						workerRequestsPerJob: submissions.length / jobIds.length,
						doRequestsPerJob: 1 + indexWrites + alarmRuns + otherDo,
						kvWritesPerJob: kvWrites,
						kvReadsPerJob: 0,
						doActiveMs: options.costDoActiveMs,
						streamMsPerJob: streamMsPerJob ?? 0,
					})
				: null;
		const lagMeanMs = mean(lags);
		const lagValue = lagValueUsdPerHour(options);
		// The caller's wait, valued as the relay values it: mean lag × jobs × the hourly value.
		const lagUsd = lagMeanMs === null ? null : (lagMeanMs / 3_600_000) * lagValue * 1000;
		const streamed = all.filter((c) => (c.upstream_streams ?? 0) > 0);
		const relayStreams = all.reduce((total, c) => total + (c.upstream_streams ?? 0), 0);
		const cpuSeconds = relay.sampler.cpuSeconds(cpuBefore, cpuAfter);
		const upstreamFigs = upstreamFigures(jobIds, upstream);

		return {
			result: {
				mode,
				jobs: count,
				poll_prior_median_ms: priorMedianOf(options),
				drained,
				drain_s: round((lastPush - startedAtMs) / 1000, 1),
				submit: {
					accepted: submit.accepted,
					failures: submit.submit_failures,
					failures_by_status: submit.submit_failures_by_status,
					latency_p50_ms: submit.latency_p50_ms,
					latency_p99_ms: submit.latency_p99_ms,
					sample_errors: submit.sample_errors,
				},
				...push,
				lag_mean_ms: round(lagMeanMs),
				...upstreamFigs,
				upstream_requests_per_job: round(mean(rows.map((r) => r.requests)), 2),
				upstream_streams_per_job: round(mean(rows.map((r) => r.streams)), 2),
				counters_available: counters.available,
				counters_note: counters.note,
				alarm_runs_per_job: alarmRuns,
				upstream_polls_per_job: perJob((c) => c.upstream_polls),
				relay_stream_connections_per_job: streamReported ? perJob((c) => c.upstream_streams) : null,
				jobs_streamed: counters.available ? streamed.length : null,
				jobs_polled: counters.available ? all.filter((c) => c.upstream_polls > 0).length : null,
				/** Stream connections beyond the first of each job that streamed. */
				stream_reconnects: counters.available ? relayStreams - streamed.length : null,
				stream_ms_per_job: round(streamMsPerJob),
				kv_writes_per_job: kvWrites,
				index_writes_per_job: indexWrites,
				other_do_requests_per_job: otherDo,
				delivery_attempts_per_job: perJob((c) => c.delivery_attempts),
				cost_per_1000_jobs: cost,
				lag_value_usd_per_hour: lagValue,
				lag_value_usd_per_1000_jobs: round(lagUsd, 5),
				lag_weighted_usd_per_1000_jobs:
					cost?.total_usd == null || lagUsd === null ? null : round(cost.total_usd + lagUsd, 5),
				started_at_ms: startedAtMs,
				convergence: convergence(rows, {
					startedAtMs,
					priorMedianMs: priorMedianOf(options),
					blockSize: blockSizeFor(count),
					plan: planSettings(options.relayVars),
					durations: workload.durations,
				}),
				workerd_peak_rss_mb: peakRss === null ? null : round(peakRss / 2 ** 20, 1),
				workerd_cpu_s_per_job: cpuSeconds === null ? null : round(cpuSeconds / Math.max(1, jobIds.length), 5),
				relay_error_lines: relay.errorLines(),
			},
			rows,
		};
	} finally {
		await stack.stop();
	}
}

/** One fixed poller over the deep workload, on a fresh emulator: the official SDK, every `intervalS`. */
async function runDeepInterval(ctx: ScenarioContext, workload: DeepWorkload, intervalS: number) {
	const { options, cleanup } = ctx;
	const emulator = await startEmulator({
		host: "127.0.0.1",
		port: 0,
		apiKey: EMULATOR_API_KEY,
		quiet: true,
		seed: options.seed,
	});
	const stop = cleanup.add(`emulator (deep frontier ${intervalS} s)`, () => emulator.close());
	try {
		const client = new Perplexity({ baseURL: emulator.url, apiKey: EMULATOR_API_KEY, timeout: 30_000 });
		const intervalMs = intervalS * 1000;
		// Bounded: no job is polled past its duration plus the grace period.
		const maxPolls = Math.ceil((Math.max(...workload.durations) + options.graceMs) / intervalMs) + 1;
		const startedAtMs = Date.now();
		const seen = await Promise.all(
			workload.arrivalsMs.map(async (at, index) => {
				await sleep(Math.max(0, startedAtMs + at - Date.now()));
				let id: string;
				try {
					const created = await client.responses.create({
						preset: DEEP_PRESET,
						input: [{ type: "message", role: "user", content: textOf(workload, index) }],
						background: true,
					});
					id = created.id;
				} catch {
					return { id: null, seenFinalAtMs: null };
				}
				for (let polls = 0; polls < maxPolls; polls++) {
					await sleep(intervalMs);
					try {
						const current = await client.responses.retrieve(id);
						if (TERMINAL.has(current.status)) return { id, seenFinalAtMs: Date.now() };
					} catch {
						// A failed GET is a GET: the next one comes on schedule.
					}
				}
				return { id, seenFinalAtMs: null };
			}),
		);
		const stats = emulator.emulator.stats().jobs;
		const lags: number[] = [];
		const gets: number[] = [];
		const requests: number[] = [];
		for (const job of seen) {
			const run = job.id ? stats[job.id] : undefined;
			if (!run) continue;
			gets.push(run.gets);
			requests.push(run.creates + run.gets + run.streams + run.cancels);
			if (job.seenFinalAtMs !== null && run.finishedAtMs !== null) lags.push(job.seenFinalAtMs - run.finishedAtMs);
		}
		const created = seen.filter((j) => j.id !== null).length;
		const lag = summary(lags);
		return {
			interval_s: intervalS,
			jobs: workload.durations.length,
			created,
			lost: created - lags.length,
			lag_p50_ms: lag.p50,
			lag_p95_ms: lag.p95,
			lag_p99_ms: lag.p99,
			lag_max_ms: lag.max,
			lag_mean_ms: round(mean(lags)),
			gets_per_job: round(mean(gets), 2),
			requests_per_job: round(mean(requests), 2),
		};
	} finally {
		await stop();
	}
}

/** The fixed pollers' frontier on the deep workload: every interval at once, each on its own emulator. */
export async function runDeepFrontier(ctx: ScenarioContext, workload: DeepWorkload) {
	const intervals = ctx.options.deepIntervalsS;
	ctx.log(
		`deep-frontier: SDK background runs (preset ${DEEP_PRESET}), retrieved every ${intervals.join(", ")} s (side by side), ${workload.durations.length} jobs each, same arrivals`,
	);
	return Promise.all(intervals.map((intervalS) => runDeepInterval(ctx, workload, intervalS)));
}

/** The workload as the report states it. */
export function deepWorkloadSummary(options: BenchOptions, workload: DeepWorkload) {
	const durations = summary(workload.durations);
	return {
		jobs: workload.durations.length,
		model: DEEP_MODEL,
		upstream_preset: DEEP_PRESET,
		durations: { distribution: "lognormal", median_ms: options.deepMedianMs, sigma: options.deepSigma },
		duration_p50_ms: durations.p50,
		duration_p99_ms: durations.p99,
		duration_max_ms: durations.max,
		arrivals: `a seeded Poisson process: ${workload.durations.length} arrivals over ${options.deepArrivalS} s`,
		arrival_s: options.deepArrivalS,
		last_arrival_s: round(Math.max(...workload.arrivalsMs) / 1000, 1),
		seeds: { durations: options.seed + 2, arrivals: options.seed + 3 },
		poll_prior_median_ms: priorMedianOf(options),
		prior_told: options.deepPriorMedianMs !== undefined || options.relayVars.POLL_PRIOR_MEDIAN_MS !== undefined,
		lag_value_usd_per_hour: lagValueUsdPerHour(options),
	};
}
