/** Every size limit is enforced: bodies, fields, lists and counts, each at its bound and one past it. */
import { describe, expect, it } from "vitest";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import type { Hook, RelayJob } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_B, TEST_MAX_SUBSCRIPTIONS } from "./constants.ts";
import { inboxUrl, jobStub, makeCreateBody, relay, unique } from "./helpers.ts";
import {
	hooksOf,
	MAX_BODY_BYTES,
	removeHooks,
	slackCommand,
	slackFields,
	subscribe,
	tenantIndex,
} from "./security-fixtures.ts";

// Already covered elsewhere, not repeated here:
// - a create body over MAX_BODY_BYTES → 413: api.test.ts "answers 413 on a body over MAX_BODY_BYTES";
// - metadata over 4 KiB → 422 and exactly 4 KiB accepted (create): api.test.ts; over 4 KiB on /v1/ask: integrations.test.ts;
// - list `limit` outside 1–100 → 422: api.test.ts;
// - the attempt log keeps the last 50 (MAX_LOG_ENTRIES), each response_body at most 512 bytes: delivery.test.ts;
// - the 409 past MAX_SUBSCRIPTIONS: integrations.test.ts "rejects bad subscriptions … more than MAX_SUBSCRIPTIONS with 409".

/** `fields` as JSON, padded with trailing whitespace (valid JSON, no unknown field) to exactly `bytes`. */
function paddedBody(fields: Record<string, unknown>, bytes: number): string {
	const body = JSON.stringify(fields);
	return body + " ".repeat(bytes - new TextEncoder().encode(body).length);
}

async function tallyOf(tenant: string) {
	const index = await tenantIndex(tenant);
	return { jobs: await index.countJobs(), hooks: ((await index.listHooks()) as Hook[]).length };
}

async function expect422(res: Response, loc: (string | number)[]) {
	expect(res.status).toBe(422);
	expect(HTTPValidationError.parse(await res.json()).detail?.map((d) => d.loc)).toContainEqual(loc);
}

describe("size limits", () => {
	describe("the body (MAX_BODY_BYTES)", () => {
		it.each([
			["POST /v1/async/sonar", "/v1/async/sonar", makeCreateBody()],
			["POST /v1/ask", "/v1/ask", { query: "q [[emu:steps=1]]" }],
			["POST /v1/hooks", "/v1/hooks", { target_url: inboxUrl("sec-big"), event: "async_chat_completion.failed" }],
			["POST /integrations/slack/commands (before any signature check)", "/integrations/slack/commands", {}],
		])("refuses one byte over the limit on %s with 413, and keeps nothing", async (_name, path, fields) => {
			const before = await tallyOf(TENANT_A.tenant);
			const res = await relay(path, { method: "POST", body: paddedBody(fields, MAX_BODY_BYTES + 1) });
			expect(res.status).toBe(413);
			expect(await res.json()).toEqual({ detail: `Request body exceeds ${MAX_BODY_BYTES} bytes` });
			expect(await tallyOf(TENANT_A.tenant)).toEqual(before);
		});

		it("accepts a body of exactly MAX_BODY_BYTES", async () => {
			const body = paddedBody({ query: `${unique("q")} [[emu:steps=1]]` }, MAX_BODY_BYTES);
			expect(new TextEncoder().encode(body).length).toBe(MAX_BODY_BYTES);
			expect((await relay("/v1/ask", { method: "POST", body })).status).toBe(200);
		});

		it("counts bytes, not characters", async () => {
			// 22,000 characters (within /v1/ask's 32,768 for `system`), 66,000 bytes in UTF-8.
			const res = await relay("/v1/ask", {
				method: "POST",
				body: JSON.stringify({ query: "q", system: "€".repeat(22_000) }),
			});
			expect(res.status).toBe(413);
		});

		it("refuses a declared Content-Length over the limit before reading the body", async () => {
			const res = await relay("/v1/ask", {
				method: "POST",
				headers: { "content-length": String(MAX_BODY_BYTES * 100) },
				body: JSON.stringify({ query: "q" }),
			});
			expect(res.status).toBe(413);
		});

		it("refuses a streamed body without Content-Length once it grows over the limit", async () => {
			const before = await tallyOf(TENANT_A.tenant);
			const chunk = new TextEncoder().encode(" ".repeat(8_192));
			let sent = 0;
			const stream = new ReadableStream<Uint8Array>({
				pull(controller) {
					if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query":"q","pad":"'));
					if (sent++ < 10) controller.enqueue(chunk);
					else {
						controller.enqueue(new TextEncoder().encode('"}'));
						controller.close();
					}
				},
			});
			const res = await relay("/v1/ask", { method: "POST", body: stream });
			expect(res.status).toBe(413);
			expect(await tallyOf(TENANT_A.tenant)).toEqual(before);
		});
	});

	describe("metadata (4 KiB as UTF-8 JSON)", () => {
		it("measures metadata in bytes: 1,400 '€' (4,211 bytes) are refused, 1,360 (4,091 bytes) accepted", async () => {
			for (const path of ["/async/chat/completions", "/v1/async/sonar"]) {
				const over = makeCreateBody({ metadata: { blob: "€".repeat(1_400) } });
				await expect422(await relay(path, { method: "POST", body: JSON.stringify(over) }), ["body", "metadata"]);
				const within = makeCreateBody({ metadata: { blob: "€".repeat(1_360) } });
				expect((await relay(path, { method: "POST", body: JSON.stringify(within) })).status).toBe(200);
			}
			const ask = { query: "q", metadata: { blob: "€".repeat(1_400) } };
			await expect422(await relay("/v1/ask", { method: "POST", body: JSON.stringify(ask) }), ["body", "metadata"]);
		});

		it("holds for Slack commands too: no job keeps more than 4 KiB of metadata", async () => {
			// The Slack route builds metadata from channel_id and user_id itself, outside the Metadata schema.
			const team = `TMETA${Date.now().toString(36).toUpperCase()}`;
			const res = await slackCommand(slackFields(team, { channel_id: "C".repeat(5_000), user_id: "U".repeat(5_000) }));
			expect(res.status).toBeLessThan(500);
			if (res.status === 200) {
				const { job_id } = (await res.json()) as { job_id: string };
				// Not RelayJob.parse: its own Metadata schema would refuse what this test measures.
				const job = (await jobStub(job_id).view(`slack:${team}`)) as unknown as RelayJob;
				expect(new TextEncoder().encode(JSON.stringify(job.metadata)).length).toBeLessThanOrEqual(4_096);
			} else {
				expect(res.status).toBe(400);
				expect(await res.json()).toEqual({ detail: expect.any(String) });
			}
		});
	});

	describe("messages", () => {
		// The schema (the upstream's) bounds neither the number of messages nor their length:
		// the body limit does. (A single 70,000-character message → 413: api.test.ts.)
		const messages = (count: number) =>
			Array.from({ length: count }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `m${i}` })).concat([
				{ role: "user", content: `${unique("q")} [[emu:steps=1]]` },
			]);

		it("bounds the number of messages by the body limit: 1,000 pass, 4,000 are a 413", async () => {
			const within = { request: { model: "sonar", messages: messages(1_000) } };
			expect(JSON.stringify(within).length).toBeLessThan(MAX_BODY_BYTES);
			expect((await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(within) })).status).toBe(
				200,
			);
			const over = { request: { model: "sonar", messages: messages(4_000) } };
			expect(JSON.stringify(over).length).toBeGreaterThan(MAX_BODY_BYTES);
			expect((await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(over) })).status).toBe(413);
		});

		it("limits /v1/ask's query and system to 32,768 characters, model to 200, idempotency_key to 255", async () => {
			const ask = (fields: Record<string, unknown>) =>
				relay("/v1/ask", { method: "POST", body: JSON.stringify({ query: "q [[emu:steps=1]]", ...fields }) });
			await expect422(await ask({ query: "q".repeat(32_769) }), ["body", "query"]);
			await expect422(await ask({ system: "s".repeat(32_769) }), ["body", "system"]);
			await expect422(await ask({ model: "m".repeat(201) }), ["body", "model"]);
			await expect422(await ask({ idempotency_key: "k".repeat(256) }), ["body", "idempotency_key"]);
			expect((await ask({ query: `${"q".repeat(32_760)} [[emu:steps=1]]`.slice(-32_768) })).status).toBe(200);
		});
	});

	describe("URLs, events and tokens", () => {
		const urlOfLength = (length: number) => {
			const base = inboxUrl("");
			return `${base}${"u".repeat(length - base.length)}`;
		};

		it("refuses a callback_url or target_url over 2,048 characters with 422", async () => {
			const long = urlOfLength(2_049);
			for (const path of ["/async/chat/completions", "/v1/async/sonar"]) {
				const body = { ...makeCreateBody(), callback_url: long };
				await expect422(await relay(path, { method: "POST", body: JSON.stringify(body) }), ["body", "callback_url"]);
			}
			await expect422(
				await relay("/v1/ask", { method: "POST", body: JSON.stringify({ query: "q", callback_url: long }) }),
				["body", "callback_url"],
			);
			await expect422(
				await relay("/v1/hooks", {
					method: "POST",
					body: JSON.stringify({ target_url: long, event: "async_chat_completion.failed" }),
				}),
				["body", "target_url"],
			);
		});

		it("refuses more than four callback_events, and a next_token over 512 characters", async () => {
			const events = ["started", "progress", "completed", "failed", "completed"];
			const body = { ...makeCreateBody(), callback_events: events };
			await expect422(await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(body) }), [
				"body",
				"callback_events",
			]);
			await expect422(await relay(`/v1/async/sonar?next_token=${"a".repeat(513)}`), ["query", "next_token"]);
		});
	});

	describe("subscriptions per tenant (MAX_SUBSCRIPTIONS)", () => {
		it("caps each tenant on its own, and frees a slot on delete", async () => {
			await removeHooks(TENANT_B.tenant);
			await removeHooks(TENANT_A.tenant);
			const ids: string[] = [];
			for (let i = 0; i < TEST_MAX_SUBSCRIPTIONS; i++) {
				const res = await subscribe(TENANT_B.key);
				expect(res.status).toBe(201);
				ids.push(((await res.json()) as Hook).id);
			}
			expect((await subscribe(TENANT_B.key)).status).toBe(409);
			// Another tenant is not affected by B's cap.
			expect((await subscribe(TENANT_A.key)).status).toBe(201);
			expect((await relay(`/v1/hooks/${ids[0]}`, { method: "DELETE" }, TENANT_B.key)).status).toBe(204);
			expect((await subscribe(TENANT_B.key)).status).toBe(201);
			expect((await subscribe(TENANT_B.key)).status).toBe(409);
			await removeHooks(TENANT_B.tenant);
			await removeHooks(TENANT_A.tenant);
		});

		it("never exceeds the cap under a concurrent burst", async () => {
			await removeHooks(TENANT_B.tenant);
			const answers = await Promise.all(
				Array.from({ length: 3 * TEST_MAX_SUBSCRIPTIONS }, () => subscribe(TENANT_B.key)),
			);
			const statuses = answers.map((res) => res.status);
			expect(statuses.filter((s) => s === 201)).toHaveLength(TEST_MAX_SUBSCRIPTIONS);
			expect(statuses.filter((s) => s !== 201).every((s) => s === 409)).toBe(true);
			expect(await hooksOf(TENANT_B.tenant)).toHaveLength(TEST_MAX_SUBSCRIPTIONS);
			await removeHooks(TENANT_B.tenant);
		});
	});

	describe("error answers", () => {
		it("keeps a 422 bounded: 16,000 invalid messages do not make a multi-megabyte answer", async () => {
			// 48 KB in; without a cap on `detail`, about 3.9 MB (two errors per message) comes back out.
			const body = `{"request":{"model":"sonar","messages":[${Array(16_000).fill("{}").join(",")}]}}`;
			expect(body.length).toBeLessThan(MAX_BODY_BYTES);
			const res = await relay("/async/chat/completions", { method: "POST", body });
			expect(res.status).toBe(422);
			const text = await res.text();
			expect(HTTPValidationError.parse(JSON.parse(text)).detail?.length).toBeGreaterThan(0);
			expect(text.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
		});
	});
});
