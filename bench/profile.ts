/**
 * `npm run bench:profile`: where the relay's CPU goes. Starts the same stack as
 * the `steady` scenario, takes a V8 CPU profile of the Worker (and its Durable
 * Objects, which share its isolate under wrangler dev) through the DevTools
 * inspector while N jobs are submitted and pushed, then prints the functions
 * with the most self time and writes the `.cpuprofile` (open it in Chrome
 * DevTools or speedscope).
 *
 *   npm run bench:profile -- --jobs 300 --concurrency 32 --out /tmp/relay.cpuprofile
 *
 * `--submit-only` profiles the submissions alone: the jobs get `--median-ms`
 * (default 600000) durations, so none completes and no poll is due while they
 * are submitted, and the profile stops when the last one is answered. That is
 * the submit path's own cost, without the polls and pushes of earlier jobs.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { selfTimes, startCpuProfile } from "./lib/inspector.ts";
import { submitAll, submitFigures, waitUntil } from "./lib/load.ts";
import { watchMachineLoad } from "./lib/proc.ts";
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
		"submit-only": { type: "boolean", default: false },
		"median-ms": { type: "string" },
		"no-profile": { type: "boolean", default: false },
	},
});
const submitOnly = values["submit-only"] === true;
const jobs = Number(values.jobs);
const concurrency = Number(values.concurrency);

const cleanup = new Cleanup();
const options = parseOptions(
	[
		...(values["relay-var"] ?? []).flatMap((v) => ["--relay-var", v]),
		...(values["median-ms"] || submitOnly ? ["--median-ms", values["median-ms"] ?? "600000"] : []),
	],
	ROOT,
);
if (options === "help") process.exit(0);
try {
	const ctx = { options, cleanup, log: (line: string) => console.log(line) };
	const stack = await startRelayStack(ctx, "profile");
	const profiling = values["no-profile"] ? null : await startCpuProfile(stack.relay.inspectorPort);
	const machineLoad = watchMachineLoad();
	const cpuBefore = stack.relay.sampler.snapshot();
	const harnessBefore = process.cpuUsage();
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
	if (!submitOnly) await waitUntil(() => ids.every((id) => finals.has(id)), 120_000);
	const profile = profiling ? await profiling.stop() : null;
	const machineCores = machineLoad();
	const cpu = stack.relay.sampler.cpuSeconds(cpuBefore, stack.relay.sampler.snapshot()) ?? Number.NaN;
	const harness = process.cpuUsage(harnessBefore);
	const harnessMs = (harness.user + harness.system) / 1000;
	if (profile) writeFileSync(values.out, JSON.stringify(profile));
	const sampled = profile ? (profile.endTime - profile.startTime) / 1000 : 0;
	const times = profile ? selfTimes(profile) : [];
	const busy = times.filter((t) => !/^\((idle|program|garbage collector)\)/.test(t.name));
	const busyMs = busy.reduce((sum, t) => sum + t.ms, 0);
	console.log(
		`submit ${submit.throughput_per_s} jobs/s, p50 ${submit.latency_p50_ms} ms; ` +
			(submitOnly ? "submissions only; " : `${finals.size}/${ids.length} pushed; `) +
			`workerd CPU ${((cpu * 1000) / ids.length).toFixed(1)} ms/job; JS in the isolate ${profile ? `${(busyMs / ids.length).toFixed(1)} ms/job` : "n/a"}; ` +
			`this process (emulator, receiver, load) ${(harnessMs / ids.length).toFixed(1)} ms/job; ` +
			`machine ${machineCores === null ? "n/a" : machineCores.toFixed(2)} of ${cpus().length} cores busy` +
			(profile ? ` (profile ${sampled.toFixed(0)} ms, written to ${values.out})` : " (not profiled)"),
	);
	for (const t of times.slice(0, Number(values.top))) console.log(`${t.ms.toFixed(0).padStart(8)} ms  ${t.name}`);
	await stack.stop();
} finally {
	await cleanup.run();
}
