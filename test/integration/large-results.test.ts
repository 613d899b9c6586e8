/**
 * Large results inside workerd: a 5 MB answer (the emulator's `[[emu:size]]`)
 * is stored once, in KV, in parts of at most 2 MB; the Job DO keeps only where
 * it is, and no value written to Durable Object storage or to KV is over the
 * 2 MB a Durable Object value may take in production (local workerd takes
 * more, so the sizes are measured here, write by write). GET, the list,
 * redelivery and the Agent surface still give the whole result; an event over
 * MAX_PUSH_BYTES is a claim check whose signed `result_url` opens it; while KV
 * fails, the Job DO keeps the result in pieces and moves it to KV once KV is back.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { utf8Length } from "../../src/bytes.ts";
import { resultLink } from "../../src/delivery/result-link.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { SlackMessage } from "../../src/integrations/slack/blocks.ts";
import type { DeliveryReport, Job } from "../../src/job/job.ts";
import { owe } from "../../src/job/owed.ts";
import type { JobState } from "../../src/job/state.ts";
import { RelayResponse, ResponseWebhookEvent } from "../../src/schemas/agent.ts";
import { type Hook, RelayJob, type RelayJobList, WebhookEvent } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_LARGE, TEST_SIGNING_KEY } from "./constants.ts";
import { createJob, driveUntil, inboxUrl, jobStub, relay, slackCommand, unique, waitForEvents } from "./helpers.ts";

/** What a Durable Object value may take in production; KV parts are held to it too. */
const TWO_MB = 2_000_000;
/** MAX_PUSH_BYTES's default, which the tests run with. */
const MAX_PUSH_BYTES = 1_048_576;
const FIVE_MB = 5_000_000;

const delivered = (job: RelayJob) => job.status === "COMPLETED" && job.delivery_status === "delivered";

/** Whether V8 keeps the string one byte a unit (Latin-1 only). */
function oneByte(text: string): boolean {
	for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
	return true;
}

/** What one stored value weighs: a string as V8 keeps it (one or two bytes a unit), anything else as JSON. */
function storedSize(value: unknown): number {
	if (typeof value === "string") return oneByte(value) ? value.length : value.length * 2;
	if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
	return utf8Length(JSON.stringify(value) ?? "");
}

type Sized = [key: string, bytes: number];

let spies: MockInstance[] = [];
afterEach(() => {
	for (const spy of spies) spy.mockRestore();
	spies = [];
});

/**
 * Records every value written to Durable Object storage and to KV from now on, by any object in
 * this isolate (the Job DOs run in the tests' isolate): the spies sit on the classes' prototypes.
 */
async function recordWrites() {
	const probe = env.JOBS.get(env.JOBS.newUniqueId());
	const storageClass = await runInDurableObject(probe, (_instance: Job, state) => Object.getPrototypeOf(state.storage));
	const doPut = vi.spyOn(storageClass as DurableObjectStorage, "put");
	const kvPut = vi.spyOn(Object.getPrototypeOf(env.RESULTS) as KVNamespace, "put");
	spies.push(doPut as MockInstance, kvPut as MockInstance);
	return {
		durableObject: (): Sized[] =>
			doPut.mock.calls.flatMap(([keyOrEntries, value]): Sized[] =>
				typeof keyOrEntries === "string"
					? [[keyOrEntries, storedSize(value)]]
					: Object.entries(keyOrEntries as Record<string, unknown>).map(([key, v]): Sized => [key, storedSize(v)]),
			),
		kv: (): Sized[] => kvPut.mock.calls.map(([key, value]): Sized => [String(key), storedSize(value)]),
	};
}

const largest = (values: Sized[]) => Math.max(0, ...values.map(([, bytes]) => bytes));

/** What the Job DO holds in its storage now: each key and its size. */
async function storedByJob(id: string): Promise<Sized[]> {
	return runInDurableObject(jobStub(id), async (_instance: Job, state) =>
		[...(await state.storage.list())].map(([key, value]): Sized => [key, storedSize(value)]),
	);
}

async function storedState(id: string): Promise<JobState> {
	return runInDurableObject(
		jobStub(id),
		async (_i: Job, state) => (await state.storage.get<JobState>("state")) as JobState,
	);
}

const answerOf = (job: RelayJob) => job.response?.choices[0]?.message.content as string;

/** A relay path (with its query) from a result_url. */
const pathOf = (url: string) => {
	const parsed = new URL(url);
	return `${parsed.pathname}${parsed.search}`;
};

describe("a 5 MB answer", () => {
	it("is stored with no value over 2 MB anywhere, once, in KV; the Job DO keeps only where it is", async () => {
		const writes = await recordWrites();
		const created = await createJob({ markers: ["steps=1", `size=${FIVE_MB}`] }, TENANT_LARGE.key);
		const job = await driveUntil(created.id, (j) => j.status === "COMPLETED", { tenant: TENANT_LARGE.tenant });
		expect(answerOf(job).length).toBeGreaterThan(FIVE_MB * 0.95);
		// The KV write is the alarm's last step: wait (bounded) until it is in.
		for (let i = 0; i < 50 && !(await storedState(created.id)).result; i++)
			await runDurableObjectAlarm(jobStub(created.id));

		// The spies saw the job's writes (so the bounds below are about them).
		expect(writes.durableObject().filter(([key]) => key === "state").length).toBeGreaterThan(2);
		expect(largest(writes.durableObject())).toBeLessThanOrEqual(TWO_MB);
		expect(largest(writes.kv())).toBeLessThanOrEqual(TWO_MB);
		const parts = writes.kv().filter(([key]) => key.startsWith(`result:${created.id}`));
		expect(parts.length).toBe(3);
		expect(parts.reduce((sum, [, bytes]) => sum + bytes, 0)).toBeGreaterThan(FIVE_MB);

		const kept = await storedByJob(created.id);
		expect(kept.map(([key]) => key)).toEqual(["state"]);
		expect(largest(kept)).toBeLessThan(50_000);
		expect((await storedState(created.id)).result).toMatchObject({ parts: 3 });
		const report = (await jobStub(created.id).deliveries(TENANT_LARGE.tenant)) as DeliveryReport;
		expect(report.stats.kv_writes).toBe(3);
	});

	it("is served whole by GET, the list and, after an eviction, by the Job DO reading it back from KV", async () => {
		const created = await createJob({ markers: ["steps=1", `size=${FIVE_MB}`] }, TENANT_LARGE.key);
		const settled = await driveUntil(created.id, (j) => j.status === "COMPLETED", { tenant: TENANT_LARGE.tenant });
		for (let i = 0; i < 50 && !(await storedState(created.id)).result; i++)
			await runDurableObjectAlarm(jobStub(created.id));

		const get = await relay(`/async/chat/completions/${created.id}`, {}, TENANT_LARGE.key);
		expect(get.status).toBe(200);
		expect(get.headers.get("content-type")).toContain("application/json");
		const fromKv = RelayJob.parse(await get.json());
		expect(answerOf(fromKv)).toBe(answerOf(settled));

		await evictDurableObject(jobStub(created.id));
		const fromDo = (await jobStub(created.id).view(TENANT_LARGE.tenant)) as unknown as RelayJob;
		expect(answerOf(fromDo)).toBe(answerOf(settled));
		expect(fromDo.response?.citations).toEqual(settled.response?.citations);

		const list = (await (
			await relay("/async/chat/completions?limit=100", {}, TENANT_LARGE.key)
		).json()) as RelayJobList;
		expect(list.requests.find((r) => r.id === created.id)).toMatchObject({ status: "COMPLETED" });
		// Another tenant's GET does not see it, from KV or from the Job DO.
		expect((await relay(`/async/chat/completions/${created.id}`, {}, TENANT_A.key)).status).toBe(404);

		// KV losing the result under a live job (it never should) is a 503 to retry, never a 500.
		await env.RESULTS.delete(`result:${created.id}`);
		await evictDurableObject(jobStub(created.id));
		const lost = await relay(`/async/chat/completions/${created.id}`, {}, TENANT_LARGE.key);
		expect(lost.status).toBe(503);
		expect(lost.headers.get("retry-after")).toBe("1");
		expect(await lost.json()).toEqual({ detail: expect.any(String) });
	});
});

describe("claim-check delivery", () => {
	it("pushes a 5 MB job's event, to its callback and to a REST hook, without the answer, with a signed result_url", async () => {
		const callback = unique("claim");
		const hookTarget = unique("claim-hook");
		const subscribed = await relay(
			"/v1/hooks",
			{
				method: "POST",
				body: JSON.stringify({ target_url: inboxUrl(hookTarget), event: "async_chat_completion.completed" }),
			},
			TENANT_LARGE.key,
		);
		expect(subscribed.status).toBe(201);
		const hook = (await subscribed.json()) as Hook;
		try {
			const created = await createJob(
				{ markers: ["steps=1", `size=${FIVE_MB}`], callback: inboxUrl(callback), metadata: { ticket: "T-5" } },
				TENANT_LARGE.key,
			);
			const job = await driveUntil(created.id, (j) => delivered(j), { tenant: TENANT_LARGE.tenant, rounds: 300 });
			const [pushed] = await waitForEvents(callback, 1);
			const [hooked] = await waitForEvents(hookTarget, 1);
			const secret = await tenantSecret(TEST_SIGNING_KEY, TENANT_LARGE.tenant);

			for (const received of [pushed, hooked]) {
				if (!received) throw new Error("no event");
				expect(utf8Length(received.body)).toBeLessThan(MAX_PUSH_BYTES);
				const event = WebhookEvent.parse(new Webhook(secret).verify(received.body, received.headers));
				expect(event.type).toBe("async_chat_completion.completed");
				expect(event.data).toMatchObject({
					id: created.id,
					status: "COMPLETED",
					response: null,
					metadata: { ticket: "T-5" },
				});
				expect(event.data.result_url).toMatch(
					new RegExp(`^https://relay\\.test/v1/results/${created.id}\\?expires=\\d+&signature=`),
				);

				// The link is the credential: no API key, and it opens the whole job.
				const opened = await relay(pathOf(event.data.result_url as string), {}, null);
				expect(opened.status).toBe(200);
				expect(opened.headers.get("cache-control")).toBe("private, no-store");
				expect(answerOf(RelayJob.parse(await opened.json()))).toBe(answerOf(job));
			}

			// Every attempt sends the same bytes: a redelivery after an eviction reads the result back from KV.
			await evictDurableObject(jobStub(created.id));
			const redelivered = await relay(
				`/async/chat/completions/${created.id}/redeliver`,
				{ method: "POST" },
				TENANT_LARGE.key,
			);
			expect(redelivered.status).toBe(200);
			const events = await waitForEvents(callback, 2);
			expect(events[1]?.body).toBe(pushed?.body);
		} finally {
			await relay(`/v1/hooks/${hook.id}`, { method: "DELETE" }, TENANT_LARGE.key);
		}
	});

	it("refuses a result link that is forged, for another job, or expired", async () => {
		const created = await createJob({ markers: ["steps=1"] }, TENANT_LARGE.key);
		await driveUntil(created.id, (j) => j.status === "COMPLETED", { tenant: TENANT_LARGE.tenant });
		const other = await createJob({ markers: ["steps=1"] }, TENANT_LARGE.key);
		const inAnHour = Date.now() / 1000 + 3600;
		const good = pathOf(await resultLink("https://relay.test", created.id, inAnHour, TEST_SIGNING_KEY));
		expect((await relay(good, {}, null)).status).toBe(200);

		const cases: [string, string][] = [
			[
				good.replace(/signature=./, (m) => (m.endsWith("A") ? `${m.slice(0, -1)}B` : `${m.slice(0, -1)}A`)),
				"not valid",
			],
			[good.replace(created.id, other.id), "not valid"],
			[good.replace(/expires=\d+/, `expires=${Math.floor(inAnHour) + 60}`), "not valid"],
			[good.replace(/&signature=[^&]*/, ""), "not valid"],
			[`/v1/results/${created.id}?expires=x&signature=%%%`, "not valid"],
			[`/v1/results/not-a-job?expires=1&signature=abc`, "not valid"],
			[pathOf(await resultLink("https://relay.test", created.id, inAnHour, "some-other-key")), "not valid"],
			[pathOf(await resultLink("https://relay.test", created.id, Date.now() / 1000 - 1, TEST_SIGNING_KEY)), "expired"],
		];
		for (const [path, why] of cases) {
			const res = await relay(path, {}, TENANT_LARGE.key);
			expect(res.status, path).toBe(403);
			expect(await res.json()).toEqual({ detail: expect.stringContaining(why) });
		}
		// A valid link to a job that does not exist (retired) is a 404.
		const gone = env.JOBS.newUniqueId().toString();
		const res = await relay(pathOf(await resultLink("https://relay.test", gone, inAnHour, TEST_SIGNING_KEY)), {}, null);
		expect(res.status).toBe(404);
		expect(await res.json()).toEqual({ detail: "Job not found" });
	});

	it("answers any other id and query on the link route with a 403 or a 404 in the documented shape, never a 5xx", async () => {
		const created = await createJob({ markers: ["steps=1"] }, TENANT_LARGE.key);
		const good = pathOf(await resultLink("https://relay.test", created.id, Date.now() / 1000 + 3600, TEST_SIGNING_KEY));
		const text = fc.string({ maxLength: 80 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "")));
		const id = fc.oneof(
			fc.constant(created.id),
			fc.stringMatching(/^[0-9a-f]{64}$/),
			text.filter((s) => s !== ""),
		);
		const query = fc.oneof(
			fc.constant(""),
			fc.tuple(text, text).map(([expires, signature]) => `?expires=${expires}&signature=${signature}`),
			fc.tuple(fc.integer({ min: -1, max: 2 ** 40 }), text).map(([e, sig]) => `?expires=${e}&signature=${sig}`),
			// A real link with one character changed.
			fc
				.nat({ max: good.length - 1 })
				.map((at) => good.slice(good.indexOf("?"), at) + (good[at] === "A" ? "B" : "A") + good.slice(at + 1)),
		);
		await fc.assert(
			fc.asyncProperty(id, query, async (jobId, q) => {
				const res = await relay(`/v1/results/${jobId}${q}`, {}, null);
				expect([403, 404]).toContain(res.status);
				expect(await res.json()).toEqual({ detail: expect.any(String) });
			}),
			{ seed: 20_261_215, numRuns: 150 },
		);
	});

	it("pushes a large run's event without its output, and GET and the link give the whole run", async () => {
		const writes = await recordWrites();
		const callback = unique("claim-run");
		const res = await relay(
			"/v1/responses",
			{
				method: "POST",
				body: JSON.stringify({
					preset: "low",
					input: `${unique("q")} [[emu:steps=1]] [[emu:size=3000000]]`,
					callback_url: inboxUrl(callback),
				}),
			},
			TENANT_LARGE.key,
		);
		expect(res.status).toBe(200);
		const { id } = (await res.json()) as { id: string };
		const stub = jobStub(id);
		let run: RelayResponse | null = null;
		for (let round = 0; round < 200 && run?.delivery_status !== "delivered"; round++) {
			run = (await stub.response(TENANT_LARGE.tenant)) as RelayResponse | null;
			if (run?.delivery_status !== "delivered") await runDurableObjectAlarm(stub);
		}
		expect(run).toMatchObject({ status: "completed", delivery_status: "delivered" });
		const [received] = await waitForEvents(callback, 1);
		expect(utf8Length(received?.body ?? "")).toBeLessThan(MAX_PUSH_BYTES);
		const event = ResponseWebhookEvent.parse(JSON.parse(received?.body ?? "{}"));
		expect(event.data).toMatchObject({ id, status: "completed", output: [] });
		const text = JSON.stringify(run?.output);
		expect(text.length).toBeGreaterThan(3_000_000 * 0.95);

		const got = RelayResponse.parse(await (await relay(`/v1/responses/${id}`, {}, TENANT_LARGE.key)).json());
		expect(JSON.stringify(got.output)).toBe(text);
		const linked = RelayResponse.parse(await (await relay(pathOf(event.data.result_url as string), {}, null)).json());
		expect(JSON.stringify(linked.output)).toBe(text);

		await evictDurableObject(stub);
		const readBack = (await stub.response(TENANT_LARGE.tenant)) as unknown as RelayResponse;
		expect(JSON.stringify(readBack.output)).toBe(text);
		expect(readBack).toMatchObject({ id, object: "response", status: "completed", delivery_status: "delivered" });
		expect(largest(writes.durableObject())).toBeLessThanOrEqual(TWO_MB);
		expect(largest(writes.kv())).toBeLessThanOrEqual(TWO_MB);
	});

	it("posts a long answer to Slack as at most 50 blocks, with a full-result link anyone can open", async () => {
		const team = `TL${Date.now().toString(36).toUpperCase()}`;
		const name = unique("slack-large");
		const res = await slackCommand({
			command: "/ask",
			text: `${unique("q")} [[emu:steps=1]] [[emu:size=400000]]`,
			team_id: team,
			channel_id: "C1",
			user_id: "U1",
			response_url: inboxUrl(name),
		});
		const { job_id } = (await res.json()) as { job_id: string };
		await driveUntil(job_id, (j) => j.status === "COMPLETED" && j.delivery_status === "delivered", {
			tenant: `slack:${team}`,
		});
		const [post] = await waitForEvents(name, 1);
		expect(utf8Length(post?.body ?? "")).toBeLessThan(200_000);
		const message = JSON.parse(post?.body ?? "{}") as SlackMessage;
		expect(message.blocks?.length).toBeLessThanOrEqual(50);
		const blocks = JSON.stringify(message.blocks);
		expect(blocks).toContain("too long for Slack");
		const link = /<(https:\/\/relay\.test\/v1\/results\/[^|>]+)\|Read the full answer>/.exec(blocks)?.[1];
		expect(link).toBeDefined();
		const opened = await relay(pathOf((link as string).replace(/&amp;/g, "&")), {}, null);
		expect(opened.status).toBe(200);
		expect(answerOf(RelayJob.parse(await opened.json())).length).toBeGreaterThan(400_000 * 0.95);
	});
});

describe("a KV write that fails", () => {
	it("keeps the result in pieces in the Job DO (none over 2 MB) until KV takes it, then drops them", async () => {
		const writes = await recordWrites();
		const created = await createJob({ markers: ["steps=2", "size=3000000"] }, TENANT_LARGE.key);
		const stub = jobStub(created.id);
		let original: Env | undefined;
		await runInDurableObject(stub, (instance: Job) => {
			const self = instance as unknown as { env: Env };
			original = self.env;
			const failing = {
				put: async () => {
					throw new Error("KV is unavailable");
				},
				get: original.RESULTS.get.bind(original.RESULTS),
				getWithMetadata: original.RESULTS.getWithMetadata.bind(original.RESULTS),
			};
			self.env = { ...original, RESULTS: failing as unknown as KVNamespace };
		});
		const settled = await driveUntil(created.id, (j) => j.status === "COMPLETED", { tenant: TENANT_LARGE.tenant });

		const pieces = (await storedByJob(created.id)).filter(([key]) => key.startsWith("payload:"));
		expect(pieces.length).toBeGreaterThanOrEqual(3);
		expect(largest(pieces)).toBeLessThanOrEqual(1_048_576);
		const staged = await storedState(created.id);
		expect(staged).toMatchObject({ lifecycle: { owed: { cache: true } }, response: null });
		expect(staged.result ?? null).toBeNull();
		expect(await env.RESULTS.get(`result:${created.id}`)).toBeNull();

		// A restart finds the result in its own storage: GET still gives it whole.
		await evictDurableObject(stub);
		const fromPieces = (await stub.view(TENANT_LARGE.tenant)) as unknown as RelayJob;
		expect(answerOf(fromPieces)).toBe(answerOf(settled));

		// The new instance has a working KV. The retry is due SIDE_EFFECT_RETRY_MS later: bring it forward.
		await runInDurableObject(stub, async (instance: Job, state) => {
			const self = instance as unknown as { state: JobState };
			self.state = owe(self.state, { retryAt: Date.now() - 1 });
			await state.storage.setAlarm(Date.now());
		});
		for (let i = 0; i < 20 && !(await storedState(created.id)).result; i++) await runDurableObjectAlarm(stub);
		expect((await storedState(created.id)).result).toMatchObject({ parts: 2 });
		expect((await storedByJob(created.id)).map(([key]) => key)).toEqual(["state"]);
		const get = RelayJob.parse(
			await (await relay(`/async/chat/completions/${created.id}`, {}, TENANT_LARGE.key)).json(),
		);
		expect(answerOf(get)).toBe(answerOf(settled));
		expect(largest(writes.durableObject())).toBeLessThanOrEqual(TWO_MB);
		expect(largest(writes.kv())).toBeLessThanOrEqual(TWO_MB);
	});
});
