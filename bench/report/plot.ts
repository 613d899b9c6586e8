/**
 * The frontier plots: push lag p50 against upstream GETs per job (steady), or
 * against upstream requests per job (deep: creates + GETs + stream
 * connections), the fixed pollers' points joined by a line and the relay's
 * points beside them. Vega-Lite specs compiled to Vega and rendered to SVG
 * headlessly in Node (no browser, no canvas: Vega estimates text widths).
 */
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { type BaselinePoint, type DeepResults, followRequestsPerJob, type SteadyResult } from "./results.ts";

interface Datum {
	series: string;
	label: string;
	gets_per_job: number;
	lag_p50_s: number;
}

/**
 * Renders the plot; null when there is nothing to draw.
 *
 * @example
 * const svg = await renderFrontierSvg(results.baseline, results.steady, "2 cores, …");
 */
export async function renderFrontierSvg(
	baseline: readonly BaselinePoint[],
	steady: SteadyResult | undefined,
	subtitle: string,
): Promise<string | null> {
	const data: Datum[] = [];
	for (const point of baseline) {
		if (point.gets_per_job === null || point.lag_p50_ms === null) continue;
		data.push({
			series: "fixed-interval poller (official SDK)",
			label: `every ${point.interval_s} s`,
			gets_per_job: point.gets_per_job,
			lag_p50_s: point.lag_p50_ms / 1000,
		});
	}
	const relayRequests = steady ? followRequestsPerJob(steady) : null;
	if (steady && relayRequests !== null && steady.push_lag_ms.p50 !== null) {
		data.push({
			series: "sonar-relay (push)",
			label: "sonar-relay",
			// GETs, plus its event-stream connections when it streamed.
			gets_per_job: relayRequests,
			lag_p50_s: steady.push_lag_ms.p50 / 1000,
		});
	}
	if (data.length === 0) return null;

	const encoding = {
		x: { field: "gets_per_job", type: "quantitative", title: "upstream GETs per job", scale: { zero: true } },
		y: {
			field: "lag_p50_s",
			type: "quantitative",
			title: "lag p50 after the job completes (s)",
			scale: { zero: true },
		},
		color: {
			field: "series",
			type: "nominal",
			title: null,
			scale: { domain: ["fixed-interval poller (official SDK)", "sonar-relay (push)"], range: ["#4c78a8", "#e45756"] },
			legend: { orient: "top", labelLimit: 400 },
		},
	} as const;
	const spec: vegaLite.TopLevelSpec = {
		$schema: "https://vega.github.io/schema/vega-lite/v6.json",
		title: { text: "Push lag against upstream GETs per job", subtitle },
		width: 560,
		height: 340,
		background: "white",
		data: { values: data },
		encoding,
		layer: [
			{
				transform: [{ filter: "datum.series !== 'sonar-relay (push)'" }],
				mark: { type: "line", point: { size: 60, filled: true } },
				encoding: { order: { field: "gets_per_job", type: "quantitative" } },
			},
			{
				transform: [{ filter: "datum.series === 'sonar-relay (push)'" }],
				mark: { type: "point", shape: "diamond", size: 220, filled: true, opacity: 1 },
			},
			{
				mark: { type: "text", align: "left", dx: 8, dy: -8, fontSize: 11 },
				encoding: { text: { field: "label", type: "nominal" }, color: { value: "#333" } },
			},
		],
	};
	return toSvg(spec);
}

async function toSvg(spec: vegaLite.TopLevelSpec): Promise<string> {
	const compiled = vegaLite.compile(spec).spec;
	const view = new vega.View(vega.parse(compiled), { renderer: "none" });
	try {
		return await view.toSVG();
	} finally {
		view.finalize();
	}
}

const FRONTIER_SERIES = "fixed-interval poller (official SDK)";
const DEEP_SERIES = {
	stream: "sonar-relay, WATCH_MODE=stream",
	poll: "sonar-relay, WATCH_MODE=poll",
	auto: "sonar-relay, WATCH_MODE=auto",
} as const;

/**
 * The deep scenario's plot: lag p50 against upstream requests per job, for the relay in each
 * watch mode and the fixed pollers on the same jobs and arrivals; null when there is nothing to draw.
 *
 * @example
 * const svg = await renderDeepFrontierSvg(results.deep, "2 cores, …");
 */
export async function renderDeepFrontierSvg(deep: DeepResults, subtitle: string): Promise<string | null> {
	const data: { series: string; label: string; requests_per_job: number; lag_p50_s: number }[] = [];
	for (const point of deep.frontier ?? []) {
		if (point.requests_per_job === null || point.lag_p50_ms === null) continue;
		data.push({
			series: FRONTIER_SERIES,
			label: `every ${point.interval_s} s`,
			requests_per_job: point.requests_per_job,
			lag_p50_s: point.lag_p50_ms / 1000,
		});
	}
	for (const [mode, series] of Object.entries(DEEP_SERIES)) {
		const result = deep.modes[mode as keyof typeof DEEP_SERIES];
		if (!result || result.upstream_requests_per_job === null || result.push_lag_ms.p50 === null) continue;
		data.push({
			series,
			label: mode,
			requests_per_job: result.upstream_requests_per_job,
			lag_p50_s: result.push_lag_ms.p50 / 1000,
		});
	}
	if (data.length === 0) return null;
	const domain = [FRONTIER_SERIES, ...Object.values(DEEP_SERIES)];
	const spec: vegaLite.TopLevelSpec = {
		$schema: "https://vega.github.io/schema/vega-lite/v6.json",
		title: { text: "Deep research: push lag against upstream requests per job", subtitle },
		width: 560,
		height: 340,
		background: "white",
		data: { values: data },
		encoding: {
			x: {
				field: "requests_per_job",
				type: "quantitative",
				title: "upstream requests per job (creates + GETs + stream connections)",
				scale: { zero: true },
			},
			y: {
				field: "lag_p50_s",
				type: "quantitative",
				title: "lag p50 after the run completes (s)",
				scale: { zero: true },
			},
			color: {
				field: "series",
				type: "nominal",
				title: null,
				scale: { domain, range: ["#4c78a8", "#e45756", "#f58518", "#54a24b"] },
				legend: { orient: "top", labelLimit: 400, columns: 2 },
			},
		},
		layer: [
			{
				transform: [{ filter: `datum.series === '${FRONTIER_SERIES}'` }],
				mark: { type: "line", point: { size: 60, filled: true } },
				encoding: { order: { field: "requests_per_job", type: "quantitative" } },
			},
			{
				transform: [{ filter: `datum.series !== '${FRONTIER_SERIES}' && datum.label !== 'auto'` }],
				mark: { type: "point", shape: "diamond", size: 220, filled: true, opacity: 1 },
			},
			// Hollow and larger, so that a point of another mode under it still shows.
			{
				transform: [{ filter: "datum.label === 'auto'" }],
				mark: { type: "point", shape: "square", size: 420, filled: false, strokeWidth: 2, opacity: 1 },
			},
			// auto often lands on stream (it streams these jobs): its label goes below, stream's above.
			{
				transform: [{ filter: "datum.label !== 'auto'" }],
				mark: { type: "text", align: "left", dx: 8, dy: -8, fontSize: 11 },
				encoding: { text: { field: "label", type: "nominal" }, color: { value: "#333" } },
			},
			{
				transform: [{ filter: "datum.label === 'auto'" }],
				mark: { type: "text", align: "left", dx: 8, dy: 12, fontSize: 11 },
				encoding: { text: { field: "label", type: "nominal" }, color: { value: "#333" } },
			},
		],
	};
	return toSvg(spec);
}
