/**
 * Smoke test of the benchmark harness: `bench/run.ts --quick` runs every
 * scenario end to end (wrangler dev, the emulator's Agent API, receiver, SDK baseline), `deep`
 * in each watch mode too, into a temporary directory. It asserts correctness only (nothing lost
 * or duplicated, every figure present and finite, the report and plots written), never speed;
 * and one figure that is the design's, not the machine's: a streamed job costs at most three
 * upstream requests (create, stream, one reconnect or final read).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const out = mkdtempSync(join(tmpdir(), "sonar-relay-bench-test-"));
let child: ChildProcess | undefined;

afterAll(async () => {
	// If the test timed out, Ctrl-C the bench: it stops wrangler dev and the rest itself.
	if (child && child.exitCode === null && child.signalCode === null) {
		const exited = new Promise((resolve) => child?.once("exit", resolve));
		child.kill("SIGINT");
		await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
		child.kill("SIGKILL");
	}
	rmSync(out, { recursive: true, force: true });
}, 60_000);

function runQuickBench(): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve) => {
		let output = "";
		child = spawn(process.execPath, [join(ROOT, "bench", "run.ts"), "--quick", "--out", out], {
			cwd: ROOT,
			env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
			stdio: ["ignore", "pipe", "pipe"],
		});
		const keep = (chunk: Buffer) => {
			output = (output + chunk.toString("utf8")).slice(-20_000);
		};
		child.stdout?.on("data", keep);
		child.stderr?.on("data", keep);
		child.once("exit", (code) => resolve({ code, output }));
	});
}

/** Reads a dotted path (`submit.latency_p50_ms`, `baseline.0.gets_per_job`) out of the results. */
function at(value: unknown, path: string): unknown {
	return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

const REQUIRED_FIGURES = [
	"ceiling.throughput_per_s",
	"ceiling.latency_p50_ms",
	"ceiling.latency_p99_ms",
	"ingest_relay_over_ceiling",
	"steady.burst.throughput_per_s",
	"steady.burst.latency_p50_ms",
	"steady.burst.push_lag_ms.p50",
	"steady.submit.throughput_per_s",
	"steady.submit.latency_p50_ms",
	"steady.submit.latency_p99_ms",
	"steady.push_lag_ms.p50",
	"steady.push_lag_ms.p95",
	"steady.push_lag_ms.p99",
	"steady.upstream_gets_per_job",
	"steady.alarm_runs_per_job",
	"steady.alarm_lateness_ms.p50",
	"steady.alarm_lateness_ms.p99",
	"steady.kv_writes_per_job",
	"steady.workerd_peak_rss_mb",
	"steady.workerd_cpu_s_per_job",
	"steady.cost_per_1000_jobs.total_usd",
	"ratelimited.drain_s",
	"ratelimited.ideal_drain_s",
	"ratelimited.drain_over_ideal",
	"ratelimited.upstream_429_share_of_creates",
	"scale.workerd_peak_rss_mb",
	"scale.alarm_lateness_ms.p50",
	"scale.alarm_lateness_ms.p99",
	"scale.peak_in_flight",
	"deep.frontier_gets_at_poll_lag",
];

/** Figures every `deep` mode reports. */
const DEEP_FIGURES = [
	"push_lag_ms.p50",
	"push_lag_ms.p95",
	"push_lag_ms.p99",
	"push_lag_ms.max",
	"lag_mean_ms",
	"upstream_requests_per_job",
	"upstream_gets_per_job",
	"upstream_streams_per_job",
	"alarm_runs_per_job",
	"jobs_streamed",
	"stream_ms_per_job",
	"cost_per_1000_jobs.total_usd",
	"cost_per_1000_jobs.do_stream_duration_usd",
	"lag_value_usd_per_1000_jobs",
	"lag_weighted_usd_per_1000_jobs",
];

describe("npm run bench -- --quick", () => {
	it("runs every scenario with nothing lost or duplicated and reports every figure", async () => {
		const { code, output } = await runQuickBench();
		expect(code, output).toBe(0);

		const results = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as Record<string, unknown>;
		expect(results.errors).toEqual({});
		for (const scenario of ["steady", "ratelimited", "scale"]) {
			expect(at(results, `${scenario}.lost`), `${scenario}.lost`).toBe(0);
			expect(at(results, `${scenario}.duplicates`), `${scenario}.duplicates`).toBe(0);
			expect(at(results, `${scenario}.unverified`), `${scenario}.unverified`).toBe(0);
			expect(at(results, `${scenario}.submit.failures`), `${scenario}.submit.failures`).toBe(0);
		}
		// Upstream is the emulator's Agent API, and every relay job is joined to its run by question.
		expect(at(results, "settings.upstream_api")).toBe("agent");
		for (const scenario of ["steady", "ratelimited", "scale"]) {
			expect(at(results, `${scenario}.upstream_api`), `${scenario}.upstream_api`).toBe("agent");
			expect(at(results, `${scenario}.upstream_unjoined_jobs`), `${scenario}.upstream_unjoined_jobs`).toBe(0);
			expect(at(results, `${scenario}.unjoined_upstream`), `${scenario}.unjoined_upstream`).toBe(0);
		}
		// No fault upstream, so no create lost its answer: one run per job.
		expect(at(results, "steady.upstream_extra_runs")).toBe(0);
		expect(at(results, "ceiling.upstream_api")).toBe("agent");
		expect(at(results, "ceiling.upstream_jobs_created")).toBe(at(results, "ceiling.accepted"));
		// steady's ingest burst too.
		expect(at(results, "steady.lost_all")).toBe(0);
		expect(at(results, "steady.burst.failures")).toBe(0);
		const baseline = results.baseline as { lost: number; lag_p50_ms: unknown; gets_per_job: unknown }[];
		expect(baseline).toHaveLength(2);
		for (const point of baseline) {
			expect(point.lost).toBe(0);
			expect(Number.isFinite(point.lag_p50_ms)).toBe(true);
			expect(Number.isFinite(point.gets_per_job)).toBe(true);
		}
		for (const path of REQUIRED_FIGURES) {
			const value = at(results, path);
			expect(typeof value === "number" && Number.isFinite(value), `${path} = ${String(value)}`).toBe(true);
		}

		// deep: every watch mode on its own relay, the same jobs; the SDK pollers beside them.
		for (const mode of ["stream", "poll", "auto"]) {
			const result = `deep.modes.${mode}`;
			expect(at(results, `${result}.lost`), `${result}.lost`).toBe(0);
			expect(at(results, `${result}.duplicates`), `${result}.duplicates`).toBe(0);
			expect(at(results, `${result}.submit.failures`), `${result}.submit.failures`).toBe(0);
			expect(at(results, `${result}.upstream_unjoined_jobs`), `${result}.upstream_unjoined_jobs`).toBe(0);
			for (const path of DEEP_FIGURES) {
				const value = at(results, `${result}.${path}`);
				expect(typeof value === "number" && Number.isFinite(value), `${result}.${path} = ${String(value)}`).toBe(true);
			}
		}
		// Streamed: every job streamed, and a create, a stream and at most one reconnect or final read.
		expect(at(results, "deep.modes.stream.jobs_streamed")).toBe(at(results, "deep.workload.jobs"));
		expect(at(results, "deep.modes.stream.upstream_requests_per_job")).toBeLessThanOrEqual(3);
		expect(at(results, "deep.modes.poll.jobs_streamed")).toBe(0);
		expect((at(results, "deep.modes.poll.convergence.blocks") as unknown[]).length).toBeGreaterThan(0);
		const frontier = at(results, "deep.frontier") as { lost: number; lag_p50_ms: unknown; requests_per_job: unknown }[];
		expect(frontier).toHaveLength(2);
		for (const point of frontier) {
			expect(point.lost).toBe(0);
			expect(Number.isFinite(point.lag_p50_ms)).toBe(true);
			expect(Number.isFinite(point.requests_per_job)).toBe(true);
		}

		const markdown = readFileSync(join(out, "latest.md"), "utf8");
		expect(markdown).toContain("## steady");
		expect(markdown).toContain("## deep");
		for (const plot of ["frontier.svg", "deep-frontier.svg"]) {
			expect(existsSync(join(out, plot)), plot).toBe(true);
			expect(readFileSync(join(out, plot), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>$/);
		}
	}, 420_000);
});
