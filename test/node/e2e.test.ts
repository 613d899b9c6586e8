/**
 * End to end: the official Perplexity SDK pointed at the relay (under wrangler dev),
 * the emulator as the upstream, and the inbox as the callback receiver.
 */
import Perplexity, { NotFoundError } from "@perplexity-ai/perplexity_ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Delivery } from "../../tools/inbox/app.ts";
import { type Stack, startStack } from "./stack.ts";

type CompletionCreateParams = Parameters<Perplexity["async"]["chat"]["completions"]["create"]>[0];

/** The relay's push fields, beside `request`; the SDK's types do not know them. */
interface PushFields {
	callback_url?: string;
	callback_events?: ("started" | "completed" | "failed")[];
	metadata?: Record<string, unknown>;
}

interface WebhookEvent {
	type: string;
	timestamp: string;
	data: {
		id: string;
		status: string;
		error_message?: string | null;
		metadata?: Record<string, unknown> | null;
		response?: { choices: { message: { content: unknown } }[] } | null;
	};
}

let stack: Stack;
let client: Perplexity;

beforeAll(async () => {
	stack = await startStack();
	client = new Perplexity({ baseURL: stack.relayUrl, apiKey: stack.apiKey, maxRetries: 0, timeout: 10_000 });
}, 120_000);

afterAll(async () => {
	await stack?.stop();
}, 30_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function job(content: string, push: PushFields): CompletionCreateParams & PushFields {
	return { request: { model: "sonar", messages: [{ role: "user", content }] }, ...push };
}

/** GETs the job until it is final; bounded, so a stuck job fails the test instead of hanging it. */
async function settled(id: string, sdk = client) {
	for (let i = 0; i < 80; i++) {
		const current = await sdk.async.chat.completions.get(id);
		if (current.status === "COMPLETED" || current.status === "FAILED") return current;
		await sleep(250);
	}
	throw new Error(`job ${id} did not settle: last output of wrangler dev:\n${stack.relayOutput()}`);
}

/** Waits (bounded) until the inbox holds `count` deliveries for `name`. */
async function deliveries(name: string, count = 1): Promise<Delivery[]> {
	for (let i = 0; i < 80; i++) {
		const events = stack.inbox.inbox.events(name);
		if (events.length >= count) return events;
		await sleep(250);
	}
	throw new Error(`the inbox got ${stack.inbox.inbox.events(name).length} of ${count} deliveries for ${name}`);
}

const parse = (delivery: Delivery | undefined) => JSON.parse(delivery?.body ?? "null") as WebhookEvent;

describe("a job submitted with the Perplexity SDK", () => {
	it("completes, is listed, and is pushed once, signed, to its callback", async () => {
		const name = "sdk-completed";
		const params = job("What is a Cloudflare Durable Object alarm?", {
			callback_url: `${stack.inbox.url}/hooks/${name}`,
			metadata: { ticket: "E2E-1" },
		});

		const created = await client.async.chat.completions.create(params);
		expect(created.status).toBe("CREATED");
		expect(created.model).toBe("sonar");

		const done = await settled(created.id);
		expect(done.status).toBe("COMPLETED");
		expect(done.response?.choices[0]?.message.content).toBeTruthy();

		const listed = await client.async.chat.completions.list();
		expect(listed.requests.map((r) => r.id)).toContain(created.id);

		const [delivery, ...extra] = await deliveries(name);
		expect(extra).toEqual([]);
		expect(delivery?.verified).toBe(true);
		expect(delivery?.headers["content-type"]).toMatch(/^application\/json/);
		expect(delivery?.headers["user-agent"]).toMatch(/^sonar-relay\//);
		expect(delivery?.headers["webhook-id"]).toBeTruthy();
		const event = parse(delivery);
		expect(event.type).toBe("async_chat_completion.completed");
		expect(event.data.id).toBe(created.id);
		expect(event.data.status).toBe("COMPLETED");
		expect(event.data.metadata).toEqual({ ticket: "E2E-1" });
		expect(event.data.response?.choices[0]?.message.content).toBe(done.response?.choices[0]?.message.content);
		// Still one: nothing was delivered twice while the SDK listed.
		expect(stack.inbox.inbox.events(name)).toHaveLength(1);
	});

	it("is invisible to another tenant", async () => {
		const created = await client.async.chat.completions.create(job("Tenant isolation?", {}));
		const other = new Perplexity({ baseURL: stack.relayUrl, apiKey: stack.otherApiKey, maxRetries: 0 });

		await expect(other.async.chat.completions.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
		const listed = await other.async.chat.completions.list();
		expect(listed.requests.map((r) => r.id)).not.toContain(created.id);
	});

	it("pushes a failed event with the upstream's error when the job fails", async () => {
		const name = "sdk-failed";
		const created = await client.async.chat.completions.create(
			job("Please fail [[emu:fail]]", { callback_url: `${stack.inbox.url}/hooks/${name}` }),
		);

		const done = await settled(created.id);
		expect(done.status).toBe("FAILED");
		expect(done.error_message).toBeTruthy();

		const [delivery] = await deliveries(name);
		expect(delivery?.verified).toBe(true);
		const event = parse(delivery);
		expect(event.type).toBe("async_chat_completion.failed");
		expect(event.data.id).toBe(created.id);
		expect(event.data.error_message).toBe(done.error_message);
	});

	it("retries a delivery the receiver refused, with the same webhook-id", async () => {
		const name = "sdk-retried";
		const created = await client.async.chat.completions.create(
			job("Retry me", { callback_url: `${stack.inbox.url}/hooks/${name}?fail=1&status=503` }),
		);

		const [refused, accepted] = await deliveries(name, 2);
		expect(refused?.answered).toBe(503);
		expect(accepted?.answered).toBe(200);
		expect(accepted?.verified).toBe(true);
		expect(accepted?.headers["webhook-id"]).toBe(refused?.headers["webhook-id"]);
		expect(parse(accepted).data.id).toBe(created.id);
	});
});
