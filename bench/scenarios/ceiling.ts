/**
 * The ingest ceiling: the same submissions, at the same concurrency, sent to a
 * bare Worker (bench/ceiling/) that only turns each Sonar-shaped POST into the
 * Agent API background run the relay would start, and creates it on the
 * emulator (`POST /v1/agent`). The relay's ingest is reported as a share of this.
 */
import { startEmulator } from "../../tools/emulator/server.ts";
import { submitAll, submitFigures } from "../lib/load.ts";
import { startWorker } from "../lib/stack.ts";
import { jobText, upstreamBody } from "../lib/workload.ts";
import { EMULATOR_API_KEY, type ScenarioContext } from "./common.ts";

export async function runCeiling(ctx: ScenarioContext, durations: readonly number[]) {
	const { options, cleanup } = ctx;
	// Its own emulator: the ceiling's upstream jobs must not mix with the relay's.
	const emulator = await startEmulator({ host: "127.0.0.1", port: 0, apiKey: EMULATOR_API_KEY, quiet: true });
	const stopEmulator = cleanup.add("emulator (ceiling)", () => emulator.close());
	try {
		const worker = await startWorker({
			label: "ceiling",
			vars: { UPSTREAM_URL: emulator.url, UPSTREAM_API_KEY: EMULATOR_API_KEY },
			sources: ["bench/ceiling"],
			config: "bench/ceiling/wrangler.toml",
			startupTimeoutMs: options.startupTimeoutMs,
			sampleMs: options.sampleMs,
			verbose: options.verbose,
			cleanup,
		});
		try {
			const bodies = durations.map((d, i) => upstreamBody(options.model, jobText("steady", i, d)));
			ctx.log(`ceiling: ${bodies.length} POSTs, ${options.concurrency} in flight`);
			const submissions = await submitAll({
				url: `${worker.url}/async/chat/completions`,
				apiKey: "unused",
				count: bodies.length,
				bodyFor: (index) => bodies[index],
				concurrency: options.concurrency,
			});
			const { first_submit_at_ms: _f, last_answer_at_ms: _l, ...figures } = submitFigures(submissions);
			const upstream = emulator.emulator.stats();
			const apis = [...new Set(Object.values(upstream.jobs).map((job) => job.api))].sort();
			return {
				jobs: bodies.length,
				concurrency: options.concurrency,
				...figures,
				// What the bare Worker created upstream: one Agent API run per accepted POST.
				upstream_api: apis.length === 0 ? null : apis.join("+"),
				upstream_jobs_created: upstream.createsAccepted,
			};
		} finally {
			await worker.stop();
		}
	} finally {
		await stopEmulator();
	}
}
