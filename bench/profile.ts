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
import { submitAll, submitFigures, waitUntil } from "./lib/load.ts";
import { Cleanup, ROOT } from "./lib/stack.ts";
import { jobText, lognormalDurations, relayBody } from "./lib/workload.ts";
import { parseOptions } from "./options.ts";
import { BENCH_API_KEY, startRelayStack } from "./scenarios/common.ts";

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
	children?: number[];
}
interface CpuProfile {
	nodes: ProfileNode[];
	samples: number[];
	timeDeltas: number[];
	startTime: number;
	endTime: number;
}

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

/** A minimal DevTools protocol client over the inspector's WebSocket. */
async function connect(port: number) {
	const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
	const url = targets[0]?.webSocketDebuggerUrl;
	if (!url) throw new Error("no inspector target");
	// The inspector proxy admits local origins only; undici's WebSocket takes headers as an extension.
	const socket = new WebSocket(url, { headers: { Origin: "http://localhost" } } as unknown as string[]);
	await new Promise((resolve, reject) => {
		socket.addEventListener("open", resolve, { once: true });
		socket.addEventListener("error", reject, { once: true });
	});
	let nextId = 1;
	const pending = new Map<number, (result: unknown) => void>();
	socket.addEventListener("message", (event) => {
		const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
		if (message.id !== undefined) pending.get(message.id)?.(message.result);
	});
	return {
		send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
			const id = nextId++;
			socket.send(JSON.stringify({ id, method, params }));
			return new Promise((resolve) => pending.set(id, resolve as (result: unknown) => void));
		},
		close: () => socket.close(),
	};
}

/** Self time per function (ms), largest first. */
function selfTimes(profile: CpuProfile): { name: string; ms: number }[] {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const totals = new Map<string, number>();
	profile.samples.forEach((id, i) => {
		const node = byId.get(id);
		if (!node) return;
		const { functionName, url, lineNumber } = node.callFrame;
		const file = url.split("/").slice(-2).join("/");
		const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
		totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
	});
	return [...totals].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

const cleanup = new Cleanup();
const options = parseOptions(
	(values["relay-var"] ?? []).flatMap((v) => ["--relay-var", v]),
	ROOT,
);
if (options === "help") process.exit(0);
try {
	const ctx = { options, cleanup, log: (line: string) => console.log(line) };
	const stack = await startRelayStack(ctx, "profile");
	const inspector = await connect(stack.relay.inspectorPort);
	await inspector.send("Profiler.enable");
	await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
	await inspector.send("Profiler.start");
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
	const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
	const cpu = stack.relay.sampler.cpuSeconds(cpuBefore, stack.relay.sampler.snapshot()) ?? Number.NaN;
	inspector.close();
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
