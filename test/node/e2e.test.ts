/**
 * End to end: the official Perplexity SDK pointed at the relay (under wrangler dev),
 * the emulator as the upstream (serving only the Agent API, strictly, as the live API
 * does), and the inbox as the callback receiver.
 */
import Perplexity, { NotFoundError } from "@perplexity-ai/perplexity_ai";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
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
		response?: {
			model: string;
			choices: { message: { content: unknown }; finish_reason?: string | null }[];
			citations?: string[] | null;
			search_results?: { url: string; title: string; snippet?: string }[] | null;
			usage?: {
				prompt_tokens: number;
				completion_tokens: number;
				total_tokens: number;
				cost: { total_cost: number; input_tokens_cost: number; output_tokens_cost: number };
			} | null;
		} | null;
	};
}

/** The parts of an Agent API Response this test reads, as the emulator serves it. */
interface AgentResponse {
	status: string;
	output: {
		type: string;
		content?: { type: string; text: string }[];
		results?: { url: string; title: string; snippet: string }[];
	}[];
	usage?: {
		input_tokens: number;
		output_tokens: number;
		total_tokens: number;
		cost: { input_cost: number; output_cost: number; total_cost: number };
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

describe("a Sonar-shaped job on a strict Agent API upstream", () => {
	it("completes through the SDK, and its push carries the run's text, citations, search results and mapped usage", async () => {
		const name = "sdk-agent";
		const question = "What changed in Durable Object alarms this year?";
		const params: CompletionCreateParams & PushFields = {
			request: {
				model: "sonar",
				messages: [
					{ role: "system", content: "Answer briefly, with sources." },
					{ role: "user", content: question },
				],
				max_tokens: 1000,
				search_domain_filter: ["developers.cloudflare.com", "blog.cloudflare.com"],
				search_recency_filter: "year",
				web_search_options: { search_context_size: "medium" },
			},
			callback_url: `${stack.inbox.url}/hooks/${name}`,
		};
		const created = await client.async.chat.completions.create(params);
		expect(created.status).toBe("CREATED");
		const done = await settled(created.id);
		expect(done.status).toBe("COMPLETED");

		// What the relay sent: the Agent API request, translated field by field.
		const runs = Object.entries(stack.emulator.emulator.stats().jobs).filter(([, run]) => run.question === question);
		expect(runs).toHaveLength(1);
		const [upstreamId, run] = runs[0] as [string, (typeof runs)[number][1]];
		expect(run.api).toBe("agent");
		expect(run.body).toEqual({
			background: true,
			model: "perplexity/sonar",
			instructions: "Answer briefly, with sources.",
			input: [{ type: "message", role: "user", content: question }],
			max_output_tokens: 1000,
			tools: [
				{
					type: "web_search",
					filters: {
						search_domain_filter: ["developers.cloudflare.com", "blog.cloudflare.com"],
						search_recency_filter: "year",
					},
					search_context_size: "medium",
				},
			],
		});

		// What upstream answered, read straight from it.
		const upstream = (await (
			await fetch(`${stack.emulator.url}/v1/responses/${upstreamId}`, {
				headers: { authorization: "Bearer emulator-key" },
			})
		).json()) as AgentResponse;
		expect(upstream.status).toBe("completed");
		const text = upstream.output
			.filter((item) => item.type === "message")
			.flatMap((item) => item.content ?? [])
			.filter((part) => part.type === "output_text")
			.map((part) => part.text)
			.join("");
		const results = upstream.output
			.filter((item) => item.type === "search_results")
			.flatMap((item) => item.results ?? []);
		expect(text).not.toBe("");
		expect(results.length).toBeGreaterThan(0);

		const [delivery, ...extra] = await deliveries(name);
		expect(extra).toEqual([]);
		expect(delivery?.verified).toBe(true);
		const event = parse(delivery);
		expect(event.type).toBe("async_chat_completion.completed");
		const response = event.data.response;
		expect(response?.model).toBe("sonar");
		expect(response?.choices[0]?.message.content).toBe(text);
		expect(response?.choices[0]?.finish_reason).toBe("stop");
		expect(response?.citations).toEqual(results.map((r) => r.url));
		expect(response?.search_results?.map((r) => ({ url: r.url, title: r.title }))).toEqual(
			results.map((r) => ({ url: r.url, title: r.title })),
		);
		expect(response?.usage).toMatchObject({
			prompt_tokens: upstream.usage?.input_tokens,
			completion_tokens: upstream.usage?.output_tokens,
			total_tokens: upstream.usage?.total_tokens,
			cost: {
				input_tokens_cost: upstream.usage?.cost.input_cost,
				output_tokens_cost: upstream.usage?.cost.output_cost,
				total_cost: upstream.usage?.cost.total_cost,
			},
		});
		// The same answer through the SDK's get.
		expect(done.response?.choices[0]?.message.content).toBe(text);
	});

	it("refuses what the Agent API cannot run with a 422 the SDK surfaces", async () => {
		const refused = client.async.chat.completions.create({
			request: { model: "sonar", messages: [{ role: "user", content: "Images please" }], return_images: true },
		});
		await expect(refused).rejects.toMatchObject({ status: 422 });
	});

	it("serves no retired Sonar path upstream: the relay's own Sonar surface is what callers use", async () => {
		const retired = await fetch(`${stack.emulator.url}/async/chat/completions`, {
			method: "POST",
			headers: { authorization: "Bearer emulator-key", "content-type": "application/json" },
			body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: "Hi" }] } }),
		});
		expect(retired.status).toBe(404);
	});
});

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

	it("redelivers at once while a retry waits out its back-off (the receiver fixed meanwhile)", async () => {
		const name = "sdk-backoff";
		// The receiver answers 429 with Retry-After: 600 once: the next attempt is ten minutes away.
		const created = await client.async.chat.completions.create(
			job("Redeliver me now", { callback_url: `${stack.inbox.url}/hooks/${name}?fail=1&status=429&retry_after=600` }),
		);
		const [refused] = await deliveries(name, 1);
		expect(refused?.answered).toBe(429);
		const res = await fetch(`${stack.relayUrl}/async/chat/completions/${created.id}/redeliver`, {
			method: "POST",
			headers: { authorization: `Bearer ${stack.apiKey}` },
		});
		expect(res.status).toBe(200);
		const [, sent] = await deliveries(name, 2);
		expect(sent?.answered).toBe(200);
		expect(sent?.verified).toBe(true);
		expect(sent?.headers["webhook-id"]).toBe(refused?.headers["webhook-id"]);
	});
});

/** The relay's push fields on the Agent surface; the SDK's `ResponseCreateParams` do not know them. */
interface RunPushFields {
	callback_url?: string;
	callback_events?: ("in_progress" | "completed" | "failed" | "cancelled" | "incomplete")[];
}

/** A non-streaming create's parameters, so the SDK's create resolves to a Response. */
type RunCreateParams = Omit<Parameters<Perplexity["responses"]["create"]>[0], "stream"> & { stream?: false };

describe("an Agent API run through the SDK's responses resource", () => {
	it("is created in the background, pushed as response.completed (verified by standardwebhooks and svix), and retrieved with output_text", async () => {
		const name = "sdk-run";
		const params = {
			preset: "low",
			input: "What is a Durable Object alarm?",
			background: true,
			callback_url: `${stack.inbox.url}/hooks/${name}`,
			metadata: { ticket: "RUN-1" },
		} satisfies RunCreateParams & RunPushFields & { metadata: Record<string, string> };
		const created = await client.responses.create(params as RunCreateParams);
		expect(created).toMatchObject({ object: "response", status: "queued", background: true });

		const [delivery, ...extra] = await deliveries(name);
		expect(extra).toEqual([]);
		// Receivers written for either library verify the push unchanged.
		const standard = new StandardWebhook(stack.secret).verify(delivery?.body ?? "", delivery?.headers ?? {}) as {
			type: string;
			data: { id: string; status: string; metadata: Record<string, string>; output: unknown[] };
		};
		const svix = new SvixWebhook(stack.secret).verify(delivery?.body ?? "", delivery?.headers ?? {}) as typeof standard;
		expect(svix).toEqual(standard);
		expect(standard.type).toBe("response.completed");
		expect(standard.data).toMatchObject({ id: created.id, status: "completed", metadata: { ticket: "RUN-1" } });

		const retrieved = await client.responses.retrieve(created.id);
		expect(retrieved.status).toBe("completed");
		expect(retrieved.output_text).toBeTruthy();
		expect(retrieved.output).toEqual(standard.data.output);
		// The SDK's output_text is the message items' text, as upstream wrote it.
		const upstream = Object.values(stack.emulator.emulator.stats().jobs).find(
			(run) => run.question === "What is a Durable Object alarm?" && run.preset === "low",
		);
		expect(upstream?.status).toBe("completed");
	});

	it("cancels a long run: the SDK's cancel answers cancelling, a response.cancelled push follows, and upstream's run is cancelled", async () => {
		const name = "sdk-run-cancel";
		const question = "A very long research question [[emu:duration=600000]]";
		const created = await client.responses.create({
			preset: "medium",
			input: question,
			background: true,
			callback_url: `${stack.inbox.url}/hooks/${name}`,
		} as RunCreateParams);
		const cancelled = await client.responses.cancel(created.id);
		expect(cancelled).toEqual({ response_id: created.id, status: "cancelling" });

		const [delivery] = await deliveries(name);
		const event = new StandardWebhook(stack.secret).verify(delivery?.body ?? "", delivery?.headers ?? {}) as {
			type: string;
			data: { id: string; status: string };
		};
		expect(event).toMatchObject({ type: "response.cancelled", data: { id: created.id, status: "cancelled" } });
		expect((await client.responses.retrieve(created.id)).status).toBe("cancelled");
		const upstream = Object.values(stack.emulator.emulator.stats().jobs).find(
			(run) => run.question === "A very long research question",
		);
		expect(upstream).toMatchObject({ cancels: 1, status: "cancelled" });
	});

	it("is invisible to another tenant: retrieve, cancel and deliveries are 404s", async () => {
		const created = await client.responses.create({
			preset: "low",
			input: "Whose run is this?",
			background: true,
		} as RunCreateParams);
		const other = new Perplexity({ baseURL: stack.relayUrl, apiKey: stack.otherApiKey, maxRetries: 0 });
		await expect(other.responses.retrieve(created.id)).rejects.toBeInstanceOf(NotFoundError);
		await expect(other.responses.cancel(created.id)).rejects.toBeInstanceOf(NotFoundError);
		const deliveriesRes = await fetch(`${stack.relayUrl}/v1/responses/${created.id}/deliveries`, {
			headers: { authorization: `Bearer ${stack.otherApiKey}` },
		});
		expect(deliveriesRes.status).toBe(404);
	});
});

describe("mistakes a newcomer makes, on the real stack", () => {
	const send = (method: string, path: string, body?: unknown) =>
		fetch(`${stack.relayUrl}${path}`, {
			method,
			headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
	const request = { model: "sonar", messages: [{ role: "user", content: "Where does my push go?" }] };

	it("refuses a misspelt callback field with a 422 that names the right one", async () => {
		const res = await send("POST", "/async/chat/completions", {
			request,
			callbackUrl: `${stack.inbox.url}/hooks/typo`,
		});
		expect(res.status).toBe(422);
		expect(await res.json()).toEqual({
			detail: [
				{
					loc: ["body", "callbackUrl"],
					msg: "unknown field callbackUrl: did you mean callback_url?",
					type: "extra_forbidden",
				},
			],
		});
	});

	it("refuses callback_events without a callback_url with a 422", async () => {
		const res = await send("POST", "/async/chat/completions", { request, callback_events: ["completed"] });
		expect(res.status).toBe(422);
		expect(JSON.stringify(await res.json())).toContain("callback_events needs a callback_url");
	});

	it("answers a wrong method with 405 and Allow, and sends / to the dashboard", async () => {
		const res = await send("DELETE", "/async/chat/completions");
		expect(res.status).toBe(405);
		expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
		const front = await fetch(`${stack.relayUrl}/`, { redirect: "manual" });
		expect(front.status).toBe(302);
		expect(new URL(front.headers.get("location") ?? "", stack.relayUrl).pathname).toBe("/dashboard");
	});
});
