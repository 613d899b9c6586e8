/**
 * `npm run bench`: measures what a user of the relay feels (push lag, submit
 * latency), what it costs upstream (GETs per job) and on Cloudflare (Durable
 * Object requests, KV writes), side by side with a fixed-interval poller and a
 * bare Worker, all in one run on this machine. See bench/README.md.
 *
 * Everything it starts (wrangler dev, emulators, the receiver) listens on
 * 127.0.0.1 and is stopped at the end, on an error, and on Ctrl-C.
 * Writes `latest.json`, `latest.md`, `frontier.svg` and (with `deep`) `deep-frontier.svg` and
 * `deep-jobs.json` to `--out` (bench/results).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { dirname, join } from "node:path";
import { PRICES } from "./lib/cost.ts";
import { watchForeignLoad } from "./lib/proc.ts";
import { Cleanup, RELAY_SOURCES, ROOT } from "./lib/stack.ts";
import { ratio, round } from "./lib/stats.ts";
import { lognormalDurations, poissonArrivals } from "./lib/workload.ts";
import { type BenchOptions, parseOptions, USAGE } from "./options.ts";
import { renderMarkdown } from "./report/markdown.ts";
import { renderDeepFrontierSvg, renderFrontierSvg } from "./report/plot.ts";
import { type BenchResults, evaluateTargets, frontierGetsAt, type Machine } from "./report/results.ts";
import { runBaseline } from "./scenarios/baseline.ts";
import { runCeiling } from "./scenarios/ceiling.ts";
import { BENCH_ACCOUNT_VARS, publicRelaySettings, type ScenarioContext } from "./scenarios/common.ts";
import {
	type DeepJobRow,
	deepWorkload,
	deepWorkloadSummary,
	recomputeConvergence,
	runDeepFrontier,
	runDeepMode,
} from "./scenarios/deep.ts";
import { runRatelimited } from "./scenarios/ratelimited.ts";
import { runScale } from "./scenarios/scale.ts";
import { runSteady } from "./scenarios/steady.ts";

function versionOf(name: string): string {
	try {
		return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string })
			.version;
	} catch {
		return "unknown";
	}
}

/** Which relay was measured: the revision, or the working tree and what differed from HEAD at start. */
function relaySource(revision: string | undefined): BenchResults["relay_source"] {
	const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
	if (revision !== undefined) {
		// Fails early, before anything starts, on a revision git does not know.
		return { source: revision, commit: git("rev-parse", "--verify", `${revision}^{commit}`), uncommitted_changes: [] };
	}
	try {
		const changed = git("status", "--porcelain", "--", ...RELAY_SOURCES);
		return {
			source: "working tree",
			commit: git("rev-parse", "HEAD"),
			uncommitted_changes: changed ? changed.split("\n").map((line) => line.trim()) : [],
		};
	} catch {
		return { source: "working tree", commit: "unknown", uncommitted_changes: [] };
	}
}

function machine(): Machine {
	const cores = cpus();
	return {
		os: `${type()} ${release()}`,
		cpu_model: cores[0]?.model.trim() ?? "unknown",
		cpu_count: cores.length,
		total_memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
		node: process.version,
		wrangler: versionOf("wrangler"),
		workerd: versionOf("workerd"),
	};
}

function settingsOf(options: BenchOptions): Record<string, unknown> {
	return {
		quick: options.quick,
		scenarios: options.scenarios,
		seed: options.seed,
		model: options.model,
		durations: { distribution: "lognormal", median_ms: options.medianMs, sigma: options.sigma },
		jobs: options.jobs,
		concurrency: options.concurrency,
		baseline_intervals_s: options.baselineIntervalsS,
		ratelimited_jobs: options.ratelimitedJobs,
		rate_per_s: options.rate,
		scale: {
			jobs: options.scaleJobs,
			submit_concurrency: options.scaleConcurrency,
			durations: {
				distribution: "lognormal, upstream time paused until every job is submitted",
				median_ms: options.scaleMedianMs,
				sigma: options.scaleSigma,
			},
		},
		deep: {
			jobs: options.deepJobs,
			model: "sonar-deep-research",
			durations: { distribution: "lognormal", median_ms: options.deepMedianMs, sigma: options.deepSigma },
			arrival_s: options.deepArrivalS,
			modes: options.deepModes,
			frontier_intervals_s: options.deepIntervalsS,
			poll_prior_median_ms: options.deepPriorMedianMs ?? "not told (the table prior)",
		},
		grace_ms: options.graceMs,
		dup_window_ms: options.dupWindowMs,
		sample_ms: options.sampleMs,
		cost_do_active_ms: options.costDoActiveMs,
		// The API the relay calls: the Agent API unless `--relay-var UPSTREAM_API=sonar` keeps the retired one.
		upstream_api: options.relayVars.UPSTREAM_API === "sonar" ? "sonar" : "agent",
		relay_settings: "production defaults (wrangler.toml [vars]) plus relay_overrides",
		relay_overrides: publicRelaySettings({ ...BENCH_ACCOUNT_VARS, ...options.relayVars }),
		upstream_requests_per_minute: options.upstreamRpm > 0 ? options.upstreamRpm : null,
	};
}

/** Derives the run-wide figures and targets, writes latest.json and latest.md; returns the Markdown. */
function writeResults(results: BenchResults, options: BenchOptions, started: number | null, complete: boolean): string {
	results.complete = complete;
	if (results.steady && results.ceiling) {
		results.ingest_relay_over_ceiling = round(
			ratio(results.steady.burst.throughput_per_s, results.ceiling.throughput_per_s),
			2,
		);
	}
	if (results.steady && results.baseline) {
		results.frontier_gets_at_relay_lag = round(frontierGetsAt(results.baseline, results.steady.push_lag_ms.p50), 2);
	}
	if (results.deep?.frontier && results.deep.modes.poll) {
		results.deep.frontier_gets_at_poll_lag = round(
			frontierGetsAt(results.deep.frontier, results.deep.modes.poll.push_lag_ms.p50),
			2,
		);
	}
	if (started !== null) results.wall_time_s = Math.round((Date.now() - started) / 1000);
	results.targets = evaluateTargets(results);
	mkdirSync(options.outDir, { recursive: true });
	const markdown = renderMarkdown(results);
	writeFileSync(join(options.outDir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
	writeFileSync(join(options.outDir, "latest.md"), markdown);
	return markdown;
}

/** Draws frontier.svg and deep-frontier.svg from the results; the names of those drawn. */
async function writePlots(results: BenchResults, options: BenchOptions): Promise<string[]> {
	const written: string[] = [];
	if (await writePlot(results, options)) written.push("frontier.svg");
	const deep = results.deep;
	if (deep) {
		const m = results.machine;
		const w = deep.workload;
		const svg = await renderDeepFrontierSvg(
			deep,
			`${results.date.slice(0, 10)}, ${w.jobs} ${w.model} jobs, lognormal median ${w.durations.median_ms / 1000} s σ ${w.durations.sigma}, arriving over ${w.arrival_s} s; ${m.cpu_count} × ${m.cpu_model}`,
		);
		if (svg) {
			writeFileSync(join(options.outDir, "deep-frontier.svg"), svg);
			written.push("deep-frontier.svg");
		}
	}
	return written;
}

/** Draws frontier.svg from the results; false when there is nothing to draw. */
async function writePlot(results: BenchResults, options: BenchOptions): Promise<boolean> {
	const m = results.machine;
	const durations = results.settings.durations as { median_ms: number; sigma: number } | undefined;
	const svg = await renderFrontierSvg(
		results.baseline ?? [],
		results.steady,
		`${results.date.slice(0, 10)}, ${results.steady?.jobs ?? options.jobs} jobs, lognormal median ${(durations?.median_ms ?? options.medianMs) / 1000} s σ ${durations?.sigma ?? options.sigma}; ${m.cpu_count} × ${m.cpu_model}`,
	);
	if (svg) writeFileSync(join(options.outDir, "frontier.svg"), svg);
	return svg !== null;
}

async function main(): Promise<number> {
	let options: BenchOptions | "help";
	try {
		options = parseOptions(process.argv.slice(2), ROOT);
	} catch (error) {
		console.error(`bench: ${(error as Error).message}\n\n${USAGE}`);
		return 2;
	}
	if (options === "help") {
		console.log(USAGE);
		return 0;
	}
	const opts = options;
	if (opts.reportFrom !== undefined) {
		// Re-render a finished run's report (targets, Markdown, plot) from its JSON, after a report change.
		const saved = JSON.parse(readFileSync(opts.reportFrom, "utf8")) as BenchResults;
		// The deep convergence tables are report code too: recomputed from the jobs' rows when they are at hand.
		const jobsFile = join(dirname(opts.reportFrom), "deep-jobs.json");
		if (saved.deep && existsSync(jobsFile)) {
			const w = saved.deep.workload;
			recomputeConvergence(
				saved.deep.modes,
				JSON.parse(readFileSync(jobsFile, "utf8")) as Record<string, DeepJobRow[]>,
				(saved.settings.relay_overrides as Record<string, string> | undefined) ?? {},
				poissonArrivals(w.jobs, w.arrival_s * 1000, w.seeds.arrivals)[0] ?? 0,
			);
		}
		const markdown = writeResults(saved, opts, null, saved.complete);
		const plots = await writePlots(saved, opts);
		console.log(markdown);
		console.log(
			`bench: re-rendered ${opts.reportFrom} into ${opts.outDir}${plots.length > 0 ? ` (with ${plots.join(", ")})` : ""}`,
		);
		return 0;
	}
	const started = Date.now();
	const cleanup = new Cleanup();
	let interrupted = false;
	const onSignal = (signal: NodeJS.Signals) => {
		if (interrupted) process.exit(130);
		interrupted = true;
		console.error(`\nbench: ${signal}: stopping everything…`);
		void cleanup.run().finally(() => process.exit(130));
	};
	process.on("SIGINT", onSignal);
	process.on("SIGTERM", onSignal);

	const log = (line: string) =>
		console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
	const ctx: ScenarioContext = { options: opts, cleanup, log };
	const results: BenchResults = {
		schema: 1,
		complete: false,
		date: new Date(started).toISOString(),
		wall_time_s: null,
		machine: machine(),
		relay_source: relaySource(opts.relayRevision),
		settings: settingsOf(opts),
		prices: PRICES,
		targets: [],
		errors: {},
		scenario_wall_time_s: {},
		foreign_cpu_cores: {},
	};
	const durations = lognormalDurations(opts.jobs, { medianMs: opts.medianMs, sigma: opts.sigma, seed: opts.seed });
	// The ingest burst (steady's first phase, and the ceiling): its own jobs, from the next seed.
	const burstDurations = lognormalDurations(opts.burstJobs, {
		medianMs: opts.medianMs,
		sigma: opts.sigma,
		seed: opts.seed + 1,
	});
	const ratelimitedDurations =
		durations.length >= opts.ratelimitedJobs
			? durations.slice(0, opts.ratelimitedJobs)
			: lognormalDurations(opts.ratelimitedJobs, { medianMs: opts.medianMs, sigma: opts.sigma, seed: opts.seed });

	const attempt = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
		if (interrupted) return undefined;
		const t = Date.now();
		const foreignLoad = watchForeignLoad();
		try {
			const result = await run();
			log(`${name}: done in ${Math.round((Date.now() - t) / 1000)} s`);
			return result;
		} catch (error) {
			const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
			results.errors[name] = message;
			console.error(`bench: ${name} failed: ${message}`);
			return undefined;
		} finally {
			results.scenario_wall_time_s[name] = Math.round((Date.now() - t) / 1000);
			results.foreign_cpu_cores[name] = round(foreignLoad(), 2);
		}
	};
	// After each scenario, so that an interrupted or failed run still leaves what it measured.
	const checkpoint = () => {
		if (!interrupted) writeResults(results, opts, started, false);
	};

	try {
		log(
			`machine: ${results.machine.cpu_count} × ${results.machine.cpu_model}; scenarios: ${opts.scenarios.join(", ")}`,
		);
		if (opts.scenarios.includes("ceiling")) {
			results.ceiling = await attempt("ceiling", () => runCeiling(ctx, burstDurations));
			checkpoint();
		}
		if (opts.scenarios.includes("steady")) {
			results.steady = await attempt("steady", () => runSteady(ctx, durations, burstDurations));
			checkpoint();
		}
		if (opts.scenarios.includes("baseline")) {
			results.baseline = await attempt("baseline", () => runBaseline(ctx, durations));
			checkpoint();
		}
		if (opts.scenarios.includes("ratelimited")) {
			results.ratelimited = await attempt("ratelimited", () => runRatelimited(ctx, ratelimitedDurations));
			checkpoint();
		}
		if (opts.scenarios.includes("scale")) {
			results.scale = await attempt("scale", () => runScale(ctx));
			checkpoint();
		}
		if (opts.scenarios.includes("deep")) {
			const workload = deepWorkload(opts);
			const deep: NonNullable<BenchResults["deep"]> = { workload: deepWorkloadSummary(opts, workload), modes: {} };
			results.deep = deep;
			// Every job of every mode, for a closer look than the report's (lag, requests, the relay's counters).
			const rows: Partial<Record<string, DeepJobRow[]>> = {};
			for (const mode of opts.deepModes) {
				const run = await attempt(`deep-${mode}`, () => runDeepMode(ctx, workload, mode));
				if (run) {
					deep.modes[mode] = run.result;
					rows[mode] = run.rows;
					mkdirSync(opts.outDir, { recursive: true });
					writeFileSync(join(opts.outDir, "deep-jobs.json"), `${JSON.stringify(rows)}\n`);
				}
				checkpoint();
			}
			if (options.deepIntervalsS.length > 0) {
				deep.frontier = await attempt("deep-frontier", () => runDeepFrontier(ctx, workload));
			}
		}
	} finally {
		await cleanup.run();
	}
	if (interrupted) return 130;

	const markdown = writeResults(results, opts, started, true);
	const plots = await writePlots(results, opts);
	console.log(`\n${markdown}`);
	console.log(`bench: wrote ${join(opts.outDir, "latest.json")}, latest.md${plots.map((p) => `, ${p}`).join("")}`);
	return Object.keys(results.errors).length > 0 ? 1 : 0;
}

process.exitCode = await main().catch((error: unknown) => {
	console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
	return 1;
});
