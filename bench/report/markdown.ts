/**
 * The Markdown report (`latest.md`, also printed at the end of a run): one
 * table per scenario, the frontiers, the targets (polling and streaming), the prices
 * and the machine. "n/a" marks what this run could not measure.
 */
import { type BenchResults, type DeepResults, followRequestsPerJob, type Target } from "./results.ts";

type Cell = string | number | boolean | null | undefined;

const show = (value: Cell, unit = ""): string => {
	if (value === null || value === undefined) return "n/a";
	if (typeof value === "boolean") return value ? "yes" : "no";
	return `${value}${unit}`;
};

function table(head: string[], rows: Cell[][]): string {
	const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
	return [line(head), line(head.map(() => "---")), ...rows.map((row) => line(row.map((c) => show(c))))].join("\n");
}

const figures = (rows: [string, Cell, string?][]) =>
	table(
		["figure", "value"],
		rows.map(([name, value, unit]) => [name, show(value, unit ?? "")]),
	);

const metMark = (target: Target) => (target.met === null ? "n/a" : target.met ? "✅ met" : "❌ not met");

const usd = (value: number | null | undefined) => (value === null || value === undefined ? "n/a" : `$${value}`);
const ms = (value: number | null | undefined) => (value === null || value === undefined ? "n/a" : String(value));

/** The `deep` scenario: each watch mode beside the fixed pollers, the bill, and the poll mode's convergence. */
function renderDeep(deep: DeepResults, results: BenchResults): string[] {
	const out: string[] = [];
	const w = deep.workload;
	out.push(
		"",
		`## deep: ${w.jobs} \`${w.model}\` jobs (the \`${w.upstream_preset}\` preset upstream), lognormal median ${w.durations.median_ms / 1000} s σ ${w.durations.sigma}, arriving over ${w.arrival_s} s`,
		"",
		`Durations p50 ${ms(w.duration_p50_ms)} ms, p99 ${ms(w.duration_p99_ms)} ms, max ${ms(w.duration_max_ms)} ms; arrivals: ${w.arrivals} (the last at ${w.last_arrival_s} s). ` +
			"The same jobs and arrivals run on a fresh relay per watch mode (`WATCH_MODE`), and straight on the upstream with the official SDK (`responses.create({preset, input, background: true})`, then `responses.retrieve` every X s). " +
			(w.prior_told
				? `The relay was told the median (\`POLL_PRIOR_MEDIAN_MS=${w.poll_prior_median_ms}\`).`
				: `The relay was not told the median: it starts from its table prior (${w.poll_prior_median_ms / 1000} s for \`${w.model}\`) and learns.`),
		"",
	);
	const rows: Cell[][] = [];
	for (const [mode, r] of Object.entries(deep.modes)) {
		if (!r) continue;
		rows.push([
			`**sonar-relay**, \`WATCH_MODE=${mode}\``,
			r.push_lag_ms.p50,
			r.push_lag_ms.p95,
			r.push_lag_ms.p99,
			r.push_lag_ms.max,
			r.lag_mean_ms,
			r.upstream_requests_per_job,
			r.upstream_gets_per_job,
			r.upstream_streams_per_job,
			r.alarm_runs_per_job,
			r.jobs_streamed === null ? null : `${r.jobs_streamed} (${r.stream_reconnects} reconnects)`,
			r.lost,
			r.duplicates,
		]);
	}
	for (const p of deep.frontier ?? []) {
		rows.push([
			`SDK, every ${p.interval_s} s`,
			p.lag_p50_ms,
			p.lag_p95_ms,
			p.lag_p99_ms,
			p.lag_max_ms,
			p.lag_mean_ms,
			p.requests_per_job,
			p.gets_per_job,
			0,
			"–",
			"–",
			p.lost,
			"–",
		]);
	}
	out.push(
		table(
			[
				"watch",
				"lag p50 (ms)",
				"p95 (ms)",
				"p99 (ms)",
				"max (ms)",
				"mean (ms)",
				"upstream requests/job",
				"GETs/job",
				"streams/job",
				"alarm runs/job",
				"jobs streamed",
				"lost",
				"duplicates",
			],
			rows,
		),
	);
	out.push(
		"",
		"Lag: the push's arrival at the receiver (for the SDK, the first `retrieve` that shows a terminal status) minus the instant the emulator completed the run. " +
			"Upstream requests: the emulator's count per run, summed over the job's runs: creates + GETs + event-stream connections (+ cancels). " +
			"Jobs streamed: jobs whose Job DO opened the run's event stream at least once (`stats.upstream_streams` > 0); reconnects: stream connections beyond each such job's first. " +
			`The frontier needs ${show(deep.frontier_gets_at_poll_lag === null || deep.frontier_gets_at_poll_lag === undefined ? null : deep.frontier_gets_at_poll_lag.toFixed(2))} GETs per job at the poll mode's lag p50 (linear between its points). Plot: \`deep-frontier.svg\`.`,
	);

	const lagValue = w.lag_value_usd_per_hour;
	out.push("", `### deep: what it costs, per 1000 jobs`, "");
	const costRows: Cell[][] = [];
	for (const [mode, r] of Object.entries(deep.modes)) {
		if (!r) continue;
		const c = r.cost_per_1000_jobs;
		costRows.push([
			`\`${mode}\``,
			c?.counted.do_requests_per_job,
			c?.counted.stream_ms_per_job,
			usd(c?.do_requests_usd),
			usd(c?.do_duration_usd),
			usd(c?.do_stream_duration_usd),
			usd(c?.kv_writes_usd),
			`**${usd(c?.total_usd)}**`,
			usd(r.lag_value_usd_per_1000_jobs),
			`**${usd(r.lag_weighted_usd_per_1000_jobs)}**`,
		]);
	}
	out.push(
		table(
			[
				"mode",
				"DO requests/job",
				"stream ms/job",
				"DO requests",
				"DO duration (per request)",
				"DO duration (held streams)",
				"KV writes",
				"Cloudflare total",
				`lag at $${lagValue}/h`,
				"lag-weighted total",
			],
			costRows,
		),
	);
	out.push(
		"",
		`Cloudflare total: Worker requests, DO requests (the create RPC, tenant index RPCs, alarm runs, gate RPCs, and 2 deferred per job), DO duration (each DO request × ${results.settings.cost_do_active_ms} ms at 128 MB, **plus** the time the Job DO held its run's event stream, \`stats.stream_ms\`, at 128 MB, shown apart), KV writes (+1 deferred delete); see the prices below. ` +
			`Lag-weighted total: the Cloudflare total plus the push lag valued at \`WATCH_LAG_VALUE_USD_PER_HOUR\` = $${lagValue}/h (mean lag × 1000 jobs), which is what \`WATCH_MODE=auto\` weighs when it chooses (src/polling/cost.ts). ` +
			"Upstream requests are not in either: Perplexity bills runs, not reads, but they count against the account's rate limit.",
	);

	const poll = deep.modes.poll;
	if (poll) {
		const conv = poll.convergence;
		out.push(
			"",
			`### deep, \`WATCH_MODE=poll\`: how fast the learnt plan converges (from the ${poll.poll_prior_median_ms / 1000} s prior${w.prior_told ? ", told" : ""})`,
			"",
			`Blocks of ${conv.block_size} jobs in the order upstream completed them. A job keeps the plan the gate gave it at its create, so each block also shows what the gate had learnt when its jobs were created (the median over the block of the durations learnt by then, and the learnt median at that count). ` +
				`The last two columns are the measure of convergence: what the gate's plan would do for the same jobs had it learnt the whole workload (oracle: learnt p50 ${show(conv.oracle?.learnt_p50_ms)} ms, p90 ${show(conv.oracle?.learnt_p90_ms)} ms; on all jobs ${show(conv.oracle?.plan_on_workload.gets_per_job)} GETs per job at lag p50 ${show(conv.oracle?.plan_on_workload.lag_p50_ms)} ms), the plan alone, without the machine's delays.`,
			"",
		);
		out.push(
			table(
				[
					"jobs (completion order)",
					"completed (s after the first arrival)",
					"lag p50 (ms)",
					"lag p95 (ms)",
					"lag mean (ms)",
					"GETs/job",
					"requests/job",
					"durations learnt at create (p50)",
					"learnt median then (ms)",
					"oracle plan: GETs/job",
					"oracle plan: lag p50 (ms)",
				],
				conv.blocks.map((b) => [
					b.jobs,
					`${b.completed_s[0]}–${b.completed_s[1]}`,
					b.lag_p50_ms,
					b.lag_p95_ms,
					b.lag_mean_ms,
					b.gets_per_job,
					b.requests_per_job,
					b.samples_learnt_at_create_p50,
					b.learnt_p50_ms_at_create,
					b.oracle?.gets_per_job,
					b.oracle?.lag_p50_ms,
				]),
			),
		);
		out.push(
			"",
			"The gate's learnt median over time. The gate has no public read-out, so its sketch is replayed from the jobs' figures: from the prior, each job's duration in the order the relay learnt it (just after its push), with the relay's own sketch code (src/polling/sketch.ts). " +
				"The plan columns are what the gate's plan at that point (POLL_COST_MS and the other production settings) does on this workload's durations, without the machine's delays: the lag and GETs a job created then would get.",
			"",
		);
		out.push(
			table(
				[
					"durations learnt",
					"at (s)",
					"learnt p50 (ms)",
					"learnt p90 (ms)",
					"plan: first poll (ms)",
					"plan: polls",
					"plan on this workload: GETs/job",
					"plan on this workload: lag p50 (ms)",
				],
				conv.learnt.map((l) => [
					l.samples,
					l.at_s,
					l.learnt_p50_ms,
					l.learnt_p90_ms,
					l.plan_first_poll_ms,
					l.plan_polls,
					l.plan_on_workload.gets_per_job,
					l.plan_on_workload.lag_p50_ms,
				]),
			),
		);
	}
	return out;
}

/**
 * @example
 * writeFileSync("latest.md", renderMarkdown(results));
 */
export function renderMarkdown(results: BenchResults): string {
	const out: string[] = [];
	const { machine, steady, ceiling, baseline, ratelimited, scale } = results;
	out.push("# sonar-relay benchmark");
	out.push("");
	if (!results.complete) out.push("**Partial results: the run is under way, or was cut short.**", "");
	out.push(
		`${results.date}, ${results.settings.quick ? "`--quick` run" : "full run"}, wall time ${show(results.wall_time_s, " s")}. ` +
			`Machine: ${machine.cpu_count} × ${machine.cpu_model}, ${machine.total_memory_gib} GiB, ${machine.os}; ` +
			`Node ${machine.node}, wrangler ${machine.wrangler}, workerd ${machine.workerd}. ` +
			"Everything runs on this one machine, on loopback: the relay under `wrangler dev` (local workerd), the emulator, the receiver and the load generator share its cores.",
	);
	out.push("");
	const source = results.relay_source;
	out.push(
		`Relay measured: ${source.source === "working tree" ? "the working tree at" : `\`${source.source}\` =`} commit \`${source.commit.slice(0, 12)}\`${source.uncommitted_changes.length > 0 ? ` plus uncommitted changes (${source.uncommitted_changes.join(", ")})` : ""}.`,
	);
	out.push(
		`Relay settings: production defaults (\`wrangler.toml\` [vars]) except ${Object.entries(
			(results.settings.relay_overrides as Record<string, string>) ?? {},
		)
			.map(([k, v]) => `\`${k}=${v}\``)
			.join(", ")}.`,
	);

	const upstreamApi = results.settings.upstream_api as string | undefined;
	if (upstreamApi !== undefined) {
		out.push(
			upstreamApi === "sonar"
				? "Upstream: the emulator's retired Sonar async API (`UPSTREAM_API=sonar`); relay jobs are joined to upstream jobs by their question."
				: "Upstream: the emulator's Agent API in background mode (`POST /v1/agent`, `GET /v1/responses/{id}`); relay jobs are joined to upstream runs by their question (the API has no idempotency key).",
		);
		const rpm = results.settings.upstream_requests_per_minute as number | null | undefined;
		out.push(
			rpm
				? `The emulator enforces ${rpm} requests a minute per key and announces it in \`x-ratelimit-*\` headers (\`--upstream-rpm\`).`
				: "The emulator announces no rate limit (no `x-ratelimit-*` headers): the relay paces to its configured `UPSTREAM_CREATE_RPS` and `UPSTREAM_GET_RPS`.",
		);
	}

	const foreign = Object.entries(results.foreign_cpu_cores);
	if (foreign.length > 0) {
		out.push(
			"",
			`Other processes on the machine (outside the bench) kept busy on average, in cores: ${foreign
				.map(([name, cores]) => `${name} ${show(cores)}`)
				.join(", ")}. Scenario wall times: ${Object.entries(results.scenario_wall_time_s)
				.map(([name, s]) => `${name} ${s} s`)
				.join(", ")}.`,
		);
	}

	if (steady) {
		const { burst } = steady;
		out.push(
			"",
			`## steady, phase 1: an ingest burst of ${burst.jobs} jobs, ${steady.concurrency} submissions in flight`,
			"",
		);
		out.push(
			figures([
				["submit throughput (ingest)", burst.throughput_per_s, " jobs/s"],
				["submit latency p50 / p99", `${show(burst.latency_p50_ms)} / ${show(burst.latency_p99_ms)}`, " ms"],
				["submit failures", burst.failures],
				[
					"push lag p50 / p95 / p99 (machine saturated)",
					`${show(burst.push_lag_ms.p50)} / ${show(burst.push_lag_ms.p95)} / ${show(burst.push_lag_ms.p99)}`,
					" ms",
				],
				["lost", burst.lost],
			]),
		);
		out.push(
			"",
			`## steady, phase 2: ${steady.jobs} jobs, ${steady.concurrency} in flight (each caller submits, waits for its push, submits the next)`,
			"",
		);
		const cost = steady.cost_per_1000_jobs;
		out.push(
			figures([
				["submit throughput", steady.submit.throughput_per_s, " jobs/s"],
				[
					"submit latency p50 / p99",
					`${show(steady.submit.latency_p50_ms)} / ${show(steady.submit.latency_p99_ms)}`,
					" ms",
				],
				["submit failures", steady.submit.failures],
				[
					"push lag p50 / p95 / p99",
					`${show(steady.push_lag_ms.p50)} / ${show(steady.push_lag_ms.p95)} / ${show(steady.push_lag_ms.p99)}`,
					" ms",
				],
				["push lag max", steady.push_lag_ms.max, " ms"],
				["upstream GETs per job", steady.upstream_gets_per_job],
				["upstream creates per job", steady.upstream_creates_per_job],
				["upstream event-stream connections per job", steady.upstream_streams_per_job],
				["event stream held per job (the relay's `stream_ms`)", steady.stream_ms_per_job, " ms"],
				["extra upstream runs (beyond one per job)", steady.upstream_extra_runs],
				["Job DO alarm runs per job", steady.alarm_runs_per_job],
				[
					"alarm lateness p50 / p99",
					`${show(steady.alarm_lateness_ms.p50)} / ${show(steady.alarm_lateness_ms.p99)}`,
					" ms",
				],
				["KV writes per job", steady.kv_writes_per_job],
				["tenant index writes per job", steady.index_writes_per_job],
				["lost (accepted, never pushed), both phases", steady.lost_all],
				["duplicates (same webhook-id again), both phases", steady.duplicates],
				["unverified signatures", steady.unverified],
				["workerd peak RSS (both phases)", steady.workerd_peak_rss_mb, " MiB"],
				[
					"workerd CPU per job (both phases)",
					steady.workerd_cpu_s_per_job === null ? null : (steady.workerd_cpu_s_per_job * 1000).toFixed(2),
					" ms",
				],
				["est. Cloudflare cost per 1000 jobs", cost?.total_usd === undefined ? null : `$${cost.total_usd}`],
				["first submit → last push", steady.drain_s, " s"],
			]),
		);
		if (cost) {
			out.push(
				"",
				`Cost basis per job: ${cost.counted.worker_requests_per_job} Worker request, ${cost.counted.do_requests_per_job} DO requests counted ` +
					`(create RPC + tenant index RPCs + alarm runs${steady.other_do_requests_per_job === null ? "; the relay reports no other DO RPCs (`stats.other_do_requests`), so none are counted" : ` + ${steady.other_do_requests_per_job} other DO RPCs`}) + ${cost.counted.deferred_do_requests_per_job} deferred (retirement alarm and index removal), ` +
					`${cost.counted.kv_writes_per_job} KV writes + ${cost.counted.deferred_kv_deletes_per_job} deferred KV delete (billed as a write), ${cost.counted.kv_reads_per_job} KV reads, ` +
					`${cost.counted.do_gb_s_per_job} GB-s DO duration (assumed ${results.settings.cost_do_active_ms} ms active per DO request at 128 MB)` +
					` + ${show(cost.counted.do_stream_gb_s_per_job)} GB-s for the held event stream. ` +
					`Split per 1000 jobs: Workers $${cost.worker_requests_usd}, DO requests $${cost.do_requests_usd}, DO duration $${cost.do_duration_usd}, held streams $${show(cost.do_stream_duration_usd)}, KV writes $${cost.kv_writes_usd}, KV reads $${cost.kv_reads_usd}.`,
			);
		} else {
			out.push("", `Cost: n/a (${steady.counters_note ?? "no DO/KV counters"}).`);
		}
	}

	if (ceiling) {
		out.push(
			"",
			`## ceiling: a bare Worker creating the burst's jobs upstream${ceiling.upstream_api === "agent" ? " (one Agent API background run per POST)" : ""}, ${ceiling.concurrency} in flight`,
			"",
		);
		out.push(
			figures([
				["ingest (bare Worker)", ceiling.throughput_per_s, " jobs/s"],
				["latency p50 / p99", `${show(ceiling.latency_p50_ms)} / ${show(ceiling.latency_p99_ms)}`, " ms"],
				["failures", ceiling.submit_failures],
				["relay ingest / ceiling", results.ingest_relay_over_ceiling],
			]),
		);
	}

	if (baseline && baseline.length > 0) {
		out.push(
			"",
			upstreamApi === undefined
				? "## the fixed-poller frontier (official SDK, same jobs, polling the upstream directly)"
				: "## the fixed-poller frontier (official SDK: `responses.create` with `background: true`, then `responses.retrieve` every X s; same jobs, directly on the upstream)",
			"",
		);
		const rows: Cell[][] = baseline.map((p) => [
			`SDK, every ${p.interval_s} s`,
			p.lag_p50_ms,
			p.lag_p95_ms,
			p.lag_p99_ms,
			p.gets_per_job,
			p.lost,
		]);
		if (steady) {
			const streams = steady.upstream_streams_per_job ?? 0;
			rows.push([
				streams > 0 ? "**sonar-relay** (push; GETs + event-stream connections)" : "**sonar-relay** (push)",
				steady.push_lag_ms.p50,
				steady.push_lag_ms.p95,
				steady.push_lag_ms.p99,
				followRequestsPerJob(steady),
				steady.lost,
			]);
		}
		out.push(table(["poller", "lag p50 (ms)", "lag p95 (ms)", "lag p99 (ms)", "GETs per job", "lost"], rows));
		out.push(
			"",
			`Lag: for the SDK, the moment a GET first shows ${upstreamApi === undefined ? "COMPLETED" : "a terminal status"}; for the relay, the push's arrival at the receiver; both minus the instant the emulator completed the job. ` +
				`The frontier needs ${show(results.frontier_gets_at_relay_lag === null || results.frontier_gets_at_relay_lag === undefined ? null : results.frontier_gets_at_relay_lag.toFixed(2))} GETs per job at the relay's lag p50 (linear between its points). Plot: \`frontier.svg\`.`,
		);
	}

	if (ratelimited) {
		out.push(
			"",
			`## ratelimited: ${ratelimited.jobs} jobs at once, upstream admits ${ratelimited.rate_per_s} creates/s, the relay is set to ${show(ratelimited.relay_create_rps)}/s`,
			"",
		);
		out.push(
			figures([
				["drain time (first submit → last push)", ratelimited.drain_s, " s"],
				[
					"ideal last push (creates at the rate in submission order, plus durations)",
					ratelimited.ideal_last_push_s,
					" s",
				],
				["drain / ideal", ratelimited.drain_over_ideal],
				["last upstream create admitted after (the create queue's drain)", ratelimited.last_create_admitted_s, " s"],
				["ideal create drain (jobs / rate)", ratelimited.ideal_drain_s, " s"],
				["create drain / ideal", ratelimited.create_drain_over_ideal],
				["upstream create calls", ratelimited.upstream_create_calls],
				["upstream 429s", ratelimited.upstream_429s],
				[
					"429s as a share of creates",
					ratelimited.upstream_429_share_of_creates === null
						? null
						: `${Math.round(ratelimited.upstream_429_share_of_creates * 1000) / 10} %`,
				],
				["upstream GETs per job", ratelimited.upstream_gets_per_job],
				["extra upstream runs (beyond one per job)", ratelimited.upstream_extra_runs],
				["submit failures", ratelimited.submit.failures],
				["push lag p50 / p99", `${show(ratelimited.push_lag_ms.p50)} / ${show(ratelimited.push_lag_ms.p99)}`, " ms"],
				["lost", ratelimited.lost],
				["duplicates", ratelimited.duplicates],
			]),
		);
	}

	if (scale) {
		out.push("", `## scale: ${scale.jobs} jobs in flight at once`, "");
		out.push(
			figures([
				["peak jobs in flight (accepted, not yet pushed)", scale.peak_in_flight],
				["all in flight at once", scale.all_in_flight_at_once],
				["load time (all submissions)", scale.submit.load_s, " s"],
				["not sent (load deadline)", scale.submit.not_sent],
				["submit throughput", scale.submit.throughput_per_s, " jobs/s"],
				["submit failures", scale.submit.failures],
				["workerd peak RSS", scale.workerd_peak_rss_mb, " MiB"],
				[
					"alarm lateness p50 / p99",
					`${show(scale.alarm_lateness_ms.p50)} / ${show(scale.alarm_lateness_ms.p99)}`,
					" ms",
				],
				["alarm lateness max", scale.alarm_lateness_ms.max, " ms"],
				["push lag p50 / p99", `${show(scale.push_lag_ms.p50)} / ${show(scale.push_lag_ms.p99)}`, " ms"],
				["upstream GETs per job", scale.upstream_gets_per_job],
				["extra upstream runs (beyond one per job)", scale.upstream_extra_runs],
				["Job DO alarm runs per job", scale.per_job?.alarm_runs ?? null],
				["relay's prior median (POLL_PRIOR_MEDIAN_MS)", scale.poll_prior_median_ms ?? null, " ms"],
				["lost", scale.lost],
				["duplicates", scale.duplicates],
			]),
		);
	}

	if (results.deep) out.push(...renderDeep(results.deep, results));

	if (results.targets.length > 0) {
		out.push("", "## targets", "");
		out.push(
			table(
				["figure", "target", "measured", "met"],
				results.targets.map((t) => [t.figure, t.target, t.measured, metMark(t)]),
			),
		);
	}

	const errors = Object.entries(results.errors);
	if (errors.length > 0) {
		out.push("", "## scenarios that failed", "");
		for (const [name, error] of errors) out.push(`- **${name}**: ${error.split("\n")[0]}`);
	}

	const p = results.prices;
	out.push(
		"",
		"## prices used",
		"",
		`${p.note}, as of ${p.as_of}: Workers requests $${p.workers_requests_per_million}/M, Durable Object requests $${p.do_requests_per_million}/M, ` +
			`DO duration $${p.do_duration_per_million_gb_s}/M GB-s (${p.do_memory_gb * 1000} MB per active object), KV writes $${p.kv_writes_per_million}/M, KV reads $${p.kv_reads_per_million}/M.`,
		"",
	);
	return out.join("\n");
}
