/**
 * A job's whole life inside workerd: create → alarms poll the emulator →
 * settle → KV → signed push to the inbox. Also the upstream failure paths and
 * durability across eviction.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { AsyncApiChatCompletionsResponse } from "../../src/schemas/perplexity.ts";
import { RelayJob, WebhookEvent } from "../../src/schemas/relay.ts";
import { TENANT_A, TEST_SIGNING_KEY } from "./constants.ts";
import {
	createJob,
	driveUntil,
	inboxEvents,
	inboxUrl,
	jobStub,
	relay,
	unique,
	upstreamRunsFor,
	waitForEvents,
} from "./helpers.ts";

const settled = (job: RelayJob) => job.status === "COMPLETED" || job.status === "FAILED";
const delivered = (job: RelayJob) => settled(job) && job.delivery_status !== "pending";

describe("happy path", () => {
	it("polls to COMPLETED and pushes exactly one verified event, with metadata echoed", async () => {
		const name = unique("happy");
		const created = await createJob({
			markers: ["steps=2"],
			callback: inboxUrl(name),
			metadata: { ticket: "T-42", channel: "support" },
		});
		expect(created.status).toBe("CREATED");
		expect(AsyncApiChatCompletionsResponse.safeParse(created).success).toBe(true);

		const job = await driveUntil(created.id, delivered);
		expect(job.delivery_status).toBe("delivered");

		const events = await waitForEvents(name, 1);
		expect(events).toHaveLength(1);
		const [event] = events;
		if (!event) throw new Error("no event");

		const secret = await tenantSecret(TEST_SIGNING_KEY, TENANT_A.tenant);
		const verified = new Webhook(secret).verify(event.body, event.headers) as unknown;
		const parsed = WebhookEvent.parse(verified);
		expect(parsed.type).toBe("async_chat_completion.completed");
		expect(parsed.data.id).toBe(created.id);
		expect(parsed.data.metadata).toEqual({ ticket: "T-42", channel: "support" });
		expect(parsed.data.response?.choices[0]?.message.content).toBeTruthy();
		expect(event.headers["webhook-id"]).toBe(`msg_${created.id}_completed`);
		expect(event.headers["user-agent"]).toMatch(/^sonar-relay\//);
		expect(event.headers["content-type"]).toContain("application/json");

		// The same secret is what the API hands the tenant.
		const secretRes = await relay("/v1/webhook-secret");
		expect(await secretRes.json()).toMatchObject({ secret });
	});

	it("caches the result in KV with the tenant in its metadata, and GET returns it with response", async () => {
		const created = await createJob({ markers: ["steps=1"], metadata: { a: 1 } });
		await driveUntil(created.id, (job) => job.status === "COMPLETED");
		// The KV write happens in the same alarm run that saw COMPLETED.
		const { value, metadata } = await env.RESULTS.getWithMetadata<RelayJob, { tenant: string }>(
			`result:${created.id}`,
			"json",
		);
		expect(metadata).toEqual({ tenant: TENANT_A.tenant, surface: "sonar" });
		expect(value?.status).toBe("COMPLETED");

		const res = await relay(`/async/chat/completions/${created.id}`);
		expect(res.status).toBe(200);
		const body = RelayJob.parse(await res.json());
		expect(body.response?.citations?.length).toBeGreaterThan(0);
		expect(body.response?.search_results?.length).toBeGreaterThan(0);
		expect(body.response?.usage?.cost.total_cost).toBeGreaterThan(0);
		expect(body.completed_at).toBeTypeOf("number");
		expect(body.metadata).toEqual({ a: 1 });
		const v1 = await relay(`/v1/async/sonar/${created.id}`);
		expect(((await v1.json()) as { id: string }).id).toBe(created.id);
	});

	it("redelivers with the same webhook-id after a receiver 503", async () => {
		const name = unique("retry");
		const created = await createJob({ markers: ["steps=1"], callback: inboxUrl(name, "fail=2&status=503") });
		await driveUntil(created.id, delivered);
		const events = await waitForEvents(name, 3);
		expect(events.map((e) => e.headers["webhook-id"])).toEqual(Array(3).fill(`msg_${created.id}_completed`));
		expect(new Set(events.map((e) => e.body)).size).toBe(1);
	});
});

describe("failed upstream job", () => {
	it("pushes a failed event and GET shows error_message", async () => {
		const name = unique("failed");
		const created = await createJob({ markers: ["steps=1", "fail"], callback: inboxUrl(name) });
		const job = await driveUntil(created.id, delivered);
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toBe("Emulated upstream failure");
		expect(job.failed_at).toBeTypeOf("number");

		const [event] = await waitForEvents(name, 1);
		const body = WebhookEvent.parse(JSON.parse(event?.body ?? "{}"));
		expect(body.type).toBe("async_chat_completion.failed");
		expect(body.data.error_message).toBe("Emulated upstream failure");

		const res = await relay(`/async/chat/completions/${created.id}`);
		expect(await res.json()).toMatchObject({ status: "FAILED", error_message: "Emulated upstream failure" });
	});
});

describe("upstream unavailable", () => {
	it("accepts the job on a 503 at create, creates it upstream exactly once later, and completes", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["create=503x1", "steps=1"] });
		expect(created.status).toBe("CREATED");
		const job = await driveUntil(created.id, (j) => j.status === "COMPLETED");
		expect(job.response).toBeTruthy();
		// A 503 says nothing was started: the retry is safe, and there is exactly one run.
		expect(await upstreamRunsFor(question)).toHaveLength(1);
		const report = await jobStub(created.id).deliveries(TENANT_A.tenant);
		expect(report?.stats).toMatchObject({ create_attempts: 2, possible_duplicate_runs: 0 });
	});
});

describe("durability", () => {
	it("loses nothing when the Job DO is evicted mid-poll", async () => {
		const name = unique("evict");
		const created = await createJob({ markers: ["steps=5"], callback: inboxUrl(name), metadata: { k: "v" } });
		const stub = jobStub(created.id);
		await driveUntil(created.id, (job) => job.status !== "CREATED");
		await evictDurableObject(stub);
		const job = await driveUntil(created.id, delivered);
		expect(job).toMatchObject({ status: "COMPLETED", delivery_status: "delivered", metadata: { k: "v" } });
		const events = await waitForEvents(name, 1);
		expect(events).toHaveLength(1);
		expect(await inboxEvents(name)).toHaveLength(1);
	});
});
