/**
 * The frontier plot: push lag p50 against upstream GETs per job, the fixed
 * pollers' points joined by a line and the relay's point beside them. A
 * Vega-Lite spec compiled to Vega and rendered to SVG headlessly in Node
 * (no browser, no canvas: Vega estimates text widths).
 */
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import type { BaselinePoint, SteadyResult } from "./results.ts";

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
	if (steady && steady.upstream_gets_per_job !== null && steady.push_lag_ms.p50 !== null) {
		data.push({
			series: "sonar-relay (push)",
			label: "sonar-relay",
			gets_per_job: steady.upstream_gets_per_job,
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
	const compiled = vegaLite.compile(spec).spec;
	const view = new vega.View(vega.parse(compiled), { renderer: "none" });
	try {
		return await view.toSVG();
	} finally {
		view.finalize();
	}
}
