/**
 * The shape of `latest.json`, and the benchmark's targets (bench/README.md) evaluated against it.
 * Figures that could not be measured are null ("n/a"), never 0.
 */
import type { PRICES } from "../lib/cost.ts";
import type { DeepMode } from "../options.ts";
import type { runBaseline } from "../scenarios/baseline.ts";
import type { runCeiling } from "../scenarios/ceiling.ts";
import type { deepWorkloadSummary, runDeepFrontier, runDeepMode } from "../scenarios/deep.ts";
import type { runRatelimited } from "../scenarios/ratelimited.ts";
import type { runScale } from "../scenarios/scale.ts";
import type { runSteady } from "../scenarios/steady.ts";

export type SteadyResult = Awaited<ReturnType<typeof runSteady>>;
export type CeilingResult = Awaited<ReturnType<typeof runCeiling>>;
export type BaselinePoint = Awaited<ReturnType<typeof runBaseline>>[number];
export type RatelimitedResult = Awaited<ReturnType<typeof runRatelimited>>;
export type ScaleResult = Awaited<ReturnType<typeof runScale>>;
export type DeepModeResult = Awaited<ReturnType<typeof runDeepMode>>["result"];
export type DeepFrontierPoint = Awaited<ReturnType<typeof runDeepFrontier>>[number];

/** The `deep` scenario: one result per watch mode (each on its own relay), and the SDK pollers' frontier. */
export interface DeepResults {
	workload: ReturnType<typeof deepWorkloadSummary>;
	modes: Partial<Record<DeepMode, DeepModeResult>>;
	frontier?: DeepFrontierPoint[];
	/** GETs per job the frontier needs at the poll mode's lag p50 (linear between its points). */
	frontier_gets_at_poll_lag?: number | null;
}

export interface Machine {
	os: string;
	cpu_model: string;
	cpu_count: number;
	total_memory_gib: number;
	node: string;
	wrangler: string;
	workerd: string;
}

export interface Target {
	figure: string;
	target: string;
	measured: string;
	/** null: not measured in this run. */
	met: boolean | null;
}

export interface BenchResults {
	schema: 1;
	/** False while a run is under way (the file is rewritten after each scenario) or when it was cut short. */
	complete: boolean;
	date: string;
	wall_time_s: number | null;
	machine: Machine;
	/** The relay measured: a git revision, or a snapshot of the working tree taken at the start of each scenario. */
	relay_source: { source: string; commit: string; uncommitted_changes: string[] };
	settings: Record<string, unknown>;
	prices: typeof PRICES;
	steady?: SteadyResult;
	ceiling?: CeilingResult;
	/** Relay ingest over the bare Worker's, in the same run. */
	ingest_relay_over_ceiling?: number | null;
	baseline?: BaselinePoint[];
	/** GETs per job the fixed-poller frontier needs at the relay's lag p50 (linear between its points). */
	frontier_gets_at_relay_lag?: number | null;
	ratelimited?: RatelimitedResult;
	scale?: ScaleResult;
	deep?: DeepResults;
	targets: Target[];
	/** Scenarios that threw, with the error. */
	errors: Record<string, string>;
	scenario_wall_time_s: Record<string, number>;
	/**
	 * Cores kept busy, on average during each scenario, by processes outside the
	 * bench's own tree (other builds and tests on this shared machine).
	 */
	foreign_cpu_cores: Record<string, number | null>;
}

/**
 * GETs per job the frontier needs for `lagMs`, interpolated linearly between the
 * two baseline points around it; null outside the measured range.
 *
 * @example
 * frontierGetsAt([{ lag_p50_ms: 250, gets_per_job: 10 }, { lag_p50_ms: 500, gets_per_job: 5 }], 375); // 7.5
 */
export function frontierGetsAt(
	points: readonly Pick<BaselinePoint, "lag_p50_ms" | "gets_per_job">[],
	lagMs: number | null,
): number | null {
	if (lagMs === null) return null;
	const usable = points
		.flatMap((p) =>
			p.lag_p50_ms !== null && p.gets_per_job !== null ? [{ lag: p.lag_p50_ms, gets: p.gets_per_job }] : [],
		)
		.sort((a, b) => a.lag - b.lag);
	for (let i = 0; i + 1 < usable.length; i++) {
		const a = usable[i] as { lag: number; gets: number };
		const b = usable[i + 1] as { lag: number; gets: number };
		if (lagMs >= a.lag && lagMs <= b.lag) {
			return b.lag === a.lag
				? Math.min(a.gets, b.gets)
				: a.gets + ((b.gets - a.gets) * (lagMs - a.lag)) / (b.lag - a.lag);
		}
	}
	return null;
}

/** A frontier's point: its lag p50 and GETs per job. */
interface FrontierPoint {
	interval: number;
	lag: number;
	gets: number;
}

function frontierPoints(
	baseline: readonly { interval_s: number; lag_p50_ms: number | null; gets_per_job: number | null }[],
): FrontierPoint[] {
	return baseline.flatMap((p) =>
		p.lag_p50_ms !== null && p.gets_per_job !== null
			? [{ interval: p.interval_s, lag: p.lag_p50_ms, gets: p.gets_per_job }]
			: [],
	);
}

/**
 * A frontier target: at the relay's lag p50, at most `share` of the GETs per job the fixed
 * pollers need. Outside the measured range the frontier is still bounded, since GETs fall as lag
 * grows: beyond its slowest point it needs at most that point's GETs, before its fastest at least
 * that point's. A baseline point with both less lag and fewer GETs than the relay dominates it.
 */
function frontierShareTarget(options: {
	figure: string;
	share: number;
	gets: number | null;
	lag: number | null;
	points: readonly FrontierPoint[];
	interpolated: number | null;
}): Target {
	const { figure, share, gets, lag, points, interpolated } = options;
	const target = `≤ ${Math.round(share * 100)} % of the frontier's`;
	if (gets === null || lag === null) return { figure, target, measured: "n/a", met: null };
	const relay = `relay ${gets} GETs/job at lag p50 ${lag} ms`;
	if (interpolated !== null) {
		return {
			figure,
			target,
			measured: `${relay}; frontier ${interpolated.toFixed(2)} (${Math.round((100 * gets) / interpolated)} %)`,
			met: gets <= share * interpolated,
		};
	}
	if (points.length === 0) return { figure, target, measured: `${relay}; no frontier`, met: null };
	const dominating = points.filter((p) => p.lag <= lag && p.gets <= gets).sort((a, b) => a.gets - b.gets)[0];
	const dominated = dominating
		? `; dominated by the SDK polling every ${dominating.interval} s (${dominating.lag} ms, ${dominating.gets} GETs/job)`
		: "";
	const slowest = points.reduce((a, b) => (b.lag > a.lag ? b : a));
	const fastest = points.reduce((a, b) => (b.lag < a.lag ? b : a));
	if (lag > slowest.lag) {
		// The frontier needs at most `slowest.gets` here: beyond `share` of that, the target is missed for sure.
		const missed = gets > share * slowest.gets;
		return {
			figure,
			target,
			measured: `${relay}; beyond the slowest poller (${slowest.lag} ms), where the frontier needs ≤ ${slowest.gets}${dominated}`,
			met: missed ? false : null,
		};
	}
	// lag < fastest.lag: the frontier needs at least `fastest.gets` here.
	const met = gets <= share * fastest.gets;
	return {
		figure,
		target,
		measured: `${relay}; faster than the fastest poller (${fastest.lag} ms), where the frontier needs ≥ ${fastest.gets}${dominated}`,
		met: met ? true : null,
	};
}

/**
 * The upstream requests a steady job makes to follow its run, after the create: GETs, plus event-stream
 * connections (under `WATCH_MODE=auto` short jobs are streamed too). What a fixed poller's GETs compare with.
 */
export function followRequestsPerJob(steady: SteadyResult): number | null {
	if (steady.upstream_gets_per_job === null) return null;
	return Math.round((steady.upstream_gets_per_job + (steady.upstream_streams_per_job ?? 0)) * 100) / 100;
}

/** The steady frontier target: at the relay's lag p50, at most 70 % of the fixed pollers' GETs. */
function frontierTarget(steady: SteadyResult, baseline: readonly BaselinePoint[], interpolated: number | null): Target {
	return frontierShareTarget({
		figure:
			"relay vs fixed-poller frontier (GETs/job at the relay's lag p50; the relay's stream connections count as GETs)",
		share: 0.7,
		gets: followRequestsPerJob(steady),
		lag: steady.push_lag_ms.p50,
		points: frontierPoints(baseline),
		interpolated,
	});
}

/** The `deep` targets (streaming and learnt polling), and lost / duplicates of every mode and poller. */
function deepTargets(deep: DeepResults): Target[] {
	const targets: Target[] = [];
	const { stream, poll, auto } = deep.modes;
	for (const [mode, result] of Object.entries(deep.modes)) {
		if (!result) continue;
		targets.push({
			figure: `deep, ${mode}: lost, duplicates`,
			target: "0, 0",
			measured: `${result.lost}, ${result.duplicates}`,
			met: result.lost === 0 && result.duplicates === 0,
		});
	}
	for (const point of deep.frontier ?? []) {
		if (point.lost > 0) {
			targets.push({
				figure: `deep, SDK every ${point.interval_s} s: lost`,
				target: "0",
				measured: String(point.lost),
				met: false,
			});
		}
	}
	if (stream) {
		const { p50, p99 } = stream.push_lag_ms;
		targets.push({
			figure: "deep, stream: push lag after upstream completion p50 / p99",
			target: "≤ 250 ms / ≤ 1 s",
			measured: `${fmt(p50, " ms")} / ${fmt(p99, " ms")}`,
			met: p50 === null || p99 === null ? null : p50 <= 250 && p99 <= 1000,
		});
		targets.push({
			figure: "deep, stream: upstream requests per job (creates + GETs + stream connections)",
			target: "≤ 3",
			measured: `${fmt(stream.upstream_requests_per_job)} (${fmt(stream.upstream_creates_per_job)} creates, ${fmt(stream.upstream_gets_per_job)} GETs, ${fmt(stream.upstream_streams_per_job)} streams)`,
			met: check(stream.upstream_requests_per_job, (v) => v <= 3),
		});
	}
	if (poll) {
		targets.push(
			frontierShareTarget({
				figure: "deep, poll: GETs/job at equal lag p50, against the fixed-poller frontier",
				share: 0.75,
				gets: poll.upstream_gets_per_job,
				lag: poll.push_lag_ms.p50,
				points: frontierPoints(deep.frontier ?? []),
				interpolated: deep.frontier_gets_at_poll_lag ?? null,
			}),
		);
		targets.push({
			figure: "deep, poll: push lag p50",
			target: "≤ 5 s",
			measured: fmt(poll.push_lag_ms.p50, " ms"),
			met: check(poll.push_lag_ms.p50, (v) => v <= 5000),
		});
	}
	const modes = Object.entries(deep.modes).filter(([, r]) => r !== undefined) as [string, DeepModeResult][];
	if (modes.length > 0) {
		const missing = modes.filter(([, r]) => r.cost_per_1000_jobs?.total_usd == null).map(([m]) => m);
		targets.push({
			figure: "deep, every mode: estimated Cloudflare cost per 1000 jobs",
			target: "reported",
			measured: modes
				.map(
					([m, r]) =>
						`${m} $${fmt(r.cost_per_1000_jobs?.total_usd)} (streams $${fmt(r.cost_per_1000_jobs?.do_stream_duration_usd)})`,
				)
				.join(", "),
			met: missing.length === 0,
		});
	}
	if (auto && stream && poll) {
		const compare = (figure: string, target: string, pick: (r: DeepModeResult) => number | null | undefined) => {
			const [a, s, p] = [pick(auto), pick(stream), pick(poll)];
			if (a == null || s == null || p == null) return { figure, target, measured: "n/a", met: null };
			const cheaper = s <= p ? "stream" : "poll";
			const best = Math.min(s, p);
			return {
				figure,
				target,
				measured: `auto $${a} vs ${cheaper} $${best} (× ${best > 0 ? (a / best).toFixed(2) : "n/a"}); stream $${s}, poll $${p}`,
				met: a <= 1.1 * best,
			};
		};
		targets.push(
			compare(
				`deep, auto vs the cheaper mode: lag-weighted total per 1000 jobs (Cloudflare + lag at $${fmt(auto.lag_value_usd_per_hour)}/h, what auto weighs)`,
				"≤ 1.1 × the cheaper of stream and poll",
				(r) => r.lag_weighted_usd_per_1000_jobs,
			),
		);
		targets.push(
			compare(
				"deep, auto vs the cheaper mode: Cloudflare cost alone per 1000 jobs",
				"≤ 1.1 × the cheaper of stream and poll",
				(r) => r.cost_per_1000_jobs?.total_usd,
			),
		);
	}
	return targets;
}

const fmt = (value: number | null | undefined, unit = "") =>
	value === null || value === undefined ? "n/a" : `${value}${unit}`;
const check = (value: number | null | undefined, ok: (v: number) => boolean): boolean | null =>
	value === null || value === undefined ? null : ok(value);

/** Lost jobs of a scenario: steady counts both of its phases. */
function lostOf(result: { lost: number; lost_all?: number }): number {
	return result.lost_all ?? result.lost;
}

/** The targets tables (steady polling, ratelimited, ingest, scale; deep), from this run's figures. */
export function evaluateTargets(results: BenchResults): Target[] {
	const targets: Target[] = [];
	const { steady, ratelimited, scale } = results;
	const scenarios = { steady, ratelimited, scale };
	for (const [name, result] of Object.entries(scenarios)) {
		if (!result) continue;
		targets.push({
			figure: `${name}: lost, duplicates`,
			target: "0, 0",
			measured: `${lostOf(result)}, ${result.duplicates}`,
			met: lostOf(result) === 0 && result.duplicates === 0,
		});
	}
	for (const point of results.baseline ?? []) {
		if (point.lost > 0) {
			targets.push({
				figure: `baseline ${point.interval_s} s: lost`,
				target: "0",
				measured: String(point.lost),
				met: false,
			});
		}
	}
	if (steady && results.baseline)
		targets.push(frontierTarget(steady, results.baseline, results.frontier_gets_at_relay_lag ?? null));
	if (steady) {
		const { p50, p99 } = steady.push_lag_ms;
		targets.push({
			figure: "steady: push lag p99",
			target: "≤ 2 × p50 + 1 s",
			measured: `p99 ${fmt(p99, " ms")}, limit ${p50 === null ? "n/a" : `${2 * p50 + 1000} ms`}`,
			met: p50 === null || p99 === null ? null : p99 <= 2 * p50 + 1000,
		});
	}
	if (ratelimited) {
		targets.push({
			figure: "ratelimited: upstream 429s",
			target: "≤ 10 % of creates",
			measured: `${ratelimited.upstream_429s} of ${ratelimited.upstream_create_calls} (${fmt(ratelimited.upstream_429_share_of_creates === null ? null : Math.round(ratelimited.upstream_429_share_of_creates * 1000) / 10, " %")})`,
			met: check(ratelimited.upstream_429_share_of_creates, (v) => v <= 0.1),
		});
		targets.push({
			figure: "ratelimited: drain time (the create queue: last upstream create)",
			target: "≤ 1.2 × ideal (jobs / rate)",
			measured: `${fmt(ratelimited.last_create_admitted_s, " s")} vs ideal ${ratelimited.ideal_drain_s} s (× ${fmt(ratelimited.create_drain_over_ideal)})`,
			met: check(ratelimited.create_drain_over_ideal, (v) => v <= 1.2),
		});
		targets.push({
			figure: "ratelimited: drain time (the last push)",
			target: "≤ 1.2 × ideal (creates at the rate in submission order, plus each job's duration)",
			measured: `${fmt(ratelimited.drain_s, " s")} vs ideal ${fmt(ratelimited.ideal_last_push_s, " s")} (× ${fmt(ratelimited.drain_over_ideal)})`,
			met: check(ratelimited.drain_over_ideal, (v) => v <= 1.2),
		});
	}
	if (results.ingest_relay_over_ceiling !== undefined) {
		targets.push({
			figure: "ingest, relay / bare Worker",
			target: "≥ 0.5",
			measured: `${fmt(steady?.burst.throughput_per_s, " jobs/s")} / ${fmt(results.ceiling?.throughput_per_s, " jobs/s")} = ${fmt(results.ingest_relay_over_ceiling)}`,
			met: check(results.ingest_relay_over_ceiling, (v) => v >= 0.5),
		});
	}
	if (scale) {
		targets.push({
			figure: "scale: alarm lateness p99",
			target: "≤ 1 s",
			measured: fmt(scale.alarm_lateness_ms.p99, " ms"),
			met: check(scale.alarm_lateness_ms.p99, (v) => v <= 1000),
		});
		targets.push({
			figure: "scale: workerd peak RSS",
			target: "reported",
			measured: fmt(scale.workerd_peak_rss_mb, " MiB"),
			met: scale.workerd_peak_rss_mb !== null,
		});
	}
	if (results.deep) targets.push(...deepTargets(results.deep));
	return targets;
}
