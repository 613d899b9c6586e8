/**
 * `npm run bench:profile`: where the relay's CPU goes. Starts the same stack as
 * the `steady` scenario, takes a V8 CPU profile of the Worker (and its Durable
 * Objects, which share its isolate under wrangler dev) through the DevTools
 * inspector while N jobs are submitted and pushed, then prints the functions
 * with the most self time and writes the `.cpuprofile` (open it in Chrome
 * DevTools or speedscope).
 *
 *   npm run bench:profile -- --jobs 300 --concurrency 32 --out /tmp/relay.cpuprofile
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { selfTimes, startCpuProfile } from "./lib/inspector.ts";
import { submitAll, submitFigures, waitUntil } from "./lib/load.ts";
import { Cleanup, ROOT } from "./lib/stack.ts";
import { jobText, lognormalDurations, relayBody } from "./lib/workload.ts";
import { parseOptions } from "./options.ts";
import { BENCH_API_KEY, startRelayStack } from "./scenarios/common.ts";

const { values } = parseArgs({
	options: {
		jobs: { type: "string", default: "300" },
		concurrency: { type: "string", default: "32" },
		out: { type: "string", default: "/tmp/sonar-relay.cpuprofile" },
		top: { type: "string", default: "30" },
		"relay-var": { type: "string", multiple: true },
	},
});
const jobs = Number(values.jobs);
const concurrency = Number(values.concurrency);

const cleanup = new Cleanup();
const options = parseOptions(
	(values["relay-var"] ?? []).flatMap((v) => ["--relay-var", v]),
	ROOT,
);
if (options === "help") process.exit(0);
try {
	const ctx = { options, cleanup, log: (line: string) => console.log(line) };
	const stack = await startRelayStack(ctx, "profile");
	const profiling = await startCpuProfile(stack.relay.inspectorPort);
	const cpuBefore = stack.relay.sampler.snapshot();
	const durations = lognormalDurations(jobs, { medianMs: options.medianMs, sigma: options.sigma, seed: options.seed });
	const submissions = await submitAll({
		url: `${stack.relay.url}/async/chat/completions`,
		apiKey: BENCH_API_KEY,
		count: jobs,
		concurrency,
		bodyFor: (i) => relayBody(options.model, jobText("profile", i, durations[i] ?? 1), stack.callbackUrl),
	});
	const submit = submitFigures(submissions);
	const ids = submissions.flatMap((s) => (s.jobId ? [s.jobId] : []));
	const finals = stack.receiver.finalByJob();
	await waitUntil(() => ids.every((id) => finals.has(id)), 120_000);
	const profile = await profiling.stop();
	const cpu = stack.relay.sampler.cpuSeconds(cpuBefore, stack.relay.sampler.snapshot()) ?? Number.NaN;
	writeFileSync(values.out, JSON.stringify(profile));
	const sampled = (profile.endTime - profile.startTime) / 1000;
	const times = selfTimes(profile);
	const busy = times.filter((t) => !/^\((idle|program|garbage collector)\)/.test(t.name));
	const busyMs = busy.reduce((sum, t) => sum + t.ms, 0);
	console.log(
		`submit ${submit.throughput_per_s} jobs/s, p50 ${submit.latency_p50_ms} ms; ${finals.size}/${ids.length} pushed; ` +
			`workerd CPU ${((cpu * 1000) / ids.length).toFixed(1)} ms/job; JS in the isolate ${(busyMs / ids.length).toFixed(1)} ms/job ` +
			`(profile ${sampled.toFixed(0)} ms, written to ${values.out})`,
	);
	for (const t of times.slice(0, Number(values.top))) console.log(`${t.ms.toFixed(0).padStart(8)} ms  ${t.name}`);
	await stack.stop();
} finally {
	await cleanup.run();
}
