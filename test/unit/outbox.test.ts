/**
 * The delivery outbox as a pure sub-machine over `Delivery[]`: deliveries are named by id, only the
 * oldest unsettled one per URL may go, attempts follow the schedule, a drop or a 410 ends a series,
 * a redelivery restarts the final events, and an answer says which subscription it removes.
 */
import { describe, expect, it } from "vitest";
import {
	type AttemptResult,
	addOnce,
	asksWhetherHookExists,
	type Delivery,
	deliveryId,
	dropDelivery,
	heads,
	newDelivery,
	recordAttempt,
	restartFinals,
	unsubscribes,
} from "../../src/delivery/outbox.ts";

const T0 = 1_700_000_000_000;
const URL_A = "https://hooks.example.com/a";
const URL_B = "https://hooks.example.com/b";
const SCHEDULE = [0, 5_000, 300_000];

const started = (url = URL_A) =>
	newDelivery({ webhookId: "msg_job1_started", type: "async_chat_completion.started", url, eventAt: T0 }, T0);
const completed = (url = URL_A, fields: Partial<Delivery> = {}) =>
	newDelivery(
		{ webhookId: "msg_job1_completed", type: "async_chat_completion.completed", url, eventAt: T0, ...fields },
		T0,
	);

const result = (overrides: Partial<AttemptResult> = {}): AttemptResult => ({
	ok: true,
	statusCode: 200,
	error: null,
	durationMs: 7,
	retryAfterMs: null,
	responseBody: null,
	...overrides,
});

describe("the outbox", () => {
	it("names each delivery by its webhook-id and URL, and adds one only once", () => {
		const delivery = completed();
		expect(delivery.id).toBe(deliveryId("msg_job1_completed", URL_A));
		expect(delivery.id).not.toBe(completed(URL_B).id);
		expect(addOnce([delivery], completed())).toHaveLength(1);
		expect(addOnce([delivery], completed(URL_B))).toHaveLength(2);
	});

	it("lets only the oldest unsettled delivery per URL go, so a receiver's events stay in order", () => {
		const deliveries = [started(), completed(), completed(URL_B)];
		expect(heads(deliveries).map((d) => d.id)).toEqual([started().id, completed(URL_B).id]);
		const sent = recordAttempt(deliveries, started().id, result(), T0, SCHEDULE, 0.5);
		expect(heads(sent?.deliveries ?? []).map((d) => d.id)).toEqual([completed().id, completed(URL_B).id]);
	});

	it("retries a failed attempt on the schedule, logs it, and dead-letters it when the schedule is used up", () => {
		let deliveries = [completed()];
		const id = completed().id;
		const first = recordAttempt(deliveries, id, result({ ok: false, statusCode: 503 }), T0, SCHEDULE, 0.5);
		expect(first?.deliveries[0]).toMatchObject({ status: "pending", attempts: 1, nextAt: T0 + 5_000 });
		expect(first?.entry).toMatchObject({ attempt: 1, status_code: 503, host: "hooks.example.com" });
		expect(first?.finalChanged).toBe(false);
		deliveries = first?.deliveries ?? [];
		deliveries =
			recordAttempt(deliveries, id, result({ ok: false, statusCode: 503 }), T0, SCHEDULE, 0.5)?.deliveries ?? [];
		const last = recordAttempt(deliveries, id, result({ ok: false, statusCode: 503 }), T0 + 1, SCHEDULE, 0.5);
		expect(last?.deliveries[0]).toMatchObject({ status: "failed", attempts: 3, deadLetteredAt: T0 + 1 });
		expect(last?.finalChanged).toBe(true);
		// Not pending any more: a late outcome changes nothing.
		expect(recordAttempt(last?.deliveries ?? [], id, result(), T0 + 2, SCHEDULE, 0.5)).toBeNull();
	});

	it("gives up at once on a 410 and on a best-effort event's failure", () => {
		const gone = recordAttempt(
			[completed()],
			completed().id,
			result({ ok: false, statusCode: 410 }),
			T0,
			SCHEDULE,
			0.5,
		);
		expect(gone?.deliveries[0]?.status).toBe("failed");
		const progress = { ...started(), bestEffort: true };
		const once = recordAttempt([progress], progress.id, result({ ok: false, statusCode: 500 }), T0, SCHEDULE, 0.5);
		expect(once?.deliveries[0]?.status).toBe("failed");
		// An interim event's status is not the job's delivery status.
		expect(once?.finalChanged).toBe(false);
	});

	it("drops a delivery without an attempt; only a final event to callback_url changes the job's delivery status", () => {
		const toHook = completed(URL_B, { hookId: "hook_1" });
		const dropped = dropDelivery([toHook], toHook.id, "the REST-hook subscription was deleted", T0);
		expect(dropped?.deliveries[0]).toMatchObject({
			status: "failed",
			lastError: "the REST-hook subscription was deleted",
		});
		expect(dropped).toMatchObject({ entry: null, finalChanged: false });
		expect(dropDelivery([completed()], completed().id, "gone", T0)?.finalChanged).toBe(true);
	});

	it("restarts the final events to a URL: a settled one on a new series, a waiting one now", () => {
		const delivered = { ...completed(), status: "delivered" as const, attempts: 1 };
		const waiting = { ...completed(URL_B), attempts: 1, nextAt: T0 + 60_000 };
		expect(restartFinals([started(), delivered], URL_A, T0 + 10)?.[1]).toMatchObject({
			status: "pending",
			attempts: 0,
			series: 2,
			nextAt: T0 + 10,
		});
		expect(restartFinals([waiting], URL_B, T0 + 10)?.[0]).toMatchObject({ series: 1, attempts: 1, nextAt: T0 + 10 });
		expect(restartFinals([started()], URL_A, T0)).toBeNull();
	});

	it("unsubscribes a REST hook whose target answers 410, and asks whether a hook exists only before its retries", () => {
		const toHook = completed(URL_B, { hookId: "hook_1" });
		expect(unsubscribes(toHook, { statusCode: 410 })).toBe("hook_1");
		expect(unsubscribes(toHook, { statusCode: 500 })).toBeNull();
		expect(unsubscribes(completed(), { statusCode: 410 })).toBeNull();
		expect(asksWhetherHookExists(toHook)).toBe(false);
		expect(asksWhetherHookExists({ ...toHook, attempts: 1 })).toBe(true);
		expect(asksWhetherHookExists({ ...completed(), attempts: 1 })).toBe(false);
	});
});
