/**
 * What a job reports to the tenant index for the operations view, as the pure machine decides it:
 * the push lag (the run's end to the first 2xx of its final event), when its final event was
 * dead-lettered, and who answered upstream (recorded from the create's and polls' answers).
 */
import { describe, expect, it } from "vitest";
import { type AttemptResult, deliveryId } from "../../src/delivery/outbox.ts";
import type { Outcome } from "../../src/job/actions.ts";
import { redeliver } from "../../src/job/commands.ts";
import { apply, newJob } from "../../src/job/machine.ts";
import { owedOf } from "../../src/job/owed.ts";
import { eventBody } from "../../src/job/render.ts";
import type { JobState } from "../../src/job/state.ts";
import { deadLetteredAt, pushLagMs, toResponse, toView } from "../../src/job/views.ts";
import type { UpstreamRun } from "../../src/upstream/port.ts";
import { admitted, makeSpec, policy, T0 } from "./job-fixtures.ts";

const step = (state: JobState, outcome: Outcome, now: number) => apply(state, outcome, now, policy, 0.5);

function run(overrides: Partial<UpstreamRun> = {}): UpstreamRun {
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
							{ index: 0, message: { role: "assistant", content: "A." }, delta: { role: "assistant", content: "" } },
						],
					}
				: null,
		error: null,
		createdAt: T0 / 1000,
		startedAt: null,
		finishedAt: null,
		...overrides,
	};
}

const refused: AttemptResult = {
	ok: false,
	statusCode: 500,
	error: null,
	durationMs: 3,
	retryAfterMs: null,
	responseBody: null,
};
const accepted: AttemptResult = { ...refused, ok: true, statusCode: 200 };

/** A job whose run ended COMPLETED at T0 + 5 s (upstream's finishedAt), its final event queued. */
function completedJob(spec = makeSpec()): JobState {
	let state: JobState = admitted(newJob(spec, T0));
	state = step(state, { type: "created", run: run(), upstream: "emulator" }, T0);
	return step(state, { type: "polled", run: run({ status: "completed", finishedAt: T0 / 1000 + 5 }) }, T0 + 6000);
}

function attempt(state: JobState, result: AttemptResult, now: number): JobState {
	const final = state.deliveries.find((d) => d.type === "async_chat_completion.completed");
	if (!final) throw new Error("no final delivery");
	return step(state, { type: "delivery_attempted", id: deliveryId(final.webhookId, final.url), result }, now);
}

describe("push lag", () => {
	it("is the time from the run's end to the final event's first 2xx", () => {
		const state = completedJob();
		expect(pushLagMs(state)).toBeNull();
		const delivered = attempt(state, accepted, T0 + 6250);
		expect(pushLagMs(delivered)).toBe(1250);
		// The delivery status changed: the index is told again, with the lag.
		expect(owedOf(delivered)?.index).toBe(true);
	});

	it("counts from the first success, through failed attempts, and a later redelivery does not change it", () => {
		let state = attempt(completedJob(), refused, T0 + 6000);
		expect(pushLagMs(state)).toBeNull();
		state = attempt(state, accepted, T0 + 11_500);
		expect(pushLagMs(state)).toBe(6500);
		const again = redeliver(state, T0 + 60_000);
		if (!again.ok) throw new Error(again.reason);
		expect(pushLagMs(attempt(again.state, accepted, T0 + 60_010))).toBe(6500);
	});

	it("is null for a job without a callback", () => {
		expect(pushLagMs(completedJob(makeSpec({ callbackUrl: null })))).toBeNull();
	});
});

describe("dead-lettered", () => {
	it("is when the last scheduled attempt failed, and clears when a redelivery is under way", () => {
		let state = completedJob();
		const schedule = policy.deliveryScheduleMs.length;
		for (let i = 0; i < schedule; i++) {
			expect(deadLetteredAt(state)).toBeNull();
			state = attempt(state, refused, T0 + 7000 + i * 1000);
		}
		expect(toView(state).delivery_status).toBe("failed");
		expect(deadLetteredAt(state)).toBe(Math.floor((T0 + 7000 + (schedule - 1) * 1000) / 1000));
		const again = redeliver(state, T0 + 90_000);
		if (!again.ok) throw new Error(again.reason);
		expect(deadLetteredAt(again.state)).toBeNull();
		expect(pushLagMs(attempt(again.state, accepted, T0 + 90_000))).toBe(85_000);
	});
});

describe("who answered upstream", () => {
	it("is recorded from the create's answer and shown on GET, on both surfaces", () => {
		const state = completedJob();
		expect(state.upstream).toBe("emulator");
		expect(toView(state).upstream).toBe("emulator");
		const agent = completedJob(
			makeSpec({ surface: "agent", request: { input: "Hi", preset: "fast" }, callbackEvents: ["completed"] }),
		);
		expect(toResponse(agent).upstream).toBe("emulator");
	});

	it("is null until upstream has answered, and a later poll's answer replaces it", () => {
		const fresh: JobState = admitted(newJob(makeSpec(), T0));
		expect(toView(fresh).upstream).toBeNull();
		const created = step(fresh, { type: "created", run: run() }, T0);
		expect(created.upstream).toBeNull();
		const polled = step(
			created,
			{ type: "polled", run: run({ status: "in_progress" }), upstream: "perplexity" },
			T0 + 1,
		);
		expect(toView(polled).upstream).toBe("perplexity");
	});

	it("is not in the event a receiver gets (GET only)", () => {
		const state = completedJob();
		const final = state.deliveries.find((d) => d.type === "async_chat_completion.completed");
		if (!final) throw new Error("no final delivery");
		const event = JSON.parse(eventBody(state, final)) as { data: Record<string, unknown> };
		expect(event.data.status).toBe("COMPLETED");
		expect(event.data).not.toHaveProperty("upstream");
	});
});
