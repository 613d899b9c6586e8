/**
 * What a job reports to its tenant's index: a small types module of its own, so that the Job DO
 * can name it without importing the Tenant DO (which imports the sweeper, which names the Job DO).
 */
import type { ResponseStatus } from "../schemas/agent.ts";
import type { RelayJobSummary } from "../schemas/relay.ts";

/** What a job reports to the index: its summary, the surface it was submitted on, and a run's own status. */
export type IndexEntry = RelayJobSummary & {
	surface: "sonar" | "agent";
	run_status: ResponseStatus | null;
	/** What the run cost upstream (USD), once it finished and upstream said; for `daily_cost_usd`. */
	cost_usd?: number | null;
	/** From the run's end to the first 2xx of its final event (ms); null until then, or without a callback. */
	push_lag_ms?: number | null;
	/** When the final event to callback_url was dead-lettered (Unix seconds); null unless it is now. */
	dead_lettered_at?: number | null;
	/** The caller's metadata: its searchable entries are indexed when the job first enters the index. */
	metadata?: Record<string, unknown> | null;
};
