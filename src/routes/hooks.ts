/**
 * REST hooks, as Zapier's REST Hook triggers expect them: subscribe a target
 * URL to an event, list, unsubscribe, and a sample payload in exactly the
 * shape a hook receives (Zapier's "perform list"), and a test send of that sample to one
 * subscription (`POST /v1/hooks/{id}/test`). Subscriptions live in the Tenant DO; every settled
 * job of the tenant fans out to the matching ones.
 */
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import { signingKeys } from "../config.ts";
import { deliverEvent } from "../delivery/deliver.ts";
import { tenantSecret } from "../delivery/sign.ts";
import { checkCallbackUrl } from "../delivery/url-guard.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { readJson, validate } from "../http.ts";
import { describeAttempt, hostOf } from "../job/machine.ts";
import { requireTenant } from "../middleware.ts";
import type { ResponseWebhookEvent } from "../schemas/agent.ts";
import type { HookTestReport } from "../schemas/ops.ts";
import { CreateHookBody, type EventType, HookEvent, type WebhookEvent } from "../schemas/relay.ts";
import { validationError } from "../schemas/validation.ts";
import { tenantStub } from "../stubs.ts";
import { unsignedError } from "../submit.ts";

const SampleQuery = z.object({ event: HookEvent.default("async_chat_completion.completed") });

/** The event a subscription's sample shows: its own, or for a surface's `*`, that surface's completed. */
function concreteEvent(event: HookEvent): EventType {
	if (!event.endsWith(".*")) return event as EventType;
	return event === "response.*" ? "response.completed" : "async_chat_completion.completed";
}

/** One example event per type, exactly as a subscription receives it. */
export function sampleEvent(type: EventType): WebhookEvent | ResponseWebhookEvent {
	if (type.startsWith("response.")) return sampleResponseEvent(type as ResponseWebhookEvent["type"]);
	const completed = type === "async_chat_completion.completed";
	const created = 1_763_812_800;
	return {
		type: type as WebhookEvent["type"],
		timestamp: new Date((created + 42) * 1000).toISOString(),
		data: {
			id: "3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
			model: "sonar",
			created_at: created,
			started_at: created + 1,
			completed_at: completed ? created + 42 : null,
			failed_at: completed ? null : created + 42,
			error_message: completed ? null : "upstream reported the job FAILED",
			status: completed ? "COMPLETED" : "FAILED",
			metadata: { ticket: "T-42" },
			response: completed
				? {
						id: "b6d1c2e3-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
						model: "sonar",
						created: created + 42,
						object: "chat.completion",
						choices: [
							{
								index: 0,
								finish_reason: "stop",
								message: { role: "assistant", content: "Durable Object alarms wake an object at a set time [1]." },
								delta: { role: "assistant", content: "" },
							},
						],
						citations: ["https://developers.cloudflare.com/durable-objects/api/alarms/"],
						search_results: [
							{
								title: "Alarms · Cloudflare Durable Objects docs",
								url: "https://developers.cloudflare.com/durable-objects/api/alarms/",
								snippet:
									"Durable Objects alarms allow you to schedule the Durable Object to be woken up at a time in the future.",
								source: "web",
							},
						],
						usage: {
							prompt_tokens: 9,
							completion_tokens: 14,
							total_tokens: 23,
							cost: {
								input_tokens_cost: 0.000009,
								output_tokens_cost: 0.000014,
								request_cost: 0.005,
								total_cost: 0.005023,
							},
						},
					}
				: null,
		},
	};
}

/** A run's event, as an Agent-surface subscription receives it. */
function sampleResponseEvent(type: ResponseWebhookEvent["type"]): ResponseWebhookEvent {
	const created = 1_763_812_800;
	const status = type === "response.in_progress" ? "in_progress" : type.slice("response.".length);
	const done = status === "completed" || status === "incomplete";
	return {
		type,
		timestamp: new Date((created + 180) * 1000).toISOString(),
		data: {
			id: "8c1d4e7f0a3b6c9d2e5f8a1b4c7d0e3f6a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d",
			object: "response",
			created_at: created,
			completed_at: done ? created + 180 : null,
			status: status as ResponseWebhookEvent["data"]["status"],
			model: "openai/gpt-5.1",
			output: done
				? [
						{
							type: "search_results",
							queries: ["durable object alarms"],
							results: [
								{
									id: 1,
									url: "https://developers.cloudflare.com/durable-objects/api/alarms/",
									title: "Alarms · Cloudflare Durable Objects docs",
									snippet: "Durable Objects alarms allow you to schedule the Durable Object to be woken up.",
								},
							],
						},
						{
							type: "message",
							id: "msg_1",
							role: "assistant",
							status: "completed",
							content: [
								{
									type: "output_text",
									text: "Durable Object alarms wake an object at a set time [1].",
									annotations: [],
								},
							],
						},
					]
				: [],
			usage: done
				? {
						input_tokens: 9,
						output_tokens: 14,
						total_tokens: 23,
						cost: { input_cost: 0.000009, output_cost: 0.000014, total_cost: 0.000023, currency: "USD" },
					}
				: null,
			error:
				status === "failed" || status === "cancelled"
					? { message: status === "cancelled" ? "cancelled" : "upstream reported the run failed", type: status }
					: null,
			...(status === "incomplete" ? { incomplete_details: { reason: "max_output_tokens" } } : {}),
			background: true,
			metadata: { ticket: "T-42" },
		},
	};
}

export const hooks = new Hono<AppEnv>()
	.use(requireTenant)

	.post("/", async (c) => {
		const settings = c.get("settings");
		const body = validate(CreateHookBody, await readJson(c, settings.maxBodyBytes), "body");
		const check = checkCallbackUrl(body.target_url, { allowPrivate: settings.allowPrivateCallbacks });
		if (!check.ok) throw new RequestValidationError(validationError(["body", "target_url"], check.reason));
		if (!settings.webhookSigningKey) throw unsignedError();
		const result = await tenantStub(c.env, c.get("tenant")).createHook(
			check.url.toString(),
			body.event,
			settings.maxSubscriptions,
		);
		if (!result.ok) throw new ApiError(409, `At most ${settings.maxSubscriptions} subscriptions per tenant`);
		return c.json(result.hook, 201);
	})

	.get("/", async (c) => {
		const list = await tenantStub(c.env, c.get("tenant")).listHooks();
		return c.json({ hooks: list }, 200);
	})

	.get("/sample", (c) => {
		const { event } = validate(SampleQuery, c.req.query(), "query");
		return c.json([sampleEvent(concreteEvent(event))], 200);
	})

	// Sends one sample event to the subscription now, through the same URL guard and signing as a real
	// delivery, and answers with how it went. Nothing is retried or logged on a job; a 410 does not
	// unsubscribe (only a real event's does).
	.post("/:id/test", async (c) => {
		const settings = c.get("settings");
		const tenant = c.get("tenant");
		const hook = await tenantStub(c.env, tenant).getHook(c.req.param("id"));
		if (!hook) throw new ApiError(404, "Subscription not found");
		if (!settings.webhookSigningKey) throw unsignedError();
		const type = concreteEvent(hook.event);
		const webhookId = `msg_test_${crypto.randomUUID().replace(/-/g, "")}`;
		const result = await deliverEvent({
			url: hook.target_url,
			webhookId,
			body: JSON.stringify(sampleEvent(type)),
			secrets: await Promise.all(signingKeys(settings).map((key) => tenantSecret(key, tenant))),
			timeoutMs: settings.deliveryTimeoutMs,
			allowPrivate: settings.allowPrivateCallbacks,
		});
		const report: HookTestReport = {
			hook_id: hook.id,
			event: type,
			webhook_id: webhookId,
			target_host: hostOf(hook.target_url),
			delivered: result.ok,
			status_code: result.statusCode,
			duration_ms: result.durationMs,
			error: result.error,
			error_message: result.ok ? null : describeAttempt(result),
			response_body: result.responseBody,
		};
		return c.json(report, 200);
	})

	.delete("/:id", async (c) => {
		const removed = await tenantStub(c.env, c.get("tenant")).deleteHook(c.req.param("id"));
		if (!removed) throw new ApiError(404, "Subscription not found");
		return c.body(null, 204);
	});
