/**
 * The integrations end to end inside workerd: REST hooks (subscribe → a job
 * settles → the target gets a verified event; 410 removes the subscription;
 * the sample has the delivered schema; tenants are isolated), the flat
 * `/v1/ask`, and the Slack slash command (signature, acknowledgement, Block Kit
 * to a loopback `response_url`).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { MAX_BLOCKS, MAX_SECTION_TEXT, type SlackMessage } from "../../src/integrations/slack/blocks.ts";
import type { Job } from "../../src/job/job.ts";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import { type Hook, RelayJob, WebhookEvent } from "../../src/schemas/relay.ts";
import type { Tenant } from "../../src/tenant/tenant.ts";
import { TENANT_A, TENANT_B, TENANT_HOOKS, TEST_MAX_SUBSCRIPTIONS, TEST_SIGNING_KEY } from "./constants.ts";
import {
	createJob,
	driveUntil,
	inboxEvents,
	inboxUrl,
	jobStub,
	relay,
	slackCommand,
	unique,
	upstreamRunsFor,
	waitForEvents,
} from "./helpers.ts";

const settled = (job: RelayJob) => job.status === "COMPLETED" || job.status === "FAILED";

async function subscribe(target: string, event: string, key = TENANT_HOOKS.key): Promise<Response> {
	return relay("/v1/hooks", { method: "POST", body: JSON.stringify({ target_url: target, event }) }, key);
}

async function listHooks(key = TENANT_HOOKS.key): Promise<Hook[]> {
	return ((await (await relay("/v1/hooks", {}, key)).json()) as { hooks: Hook[] }).hooks;
}

async function unsubscribeAll(key = TENANT_HOOKS.key) {
	for (const hook of await listHooks(key)) await relay(`/v1/hooks/${hook.id}`, { method: "DELETE" }, key);
}

describe("REST hooks", () => {
	it("delivers a settled job's event, verified, to every matching subscription", async () => {
		await unsubscribeAll();
		const all = unique("hook-all");
		const completedOnly = unique("hook-completed");
		const failedOnly = unique("hook-failed");
		for (const [name, event] of [
			[all, "async_chat_completion.*"],
			[completedOnly, "async_chat_completion.completed"],
			[failedOnly, "async_chat_completion.failed"],
		] as const) {
			const res = await subscribe(inboxUrl(name), event);
			expect(res.status).toBe(201);
			expect(await res.json()).toMatchObject({
				id: expect.stringMatching(/^hook_/),
				event,
				target_url: inboxUrl(name),
			});
		}
		const job = await createJob({ metadata: { via: "hooks" } }, TENANT_HOOKS.key);
		await driveUntil(job.id, settled, { tenant: TENANT_HOOKS.tenant });

		const secret = await tenantSecret(TEST_SIGNING_KEY, TENANT_HOOKS.tenant);
		for (const name of [all, completedOnly]) {
			const [event] = await waitForEvents(name, 1);
			const verified = WebhookEvent.parse(new Webhook(secret).verify(event?.body ?? "", event?.headers ?? {}));
			expect(verified).toMatchObject({ type: "async_chat_completion.completed", data: { id: job.id } });
		}
		expect(await inboxEvents(failedOnly)).toHaveLength(0);
		await unsubscribeAll();
	});

	it("removes a subscription whose target answers 410 Gone", async () => {
		await unsubscribeAll();
		const res = await subscribe(inboxUrl(unique("hook-gone"), "status=410"), "async_chat_completion.completed");
		const { id } = (await res.json()) as Hook;
		const job = await createJob({}, TENANT_HOOKS.key);
		await driveUntil(job.id, settled, { tenant: TENANT_HOOKS.tenant });
		for (let round = 0; round < 200 && (await listHooks()).some((h) => h.id === id); round++) {
			await scheduler.wait(10);
		}
		expect((await listHooks()).map((h) => h.id)).not.toContain(id);
	});

	it("stops retrying deliveries to a subscription once it is deleted", async () => {
		await unsubscribeAll();
		const name = unique("hook-deleted");
		// The target fails every attempt: the event would be retried on the schedule.
		const res = await subscribe(inboxUrl(name, "fail=100&status=500"), "async_chat_completion.completed");
		const { id } = (await res.json()) as Hook;
		const job = await createJob({}, TENANT_HOOKS.key);
		await driveUntil(job.id, settled, { tenant: TENANT_HOOKS.tenant });
		const stub = jobStub(job.id);
		const hookDelivery = async () =>
			(await stub.deliveries(TENANT_HOOKS.tenant))?.events.find((e) => e.event === "async_chat_completion.completed") ??
			null;
		for (let round = 0; round < 100 && (await inboxEvents(name)).length < 1; round++) {
			await runDurableObjectAlarm(stub);
			await scheduler.wait(10);
		}
		expect(await inboxEvents(name)).toHaveLength(1);
		expect(await hookDelivery()).toMatchObject({ status: "pending" });
		expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, TENANT_HOOKS.key)).status).toBe(204);
		for (let round = 0; round < 50 && (await hookDelivery())?.status === "pending"; round++) {
			await runDurableObjectAlarm(stub);
			await scheduler.wait(20);
		}
		expect(await hookDelivery()).toMatchObject({
			status: "failed",
			last_error: "the REST-hook subscription was deleted",
		});
		expect(await inboxEvents(name)).toHaveLength(1);
	});

	it("serves a sample payload in exactly the delivered event's schema", async () => {
		for (const event of [
			"async_chat_completion.completed",
			"async_chat_completion.failed",
			"async_chat_completion.*",
		]) {
			const res = await relay(`/v1/hooks/sample?event=${encodeURIComponent(event)}`, {}, TENANT_HOOKS.key);
			expect(res.status).toBe(200);
			const body = (await res.json()) as unknown[];
			expect(body).toHaveLength(1);
			expect(WebhookEvent.safeParse(body[0]).success).toBe(true);
		}
		const bad = await relay("/v1/hooks/sample?event=nope", {}, TENANT_HOOKS.key);
		expect(bad.status).toBe(422);
		expect(HTTPValidationError.parse(await bad.json()).detail?.[0]?.loc).toEqual(["query", "event"]);
	});

	it("keeps subscriptions to their tenant: another cannot list or delete them", async () => {
		const res = await subscribe(inboxUrl(unique("hook-mine")), "async_chat_completion.completed", TENANT_B.key);
		const { id } = (await res.json()) as Hook;
		expect((await listHooks(TENANT_A.key)).map((h) => h.id)).not.toContain(id);
		expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, TENANT_A.key)).status).toBe(404);
		expect((await listHooks(TENANT_B.key)).map((h) => h.id)).toContain(id);
		expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, TENANT_B.key)).status).toBe(204);
		expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, TENANT_B.key)).status).toBe(404);
	});

	it("rejects bad subscriptions with 422, unauthenticated calls with 401, and more than MAX_SUBSCRIPTIONS with 409", async () => {
		const strict = await subscribe("http://hooks.example.com/x", "async_chat_completion.completed", TENANT_B.key);
		// ALLOW_PRIVATE_CALLBACKS is on in tests, so plain http passes; a bad scheme does not.
		expect(strict.status).toBe(201);
		await relay(`/v1/hooks/${((await strict.json()) as Hook).id}`, { method: "DELETE" }, TENANT_B.key);
		const badScheme = await subscribe("ftp://hooks.example.com/x", "async_chat_completion.completed", TENANT_B.key);
		expect(badScheme.status).toBe(422);
		expect(HTTPValidationError.parse(await badScheme.json()).detail?.[0]?.loc).toEqual(["body", "target_url"]);
		const badEvent = await subscribe(inboxUrl("x"), "async_chat_completion.started", TENANT_B.key);
		expect(badEvent.status).toBe(422);
		expect((await relay("/v1/hooks", {}, null)).status).toBe(401);

		await unsubscribeAll(TENANT_B.key);
		for (let i = 0; i < TEST_MAX_SUBSCRIPTIONS; i++) {
			expect((await subscribe(inboxUrl(unique("cap")), "async_chat_completion.failed", TENANT_B.key)).status).toBe(201);
		}
		const over = await subscribe(inboxUrl(unique("cap")), "async_chat_completion.failed", TENANT_B.key);
		expect(over.status).toBe(409);
		expect(await over.json()).toEqual({ detail: expect.stringContaining(String(TEST_MAX_SUBSCRIPTIONS)) });
		await unsubscribeAll(TENANT_B.key);
	});
});

describe("REST hooks for Agent-surface runs", () => {
	it("delivers response.* events to response subscriptions only, and Sonar events to Sonar ones only", async () => {
		await unsubscribeAll();
		const runs = unique("hook-runs");
		const cancelled = unique("hook-cancelled");
		const sonar = unique("hook-sonar");
		for (const [name, event] of [
			[runs, "response.*"],
			[cancelled, "response.cancelled"],
			[sonar, "async_chat_completion.*"],
		] as const) {
			expect((await subscribe(inboxUrl(name), event)).status).toBe(201);
		}
		const res = await relay(
			"/v1/responses",
			{ method: "POST", body: JSON.stringify({ preset: "low", input: `${unique("q")} [[emu:steps=1]]` }) },
			TENANT_HOOKS.key,
		);
		const { id } = (await res.json()) as { id: string };
		const stub = env.JOBS.get(env.JOBS.idFromString(id)) as DurableObjectStub<Job>;
		for (let round = 0; round < 100; round++) {
			const run = (await stub.response(TENANT_HOOKS.tenant)) as { status: string } | null;
			if (run?.status === "completed") break;
			await runDurableObjectAlarm(stub);
			await scheduler.wait(5);
		}
		const [event] = await waitForEvents(runs, 1);
		const secret = await tenantSecret(TEST_SIGNING_KEY, TENANT_HOOKS.tenant);
		expect(new Webhook(secret).verify(event?.body ?? "", event?.headers ?? {})).toMatchObject({
			type: "response.completed",
			data: { id, object: "response", status: "completed" },
		});
		await scheduler.wait(50);
		expect(await inboxEvents(cancelled)).toHaveLength(0);
		expect(await inboxEvents(sonar)).toHaveLength(0);
		await unsubscribeAll();
	});

	it("serves a sample run event for response subscriptions", async () => {
		const res = await relay("/v1/hooks/sample?event=response.*", {}, TENANT_HOOKS.key);
		const [sample] = (await res.json()) as { type: string; data: { object: string } }[];
		expect(sample).toMatchObject({ type: "response.completed", data: { object: "response" } });
	});

	it("keeps the subscriptions of a hooks table made before response events existed", async () => {
		const tenant = env.TENANTS.get(env.TENANTS.idFromName(unique("legacy-tenant")));
		await runInDurableObject(tenant, async (instance: Tenant, state) => {
			state.storage.sql.exec("DROP TABLE hooks");
			state.storage.sql.exec(`CREATE TABLE hooks (id TEXT PRIMARY KEY, target_url TEXT NOT NULL,
				event TEXT NOT NULL CHECK (event IN ('async_chat_completion.completed','async_chat_completion.failed','async_chat_completion.*')),
				created_at INTEGER NOT NULL)`);
			state.storage.sql.exec(
				"INSERT INTO hooks VALUES ('hook_old', 'https://example.com/in', 'async_chat_completion.*', 1)",
			);
			(instance as unknown as { migrateHooks(): void }).migrateHooks();
		});
		const hooks = (await tenant.listHooks()) as Hook[];
		expect(hooks.map((h) => h.id)).toEqual(["hook_old"]);
		expect(await tenant.createHook("https://example.com/runs", "response.*", 10)).toMatchObject({ ok: true });
	});
});

describe("/v1/ask", () => {
	it("turns a flat form into a job that is pushed to its callback", async () => {
		const name = unique("ask");
		const res = await relay("/v1/ask", {
			method: "POST",
			body: JSON.stringify({
				query: `${unique("q")} [[emu:steps=1]]`,
				system: "Answer in one paragraph.",
				callback_url: inboxUrl(name),
				metadata: { zap: "123" },
			}),
		});
		expect(res.status).toBe(200);
		const job = RelayJob.parse(await res.json());
		expect(job).toMatchObject({ status: "CREATED", model: "sonar", metadata: { zap: "123" } });
		await driveUntil(job.id, (j) => settled(j) && j.delivery_status === "delivered");
		const [event] = await waitForEvents(name, 1);
		expect(WebhookEvent.parse(JSON.parse(event?.body ?? "")).data.id).toBe(job.id);
	});

	it.each([
		["a missing query", {}, ["body", "query"]],
		["an empty query", { query: "   " }, ["body", "query"]],
		["a query that is not text", { query: 42 }, ["body", "query"]],
		["an unknown callback event", { query: "q", callback_events: ["done"] }, ["body", "callback_events", 0]],
		["metadata over 4 KiB", { query: "q", metadata: { x: "y".repeat(5000) } }, ["body", "metadata"]],
		["a bad callback_url", { query: "q", callback_url: "ftp://x.example.com" }, ["body", "callback_url"]],
	])("answers 422 for %s", async (_name, body, loc) => {
		const res = await relay("/v1/ask", { method: "POST", body: JSON.stringify(body) });
		expect(res.status).toBe(422);
		expect(HTTPValidationError.parse(await res.json()).detail?.map((d) => d.loc)).toContainEqual(loc);
	});

	it("answers 401 without a key", async () => {
		expect((await relay("/v1/ask", { method: "POST", body: "{}" }, null)).status).toBe(401);
	});

	it("runs a question on a preset, and refuses a preset beside a model", async () => {
		const question = unique("q");
		const res = await relay("/v1/ask", {
			method: "POST",
			body: JSON.stringify({ query: `${question} [[emu:steps=1]]`, preset: "medium" }),
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ model: "medium" });
		expect((await upstreamRunsFor(question))[0]?.body).toMatchObject({ preset: "medium" });
		const both = await relay("/v1/ask", {
			method: "POST",
			body: JSON.stringify({ query: "q", preset: "low", model: "sonar" }),
		});
		expect(both.status).toBe(422);
		expect(HTTPValidationError.parse(await both.json()).detail?.[0]?.loc).toEqual(["body", "preset"]);
	});
});

async function slackJobCount(team: string): Promise<number> {
	return env.TENANTS.get(env.TENANTS.idFromName(`slack:${team}`)).countJobs();
}

describe("Slack slash command", () => {
	const command = (team: string, text: string, responseUrl: string) => ({
		command: "/ask",
		text,
		team_id: team,
		channel_id: "C123",
		user_id: "U123",
		response_url: responseUrl,
		trigger_id: unique("trigger"),
	});

	it("acknowledges at once, then posts the answer as Block Kit to response_url", async () => {
		const team = `T${Date.now().toString(36).toUpperCase()}`;
		const name = unique("slack");
		const question = `What is a Durable Object? ${unique("q")} [[emu:steps=1]]`;
		const res = await slackCommand(command(team, question, inboxUrl(name)));
		expect(res.status).toBe(200);
		const ack = (await res.json()) as SlackMessage & { job_id: string };
		expect(ack.response_type).toBe("ephemeral");
		expect(JSON.stringify(ack.blocks ?? ack.text)).toContain("Researching");

		const job = await driveUntil(ack.job_id, (j) => settled(j) && j.delivery_status === "delivered", {
			tenant: `slack:${team}`,
		});
		expect(job.status).toBe("COMPLETED");
		const [post] = await waitForEvents(name, 1);
		const message = JSON.parse(post?.body ?? "{}") as SlackMessage;
		expect(message.response_type).toBe("ephemeral");
		expect(message.blocks?.length).toBeGreaterThan(2);
		expect(message.blocks?.length).toBeLessThanOrEqual(MAX_BLOCKS);
		const texts = JSON.stringify(message.blocks);
		expect(texts).toContain("Durable Object");
		expect(texts).toMatch(/<https:\/\/[^|>]+\|[^>]+>/);
		for (const block of message.blocks ?? []) {
			if (block.type === "section") expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(MAX_SECTION_TEXT);
		}
		expect(await slackJobCount(team)).toBe(1);
	});

	it("runs a question on the preset a leading preset: names, and says so in the acknowledgement", async () => {
		const team = `TP${Date.now().toString(36).toUpperCase()}`;
		const question = unique("q");
		const res = await slackCommand(
			command(team, `preset:high ${question} [[emu:steps=1]]`, inboxUrl(unique("slack-preset"))),
		);
		expect(res.status).toBe(200);
		const ack = (await res.json()) as SlackMessage & { job_id: string };
		expect(JSON.stringify(ack.blocks)).toContain("high ·");
		await driveUntil(ack.job_id, settled, { tenant: `slack:${team}` });
		expect((await upstreamRunsFor(question))[0]?.body).toMatchObject({ preset: "high" });
		const unknown = await slackCommand(command(team, "preset:deepest Why?", inboxUrl(unique("slack-preset"))));
		expect(((await unknown.json()) as SlackMessage).text).toContain('Unknown preset "deepest"');
		expect(await slackJobCount(team)).toBe(1);
	});

	it("posts an error message when the job fails", async () => {
		const team = `TF${Date.now().toString(36).toUpperCase()}`;
		const name = unique("slack-fail");
		const res = await slackCommand(command(team, `Doomed ${unique("q")} [[emu:steps=1]] [[emu:fail]]`, inboxUrl(name)));
		const { job_id } = (await res.json()) as { job_id: string };
		await driveUntil(job_id, (j) => settled(j) && j.delivery_status !== "pending", { tenant: `slack:${team}` });
		const [post] = await waitForEvents(name, 1);
		const message = JSON.parse(post?.body ?? "{}") as SlackMessage;
		expect(message.response_type).toBe("ephemeral");
		expect(JSON.stringify(message)).toContain("Emulated upstream failure");
	});

	it("answers empty text with usage help and makes no job", async () => {
		const team = `TE${Date.now().toString(36).toUpperCase()}`;
		const res = await slackCommand(command(team, "  ", inboxUrl(unique("slack-empty"))));
		expect(res.status).toBe(200);
		expect(JSON.stringify(await res.json())).toContain("/ask");
		expect(await slackJobCount(team)).toBe(0);
	});

	it.each([
		["a wrong secret", { secret: "not-the-secret" }],
		["a stale timestamp (6 minutes)", { timestamp: String(Math.floor(Date.now() / 1000) - 360) }],
		["a future timestamp (6 minutes)", { timestamp: String(Math.floor(Date.now() / 1000) + 360) }],
		["a tampered body", { tamper: true }],
	])("refuses %s with 401 and makes no job", async (_name, options) => {
		const team = `TX${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1000)}`;
		const res = await slackCommand(command(team, "hello", inboxUrl(unique("slack-bad"))), options);
		expect(res.status).toBe(401);
		expect(await res.json()).toEqual({ detail: expect.any(String) });
		expect(await slackJobCount(team)).toBe(0);
	});

	it("refuses a request without Slack's headers", async () => {
		const res = await relay(
			"/integrations/slack/commands",
			{
				method: "POST",
				headers: { "content-type": "application/x-www-form-urlencoded" },
				body: "text=hi&team_id=T1",
			},
			null,
		);
		expect(res.status).toBe(401);
	});
});
