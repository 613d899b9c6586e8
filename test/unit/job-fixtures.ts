/** Shared fixtures of the pure job machine's unit tests: a fixed clock, a policy, a job spec and an upstream run. */
import { apply, newJob } from "../../src/job/machine.ts";
import { owe } from "../../src/job/owed.ts";
import type { Policy } from "../../src/job/schedule.ts";
import type { JobSpec, JobState } from "../../src/job/state.ts";
import type { UpstreamRun } from "../../src/upstream/port.ts";

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

/** An upstream run as the port reports it; a completed one carries an answer. */
export function makeRun(overrides: Partial<UpstreamRun> = {}): UpstreamRun {
	const status = overrides.status ?? "queued";
	return {
		id: "up-1",
		status,
		result:
			status === "completed"
				? {
						id: "c1",
						model: "sonar",
						created: T0 / 1000,
						choices: [
							{
								index: 0,
								message: { role: "assistant", content: "**KV** is eventually consistent [1]." },
								delta: { role: "assistant", content: "" },
							},
						],
						citations: ["https://example.com"],
					}
				: null,
		error: null,
		createdAt: T0 / 1000,
		startedAt: null,
		finishedAt: null,
		...overrides,
	};
}

/** A job whose run failed at its create: settled, its final event (which carries the result) queued to the callback. */
export function failedJob(): JobState {
	const run = makeRun({ status: "failed", error: "boom", createdAt: null });
	return apply(admitted(newJob(makeSpec(), T0)), { type: "created", run }, T0, policy, 0.5);
}
