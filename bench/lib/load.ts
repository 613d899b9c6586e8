/**
 * Load generation and waiting: a bounded-concurrency pool, the submission of
 * jobs to the relay (or the ceiling Worker), a bounded wait, and the read-back
 * of each job's counters from the relay's `GET …/{id}/deliveries`.
 */
import { quantile, ratio, round } from "./stats.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight; results in index order.
 *
 * @example
 * await pool(100, 8, async (i) => fetch(urls[i]));
 */
export async function pool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
	const results = new Array<T>(count);
	let next = 0;
	const worker = async () => {
		for (let index = next++; index < count; index = next++) results[index] = await task(index);
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
	return results;
}

/** One submission as the caller saw it. */
export interface Submission {
	index: number;
	/** `Date.now()` when the POST was sent. */
	startedAtMs: number;
	latencyMs: number;
	/** HTTP status, or 0 when the request failed without one. */
	status: number;
	/** The job id from a 200 answer. */
	jobId: string | null;
	error: string | null;
}

/**
 * POSTs `count` bodies to `url`, `concurrency` at a time, and records what each answered.
 * `bodyFor(index)` is called just before each POST. A failed submission is recorded,
 * never retried: the bench reports it.
 */
export async function submitAll(options: {
	url: string;
	apiKey: string;
	count: number;
	bodyFor: (index: number) => unknown;
	concurrency: number;
	timeoutMs?: number;
	/** `Date.now()` after which no new POST is sent: the rest are recorded as not sent (status -1). */
	deadlineMs?: number;
}): Promise<Submission[]> {
	return pool(options.count, options.concurrency, async (index) => {
		if (options.deadlineMs !== undefined && Date.now() >= options.deadlineMs) {
			return {
				index,
				startedAtMs: Date.now(),
				latencyMs: 0,
				status: -1,
				jobId: null,
				error: "not sent: load deadline",
			};
		}
		const body = JSON.stringify(options.bodyFor(index));
		const startedAtMs = Date.now();
		const started = performance.now();
		try {
			const response = await fetch(options.url, {
				method: "POST",
				headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
				body,
				signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
			});
			const text = await response.text();
			const latencyMs = performance.now() - started;
			let jobId: string | null = null;
			if (response.ok) {
				try {
					const id = (JSON.parse(text) as { id?: unknown }).id;
					jobId = typeof id === "string" ? id : null;
				} catch {
					jobId = null;
				}
			}
			const error = response.ok && jobId ? null : `${response.status} ${text.slice(0, 200)}`;
			return { index, startedAtMs, latencyMs, status: response.status, jobId, error };
		} catch (error) {
			return {
				index,
				startedAtMs,
				latencyMs: performance.now() - started,
				status: 0,
				jobId: null,
				error: String(error),
			};
		}
	});
}

/** Submit figures: accepted count, failures by status, throughput and latency. */
export function submitFigures(all: readonly Submission[]) {
	const submissions = all.filter((s) => s.status !== -1);
	const accepted = submissions.filter((s) => s.jobId !== null);
	const failures: Record<string, number> = {};
	for (const s of submissions) if (s.jobId === null) failures[String(s.status)] = (failures[String(s.status)] ?? 0) + 1;
	const first = Math.min(...submissions.map((s) => s.startedAtMs));
	const last = Math.max(...submissions.map((s) => s.startedAtMs + s.latencyMs));
	const latencies = submissions.map((s) => s.latencyMs);
	return {
		submitted: submissions.length,
		not_sent: all.length - submissions.length,
		accepted: accepted.length,
		submit_failures: Object.values(failures).reduce((sum, n) => sum + n, 0),
		submit_failures_by_status: failures,
		throughput_per_s: round(ratio(accepted.length, (last - first) / 1000), 1),
		latency_p50_ms: round(quantile(latencies, 0.5), 1),
		latency_p99_ms: round(quantile(latencies, 0.99), 1),
		first_submit_at_ms: first,
		last_answer_at_ms: last,
		sample_errors: submissions.flatMap((s) => (s.error ? [s.error] : [])).slice(0, 5),
	};
}

/** Waits until `done()` or `timeoutMs`; true when done. Checks every `intervalMs`. */
export async function waitUntil(done: () => boolean, timeoutMs: number, intervalMs = 200): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (!done()) {
		if (Date.now() >= deadline) return false;
		await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
	}
	return true;
}

/** The per-job counters of `GET /async/chat/completions/{id}/deliveries` (`stats`). */
export interface JobCounters {
	alarm_runs: number;
	upstream_polls: number;
	create_attempts: number;
	kv_writes: number;
	index_writes: number;
	delivery_attempts: number;
	alarm_lateness_ms: number[];
	/**
	 * Optional in the contract: RPCs the Job DO makes into Durable Objects other than the
	 * tenant index (e.g. a rate gate). Null when the relay does not report it.
	 */
	other_do_requests: number | null;
	/** Optional in the contract: connections to the run's event stream (null when not reported). */
	upstream_streams: number | null;
	/** Optional in the contract: ms the Job DO held the run's event stream open (null when not reported). */
	stream_ms: number | null;
}

export interface CountersReadBack {
	/** False when the relay has no deliveries endpoint (404 on a job it just accepted), or it carries no stats. */
	available: boolean;
	byJob: Map<string, JobCounters>;
	/** Jobs whose read-back failed although the endpoint exists. */
	failed: number;
	note: string | null;
}

const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : Number.NaN);

function parseCounters(body: unknown): JobCounters | null {
	const stats = (body as { stats?: Record<string, unknown> } | null)?.stats;
	if (!stats || typeof stats !== "object") return null;
	const lateness = Array.isArray(stats.alarm_lateness_ms) ? stats.alarm_lateness_ms.map(num) : [];
	return {
		alarm_runs: num(stats.alarm_runs),
		upstream_polls: num(stats.upstream_polls),
		create_attempts: num(stats.create_attempts),
		kv_writes: num(stats.kv_writes),
		index_writes: num(stats.index_writes),
		delivery_attempts: num(stats.delivery_attempts),
		alarm_lateness_ms: lateness.filter(Number.isFinite),
		other_do_requests: typeof stats.other_do_requests === "number" ? num(stats.other_do_requests) : null,
		upstream_streams: typeof stats.upstream_streams === "number" ? num(stats.upstream_streams) : null,
		stream_ms: typeof stats.stream_ms === "number" ? num(stats.stream_ms) : null,
	};
}

/**
 * Reads every job's counters back from the relay. Probes with the first job: a
 * 404 there means the endpoint does not exist (yet), and the figures it feeds are n/a.
 */
export async function readCounters(options: {
	relayUrl: string;
	apiKey: string;
	jobIds: readonly string[];
	concurrency: number;
}): Promise<CountersReadBack> {
	const byJob = new Map<string, JobCounters>();
	const read = async (id: string): Promise<{ status: number; counters: JobCounters | null }> => {
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				const response = await fetch(`${options.relayUrl}/async/chat/completions/${id}/deliveries`, {
					headers: { authorization: `Bearer ${options.apiKey}` },
					signal: AbortSignal.timeout(30_000),
				});
				const body = response.ok ? ((await response.json()) as unknown) : await response.text();
				if (response.status === 503) {
					await sleep(500);
					continue;
				}
				return { status: response.status, counters: response.ok ? parseCounters(body) : null };
			} catch {
				await sleep(500);
			}
		}
		return { status: 0, counters: null };
	};
	const [first, ...rest] = options.jobIds;
	if (first === undefined) return { available: false, byJob, failed: 0, note: "no accepted jobs" };
	const probe = await read(first);
	if (probe.status === 404) {
		return { available: false, byJob, failed: 0, note: "GET /async/chat/completions/{id}/deliveries answered 404" };
	}
	if (!probe.counters) {
		return { available: false, byJob, failed: 0, note: `deliveries endpoint: status ${probe.status}, no stats` };
	}
	byJob.set(first, probe.counters);
	let failed = 0;
	await pool(rest.length, options.concurrency, async (index) => {
		const id = rest[index] as string;
		const result = await read(id);
		if (result.counters) byJob.set(id, result.counters);
		else failed++;
	});
	return { available: true, byJob, failed, note: failed > 0 ? `${failed} jobs' counters could not be read` : null };
}
