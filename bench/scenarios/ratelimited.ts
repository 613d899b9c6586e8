/**
 * Scenario `ratelimited`: the emulator admits at most R creates per second
 * (a token bucket, 429 + `Retry-After` beyond), and N jobs are submitted at
 * once. A relay that queues politely drains in about N/R seconds with few 429s;
 * one that retries blindly burns the rate limit on 429s and drains late.
 */
import { sleep, submitAll, submitFigures, waitUntil } from "../lib/load.ts";
import { ratio, round } from "../lib/stats.ts";
import { jobText, relayBody } from "../lib/workload.ts";
import {
	BENCH_API_KEY,
	joinUpstream,
	pushFigures,
	questionsOf,
	type ScenarioContext,
	startRelayStack,
	upstreamFigures,
} from "./common.ts";

/**
 * The earliest the last push can arrive for a relay that cannot see the future: creates go
 * at `rate` per second from the first submission, in submission order, and each job then takes
 * its duration, so the last push comes at max over i of (i / rate + duration i). (An oracle
 * that knew the durations would send the longest first; no relay can.)
 */
export function idealLastPushS(durations: readonly number[], rate: number): number {
	return Math.max(...durations.map((d, i) => i / rate + d / 1000));
}

export async function runRatelimited(ctx: ScenarioContext, durations: readonly number[]) {
	const { options } = ctx;
	if (!(options.rate > 0)) throw new Error("ratelimited: --rate must be above 0");
	// The relay is told the limit, as an operator sets UPSTREAM_CREATE_RPS to their plan's; `--relay-var
	// UPSTREAM_CREATE_RPS=…` measures it told wrong, learning the limit from 429s alone.
	const relayCreateRps = options.relayVars.UPSTREAM_CREATE_RPS ?? String(options.rate);
	const stack = await startRelayStack(
		ctx,
		"ratelimited",
		{ createRateLimitPerSecond: options.rate },
		{},
		{ UPSTREAM_CREATE_RPS: relayCreateRps },
	);
	try {
		const { relay, receiver, emulator } = stack;
		const bodies = durations.map((d, i) => relayBody(options.model, jobText("ratelimited", i, d), stack.callbackUrl));
		const idealS = bodies.length / options.rate;
		ctx.log(`ratelimited: submitting ${bodies.length} jobs at once; upstream admits ${options.rate} creates/s`);
		const submissions = await submitAll({
			url: `${relay.url}/async/chat/completions`,
			apiKey: BENCH_API_KEY,
			count: bodies.length,
			bodyFor: (index) => bodies[index],
			concurrency: bodies.length,
		});
		const submit = submitFigures(submissions);
		const jobIds = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		// Generous and bounded: ten times the ideal drain, plus the longest job, plus the grace period.
		const timeoutMs = idealS * 10_000 + Math.max(...durations) + options.graceMs;
		ctx.log(`ratelimited: ${jobIds.length} accepted; waiting up to ${Math.round(timeoutMs / 1000)} s for every push`);
		const finals = receiver.finalByJob();
		const drained = await waitUntil(() => jobIds.every((id) => finals.has(id)), timeoutMs);
		const lastPush = Math.max(...jobIds.map((id) => finals.get(id)?.arrivedAtMs ?? 0));
		await sleep(options.dupWindowMs);

		const stats = emulator.emulator.stats();
		const questions = questionsOf(submissions, (i) => jobText("ratelimited", i, durations[i] as number));
		const upstream = joinUpstream(stats.jobs, questions);
		const { lags: _lags, ...push } = pushFigures(jobIds, receiver, upstream);
		const drainS = drained ? (lastPush - submit.first_submit_at_ms) / 1000 : null;
		const upstream429 = stats.responses["429"] ?? 0;
		const createdAt = [...upstream.byJob.values()].map((j) => j.createdAtMs);
		const lastCreateS = createdAt.length > 0 ? (Math.max(...createdAt) - submit.first_submit_at_ms) / 1000 : null;
		return {
			jobs: bodies.length,
			rate_per_s: options.rate,
			relay_create_rps: Number(relayCreateRps),
			drained,
			drain_s: round(drainS, 1),
			ideal_drain_s: round(idealS, 1),
			// The last push also waits for the last jobs' own durations: its ideal is the best any relay could do.
			ideal_last_push_s: round(idealLastPushS(durations, options.rate), 1),
			drain_over_ideal: round(ratio(drainS, idealLastPushS(durations, options.rate)), 2),
			// When the last upstream job was admitted: the create queue's own drain time, against jobs / rate.
			last_create_admitted_s: round(lastCreateS, 1),
			create_drain_over_ideal: round(ratio(lastCreateS, idealS), 2),
			upstream_create_calls: stats.creates,
			upstream_429s: upstream429,
			upstream_429_share_of_creates: round(ratio(upstream429, stats.creates), 3),
			submit: {
				accepted: submit.accepted,
				failures: submit.submit_failures,
				failures_by_status: submit.submit_failures_by_status,
				latency_p50_ms: submit.latency_p50_ms,
				latency_p99_ms: submit.latency_p99_ms,
				sample_errors: submit.sample_errors,
			},
			...push,
			...upstreamFigures(jobIds, upstream),
			relay_error_lines: relay.errorLines(),
		};
	} finally {
		await stack.stop();
	}
}
