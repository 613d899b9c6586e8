/**
 * The baseline: what a caller of the live API would write without the relay. The
 * official `@perplexity-ai/perplexity_ai` SDK starts each job directly on the
 * emulator's Agent API as a background run (`client.responses.create` with
 * `background: true`, the model and web search the relay asks for a Sonar job),
 * then `retrieve`s it every X seconds until its status is terminal (completed,
 * failed, cancelled or incomplete). The same workload (seed, durations, texts) as
 * `steady`, at several intervals X: each gives one point (GETs per job, lag p50)
 * of the fixed-poller frontier the relay is compared with.
 */
import Perplexity from "@perplexity-ai/perplexity_ai";
import { startEmulator } from "../../tools/emulator/server.ts";
import { pool, sleep } from "../lib/load.ts";
import { mean, round, summary } from "../lib/stats.ts";
import { jobText } from "../lib/workload.ts";
import { EMULATOR_API_KEY, type ScenarioContext } from "./common.ts";

/** The Agent API's terminal statuses: a poller stops at any of them. */
export const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled", "incomplete"]);

/** The Agent API model a Sonar `sonar` job runs as (spec/agent-api.md), searched with the `web_search` tool. */
export const AGENT_MODEL = "perplexity/sonar";

interface PolledJob {
	upstreamId: string | null;
	/** `Date.now()` when a GET first showed the final status. */
	seenFinalAtMs: number | null;
	error: string | null;
}

/** One interval of the fixed poller over the whole workload, on a fresh emulator. */
async function runInterval(ctx: ScenarioContext, durations: readonly number[], intervalS: number) {
	const { options, cleanup } = ctx;
	const emulator = await startEmulator({
		host: "127.0.0.1",
		port: 0,
		apiKey: EMULATOR_API_KEY,
		quiet: true,
		seed: options.seed,
	});
	const stop = cleanup.add(`emulator (baseline ${intervalS} s)`, () => emulator.close());
	try {
		const client = new Perplexity({ baseURL: emulator.url, apiKey: EMULATOR_API_KEY, timeout: 30_000 });
		const intervalMs = intervalS * 1000;
		// Bounded: no job is polled past its duration plus the grace period.
		const maxPolls = Math.ceil((Math.max(...durations) + options.graceMs) / intervalMs) + 1;
		const jobs: PolledJob[] = durations.map(() => ({ upstreamId: null, seenFinalAtMs: null, error: null }));

		const pollUntilFinal = async (job: PolledJob, id: string) => {
			for (let polls = 0; polls < maxPolls; polls++) {
				await sleep(intervalMs);
				try {
					const current = await client.responses.retrieve(id);
					if (TERMINAL.has(current.status)) {
						job.seenFinalAtMs = Date.now();
						return;
					}
				} catch (error) {
					job.error = String(error);
				}
			}
		};

		// C callers, each with one job in flight: create, poll until it is done, take the next (as in steady).
		await pool(durations.length, options.concurrency, async (index) => {
			const job = jobs[index] as PolledJob;
			try {
				const created = await client.responses.create({
					model: AGENT_MODEL,
					input: [{ type: "message", role: "user", content: jobText("steady", index, durations[index] as number) }],
					tools: [{ type: "web_search" }],
					background: true,
				});
				job.upstreamId = created.id;
			} catch (error) {
				job.error = String(error);
				return;
			}
			await pollUntilFinal(job, job.upstreamId);
		});

		const stats = emulator.emulator.stats().jobs;
		const lags: number[] = [];
		const gets: number[] = [];
		for (const job of jobs) {
			const upstream = job.upstreamId ? stats[job.upstreamId] : undefined;
			if (!upstream) continue;
			gets.push(upstream.gets);
			if (job.seenFinalAtMs !== null && upstream.finishedAtMs !== null)
				lags.push(job.seenFinalAtMs - upstream.finishedAtMs);
		}
		const created = jobs.filter((j) => j.upstreamId !== null).length;
		const lag = summary(lags);
		return {
			interval_s: intervalS,
			jobs: durations.length,
			created,
			lost: created - lags.length,
			lag_p50_ms: lag.p50,
			lag_p95_ms: lag.p95,
			lag_p99_ms: lag.p99,
			gets_per_job: round(mean(gets), 2),
		};
	} finally {
		await stop();
	}
}

/**
 * Every interval at once, each on its own emulator: they are light (an SDK
 * call per poll), and one after another they would take most of the run.
 */
export async function runBaseline(ctx: ScenarioContext, durations: readonly number[]) {
	const intervals = ctx.options.baselineIntervalsS;
	ctx.log(
		`baseline: SDK background runs, retrieved every ${intervals.join(", ")} s (side by side), ${durations.length} jobs each`,
	);
	return Promise.all(intervals.map((intervalS) => runInterval(ctx, durations, intervalS)));
}
