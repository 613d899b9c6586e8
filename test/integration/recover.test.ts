/**
 * `POST /v1/deliveries/recover` ("redeliver everything that failed since …"), in workerd: it
 * redelivers the tenant's dead-lettered final events (same webhook-id, a new series), at most
 * `RECOVER_BATCH` per call with a `next_token` for the rest, leaves delivered jobs and older dead
 * letters alone, sees nothing of another tenant's, and refuses bad input with a 422.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { DeliveryReport } from "../../src/job/job.ts";
import { RecoverReport } from "../../src/schemas/ops.ts";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import { encodeCursor } from "../../src/tenant/cursor.ts";
import { TENANT_QUIET, TENANT_RECOVER, TEST_DELIVERY_SCHEDULE_MS, TEST_RECOVER_BATCH } from "./constants.ts";
import { createJob, driveUntil, inboxEvents, inboxUrl, relay, unique } from "./helpers.ts";

const options = { tenant: TENANT_RECOVER.tenant };
/** The receiver refuses every scheduled attempt, then takes the next one (the recovery's). */
const REFUSE_SCHEDULE = `fail=${TEST_DELIVERY_SCHEDULE_MS.length}&status=503`;

async function recover(body: unknown, key = TENANT_RECOVER.key): Promise<Response> {
	return relay("/v1/deliveries/recover", { method: "POST", body: JSON.stringify(body) }, key);
}

async function recovered(body: unknown, key = TENANT_RECOVER.key): Promise<RecoverReport> {
	const res = await recover(body, key);
	expect(res.status).toBe(200);
	return RecoverReport.parse(await res.json());
}

/** A completed job whose final event was refused until dead-lettered; its inbox name. */
async function deadLettered(): Promise<{ id: string; inbox: string }> {
	const inbox = unique("recover");
	const job = await createJob({ callback: inboxUrl(inbox, REFUSE_SCHEDULE) }, TENANT_RECOVER.key);
	await driveUntil(job.id, (view) => view.delivery_status === "failed", options);
	return { id: job.id, inbox };
}

async function deliveriesOf(id: string): Promise<DeliveryReport> {
	const res = await relay(`/async/chat/completions/${id}/deliveries`, {}, TENANT_RECOVER.key);
	expect(res.status).toBe(200);
	return (await res.json()) as DeliveryReport;
}

describe("POST /v1/deliveries/recover", () => {
	let before: { id: string; inbox: string };
	let dead: { id: string; inbox: string }[] = [];
	let since = 0;
	let deliveredId = "";

	beforeAll(async () => {
		// Dead-lettered before `since`: a recovery since then leaves it alone.
		before = await deadLettered();
		await scheduler.wait(1100);
		since = Math.floor(Date.now() / 1000);
		dead = [await deadLettered(), await deadLettered(), await deadLettered()];
		const delivered = await createJob({ callback: inboxUrl(unique("recover-ok")) }, TENANT_RECOVER.key);
		await driveUntil(delivered.id, (view) => view.delivery_status === "delivered", options);
		deliveredId = delivered.id;
	});

	it("finds nothing of another tenant's", async () => {
		const report = await recovered({ since: 0 }, TENANT_QUIET.key);
		expect(report).toMatchObject({ redelivered: 0, failed: 0, remaining: 0, next_token: null, jobs: [] });
	});

	it(`redelivers at most RECOVER_BATCH (${TEST_RECOVER_BATCH}) per call, then carries on from next_token`, async () => {
		const first = await recovered({ since });
		expect(first.jobs).toHaveLength(TEST_RECOVER_BATCH);
		expect(first).toMatchObject({ redelivered: 2, delivered: 2, failed: 0, remaining: 1 });
		expect(first.next_token).not.toBeNull();
		expect(first.since).toBe(new Date(since * 1000).toISOString());
		// In the order they were accepted.
		expect(first.jobs.map((job) => job.id)).toEqual(dead.slice(0, 2).map((job) => job.id));
		for (const job of first.jobs)
			expect(job).toMatchObject({ redelivered: true, status_code: 200, delivery_status: "delivered" });

		const second = await recovered({ since: new Date(since * 1000).toISOString(), next_token: first.next_token });
		expect(second).toMatchObject({ redelivered: 1, delivered: 1, remaining: 0, next_token: null });
		expect(second.jobs.map((job) => job.id)).toEqual([dead[2]?.id]);
	});

	it("sends the same event again, with its webhook-id, as a new series in the attempt log", async () => {
		for (const { id, inbox } of dead) {
			const report = await deliveriesOf(id);
			expect(report.delivery_status).toBe("delivered");
			const last = report.attempts[report.attempts.length - 1];
			expect(last).toMatchObject({ series: 2, attempt: 1, status_code: 200 });
			const events = await inboxEvents(inbox);
			expect(events).toHaveLength(TEST_DELIVERY_SCHEDULE_MS.length + 1);
			const ids = new Set(events.map((event) => event.headers["webhook-id"]));
			expect(ids.size).toBe(1);
			// Signed like every delivery (this inbox has no secret to verify with; delivery.test.ts verifies).
			expect(events[events.length - 1]?.headers["webhook-signature"]).toMatch(/^v1,/);
		}
	});

	it("leaves delivered jobs, and dead letters from before `since`, alone", async () => {
		expect((await deliveriesOf(before.id)).delivery_status).toBe("failed");
		expect((await inboxEvents(before.inbox)).length).toBe(TEST_DELIVERY_SCHEDULE_MS.length);
		expect((await deliveriesOf(deliveredId)).attempts).toHaveLength(1);
		// Nothing is left since then; from the start of time, the older one is found.
		expect(await recovered({ since })).toMatchObject({ redelivered: 0, remaining: 0, next_token: null });
		const all = await recovered({ since: 0 });
		expect(all.jobs.map((job) => job.id)).toEqual([before.id]);
		expect((await deliveriesOf(before.id)).delivery_status).toBe("delivered");
	});

	it("refuses bad input with a 422 naming the field, and a missing key with a 401", async () => {
		const cases: [unknown, (string | number)[]][] = [
			[{}, ["body", "since"]],
			[{ since: "yesterday" }, ["body", "since"]],
			[{ since: "2026-11-30T09:00:00" }, ["body", "since"]],
			[{ since: Date.now() }, ["body", "since"]],
			[{ since: -1 }, ["body", "since"]],
			[{ since: 0, next_token: "not-a-token" }, ["body", "next_token"]],
			[{ since: 0, sinc: 1 }, ["body"]],
		];
		for (const [body, loc] of cases) {
			const res = await recover(body);
			expect(res.status, JSON.stringify(body)).toBe(422);
			const { detail } = HTTPValidationError.parse(await res.json());
			expect(detail?.[0]?.loc, JSON.stringify(body)).toEqual(loc);
		}
		const malformed = await relay("/v1/deliveries/recover", { method: "POST", body: "{" }, TENANT_RECOVER.key);
		expect(malformed.status).toBe(400);
		expect((await recover({ since: 0 }, null as unknown as string)).status).toBe(401);
	});

	it("takes another tenant's next_token as a position in its own index only", async () => {
		// A token is a position, not a grant: with another key it walks that tenant's dead letters (none).
		const report = await recovered({ since: 0, next_token: encodeCursor(1) }, TENANT_QUIET.key);
		expect(report).toMatchObject({ redelivered: 0, remaining: 0, jobs: [] });
	});
});
