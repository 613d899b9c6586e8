/**
 * `POST /v1/hooks/{id}/test`, in workerd: one sample event sent to a subscription now, signed with
 * the tenant's secret (verified with the `standardwebhooks` package), through the URL guard, and
 * answered with the attempt's status, duration and error. Another tenant's subscription is a 404.
 */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { HookTestReport } from "../../src/schemas/ops.ts";
import type { Hook } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_QUIET, TEST_SIGNING_KEY } from "./constants.ts";
import { inboxEvents, inboxUrl, relay, unique } from "./helpers.ts";

/** TENANT_QUIET submits no job, so its subscriptions get only what these tests send. */
const KEY = TENANT_QUIET.key;

async function subscribe(target: string, event = "async_chat_completion.completed"): Promise<Hook> {
	const res = await relay("/v1/hooks", { method: "POST", body: JSON.stringify({ target_url: target, event }) }, KEY);
	expect(res.status).toBe(201);
	return (await res.json()) as Hook;
}

async function sendTest(id: string, key = KEY): Promise<Response> {
	return relay(`/v1/hooks/${id}/test`, { method: "POST" }, key);
}

describe("POST /v1/hooks/{id}/test", () => {
	afterEach(async () => {
		const index = env.TENANTS.get(env.TENANTS.idFromName(TENANT_QUIET.tenant));
		for (const hook of (await index.listHooks()) as Hook[]) await index.deleteHook(hook.id);
	});

	it("sends the subscription's sample event now, signed, and says how it went", async () => {
		const name = unique("hook-test");
		const hook = await subscribe(inboxUrl(name), "response.*");
		const res = await sendTest(hook.id);
		expect(res.status).toBe(200);
		const report = HookTestReport.parse(await res.json());
		expect(report).toMatchObject({
			hook_id: hook.id,
			event: "response.completed",
			delivered: true,
			status_code: 200,
			error: null,
			error_message: null,
			target_host: new URL(inboxUrl(name)).host,
		});
		expect(report.webhook_id).toMatch(/^msg_test_[0-9a-f]{32}$/);
		const [event, ...more] = await inboxEvents(name);
		expect(more).toEqual([]);
		expect(event?.headers["webhook-id"]).toBe(report.webhook_id);
		const secret = await tenantSecret(TEST_SIGNING_KEY, TENANT_QUIET.tenant);
		const verified = new Webhook(secret).verify(event?.body ?? "", event?.headers ?? {});
		// Exactly the sample a subscription is shown (GET /v1/hooks/sample).
		const sample = (await (await relay("/v1/hooks/sample?event=response.completed", {}, KEY)).json()) as unknown[];
		expect(verified).toEqual(sample[0]);
	});

	it("reports a refusing target's status and error, without retrying or unsubscribing it", async () => {
		const name = unique("hook-test-gone");
		const hook = await subscribe(inboxUrl(name, "status=410"));
		const report = HookTestReport.parse(await (await sendTest(hook.id)).json());
		expect(report).toMatchObject({ delivered: false, status_code: 410, error: null, error_message: "HTTP 410 Gone" });
		expect(await inboxEvents(name)).toHaveLength(1);
		const { hooks } = (await (await relay("/v1/hooks", {}, KEY)).json()) as { hooks: Hook[] };
		expect(hooks.map((h) => h.id)).toContain(hook.id);
	});

	it("reports a target that does not answer as a connection error", async () => {
		// A loopback port nobody listens on (port 9 is discard, closed here).
		const hook = await subscribe("http://127.0.0.1:9/hooks/nobody");
		const report = HookTestReport.parse(await (await sendTest(hook.id)).json());
		expect(report.delivered).toBe(false);
		expect(report.status_code).toBeNull();
		expect(report.error).not.toBeNull();
		expect(report.error_message).toEqual(expect.any(String));
	});

	it("is a 404 for another tenant's subscription and for an unknown id; a 401 without a key", async () => {
		const name = unique("hook-test-private");
		const hook = await subscribe(inboxUrl(name));
		for (const id of [hook.id, "hook_00000000000000000000000000000000", "../../v1/usage"]) {
			const res = await sendTest(encodeURIComponent(id), TENANT_A.key);
			expect(res.status, id).toBe(404);
			expect(await res.json()).toEqual({ detail: expect.any(String) });
		}
		expect((await sendTest(hook.id, null as unknown as string)).status).toBe(401);
		expect(await inboxEvents(name)).toEqual([]);
	});
});
