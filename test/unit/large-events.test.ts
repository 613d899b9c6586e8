/**
 * Large results in the pure machine: a final event over MAX_PUSH_BYTES is a
 * claim check (the same event, without the result, with `result_url`), on both
 * surfaces and for every receiver of the event; smaller events, interim events
 * and integration messages are untouched. A failed attempt carries its error in
 * words; the KV write's outcome carries where the result is.
 */
import { describe, expect, it } from "vitest";
import { utf8Length } from "../../src/bytes.ts";
import type { Delivery } from "../../src/delivery/outbox.ts";
import { slackResultMessage } from "../../src/integrations/slack/message.ts";
import { apply, newJob } from "../../src/job/machine.ts";
import { owe } from "../../src/job/owed.ts";
import { eventBody } from "../../src/job/render.ts";
import type { JobSpec, JobState } from "../../src/job/state.ts";
import { toEventData } from "../../src/job/views.ts";
import { ResponseWebhookEvent } from "../../src/schemas/agent.ts";
import { WebhookEvent } from "../../src/schemas/relay.ts";
import type { UpstreamRun } from "../../src/upstream/port.ts";
import { makeSpec as baseSpec, policy, T0 } from "./job-fixtures.ts";

const LINK = "https://relay.example.com/v1/results/job1?expires=1700003600&signature=abc";

function makeSpec(overrides: Partial<JobSpec> = {}): JobSpec {
	return baseSpec({
		request: { model: "sonar", messages: [{ role: "user", content: "Tell me everything" }] },
		callbackEvents: ["started", "completed", "failed"],
		origin: "https://relay.example.com",
		...overrides,
	} as Partial<JobSpec>);
}

/** A completed job whose answer is `answerChars` long, on either surface. */
function completedJob(answerChars: number, spec: Partial<JobSpec> = {}): JobState {
	const text = "All work and no play. ".repeat(Math.ceil(answerChars / 22)).slice(0, answerChars);
	const agent = spec.surface === "agent";
	const run = (status: UpstreamRun["status"]): UpstreamRun => ({
		id: "up-1",
		status,
		result:
			status === "completed"
				? {
						id: "c1",
						model: "sonar",
						created: T0 / 1000,
						choices: [
							{ index: 0, message: { role: "assistant", content: text }, delta: { role: "assistant", content: "" } },
						],
					}
				: null,
		native:
			agent && status === "completed"
				? {
						id: "resp_up",
						object: "response",
						status: "completed",
						model: "openai/gpt-5.1",
						output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text }] }],
						output_text: text,
						usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
					}
				: null,
		error: null,
		createdAt: T0 / 1000,
		startedAt: null,
		finishedAt: status === "completed" ? T0 / 1000 + 5 : null,
	});
	let state = newJob(makeSpec(spec), T0);
	state = apply(state, { type: "created", run: run("in_progress") }, T0, policy, 0.5);
	return apply(state, { type: "polled", run: run("completed") }, T0 + 1000, policy, 0.5);
}

const finalDelivery = (state: JobState): Delivery => {
	const delivery = state.deliveries.find((d) => d.type.endsWith(".completed"));
	if (!delivery) throw new Error("no final event");
	return delivery;
};

describe("claim-check delivery", () => {
	it("pushes a Sonar event over MAX_PUSH_BYTES without its response, with result_url", () => {
		const state = completedJob(2_000_000);
		const full = eventBody(state, finalDelivery(state));
		expect(utf8Length(full)).toBeGreaterThan(2_000_000);

		const body = eventBody(state, finalDelivery(state), { maxBytes: 1_048_576, resultUrl: LINK });
		expect(utf8Length(body)).toBeLessThan(10_000);
		const event = WebhookEvent.parse(JSON.parse(body));
		expect(event.type).toBe("async_chat_completion.completed");
		expect(event.data).toMatchObject({ id: "job1", status: "COMPLETED", response: null, result_url: LINK });
		expect(event.data.metadata).toEqual({ ticket: 7 });
		// Everything but the answer is as the whole event has it.
		const whole = JSON.parse(full) as { timestamp: string; data: Record<string, unknown> };
		expect(event.timestamp).toBe(whole.timestamp);
		expect({ ...event.data, response: undefined, result_url: undefined }).toEqual({
			...whole.data,
			response: undefined,
		});
	});

	it("pushes a run's event over MAX_PUSH_BYTES without output and output_text, with result_url", () => {
		const state = completedJob(2_000_000, {
			surface: "agent",
			request: { preset: "low", input: "Tell me everything" },
			metadata: { ticket: "7" },
			callbackEvents: ["completed"],
		} as Partial<JobSpec>);
		const body = eventBody(state, finalDelivery(state), { maxBytes: 1_048_576, resultUrl: LINK });
		expect(utf8Length(body)).toBeLessThan(10_000);
		const parsed = JSON.parse(body) as { data: Record<string, unknown> };
		expect(parsed.data).not.toHaveProperty("output_text");
		const event = ResponseWebhookEvent.parse(parsed);
		expect(event.type).toBe("response.completed");
		expect(event.data).toMatchObject({ id: "job1", status: "completed", output: [], result_url: LINK });
		expect(event.data.usage).toMatchObject({ total_tokens: 3 });
	});

	it("pushes whole an event within MAX_PUSH_BYTES, and one it has no link for", () => {
		const small = completedJob(1000);
		const whole = eventBody(small, finalDelivery(small));
		expect(eventBody(small, finalDelivery(small), { maxBytes: 1_048_576, resultUrl: LINK })).toBe(whole);

		const large = completedJob(1_100_000);
		const unlinked = eventBody(large, finalDelivery(large), { maxBytes: 1_048_576, resultUrl: null });
		expect(unlinked).toBe(eventBody(large, finalDelivery(large)));
		expect(JSON.parse(unlinked).data.result_url).toBeUndefined();
	});

	it("measures the limit in bytes of UTF-8, not in characters", () => {
		// 400,000 characters of three bytes each: 1.2 MB on the wire.
		let state = completedJob(10);
		state = {
			...state,
			response: {
				...(state.response as NonNullable<JobState["response"]>),
				choices: [
					{
						index: 0,
						message: { role: "assistant", content: "€".repeat(400_000) },
						delta: { role: "assistant", content: "" },
					},
				],
			},
		};
		const body = eventBody(state, finalDelivery(state), { maxBytes: 1_048_576, resultUrl: LINK });
		expect(JSON.parse(body).data.result_url).toBe(LINK);
	});

	it("leaves interim events as they are: they carry no result", () => {
		const state = completedJob(2_000_000);
		const started = state.deliveries.find((d) => d.type === "async_chat_completion.started");
		expect(started).toBeDefined();
		const body = eventBody(state, started as Delivery, { maxBytes: 1_024, resultUrl: LINK });
		expect(JSON.parse(body).data.result_url).toBeUndefined();
	});

	it("builds a bounded Slack message for a 5 MB answer, linking the full result", () => {
		const state = completedJob(5_000_000, { callbackUrl: null });
		const slack = {
			kind: "slack" as const,
			responseUrl: "https://hooks.slack.com/commands/1/2/3",
			responseType: "in_channel" as const,
			question: "Tell me everything",
			resultBaseUrl: "https://relay.example.com/async/chat/completions/",
		};
		const message = slackResultMessage(toEventData(state), slack, LINK);
		const size = utf8Length(JSON.stringify(message));
		expect(size).toBeLessThan(200_000);
		expect(message.blocks?.length).toBeLessThanOrEqual(50);
		expect(JSON.stringify(message.blocks)).toContain("too long for Slack");
		expect(JSON.stringify(message.blocks)).toContain(`<${LINK.replace(/&/g, "&amp;")}|`);
	});
});

describe("what the machine keeps of a KV write and a failed attempt", () => {
	it("records where the result is in KV when the cache write succeeds", () => {
		const state = completedJob(100);
		const ref = { parts: 3, bytes: 5_000_123, expiresAt: T0 + 86_400_000 };
		const cached = apply(state, { type: "cached", ref }, T0 + 2000, policy, 0.5);
		expect(cached).toMatchObject({ lifecycle: { owed: { cache: false } }, result: ref });
		// A refresh of the delivery status without a new ref keeps the old one.
		expect(apply(owe(cached, { cache: true }), { type: "cached" }, T0 + 3000, policy, 0.5).result).toEqual(ref);
	});

	it("logs a failed attempt's error in words, and says it in last_error", () => {
		const state = completedJob(100);
		const delivery = finalDelivery(state);
		const next = apply(
			state,
			{
				type: "delivery_attempted",
				id: delivery.id,
				result: {
					ok: false,
					statusCode: null,
					error: "connect",
					message: "connection refused",
					durationMs: 3,
					retryAfterMs: null,
					responseBody: null,
				},
			},
			T0 + 2000,
			policy,
			0.5,
		);
		expect(next.log.at(-1)).toMatchObject({ error: "connect", error_message: "connection refused" });
		expect(next.deliveries.find((d) => d.webhookId === delivery.webhookId)?.lastError).toBe("connection refused");
	});
});
