/** Shared fixtures of the pure job machine's unit tests: a fixed clock, a policy and a job spec. */
import { owe } from "../../src/job/owed.ts";
import type { Policy } from "../../src/job/schedule.ts";
import type { JobSpec, JobState } from "../../src/job/state.ts";

export const T0 = 1_700_000_000_000;

export const policy: Policy = {
	createRetryInitialMs: 1000,
	pollInitialDelayMs: 1000,
	pollMaxIntervalMs: 10_000,
	pollMinIntervalMs: 100,
	jobTimeoutSeconds: 600,
	deliveryScheduleMs: [0, 5000, 300_000],
	resultTtlSeconds: 3600,
};

/** A Sonar job created at T0 with a callback for its final events; `overrides` win. */
export function makeSpec(overrides: Partial<JobSpec> = {}): JobSpec {
	return {
		id: "job1",
		tenant: "acme",
		model: "sonar",
		createdAtMs: T0,
		bodyHash: "hash",
		request: { model: "sonar", messages: [] },
		callbackUrl: "https://hooks.example.com/in",
		callbackEvents: ["completed", "failed"],
		metadata: { ticket: 7 },
		...overrides,
	} as JobSpec;
}

/** The job once the tenant index has admitted it (what most tests start from). */
export const admitted = (state: JobState): JobState => owe(state, { admit: false });

/** The job with its index entry current: no index write owed. */
export const indexed = (state: JobState): JobState => owe(state, { index: false });
