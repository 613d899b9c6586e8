/**
 * Scenario `steady`, in two phases on one relay:
 *
 * 1. **Ingest burst.** B jobs, C submissions in flight, as fast as the relay
 *    answers: submit throughput and latency, compared with the bare-Worker
 *    ceiling at the same concurrency. This saturates the machine, so the push
 *    lag of these jobs is reported too, but apart.
 * 2. **Steady state.** N jobs, C jobs in flight: C callers each submit a job,
 *    wait for its push, and submit the next, as the fixed-interval baseline's
 *    callers do. Measures what a user feels (push lag), what the upstream sees
 *    (GETs per job), what Cloudflare would bill (Durable Object requests, KV
 *    writes), and what workerd used (peak RSS, CPU seconds per job).
 *
 * Why two phases: under `wrangler dev` every Durable Object of the relay runs
 * on one JavaScript thread, so a burst that saturates it delays every poll and
 * push on this machine, which is not how Cloudflare runs them (each object is
 * scheduled on its own). Lag is measured where the machine is not the
 * bottleneck; ingest where it is.
 */
import { costPer1000Jobs } from "../lib/cost.ts";
import { pool, readCounters, type Submission, sleep, submitAll, submitFigures, waitUntil } from "../lib/load.ts";
import { summary } from "../lib/stats.ts";
import { jobText, relayBody } from "../lib/workload.ts";
import {
	BENCH_API_KEY,
	joinUpstream,
	mean,
	pushFigures,
	quantile,
	questionsOf,
	round,
	type ScenarioContext,
	startRelayStack,
	upstreamFigures,
} from "./common.ts";

/** How often a steady-state caller checks whether its push has arrived. */
const PUSH_CHECK_MS = 5;

export async function runSteady(ctx: ScenarioContext, durations: readonly number[], burstDurations: readonly number[]) {
	const { options } = ctx;
	const stack = await startRelayStack(ctx, "steady");
	try {
		const { relay, receiver, emulator } = stack;
		const finals = receiver.finalByJob();
		const url = `${relay.url}/async/chat/completions`;
		relay.sampler.resetPeak();
		const cpuBefore = relay.sampler.snapshot();

		// Phase 1: the ingest burst.
		const burstBodies = burstDurations.map((d, i) =>
			relayBody(options.model, jobText("burst", i, d), stack.callbackUrl),
		);
		ctx.log(`steady: ingest burst of ${burstBodies.length} jobs, ${options.concurrency} submissions in flight`);
		const burstSubmissions = await submitAll({
			url,
			apiKey: BENCH_API_KEY,
			count: burstBodies.length,
			bodyFor: (index) => burstBodies[index],
			concurrency: options.concurrency,
		});
		const burst = submitFigures(burstSubmissions);
		const burstIds = burstSubmissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		const burstTimeoutMs = Math.max(...burstDurations) + options.graceMs;
		const burstDrained = await waitUntil(() => burstIds.every((id) => finals.has(id)), burstTimeoutMs);

		// Phase 2: the steady state, C jobs in flight.
		const bodies = durations.map((d, i) => relayBody(options.model, jobText("steady", i, d), stack.callbackUrl));
		ctx.log(`steady: ${bodies.length} jobs, ${options.concurrency} in flight (each caller waits for its push)`);
		const pushTimeoutMs = Math.max(...durations) + options.graceMs;
		let stalled = 0;
		const submissions: Submission[] = await pool(bodies.length, options.concurrency, async (index) => {
			const [submission] = await submitAll({
				url,
				apiKey: BENCH_API_KEY,
				count: 1,
				bodyFor: () => bodies[index],
				concurrency: 1,
			});
			const result = { ...(submission as Submission), index };
			const id = result.jobId;
			// Bounded: a push that never comes is reported as lost, and this caller moves on.
			if (id && !(await waitUntil(() => finals.has(id), pushTimeoutMs, PUSH_CHECK_MS))) stalled++;
			return result;
		});
		const submit = submitFigures(submissions);
		const jobIds = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		const drained = stalled === 0 && burstDrained;
		const cpuAfter = relay.sampler.snapshot();
		const peakRss = relay.sampler.peakRssBytes();
		const peakTreeRss = relay.sampler.peakTreeRssBytes();
		const lastPush = Math.max(...jobIds.map((id) => finals.get(id)?.arrivedAtMs ?? 0));
		await sleep(options.dupWindowMs);

		const questions = questionsOf(burstSubmissions, (i) => jobText("burst", i, burstDurations[i] as number));
		questionsOf(submissions, (i) => jobText("steady", i, durations[i] as number), questions);
		const upstream = joinUpstream(emulator.emulator.stats().jobs, questions);
		const push = pushFigures(jobIds, receiver, upstream);
		const burstPush = pushFigures(burstIds, receiver, upstream);
		const allIds = [...burstIds, ...jobIds];
		ctx.log(`steady: reading each job's counters back from the relay`);
		const counters = await readCounters({ relayUrl: relay.url, apiKey: BENCH_API_KEY, jobIds, concurrency: 16 });
		const all = [...counters.byJob.values()];
		const perJob = (pick: (c: (typeof all)[number]) => number) =>
			counters.available ? round(mean(all.map(pick)), 2) : null;
		const lateness = all.flatMap((c) => c.alarm_lateness_ms);

		const cpuSeconds = relay.sampler.cpuSeconds(cpuBefore, cpuAfter);
		const alarmRuns = perJob((c) => c.alarm_runs);
		const indexWrites = perJob((c) => c.index_writes);
		const kvWrites = perJob((c) => c.kv_writes);
		// Under WATCH_MODE=auto (production's default) short jobs are followed through their event
		// stream too: the held stream is billed as DO duration.
		const streamReported = all.some((c) => c.stream_ms !== null);
		const streamMsPerJob = streamReported ? perJob((c) => c.stream_ms ?? 0) : null;
		const otherDoReported = all.some((c) => c.other_do_requests !== null);
		const otherDo = otherDoReported ? (perJob((c) => c.other_do_requests ?? 0) ?? 0) : 0;
		const cost =
			alarmRuns !== null && indexWrites !== null && kvWrites !== null && jobIds.length > 0
				? costPer1000Jobs({
						workerRequestsPerJob: submissions.length / jobIds.length,
						// The Worker's create RPC into the Job DO, the Job DO's RPCs into the Tenant DO and
						// into any other DO (when the relay reports them), and alarm runs.
						doRequestsPerJob: 1 + indexWrites + alarmRuns + otherDo,
						kvWritesPerJob: kvWrites,
						// A push user never GETs the result; the bench made no GET during the measured window.
						kvReadsPerJob: 0,
						doActiveMs: options.costDoActiveMs,
						streamMsPerJob: streamMsPerJob ?? 0,
					})
				: null;

		const { lags: _lags, ...pushed } = push;
		// Events of either phase are known jobs.
		pushed.unknown_job_events = pushFigures(allIds, receiver, upstream).unknown_job_events;
		return {
			jobs: bodies.length,
			concurrency: options.concurrency,
			drained,
			drain_s: round((lastPush - submit.first_submit_at_ms) / 1000, 1),
			burst: {
				jobs: burstBodies.length,
				accepted: burst.accepted,
				failures: burst.submit_failures,
				failures_by_status: burst.submit_failures_by_status,
				throughput_per_s: burst.throughput_per_s,
				latency_p50_ms: burst.latency_p50_ms,
				latency_p99_ms: burst.latency_p99_ms,
				sample_errors: burst.sample_errors,
				lost: burstPush.lost,
				push_lag_ms: summary(burstPush.lags),
			},
			// Over both phases: every accepted job is pushed exactly once.
			lost_all: burstPush.lost + push.lost,
			submit: {
				accepted: submit.accepted,
				failures: submit.submit_failures,
				failures_by_status: submit.submit_failures_by_status,
				throughput_per_s: submit.throughput_per_s,
				latency_p50_ms: submit.latency_p50_ms,
				latency_p99_ms: submit.latency_p99_ms,
				sample_errors: submit.sample_errors,
			},
			...pushed,
			...upstreamFigures(jobIds, upstream),
			counters_available: counters.available,
			counters_note: counters.note,
			alarm_runs_per_job: alarmRuns,
			upstream_polls_per_job: perJob((c) => c.upstream_polls),
			stream_connections_per_job: streamReported ? perJob((c) => c.upstream_streams ?? 0) : null,
			stream_ms_per_job: streamMsPerJob,
			create_attempts_per_job: perJob((c) => c.create_attempts),
			kv_writes_per_job: kvWrites,
			index_writes_per_job: indexWrites,
			other_do_requests_per_job: otherDoReported ? otherDo : null,
			delivery_attempts_per_job: perJob((c) => c.delivery_attempts),
			alarm_lateness_ms: {
				p50: counters.available ? round(quantile(lateness, 0.5)) : null,
				p99: counters.available ? round(quantile(lateness, 0.99)) : null,
			},
			workerd_peak_rss_mb: peakRss === null ? null : round(peakRss / 2 ** 20, 1),
			wrangler_tree_peak_rss_mb: peakTreeRss === null ? null : round(peakTreeRss / 2 ** 20, 1),
			workerd_cpu_s: round(cpuSeconds, 2),
			workerd_cpu_s_per_job: cpuSeconds === null ? null : round(cpuSeconds / Math.max(1, allIds.length), 5),
			cost_per_1000_jobs: cost,
			relay_error_lines: relay.errorLines(),
		};
	} finally {
		await stack.stop();
	}
}
