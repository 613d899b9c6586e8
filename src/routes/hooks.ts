/**
 * REST hooks, as Zapier's REST Hook triggers expect them: subscribe a target
 * URL to an event, list, unsubscribe, and a sample payload in exactly the
 * shape a hook receives (Zapier's "perform list"), and a test send of that sample to one
 * subscription (`POST /v1/hooks/{id}/test`). Subscriptions live in the Tenant DO; every settled
 * job of the tenant fans out to the matching ones.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { signingKeys } from "../config.ts";
import { deliverEvent } from "../delivery/deliver.ts";
import { describeAttempt, hostOf } from "../delivery/outbox.ts";
import { tenantSecret } from "../delivery/sign.ts";
import { checkCallbackUrl } from "../delivery/url-guard.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, RequestValidationError } from "../errors.ts";
import { jsonBody } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { ResponseWebhookEvent } from "../schemas/agent.ts";
import { HookTestReport } from "../schemas/ops.ts";
import {
	CreateHookBody,
	ErrorDetail,
	type EventType,
	Hook,
	HookEvent,
	HookList,
	WebhookEvent,
} from "../schemas/relay.ts";
import { errors, json, jsonRequest, security, unsigned } from "../schemas/route.ts";
import { validationError } from "../schemas/validation.ts";
import { tenantStub } from "../stubs.ts";
import { unsignedError } from "../submit.ts";

const SampleQuery = z.object({ event: HookEvent.default("async_chat_completion.completed") });

const HookId = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

const notFoundHook = json(ErrorDetail, "No such subscription for this tenant");

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

export const hooks = new OpenAPIHono<AppEnv>();
hooks.use(requireTenant);

hooks.openapi(
	createRoute({
		method: "post",
		path: "/",
		tags: ["REST hooks"],
		summary: "Subscribe a URL to an event (Zapier REST hooks)",
		security,
		middleware: [jsonBody] as const,
		request: jsonRequest(CreateHookBody, {
			target_url: "https://hooks.zapier.com/hooks/standard/1/2/3",
			event: "async_chat_completion.completed",
		}),
		responses: {
			201: json(Hook, "The subscription"),
			...errors,
			409: json(ErrorDetail, "MAX_SUBSCRIPTIONS reached"),
		},
	}),
	async (c) => {
		const settings = c.get("settings");
		const body = c.req.valid("json");
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
	},
);

hooks.openapi(
	createRoute({
		method: "get",
		path: "/",
		tags: ["REST hooks"],
		summary: "List subscriptions",
		security,
		responses: { 200: json(HookList, "This tenant's subscriptions"), 401: errors[401] },
	}),
	async (c) => c.json({ hooks: await tenantStub(c.env, c.get("tenant")).listHooks() }, 200),
);

hooks.openapi(
	createRoute({
		method: "get",
		path: "/sample",
		tags: ["REST hooks"],
		summary: "One sample payload, exactly as a subscription receives it (Zapier's perform list)",
		security,
		request: { query: SampleQuery },
		responses: {
			200: json(z.array(z.union([WebhookEvent, ResponseWebhookEvent])), "An array of one event, of either surface"),
			...errors,
		},
	}),
	(c) => c.json([sampleEvent(concreteEvent(c.req.valid("query").event))], 200),
);

// Sends one sample event to the subscription now, through the same URL guard and signing as a real
// delivery, and answers with how it went. Nothing is retried or logged on a job; a 410 does not
// unsubscribe (only a real event's does).
hooks.openapi(
	createRoute({
		method: "post",
		path: "/{id}/test",
		tags: ["REST hooks"],
		summary: "Send one sample event to a subscription now (relay extension)",
		description:
			"The sample of the subscription's event (`GET /v1/hooks/sample`), signed and sent now through the same " +
			"URL guard as a real delivery; the answer says how the attempt went. It is not retried or logged on a " +
			"job, and a 410 from the target does not unsubscribe.",
		security,
		request: { params: HookId },
		responses: {
			200: json(HookTestReport, "The attempt: delivered or not, with its status, duration and error", {
				hook_id: "hook_3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b",
				event: "async_chat_completion.completed",
				webhook_id: "msg_test_0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f",
				target_host: "hooks.zapier.com",
				delivered: true,
				status_code: 200,
				duration_ms: 182,
				error: null,
				error_message: null,
				response_body: '{"status":"success"}',
			}),
			401: errors[401],
			404: notFoundHook,
			503: unsigned,
		},
	}),
	async (c) => {
		const settings = c.get("settings");
		const tenant = c.get("tenant");
		const hook = await tenantStub(c.env, tenant).getHook(c.req.valid("param").id);
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
	},
);

hooks.openapi(
	createRoute({
		method: "delete",
		path: "/{id}",
		tags: ["REST hooks"],
		summary: "Unsubscribe",
		security,
		request: { params: HookId },
		responses: { 204: { description: "Removed" }, 401: errors[401], 404: notFoundHook },
	}),
	async (c) => {
		const removed = await tenantStub(c.env, c.get("tenant")).deleteHook(c.req.valid("param").id);
		if (!removed) throw new ApiError(404, "Subscription not found");
		return c.body(null, 204);
	},
);
