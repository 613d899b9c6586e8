/**
 * The local webhook inbox: it records deliveries, verifies Standard Webhooks
 * signatures, and answers as the callback URL's query scripts it.
 */
import { describe, expect, it } from "vitest";
import { signedHeaders, tenantSecret } from "../../src/delivery/sign.ts";
import type { Delivery } from "../../tools/inbox/app.ts";
import { createInbox, formatDelivery, scriptedAnswer } from "../../tools/inbox/app.ts";

const SECRET = await tenantSecret("inbox-test-signing-key", "dev");
const OTHER_SECRET = await tenantSecret("inbox-test-signing-key", "other");

function makeEvent(overrides: Record<string, unknown> = {}) {
	return {
		type: "async_chat_completion.completed",
		timestamp: "2026-11-01T00:00:00.000Z",
		data: {
			id: "job_123",
			model: "sonar",
			status: "COMPLETED",
			created_at: 1_790_000_000,
			completed_at: 1_790_000_002,
			response: {
				choices: [{ index: 0, message: { role: "assistant", content: "An alarm wakes a Durable Object [1]." } }],
				citations: ["https://example.com/citation"],
				search_results: [{ title: "Alarms", url: "https://developers.cloudflare.com/durable-objects/api/alarms/" }],
			},
			error_message: null,
			metadata: null,
		},
		...overrides,
	};
}

async function post(
	inbox: ReturnType<typeof createInbox>,
	path: string,
	options: { secrets?: string[]; body?: string } = {},
) {
	const body = options.body ?? JSON.stringify(makeEvent());
	const signed = await signedHeaders(options.secrets ?? [SECRET], "msg_1", Math.floor(Date.now() / 1000), body);
	return inbox.app.request(path, {
		method: "POST",
		headers: { "content-type": "application/json", "User-Agent": "sonar-relay/test", ...signed },
		body,
	});
}

describe("recording", () => {
	it("records each delivery with its name, query, lower-cased headers, raw body and a per-name seq", async () => {
		const inbox = createInbox({ secrets: [SECRET] });
		const body = JSON.stringify(makeEvent());

		const first = await post(inbox, "/hooks/a?x=1", { body });
		await post(inbox, "/hooks/b");
		await post(inbox, "/hooks/a");

		expect(first.status).toBe(200);
		expect(await first.json()).toEqual({ ok: true });
		const [delivery] = inbox.events("a");
		expect(delivery).toMatchObject({ name: "a", path: "/hooks/a", query: { x: "1" }, body, seq: 1, answered: 200 });
		expect(delivery?.headers["user-agent"]).toBe("sonar-relay/test");
		expect(delivery?.headers["webhook-id"]).toBe("msg_1");
		expect(typeof delivery?.receivedAt).toBe("number");
		expect(inbox.events("a").map((d) => d.seq)).toEqual([1, 2]);
		expect(inbox.events("b").map((d) => d.seq)).toEqual([1]);
		expect(inbox.events().map((d) => d.name)).toEqual(["a", "b", "a"]);
	});

	it("lists events over HTTP, for one name or all, and clears them", async () => {
		const inbox = createInbox();
		await post(inbox, "/hooks/a");
		await post(inbox, "/hooks/b");

		const one = (await (await inbox.app.request("/__inbox/events?name=b")).json()) as { events: Delivery[] };
		const all = (await (await inbox.app.request("/__inbox/events")).json()) as { events: Delivery[] };
		const cleared = await inbox.app.request("/__inbox/events", { method: "DELETE" });

		expect(one.events.map((d) => d.name)).toEqual(["b"]);
		expect(all.events).toHaveLength(2);
		expect(cleared.status).toBe(200);
		expect(inbox.events()).toEqual([]);
	});

	it("starts the per-name count again after a clear", async () => {
		const inbox = createInbox();
		await post(inbox, "/hooks/a?fail=1");
		inbox.clear();

		const again = await post(inbox, "/hooks/a?fail=1");

		expect(again.status).toBe(500);
		expect(inbox.events("a")[0]?.seq).toBe(1);
	});
});

describe("verification", () => {
	it("marks a delivery signed with a configured secret as verified", async () => {
		const inbox = createInbox({ secrets: [SECRET] });
		await post(inbox, "/hooks/a");
		expect(inbox.events("a")[0]?.verified).toBe(true);
	});

	it("accepts any configured secret, and any of several signatures", async () => {
		const inbox = createInbox({ secrets: ["whsec_bm90LXRoaXMtb25l", SECRET] });
		await post(inbox, "/hooks/rotating", { secrets: [OTHER_SECRET, SECRET] });
		expect(inbox.events("rotating")[0]?.verified).toBe(true);
	});

	it("marks a wrong signature, a tampered body or missing headers as not verified", async () => {
		const inbox = createInbox({ secrets: [SECRET] });
		await post(inbox, "/hooks/wrong-key", { secrets: [OTHER_SECRET] });
		const body = JSON.stringify(makeEvent());
		const signed = await signedHeaders([SECRET], "msg_2", Math.floor(Date.now() / 1000), body);
		await inbox.app.request("/hooks/tampered", {
			method: "POST",
			headers: { ...signed },
			body: body.replace("alarm", "ALARM"),
		});
		await inbox.app.request("/hooks/unsigned", { method: "POST", body });

		expect(inbox.events("wrong-key")[0]?.verified).toBe(false);
		expect(inbox.events("tampered")[0]?.verified).toBe(false);
		expect(inbox.events("unsigned")[0]?.verified).toBe(false);
	});

	it("rejects a signature whose timestamp is far from now", async () => {
		const inbox = createInbox({ secrets: [SECRET] });
		const body = JSON.stringify(makeEvent());
		const stale = await signedHeaders([SECRET], "msg_3", Math.floor(Date.now() / 1000) - 3600, body);
		await inbox.app.request("/hooks/stale", { method: "POST", headers: { ...stale }, body });
		expect(inbox.events("stale")[0]?.verified).toBe(false);
	});

	it("leaves verified null when no secret is configured", async () => {
		const inbox = createInbox();
		await post(inbox, "/hooks/a");
		expect(inbox.events("a")[0]?.verified).toBeNull();
	});
});

describe("scripted answers", () => {
	it("fails the first N deliveries with the status and Retry-After asked for, then answers 200", async () => {
		const inbox = createInbox();
		const path = "/hooks/flaky?fail=2&status=503&retry_after=7";

		const answers = [];
		for (let i = 0; i < 3; i++) answers.push(await post(inbox, path));

		expect(answers.map((r) => r.status)).toEqual([503, 503, 200]);
		expect(answers.map((r) => r.headers.get("retry-after"))).toEqual(["7", "7", null]);
		expect(await answers[2]?.json()).toEqual({ ok: true });
		expect(inbox.events("flaky").map((d) => d.answered)).toEqual([503, 503, 200]);
	});

	it("fails with 500 when no status is given", async () => {
		const inbox = createInbox();
		const first = await post(inbox, "/hooks/f?fail=1");
		const second = await post(inbox, "/hooks/f?fail=1");
		expect([first.status, second.status]).toEqual([500, 200]);
	});

	it("answers a status given without fail every time", async () => {
		const inbox = createInbox();
		const answers = [await post(inbox, "/hooks/gone?status=410"), await post(inbox, "/hooks/gone?status=410")];
		expect(answers.map((r) => r.status)).toEqual([410, 410]);
	});

	it("answers a 429 with Retry-After every time", async () => {
		const inbox = createInbox();
		const answer = await post(inbox, "/hooks/busy?status=429&retry_after=30");
		expect(answer.status).toBe(429);
		expect(answer.headers.get("retry-after")).toBe("30");
	});

	it("ignores statuses that are not HTTP answer codes", async () => {
		const inbox = createInbox();
		const answers = [await post(inbox, "/hooks/odd?status=99"), await post(inbox, "/hooks/odd?status=abc")];
		expect(answers.map((r) => r.status)).toEqual([200, 200]);
	});

	it("bounds hang_ms, and a release ends a pending hang at once", async () => {
		expect(scriptedAnswer({ hang_ms: "999999999" }, 1).hangMs).toBe(60_000);
		expect(scriptedAnswer({ hang_ms: "-5" }, 1).hangMs).toBe(0);
		const inbox = createInbox();

		const pending = post(inbox, "/hooks/slow?hang_ms=60000");
		// The delivery is recorded on arrival, before the hang.
		for (let i = 0; i < 100 && inbox.events("slow").length === 0; i++) await new Promise((r) => setTimeout(r, 5));
		inbox.releaseHangs();

		expect((await pending).status).toBe(200);
		expect(inbox.events("slow")).toHaveLength(1);
	});
});

describe("printing", () => {
	it("prints the header line, the answer and the sources of a completed event", async () => {
		const printed: string[] = [];
		const inbox = createInbox({ secrets: [SECRET], print: true, log: (text) => printed.push(text) });
		await post(inbox, "/hooks/p");

		const text = printed.join("\n");
		expect(text).toContain("async_chat_completion.completed");
		expect(text).toContain("job_123");
		expect(text).toContain("✓");
		expect(text).toContain("An alarm wakes a Durable Object [1].");
		expect(text).toContain("1. Alarms — https://developers.cloudflare.com/durable-objects/api/alarms/");
	});

	it("prints the error of a failed event, and marks a bad signature", () => {
		const body = JSON.stringify(
			makeEvent({ type: "async_chat_completion.failed", data: { id: "job_9", error_message: "upstream said no" } }),
		);
		const text = formatDelivery({
			name: "p",
			path: "/hooks/p",
			query: {},
			headers: {},
			body,
			receivedAt: 0,
			verified: false,
			seq: 1,
			answered: 200,
		});
		expect(text).toContain("async_chat_completion.failed");
		expect(text).toContain("✗");
		expect(text).toContain("error: upstream said no");
	});

	it("lists citations as sources when there are no search results", () => {
		const event = makeEvent();
		event.data.response.search_results = [];
		const text = formatDelivery({
			name: "p",
			path: "/hooks/p",
			query: {},
			headers: {},
			body: JSON.stringify(event),
			receivedAt: 0,
			verified: null,
			seq: 1,
			answered: 200,
		});
		expect(text).toContain("1. https://example.com/citation");
	});
});
