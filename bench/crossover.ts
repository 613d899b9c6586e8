/**
 * `npm run bench:crossover`: where streaming and polling cross, from the
 * relay's own planner and cost model (no stack, no network: a calculation).
 *
 * For runs whose durations are lognormal around each median (σ 0.5 unless
 * `--sigma`), it plans polls as the Upstream Gate would once it has learnt the
 * distribution (`planPolls` with the production settings), and prints, per
 * 1000 jobs: what polling costs and the lag it leaves, what holding the stream
 * costs (Durable Object duration), and what `WATCH_MODE=auto` chooses at the
 * given value of a caller's hour (`--lag-value`, default the setting's 1 USD).
 *
 *   npm run bench:crossover -- --medians 60,120,180,300,600,1200,1800 --lag-value 1
 *   npm run bench:crossover -- --json
 */
import { parseArgs } from "node:util";
import { chooseWatch, STREAM_LAG_MS, type WatchEstimate, watchCostUsd } from "../src/polling/cost.ts";
import { planCost, planPolls, priorSketch } from "../src/polling/sketch.ts";
import { PLAN_DEFAULTS } from "./lib/plan-defaults.ts";

export interface CrossoverRow {
	median_s: number;
	/** The polls a job takes on the learnt plan, and the push lag they leave (mean). */
	poll_gets_per_job: number;
	poll_lag_s: number;
	poll_usd_per_1000: number;
	stream_lag_s: number;
	stream_usd_per_1000: number;
	/** Cloudflare cost plus the callers' wait at `lag_value_usd_per_hour`, per 1000 jobs. */
	poll_total_usd_per_1000: number;
	stream_total_usd_per_1000: number;
	auto: "stream" | "poll";
	/** auto's total over the cheaper mode's total, minus one (0: auto chose the cheaper). */
	auto_excess: number;
}

/** The weight of the learnt sketch: the gate's decayed histogram holds about this many jobs. */
const LEARNT_WEIGHT = 200;

/**
 * One row per median: the plan the gate makes once it has learnt runs of that length, and both costs.
 *
 * @example
 * crossover([180], 0.5, 1)[0] // { median_s: 180, poll_gets_per_job: ≈16, poll_lag_s: ≈2.4, …, auto: "stream" }
 */
export function crossover(mediansS: readonly number[], sigma: number, lagValueUsdPerHour: number): CrossoverRow[] {
	const settings = PLAN_DEFAULTS;
	const perSecond = lagValueUsdPerHour / 3600;
	return mediansS.map((medianS) => {
		const sketch = priorSketch(medianS * 1000, LEARNT_WEIGHT, sigma);
		const plan = planPolls(sketch, {
			pollCostMs: settings.pollCostMs,
			tailCost: settings.pollLagCost,
			minGapMs: settings.pollMinIntervalMs,
			maxGapMs: settings.pollMaxIntervalMs,
			horizonMs: settings.jobTimeoutSeconds * 1000,
			firstQuantile: settings.pollFirstQuantile,
		});
		const estimate: WatchEstimate = planCost(sketch, plan, settings.pollMaxIntervalMs);
		const poll = watchCostUsd("poll", estimate) * 1000;
		const stream = watchCostUsd("stream", estimate) * 1000;
		const pollTotal = poll + perSecond * (estimate.lagMs / 1000) * 1000;
		const streamTotal = stream + perSecond * (STREAM_LAG_MS / 1000) * 1000;
		const auto = chooseWatch("auto", true, estimate, lagValueUsdPerHour) ? "stream" : "poll";
		const autoTotal = auto === "stream" ? streamTotal : pollTotal;
		return {
			median_s: medianS,
			poll_gets_per_job: round(estimate.polls, 1),
			poll_lag_s: round(estimate.lagMs / 1000, 2),
			poll_usd_per_1000: round(poll, 4),
			stream_lag_s: STREAM_LAG_MS / 1000,
			stream_usd_per_1000: round(stream, 4),
			poll_total_usd_per_1000: round(pollTotal, 4),
			stream_total_usd_per_1000: round(streamTotal, 4),
			auto,
			auto_excess: round(autoTotal / Math.min(pollTotal, streamTotal) - 1, 4),
		};
	});
}

/** The rows as a Markdown table. */
export function crossoverTable(rows: readonly CrossoverRow[], lagValueUsdPerHour: number): string {
	const minutes = (s: number) => (s < 60 ? `${s} s` : `${round(s / 60, 1)} min`);
	const head = [
		"| median run | polling: GETs/job, lag | polling: $/1000 jobs | stream: $/1000 jobs | with the wait at " +
			`$${lagValueUsdPerHour}/h: polling / stream | auto |`,
		"| --- | --- | --- | --- | --- | --- |",
	];
	const body = rows.map(
		(r) =>
			`| ${minutes(r.median_s)} | ${r.poll_gets_per_job}, ${r.poll_lag_s} s | ${r.poll_usd_per_1000.toFixed(4)} | ` +
			`${r.stream_usd_per_1000.toFixed(4)} | ${r.poll_total_usd_per_1000.toFixed(3)} / ${r.stream_total_usd_per_1000.toFixed(3)} | ${r.auto} |`,
	);
	return [...head, ...body].join("\n");
}

function round(value: number, digits: number): number {
	const f = 10 ** digits;
	return Math.round(value * f) / f;
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const { values } = parseArgs({
		options: {
			medians: { type: "string", default: "30,60,120,180,300,600,900,1200,1800,2700" },
			sigma: { type: "string", default: "0.5" },
			"lag-value": { type: "string", default: "1" },
			json: { type: "boolean", default: false },
		},
	});
	const medians = (values.medians ?? "")
		.split(",")
		.map(Number)
		.filter((n) => n > 0);
	const lagValue = Number(values["lag-value"]);
	const rows = crossover(medians, Number(values.sigma), lagValue);
	console.log(values.json ? JSON.stringify(rows, null, 2) : crossoverTable(rows, lagValue));
}
