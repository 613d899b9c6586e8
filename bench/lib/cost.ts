/**
 * An estimated Cloudflare bill per 1000 jobs, from what the bench counted:
 * Worker requests, Durable Object requests (RPC calls and alarm runs), DO
 * duration (an estimate per request, plus the time a Job DO held its run's
 * event stream), KV writes and reads, at list prices. Included monthly allowances are ignored,
 * so this is the marginal price of 1000 more jobs on Workers Paid.
 */
import { round } from "./stats.ts";

/** List prices, USD, as published on Cloudflare's pricing pages when this was written. */
export const PRICES = {
	as_of: "2026-11-22",
	note: "Cloudflare list prices (Workers Paid) as of writing; included allowances ignored; SQLite storage rows and CPU time not included",
	workers_requests_per_million: 0.3,
	do_requests_per_million: 0.15,
	do_duration_per_million_gb_s: 12.5,
	/** Memory a Durable Object is billed for while active. KV deletes are billed as writes. */
	do_memory_gb: 0.128,
	kv_writes_per_million: 5,
	kv_reads_per_million: 0.5,
} as const;

/**
 * Durable Object requests each job still costs after the bench stops watching:
 * the retirement alarm run and its tenant-index removal RPC, after `RESULT_TTL_SECONDS`
 * (src/job/job.ts, action "retire"). Not observable within a bench run, so counted here.
 */
export const DEFERRED_DO_REQUESTS_PER_JOB = 2;

/** KV deletes each job still costs then (its result, at retirement); KV bills a delete as a write. */
export const DEFERRED_KV_DELETES_PER_JOB = 1;

export interface CostInputs {
	workerRequestsPerJob: number;
	/** RPCs into Durable Objects and alarm runs, per job, as counted. */
	doRequestsPerJob: number;
	kvWritesPerJob: number;
	kvReadsPerJob: number;
	/** Assumed billed wall time of one DO request (see `--cost-do-active-ms`). */
	doActiveMs: number;
	/**
	 * How long the Job DO held its run's event stream open, per job (ms; the relay's `stats.stream_ms`):
	 * billed as DO duration on top of the per-request estimate. @default 0
	 */
	streamMsPerJob?: number;
}

/**
 * @example
 * costPer1000Jobs({ workerRequestsPerJob: 1, doRequestsPerJob: 10, kvWritesPerJob: 2, kvReadsPerJob: 0, doActiveMs: 200 });
 */
export function costPer1000Jobs(inputs: CostInputs) {
	const jobs = 1000;
	const doRequests = (inputs.doRequestsPerJob + DEFERRED_DO_REQUESTS_PER_JOB) * jobs;
	const gbSeconds = doRequests * (inputs.doActiveMs / 1000) * PRICES.do_memory_gb;
	const streamGbSeconds = (inputs.streamMsPerJob ?? 0) * jobs * (PRICES.do_memory_gb / 1000);
	const parts = {
		worker_requests_usd: ((inputs.workerRequestsPerJob * jobs) / 1e6) * PRICES.workers_requests_per_million,
		do_requests_usd: (doRequests / 1e6) * PRICES.do_requests_per_million,
		do_duration_usd: (gbSeconds / 1e6) * PRICES.do_duration_per_million_gb_s,
		do_stream_duration_usd: (streamGbSeconds / 1e6) * PRICES.do_duration_per_million_gb_s,
		kv_writes_usd:
			(((inputs.kvWritesPerJob + DEFERRED_KV_DELETES_PER_JOB) * jobs) / 1e6) * PRICES.kv_writes_per_million,
		kv_reads_usd: ((inputs.kvReadsPerJob * jobs) / 1e6) * PRICES.kv_reads_per_million,
	};
	const total = Object.values(parts).reduce((sum, usd) => sum + usd, 0);
	return {
		total_usd: round(total, 5),
		worker_requests_usd: round(parts.worker_requests_usd, 5),
		do_requests_usd: round(parts.do_requests_usd, 5),
		do_duration_usd: round(parts.do_duration_usd, 5),
		/** The held event streams' duration, apart (0 for a job that never streamed). */
		do_stream_duration_usd: round(parts.do_stream_duration_usd, 5),
		kv_writes_usd: round(parts.kv_writes_usd, 5),
		kv_reads_usd: round(parts.kv_reads_usd, 5),
		counted: {
			worker_requests_per_job: round(inputs.workerRequestsPerJob, 3),
			do_requests_per_job: round(inputs.doRequestsPerJob, 3),
			deferred_do_requests_per_job: DEFERRED_DO_REQUESTS_PER_JOB,
			kv_writes_per_job: round(inputs.kvWritesPerJob, 3),
			deferred_kv_deletes_per_job: DEFERRED_KV_DELETES_PER_JOB,
			kv_reads_per_job: round(inputs.kvReadsPerJob, 3),
			do_gb_s_per_job: round(gbSeconds / jobs, 5),
			stream_ms_per_job: round(inputs.streamMsPerJob ?? 0, 0),
			do_stream_gb_s_per_job: round(streamGbSeconds / jobs, 5),
		},
	};
}
