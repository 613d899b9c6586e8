/**
 * Scenario `scale`: many jobs in flight at once, with long durations, to see
 * what the relay's memory and alarm timing do when every job is a live Durable
 * Object with a pending alarm.
 *
 * So that every job really is in flight at the same time however slowly this
 * machine ingests them, the emulator's clock is paused from the first
 * submission until the last one is answered: every upstream job is created at
 * the same emulator instant and none moves on while the others load. Then the
 * clock resumes, and job i completes L_i later (lognormal, `--scale-median-ms`,
 * `--scale-sigma`). The relay keeps polling during the load, as it would; it
 * just sees the run queued. Completion instants are shifted back to real time (by the
 * pause) for the push lag.
 *
 * The relay's duration prior is set to the scenario's median (POLL_PRIOR_MEDIAN_MS):
 * what is measured here is many live Durable Objects, not how fast a fresh
 * sketch unlearns a 4-second prior while upstream time stands still.
 */
import { readCounters, sleep, submitAll, submitFigures, waitUntil } from "../lib/load.ts";
import { jobText, lognormalDurations, relayBody } from "../lib/workload.ts";
import {
	BENCH_API_KEY,
	joinUpstream,
	pushFigures,
	quantile,
	questionsOf,
	round,
	type ScenarioContext,
	startRelayStack,
	upstreamFigures,
} from "./common.ts";

/** A clock that can be paused: real time minus every pause so far. */
function pausableClock() {
	let pausedAt: number | null = null;
	let shiftMs = 0;
	return {
		now: () => pausedAt ?? Date.now() - shiftMs,
		pause() {
			pausedAt ??= Date.now() - shiftMs;
		},
		resume() {
			if (pausedAt === null) return;
			shiftMs = Date.now() - pausedAt;
			pausedAt = null;
		},
		/** Real time minus the clock's time. */
		shiftMs: () => shiftMs,
	};
}

export async function runScale(ctx: ScenarioContext) {
	const { options } = ctx;
	const count = options.scaleJobs;
	const offsets = lognormalDurations(count, {
		medianMs: options.scaleMedianMs,
		sigma: options.scaleSigma,
		seed: options.seed,
	});
	const clock = pausableClock();
	// The relay is told how long these jobs run, as an operator who knows the model would (its sketch starts
	// empty in a fresh state directory). `--relay-var POLL_PRIOR_MEDIAN_MS=4000` shows a wrong prior instead.
	const stack = await startRelayStack(
		ctx,
		"scale",
		{},
		{ now: clock.now },
		{ POLL_PRIOR_MEDIAN_MS: String(options.scaleMedianMs) },
	);
	try {
		const { relay, receiver, emulator } = stack;
		relay.sampler.resetPeak();
		const t0 = Date.now();
		clock.pause();
		ctx.log(`scale: submitting ${count} jobs, ${options.scaleConcurrency} in flight; upstream time paused meanwhile`);
		const submissions = await submitAll({
			url: `${relay.url}/async/chat/completions`,
			apiKey: BENCH_API_KEY,
			count,
			bodyFor: (index) =>
				relayBody(options.model, jobText("scale", index, offsets[index] as number), stack.callbackUrl),
			concurrency: options.scaleConcurrency,
			deadlineMs: t0 + options.scaleLoadTimeoutMs,
		});
		clock.resume();
		const submit = submitFigures(submissions);
		const jobIds = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
		const timeoutMs = Math.max(...offsets) + options.graceMs;
		ctx.log(
			`scale: ${jobIds.length} accepted in ${round((submit.last_answer_at_ms - t0) / 1000, 1)} s; waiting up to ${Math.round(timeoutMs / 1000)} s for every push`,
		);
		const finals = receiver.finalByJob();
		const drained = await waitUntil(() => jobIds.every((id) => finals.has(id)), timeoutMs, 500);
		const peakRss = relay.sampler.peakRssBytes();
		const peakTreeRss = relay.sampler.peakTreeRssBytes();
		await sleep(options.dupWindowMs);

		// In flight: accepted by the relay, not yet pushed.
		const changes: [number, number][] = [
			...submissions.flatMap((s): [number, number][] => (s.jobId ? [[s.startedAtMs + s.latencyMs, 1]] : [])),
			...jobIds.flatMap((id): [number, number][] => {
				const arrival = finals.get(id);
				return arrival ? [[arrival.arrivedAtMs, -1]] : [];
			}),
		].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
		let inFlight = 0;
		let peakInFlight = 0;
		for (const [, delta] of changes) {
			inFlight += delta;
			peakInFlight = Math.max(peakInFlight, inFlight);
		}

		const questions = questionsOf(submissions, (i) => jobText("scale", i, offsets[i] as number));
		const upstream = joinUpstream(emulator.emulator.stats().jobs, questions);
		const { lags: _lags, ...push } = pushFigures(jobIds, receiver, upstream, clock.shiftMs());
		ctx.log(`scale: reading each job's counters back from the relay`);
		const counters = await readCounters({ relayUrl: relay.url, apiKey: BENCH_API_KEY, jobIds, concurrency: 16 });
		const all = [...counters.byJob.values()];
		const lateness = all.flatMap((c) => c.alarm_lateness_ms);
		const perJob = (pick: (c: (typeof all)[number]) => number | null) =>
			all.length === 0 ? null : round(all.reduce((sum, c) => sum + (pick(c) ?? 0), 0) / all.length, 2);
		return {
			jobs: count,
			submit_concurrency: options.scaleConcurrency,
			upstream_paused_s: round(clock.shiftMs() / 1000, 1),
			poll_prior_median_ms: Number(options.relayVars.POLL_PRIOR_MEDIAN_MS ?? options.scaleMedianMs),
			drained,
			peak_in_flight: peakInFlight,
			all_in_flight_at_once: peakInFlight === count,
			submit: {
				accepted: submit.accepted,
				failures: submit.submit_failures,
				failures_by_status: submit.submit_failures_by_status,
				not_sent: submit.not_sent,
				throughput_per_s: submit.throughput_per_s,
				latency_p50_ms: submit.latency_p50_ms,
				latency_p99_ms: submit.latency_p99_ms,
				load_s: round((submit.last_answer_at_ms - t0) / 1000, 1),
				sample_errors: submit.sample_errors,
			},
			...push,
			...upstreamFigures(jobIds, upstream),
			workerd_peak_rss_mb: peakRss === null ? null : round(peakRss / 2 ** 20, 1),
			wrangler_tree_peak_rss_mb: peakTreeRss === null ? null : round(peakTreeRss / 2 ** 20, 1),
			counters_available: counters.available,
			counters_note: counters.note,
			per_job: {
				alarm_runs: perJob((c) => c.alarm_runs),
				create_attempts: perJob((c) => c.create_attempts),
				upstream_polls: perJob((c) => c.upstream_polls),
				delivery_attempts: perJob((c) => c.delivery_attempts),
				other_do_requests: perJob((c) => c.other_do_requests),
			},
			alarm_lateness_samples: lateness.length,
			alarm_lateness_ms: {
				p50: counters.available ? round(quantile(lateness, 0.5)) : null,
				p99: counters.available ? round(quantile(lateness, 0.99)) : null,
				max: counters.available ? round(quantile(lateness, 1)) : null,
			},
			relay_error_lines: relay.errorLines(),
		};
	} finally {
		await stack.stop();
	}
}
