/**
 * Scenario `steady`: N jobs through the relay, C submissions in flight at a
 * time, each pushed to the receiver when its upstream job completes. Measures
 * what a user feels (submit latency, push lag), what the upstream sees (GETs
 * per job), what Cloudflare would bill (Durable Object requests, KV writes),
 * and what workerd used (peak RSS, CPU seconds per job).
 */
import { costPer1000Jobs } from "../lib/cost.ts";
import { readCounters, sleep, submitAll, submitFigures, waitUntil } from "../lib/load.ts";
import { jobText, relayBody } from "../lib/workload.ts";
import {
	BENCH_API_KEY,
	joinUpstream,
	mean,
	pushFigures,
	quantile,
	round,
	type ScenarioContext,
	startRelayStack,
	upstreamFigures,
} from "./common.ts";

export async function runSteady(ctx: ScenarioContext, durations: readonly number[]) {
	const { options } = ctx;
	const stack = await startRelayStack(ctx, "steady");
	try {
		const { relay, receiver, emulator } = stack;
		const bodies = durations.map((d, i) => relayBody(options.model, jobText("steady", i, d), stack.callbackUrl));
		relay.sampler.resetPeak();
		const cpuBefore = relay.sampler.snapshot();
		ctx.log(`steady: submitting ${bodies.length} jobs, ${options.concurrency} in flight`);
		const submissions = await submitAll({
			url: `${relay.url}/async/chat/completions`,
			apiKey: BENCH_API_KEY,
			count: bodies.length,
			bodyFor: (index) => bodies[index],
			concurrency: options.concurrency,
		});
		const submit = submitFigures(submissions);
		const jobIds = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		const timeoutMs = Math.max(...durations) + options.graceMs;
		ctx.log(`steady: ${jobIds.length} accepted; waiting up to ${Math.round(timeoutMs / 1000)} s for every push`);
		const finals = receiver.finalByJob();
		const drained = await waitUntil(() => jobIds.every((id) => finals.has(id)), timeoutMs);
		const cpuAfter = relay.sampler.snapshot();
		const peakRss = relay.sampler.peakRssBytes();
		const peakTreeRss = relay.sampler.peakTreeRssBytes();
		const lastPush = Math.max(...jobIds.map((id) => finals.get(id)?.arrivedAtMs ?? 0));
		await sleep(options.dupWindowMs);

		const upstream = joinUpstream(emulator.emulator.stats().jobs);
		const push = pushFigures(jobIds, receiver, upstream);
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
					})
				: null;

		const { lags: _lags, ...pushed } = push;
		return {
			jobs: bodies.length,
			concurrency: options.concurrency,
			drained,
			drain_s: round((lastPush - submit.first_submit_at_ms) / 1000, 1),
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
			workerd_cpu_s_per_job: cpuSeconds === null ? null : round(cpuSeconds / Math.max(1, jobIds.length), 5),
			cost_per_1000_jobs: cost,
			relay_error_lines: relay.errorLines(),
		};
	} finally {
		await stack.stop();
	}
}
