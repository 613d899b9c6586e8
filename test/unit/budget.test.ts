/**
 * The subrequest budget of one Job DO invocation (`src/job/budget.ts`): what each action may cost at
 * worst, from what `perform.ts` does for it, and when a run must stop. The Job DO's own count, for real,
 * is in test/integration/subrequests.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type Delivery, newDelivery } from "../../src/delivery/outbox.ts";
import type { Action } from "../../src/job/actions.ts";
import { fitsBudget, spend, subrequestsOf } from "../../src/job/budget.ts";
import type { JobState } from "../../src/job/state.ts";
import { failedJob, T0 } from "./job-fixtures.ts";

const atHand = { atHand: true, parts: 1 };

/** A job whose run failed: settled, its final event queued to the callback; `extra` added to its outbox. */
function settled(extra: Delivery[] = []): JobState {
	const state = failedJob();
	return { ...state, deliveries: [...state.deliveries, ...extra] };
}

function hookDelivery(attempts: number): Delivery {
	return {
		...newDelivery(
			{
				webhookId: "msg_job1_failed",
				type: "async_chat_completion.failed",
				url: "https://hooks.example.com/sub",
				eventAt: T0,
				hookId: "hook_1",
			},
			T0,
		),
		attempts,
	};
}

describe("subrequestsOf", () => {
	const state = settled();
	const cost = (action: Action, result = atHand, on = state) => subrequestsOf(action, on, result);

	it("counts a create or a poll at four: the pacer's admission, the call, a 429 and a rate limit reported", () => {
		expect(cost({ type: "create", slot: null })).toBe(4);
		expect(cost({ type: "poll", upstreamId: "up-1", slot: null, pacing: null as never })).toBe(4);
	});

	it("counts one call for learning, an index write, two for a cancel, three for following a stream; nothing to expire", () => {
		expect(cost({ type: "learn", model: "sonar", durationMs: 1000 })).toBe(1);
		expect(cost({ type: "index", fanOut: null })).toBe(1);
		expect(cost({ type: "cancel_upstream", upstreamId: "up-1" })).toBe(2);
		expect(cost({ type: "expire" })).toBe(0);
		expect(cost({ type: "watch", upstreamId: "up-1", cursor: null })).toBe(3);
	});

	it("counts the result's KV parts to write it, and again to read it back when it is not at hand", () => {
		expect(cost({ type: "cache" }, { atHand: true, parts: 3 })).toBe(3);
		expect(cost({ type: "cache" }, { atHand: false, parts: 3 })).toBe(6);
		expect(cost({ type: "retire" }, { atHand: false, parts: 3 })).toBe(4);
	});

	it("counts a delivery's POST, a subscription's removal on 410, the question a retry asks, and the result read back", () => {
		const [callback] = state.deliveries;
		if (!callback) throw new Error("no final event");
		expect(cost({ type: "deliver", id: callback.id })).toBe(1);
		// The final event carries the result: read back first after a restart.
		expect(cost({ type: "deliver", id: callback.id }, { atHand: false, parts: 2 })).toBe(3);
		const first = hookDelivery(0);
		const retry = hookDelivery(1);
		expect(cost({ type: "deliver", id: first.id }, atHand, settled([first]))).toBe(2);
		expect(cost({ type: "deliver", id: retry.id }, atHand, settled([retry]))).toBe(3);
		expect(cost({ type: "deliver", id: "gone" })).toBe(0);
	});
});

describe("spend", () => {
	it("shares one allowance between the runs of an invocation, and refuses what would pass it", () => {
		const allowance = { spent: 0, limit: 40 };
		expect(spend(allowance, 60)).toBe(true);
		expect(spend(allowance, 1)).toBe(false);
		const next = { spent: 0, limit: 40 };
		expect([spend(next, 4), spend(next, 36), spend(next, 1)]).toEqual([true, true, false]);
		expect(next.spent).toBe(40);
	});
});

describe("fitsBudget", () => {
	it("lets an action go while the run stays within its budget, and always lets a run's first go", () => {
		expect(fitsBudget(36, 4, 40)).toBe(true);
		expect(fitsBudget(37, 4, 40)).toBe(false);
		expect(fitsBudget(0, 60, 40)).toBe(true);
	});
});
