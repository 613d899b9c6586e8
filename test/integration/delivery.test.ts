/**
 * The delivery contract against scripted receivers (the inbox answers as the
 * callback URL's query says): retries on the schedule, 410, Retry-After,
 * redirects, timeouts, dead letters and redelivery, the attempt log, event
 * order, key rotation, and retirement.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import { MAX_LOG_ENTRIES } from "../../src/delivery/outbox.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { DeliveryReport, Job } from "../../src/job/job.ts";
import type { JobState } from "../../src/job/state.ts";
import { RelayJob, WebhookEvent } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_B, TEST_DELIVERY_SCHEDULE_MS, TEST_SIGNING_KEY, TEST_SIGNING_KEY_NEXT } from "./constants.ts";
import { createJob, driveUntil, inboxEvents, inboxUrl, jobStub, relay, unique, waitForEvents } from "./helpers.ts";

const settledDelivery = (job: RelayJob) =>
	(job.status === "COMPLETED" || job.status === "FAILED") && job.delivery_status !== "pending";

async function report(id: string, key = TENANT_A.key): Promise<DeliveryReport> {
	const res = await relay(`/async/chat/completions/${id}/deliveries`, {}, key);
	expect(res.status).toBe(200);
	return res.json();
}

async function redeliverJob(id: string, key = TENANT_A.key): Promise<Response> {
	return relay(`/async/chat/completions/${id}/redeliver`, { method: "POST" }, key);
}

/** Runs the job's alarm a few more times: proof that nothing else is due. */
async function idle(id: string, rounds = 5) {
	for (let i = 0; i < rounds; i++) await runDurableObjectAlarm(jobStub(id));
}

describe("receiver outages", () => {
	it("retries a 500 twice, then succeeds: three attempts, one webhook-id, growing delays on the schedule", async () => {
		const name = unique("r500");
		const created = await createJob({ callback: inboxUrl(name, "fail=2&status=500") });
		await driveUntil(created.id, settledDelivery);
		const events = await waitForEvents(name, 3);
		expect(events.map((e) => e.headers["webhook-id"])).toEqual(Array(3).fill(`msg_${created.id}_completed`));

		const { attempts, events: summary, delivery_status } = await report(created.id);
		expect(delivery_status).toBe("delivered");
		expect(attempts.map((a) => [a.attempt, a.status_code])).toEqual([
			[1, 500],
			[2, 500],
			[3, 200],
		]);
		expect(summary).toEqual([expect.objectContaining({ status: "delivered", attempts: 3, series: 1 })]);
		// Each retry waits at least its scheduled delay, less the 20 % jitter.
		const times = attempts.map((a) => Date.parse(a.at));
		for (const i of [1, 2]) {
			const gap = (times[i] as number) - (times[i - 1] as number);
			expect(gap).toBeGreaterThanOrEqual((TEST_DELIVERY_SCHEDULE_MS[i] as number) * 0.8);
		}
	});

	it("stops at once on 410 Gone", async () => {
		const name = unique("gone");
		const created = await createJob({ callback: inboxUrl(name, "status=410") });
		const job = await driveUntil(created.id, settledDelivery);
		expect(job.delivery_status).toBe("failed");
		await idle(created.id);
		expect(await inboxEvents(name)).toHaveLength(1);
		expect((await report(created.id)).attempts).toEqual([expect.objectContaining({ status_code: 410 })]);
	});

	it("honours a 429's Retry-After: 120 s before the next attempt", async () => {
		const name = unique("r429");
		const created = await createJob({ callback: inboxUrl(name, "fail=1&status=429&retry_after=120") });
		await driveUntil(created.id, (job) => job.status === "COMPLETED");
		await waitForEvents(name, 1);
		const { attempts, events } = await report(created.id);
		expect(attempts).toHaveLength(1);
		const [first] = attempts;
		const next = Date.parse(events[0]?.next_attempt_at ?? "");
		expect(next - Date.parse(first?.at ?? "")).toBeGreaterThanOrEqual(120_000);
		await idle(created.id);
		expect(await inboxEvents(name)).toHaveLength(1);
		// The receiver is fixed during the back-off: a redelivery sends now, with the same webhook-id,
		// without waiting out the 120 s, and nothing is left pending.
		const redelivered = await redeliverJob(created.id);
		expect(redelivered.status).toBe(200);
		const pushed = await waitForEvents(name, 2);
		expect(new Set(pushed.map((e) => e.headers["webhook-id"])).size).toBe(1);
		const after = await report(created.id);
		expect(after.events[0]).toMatchObject({ status: "delivered" });
		expect(after.attempts.map((a) => a.status_code)).toEqual([429, 200]);
	});

	it("does not follow a 302, and logs it as a failed attempt with its Location", async () => {
		const name = unique("redirect");
		const target = unique("redirect-target");
		const created = await createJob({
			callback: inboxUrl(name, `fail=1&status=302&location=${encodeURIComponent(inboxUrl(target))}`),
		});
		await driveUntil(created.id, settledDelivery);
		const { attempts } = await report(created.id);
		expect(attempts[0]).toMatchObject({
			status_code: 302,
			error: "redirect",
			error_message: "redirect not followed (302)",
		});
		expect(attempts[0]?.response_body).toContain(`Location: ${inboxUrl(target)}`);
		expect(await inboxEvents(target)).toHaveLength(0);
		expect(attempts.at(-1)).toMatchObject({ status_code: 200 });
	});

	it("records a timeout when the receiver hangs past DELIVERY_TIMEOUT_MS", async () => {
		const name = unique("hang");
		const created = await createJob({ callback: inboxUrl(name, "fail=1&hang_ms=10000") });
		await driveUntil(created.id, settledDelivery, { rounds: 2000 });
		const { attempts } = await report(created.id);
		expect(attempts[0]).toMatchObject({ status_code: null, error: "timeout", error_message: "timeout after 2 s" });
		expect(attempts[0]?.duration_ms).toBeGreaterThanOrEqual(1000);
		expect(attempts.at(-1)).toMatchObject({ status_code: 200 });
	});
});

describe("dead letters and redelivery", () => {
	it("dead-letters after the last attempt, then redelivers with the same webhook-id", async () => {
		const name = unique("dead");
		const attemptsInSchedule = TEST_DELIVERY_SCHEDULE_MS.length;
		const created = await createJob({ callback: inboxUrl(name, `fail=${attemptsInSchedule}&status=503`) });
		const job = await driveUntil(created.id, settledDelivery);
		expect(job.delivery_status).toBe("failed");
		const get = RelayJob.parse(await (await relay(`/async/chat/completions/${created.id}`)).json());
		expect(get.delivery_status).toBe("failed");
		const list = (await (await relay("/async/chat/completions?limit=100")).json()) as { requests: RelayJob[] };
		expect(list.requests.find((r) => r.id === created.id)?.delivery_status).toBe("failed");

		const res = await redeliverJob(created.id);
		expect(res.status).toBe(200);
		const after: DeliveryReport = await res.json();
		expect(after.delivery_status).toBe("delivered");
		expect(after.attempts.at(-1)).toMatchObject({ series: 2, attempt: 1, status_code: 200 });
		const events = await waitForEvents(name, attemptsInSchedule + 1);
		expect(new Set(events.map((e) => e.headers["webhook-id"]))).toEqual(new Set([`msg_${created.id}_completed`]));
		const refreshed = RelayJob.parse(await (await relay(`/async/chat/completions/${created.id}`)).json());
		expect(refreshed.delivery_status).toBe("delivered");
	});

	it("redelivers a job that was already delivered (receivers lose data)", async () => {
		const name = unique("again");
		const created = await createJob({ callback: inboxUrl(name) });
		await driveUntil(created.id, settledDelivery);
		const res = await redeliverJob(created.id);
		expect(res.status).toBe(200);
		const events = await waitForEvents(name, 2);
		expect(events[0]?.headers["webhook-id"]).toBe(events[1]?.headers["webhook-id"]);
		expect(events[0]?.body).toBe(events[1]?.body);
		expect(Number(events[1]?.headers["webhook-timestamp"])).toBeGreaterThanOrEqual(
			Number(events[0]?.headers["webhook-timestamp"]),
		);
	});

	it("refuses to redeliver before the job settles, without a callback, and for another tenant", async () => {
		const unsettled = await createJob({ markers: ["duration=600000"], callback: inboxUrl(unique("early")) });
		expect((await redeliverJob(unsettled.id)).status).toBe(409);
		const noCallback = await createJob();
		await driveUntil(noCallback.id, (job) => job.status === "COMPLETED");
		expect((await redeliverJob(noCallback.id)).status).toBe(409);
		expect((await redeliverJob(noCallback.id, TENANT_B.key)).status).toBe(404);
		expect((await relay(`/async/chat/completions/${noCallback.id}/deliveries`, {}, TENANT_B.key)).status).toBe(404);
		expect((await redeliverJob("not-a-job")).status).toBe(404);
		// Stop the ten-minute job from polling for the rest of the run.
		await runInDurableObject(jobStub(unsettled.id), (instance: Job) =>
			(instance as unknown as { forget(): Promise<void> }).forget(),
		);
	});
});

describe("the attempt log", () => {
	it("keeps one entry per attempt, in its documented shape, and at most the last 50", async () => {
		const name = unique("log");
		const created = await createJob({ callback: inboxUrl(name, "status=410") });
		await driveUntil(created.id, settledDelivery);
		for (let i = 0; i < MAX_LOG_ENTRIES + 5; i++) {
			expect((await redeliverJob(created.id)).status).toBe(200);
		}
		const { attempts } = await report(created.id);
		expect(attempts).toHaveLength(MAX_LOG_ENTRIES);
		expect(attempts.map((a) => a.series)).toEqual(Array.from({ length: MAX_LOG_ENTRIES }, (_, i) => i + 7));
		expect(Object.keys(attempts[0] ?? {}).sort()).toEqual(
			[
				"attempt",
				"at",
				"duration_ms",
				"error",
				"error_message",
				"event",
				"host",
				"response_body",
				"series",
				"status_code",
				"webhook_id",
			].sort(),
		);
		expect(attempts[0]).toMatchObject({
			attempt: 1,
			event: "async_chat_completion.completed",
			host: new URL(inboxUrl(name)).host,
			status_code: 410,
			error: null,
			error_message: "HTTP 410 Gone",
		});
		expect((attempts[0]?.response_body ?? "").length).toBeLessThanOrEqual(512);
	});
});

describe("order", () => {
	it("settles the started event before it sends completed, even when started's first attempt fails", async () => {
		const name = unique("order");
		const created = await createJob({
			markers: ["steps=3"],
			events: ["started", "completed"],
			callback: inboxUrl(name, "fail=1&status=500"),
		});
		await driveUntil(created.id, settledDelivery);
		const events = await waitForEvents(name, 3);
		const types = events.map((e) => (JSON.parse(e.body) as { type: string }).type);
		expect(types).toEqual([
			"async_chat_completion.started",
			"async_chat_completion.started",
			"async_chat_completion.completed",
		]);
		const started = WebhookEvent.parse(JSON.parse(events[0]?.body ?? ""));
		expect(started.data.status).toBe("IN_PROGRESS");
		expect(started.data.response ?? null).toBeNull();
	});
});

describe("key rotation", () => {
	it("signs with the current and the next key; standardwebhooks and svix verify under either", async () => {
		const name = unique("rotate");
		const created = await createJob({ callback: inboxUrl(name) });
		await driveUntil(created.id, settledDelivery);
		const [event] = await waitForEvents(name, 1);
		if (!event) throw new Error("no event");
		expect(event.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
		const current = await tenantSecret(TEST_SIGNING_KEY, TENANT_A.tenant);
		const next = await tenantSecret(TEST_SIGNING_KEY_NEXT, TENANT_A.tenant);
		for (const secret of [current, next]) {
			expect(new StandardWebhook(secret).verify(event.body, event.headers)).toMatchObject({ data: { id: created.id } });
			expect(new SvixWebhook(secret).verify(event.body, event.headers)).toMatchObject({ data: { id: created.id } });
		}
		const wrong = await tenantSecret("another-key", TENANT_A.tenant);
		expect(() => new StandardWebhook(wrong).verify(event.body, event.headers)).toThrow();
		expect(await (await relay("/v1/webhook-secret")).json()).toEqual({ secret: current, next_secret: next });
	});
});

describe("retirement", () => {
	it("gives a new job under an idempotency key used before new ids, once the first has retired", async () => {
		const key = unique("idem");
		const name = unique("reuse");
		const first = await createJob({ idempotencyKey: key, question: "one", callback: inboxUrl(name) });
		expect(first.id).toMatch(/^[0-9a-f]{64}-[0-9a-f]{10}$/);
		expect((await createJob({ idempotencyKey: key, question: "one", callback: inboxUrl(name) })).id).toBe(first.id);
		await driveUntil(first.id, settledDelivery);
		const stub = jobStub(first.id);
		await runInDurableObject(stub, async (instance: Job, state) => {
			const job = (instance as unknown as { state: JobState }).state;
			if (job.lifecycle.phase !== "settled") throw new Error("not settled");
			job.lifecycle = { ...job.lifecycle, retireAt: Date.now() - 1 };
			await state.storage.setAlarm(Date.now());
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect((await relay(`/async/chat/completions/${first.id}`)).status).toBe(404);

		// The same key, another question: a new job, in the same object, with ids of its own.
		const second = await createJob({ idempotencyKey: key, question: "two", callback: inboxUrl(name) });
		expect(second.id).not.toBe(first.id);
		expect(second.id.slice(0, 64)).toBe(first.id.slice(0, 64));
		const done = await driveUntil(second.id, settledDelivery);
		expect(done.response?.choices[0]?.message.content).toBeTruthy();
		const events = await waitForEvents(name, 2);
		const [a, b] = events.map((e) => e.headers["webhook-id"]);
		expect(a).toContain(first.id);
		expect(b).toContain(second.id);
		expect(b).not.toBe(a);
		// The old id names nothing, even though its object now holds the new job.
		expect((await relay(`/async/chat/completions/${first.id}`)).status).toBe(404);
		expect((await relay(`/async/chat/completions/${first.id}/deliveries`)).status).toBe(404);
	});

	it("deletes everything once deliveries are done and the TTL has passed: GET is 404", async () => {
		const created = await createJob({ callback: inboxUrl(unique("retire")) });
		await driveUntil(created.id, settledDelivery);
		const stub = jobStub(created.id);
		// Advance the clock for this job only: its retirement is now due.
		await runInDurableObject(stub, async (instance: Job, state) => {
			const job = (instance as unknown as { state: JobState }).state;
			if (job.lifecycle.phase !== "settled") throw new Error("not settled");
			job.lifecycle = { ...job.lifecycle, retireAt: Date.now() - 1 };
			await state.storage.setAlarm(Date.now());
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		const keys = await runInDurableObject(stub, async (_i: Job, state) => [...(await state.storage.list()).keys()]);
		expect(keys).toEqual([]);
		expect(await runInDurableObject(stub, (_i: Job, state) => state.storage.getAlarm())).toBeNull();
		expect((await relay(`/async/chat/completions/${created.id}`)).status).toBe(404);
		expect(await env.RESULTS.get(`result:${created.id}`)).toBeNull();
		const list = (await (await relay("/async/chat/completions?limit=100")).json()) as { requests: RelayJob[] };
		expect(list.requests.map((r) => r.id)).not.toContain(created.id);
	});
});
