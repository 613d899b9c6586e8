/**
 * The Perplexity emulator's Sonar side (the retired async API) and what both
 * APIs share: control routes, counters, global faults, markers, the Node server.
 * Every Sonar body it answers must parse with the relay's own transcription of
 * the seed schemas: a check from the outside (the emulator itself never imports
 * the relay). Time is an injected clock and waits are an injected sleep:
 * nothing here depends on wall time. The Agent API has its own files
 * (`emulator-agent*.test.ts`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	AsyncApiChatCompletionsResponse,
	HTTPValidationError,
	ListAsyncApiChatCompletionsResponse,
} from "../../src/schemas/perplexity.ts";
import { createEmulator, type EmulatorOptions, parseMarkers } from "../../tools/emulator/app.ts";
import { startEmulator } from "../../tools/emulator/server.ts";
import { buildAnswer } from "../../tools/emulator/sonar/answer.ts";

const KEY = "test-key";
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const FAMILIES = [
	{ name: "/async/chat/completions", base: "/async/chat/completions" },
	{ name: "/v1/async/sonar", base: "/v1/async/sonar" },
] as const;
const BASE = FAMILIES[0].base;

type Body = Record<string, unknown>;

/** A create body; `request` fields override the defaults. */
function makeBody(content: string, request: Body = {}, extra: Body = {}): Body {
	return { request: { model: "sonar", messages: [{ role: "user", content }], ...request }, ...extra };
}

/** An emulator on a fake clock, with a sleep that records instead of waiting. */
function makeEmulator(options: EmulatorOptions = {}) {
	let now = T0;
	const sleeps: number[] = [];
	const emulator = createEmulator({
		apiKey: KEY,
		seed: 7,
		now: () => now,
		sleep: async (ms) => {
			sleeps.push(ms);
		},
		...options,
	});
	const call = (path: string, init: RequestInit = {}, key: string | null = KEY) => {
		const headers = new Headers(init.headers);
		if (key !== null) headers.set("authorization", `Bearer ${key}`);
		return emulator.app.request(path, { ...init, headers });
	};
	return {
		emulator,
		sleeps,
		advance(ms: number) {
			now += ms;
		},
		now: () => now,
		call,
		create(body: Body, { base = BASE as string, key = KEY as string | null } = {}) {
			return call(
				base,
				{ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } },
				key,
			);
		},
		get(id: string, { base = BASE as string, key = KEY as string | null } = {}) {
			return call(`${base}/${id}`, {}, key);
		},
		list(query = "", { base = BASE as string, key = KEY as string | null } = {}) {
			return call(`${base}${query}`, {}, key);
		},
	};
}

async function job(res: Response) {
	expect(res.status).toBe(200);
	return AsyncApiChatCompletionsResponse.parse(await res.json());
}

async function jobId(res: Response): Promise<string> {
	return (await job(res)).id;
}

describe("emulator: API shape", () => {
	for (const family of FAMILIES) {
		it(`creates, gets and lists on ${family.name}, all schema-valid`, async () => {
			const emu = makeEmulator();
			const created = await job(await emu.create(makeBody("What is Hono?"), { base: family.base }));
			expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
			expect(created).toMatchObject({
				model: "sonar",
				status: "CREATED",
				created_at: T0 / 1000,
				started_at: null,
				completed_at: null,
				failed_at: null,
				response: null,
				error_message: null,
			});

			const fetched = await job(await emu.get(created.id, { base: family.base }));
			expect(fetched.id).toBe(created.id);

			const res = await emu.list("", { base: family.base });
			expect(res.status).toBe(200);
			const list = ListAsyncApiChatCompletionsResponse.parse(await res.json());
			expect(list.requests.map((r) => r.id)).toEqual([created.id]);
			expect(list.next_token).toBeNull();
		});
	}

	it("serves one job store behind both path families", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Shared?"), { base: "/v1/async/sonar" }));
		expect((await job(await emu.get(id, { base: "/async/chat/completions" }))).id).toBe(id);
	});

	it("answers 401 {detail} without a key and with a wrong key", async () => {
		const emu = makeEmulator();
		for (const key of [null, "wrong-key"]) {
			for (const res of [
				await emu.create(makeBody("Hi"), { key }),
				await emu.list("", { key }),
				await emu.get("x", { key }),
			]) {
				expect(res.status).toBe(401);
				expect(await res.json()).toEqual({ detail: "Invalid API key" });
			}
		}
		const malformed = await emu.call(BASE, { headers: { authorization: "Basic abc" } }, null);
		expect(malformed.status).toBe(401);
		expect(emu.emulator.stats().responses["401"]).toBe(7);
	});

	it("answers 422 HTTPValidationError with loc [body, request, messages] when messages are missing", async () => {
		const emu = makeEmulator();
		const res = await emu.create({ request: { model: "sonar" } });
		expect(res.status).toBe(422);
		const error = HTTPValidationError.parse(await res.json());
		expect(error.detail).toContainEqual({
			loc: ["body", "request", "messages"],
			msg: "Field required",
			type: "missing",
		});
		expect(error.detail?.every((d) => d.loc[0] === "body")).toBe(true);
	});

	it("answers 422 for an invalid or wrongly typed field, with its full loc and no false 'missing'", async () => {
		const emu = makeEmulator();
		const res = await emu.create(makeBody("Hi", { max_tokens: 0 }));
		expect(res.status).toBe(422);
		const error = HTTPValidationError.parse(await res.json());
		expect(error.detail?.[0]).toMatchObject({ loc: ["body", "request", "max_tokens"], type: "greater_than" });

		const typed = await emu.create(makeBody("Hi", {}, { idempotency_key: 5 }));
		expect(HTTPValidationError.parse(await typed.json()).detail).toEqual([
			{ loc: ["body", "idempotency_key"], msg: expect.any(String), type: "string_type" },
		]);
		const notAnObject = await emu.create([] as unknown as Body);
		expect(HTTPValidationError.parse(await notAnObject.json()).detail?.[0]).toMatchObject({
			loc: ["body"],
			type: "object_type",
		});
	});

	it("answers 400 {detail} to malformed JSON", async () => {
		const emu = makeEmulator();
		const res = await emu.call(BASE, { method: "POST", body: "{not json" });
		expect(res.status).toBe(400);
		const body = (await res.json()) as { detail: unknown };
		expect(typeof body.detail).toBe("string");
	});

	it("answers 404 {detail} for an unknown job id", async () => {
		const emu = makeEmulator();
		const res = await emu.get("00000000-0000-4000-8000-000000000000");
		expect(res.status).toBe(404);
		expect(typeof ((await res.json()) as { detail: unknown }).detail).toBe("string");
	});
});

describe("emulator: lifecycle", () => {
	it("moves CREATED → IN_PROGRESS → COMPLETED on the injected clock", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Lifecycle")));

		const first = await job(await emu.get(id));
		expect(first.status).toBe("CREATED");
		expect(first.started_at).toBeNull();
		expect(emu.emulator.stats().jobs[id]?.finishedAtMs).toBeNull();

		emu.advance(200); // sonar: 2000 ms, CREATED for the first 10 %
		const second = await job(await emu.get(id));
		expect(second.status).toBe("IN_PROGRESS");
		expect(second.started_at).toBe(Math.floor((T0 + 200) / 1000));
		expect(second.response).toBeNull();

		emu.advance(1799);
		expect((await job(await emu.get(id))).status).toBe("IN_PROGRESS");

		emu.advance(1);
		const done = await job(await emu.get(id));
		expect(done.status).toBe("COMPLETED");
		expect(done.completed_at).toBe((T0 + 2000) / 1000);
		expect(done.failed_at).toBeNull();
		expect(done.response?.choices[0]?.message.content).toEqual(expect.any(String));

		const stats = emu.emulator.stats().jobs[id];
		expect(stats).toMatchObject({
			model: "sonar",
			gets: 4,
			createdAtMs: T0,
			finishedAtMs: T0 + 2000,
			status: "COMPLETED",
			firstSeen: { CREATED: T0, IN_PROGRESS: T0 + 200, COMPLETED: T0 + 2000 },
		});
	});

	it("uses per-model durations, the durations option and durationFor", async () => {
		const seen: [string, number][] = [];
		const emu = makeEmulator({
			durations: { "sonar-pro": 100 },
			durationFor: (model, seq) => {
				seen.push([model, seq]);
				return model === "custom" ? 50 : undefined;
			},
		});
		const deep = await jobId(await emu.create(makeBody("Deep", { model: "sonar-deep-research" })));
		const pro = await jobId(await emu.create(makeBody("Pro", { model: "sonar-pro" })));
		const custom = await jobId(await emu.create(makeBody("Custom", { model: "custom" })));
		const other = await jobId(await emu.create(makeBody("Other", { model: "other" })));
		const marked = await jobId(await emu.create(makeBody("Marked [[emu:duration=10]]")));
		emu.advance(10_000); // finishedAtMs is set once the job has finished
		const finished = emu.emulator.stats().jobs;
		expect(finished[deep]?.finishedAtMs).toBe(T0 + 8000);
		expect(finished[pro]?.finishedAtMs).toBe(T0 + 100);
		expect(finished[custom]?.finishedAtMs).toBe(T0 + 50);
		expect(finished[other]?.finishedAtMs).toBe(T0 + 3000);
		expect(finished[marked]?.finishedAtMs).toBe(T0 + 10);
		expect(seen.slice(0, 4)).toEqual([
			["sonar-deep-research", 1],
			["sonar-pro", 2],
			["custom", 3],
			["other", 4],
		]);
	});

	it("follows [[emu:steps=N]] regardless of the clock", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Steps [[emu:steps=3]]")));
		const statuses: string[] = [];
		for (let i = 0; i < 4; i++) statuses.push((await job(await emu.get(id))).status);
		expect(statuses).toEqual(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED", "COMPLETED"]);

		const later = makeEmulator();
		const once = await jobId(await later.create(makeBody("[[emu:steps=1]] Once")));
		later.advance(60_000);
		const listed = ListAsyncApiChatCompletionsResponse.parse(await (await later.list()).json());
		expect(listed.requests[0]?.status).toBe("CREATED"); // no GET yet: the clock does not move it
		const final = await job(await later.get(once));
		expect(final.status).toBe("COMPLETED");
		expect(final.started_at).toBe(final.completed_at);
	});

	it("reads markers from text chunks of the last user message only", async () => {
		const emu = makeEmulator();
		const body = {
			request: {
				model: "sonar",
				messages: [
					{ role: "user", content: "Earlier [[emu:fail]]" },
					{ role: "assistant", content: "Sure." },
					{
						role: "user",
						content: [
							{ type: "text", text: "Now this" },
							{ type: "image_url", image_url: { url: "https://example.com/a.png" } },
							{ type: "text", text: "[[emu:steps=1]]" },
						],
					},
				],
			},
		};
		const id = await jobId(await emu.create(body));
		expect((await job(await emu.get(id))).status).toBe("COMPLETED");
	});

	it("ends a job FAILED with [[emu:fail]], with the clock or with steps", async () => {
		const emu = makeEmulator();
		const stepped = await jobId(await emu.create(makeBody("Boom [[emu:fail]] [[emu:steps=1]]")));
		const failed = await job(await emu.get(stepped));
		expect(failed).toMatchObject({ status: "FAILED", error_message: "Emulated upstream failure", response: null });
		expect(failed.failed_at).toBe(T0 / 1000);
		expect(failed.completed_at).toBeNull();

		const timed = await jobId(await emu.create(makeBody("Boom later [[emu:fail]]")));
		emu.advance(2000);
		const timedOut = await job(await emu.get(timed));
		expect(timedOut.status).toBe("FAILED");
		expect(timedOut.failed_at).toBe((T0 + 2000) / 1000);
		expect(emu.emulator.stats().jobs[timed]?.firstSeen).toEqual({ FAILED: T0 + 2000 });
	});
});

describe("emulator: scripted faults", () => {
	it("answers [[emu:create=503x2]] twice with 503, then creates the job", async () => {
		const emu = makeEmulator();
		const body = makeBody("Flaky create [[emu:create=503x2]] [[emu:retry-after=4]]");
		for (let i = 0; i < 2; i++) {
			const res = await emu.create(body);
			expect(res.status).toBe(503);
			expect(res.headers.get("retry-after")).toBe("4");
			expect(await res.json()).toEqual({ detail: "Emulated fault" });
		}
		await job(await emu.create(body));
		const stats = emu.emulator.stats();
		expect(stats).toMatchObject({ creates: 3, createsAccepted: 1, responses: { "200": 1, "503": 2 } });
	});

	it("keys [[emu:create=…]] by idempotency_key when there is one", async () => {
		const emu = makeEmulator();
		const first = makeBody("A [[emu:create=500x1]]", {}, { idempotency_key: "k-1" });
		const retry = makeBody("A, reworded [[emu:create=500x1]]", {}, { idempotency_key: "k-1" });
		expect((await emu.create(first)).status).toBe(500);
		expect((await emu.create(retry)).status).toBe(200);
	});

	it("answers [[emu:get=429x1]] with 429 + Retry-After, then the job", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Busy [[emu:get=429x1]] [[emu:retry-after=7]] [[emu:steps=1]]")));
		const limited = await emu.get(id);
		expect(limited.status).toBe(429);
		expect(limited.headers.get("retry-after")).toBe("7");
		expect((await job(await emu.get(id))).status).toBe("COMPLETED"); // faulted GETs are not steps
		expect(emu.emulator.stats().jobs[id]?.gets).toBe(2);

		const plain = await jobId(await emu.create(makeBody("Busy [[emu:get=429x1]]")));
		expect((await emu.get(plain)).headers.get("retry-after")).toBe("1"); // the retryAfterSeconds default
	});

	it("waits [[emu:delay=MS]] on every call about the job", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Slow [[emu:delay=250]]")));
		await emu.get(id);
		expect(emu.sleeps).toEqual([250, 250]);
	});

	it("parses the marker grammar and ignores malformed markers", () => {
		expect(parseMarkers("x [[emu:get=429x1]] [[EMU:Retry-After=3]] [[emu:steps=0]] [[emu:create=200x1]]")).toEqual({
			fail: false,
			get: { status: 429, count: 1 },
			retryAfter: 3,
		});
		expect(parseMarkers("[[emu:fail]][[emu:steps=2]][[emu:delay=5]][[emu:create=502x3]][[emu:duration=9]]")).toEqual({
			fail: true,
			steps: 2,
			delayMs: 5,
			create: { status: 502, count: 3 },
			durationMs: 9,
		});
	});
});

describe("emulator: idempotency, lists, tenants", () => {
	it("replays the same job for the same API key and idempotency_key", async () => {
		const emu = makeEmulator({ apiKey: undefined });
		const body = makeBody("Once only", {}, { idempotency_key: "idem-1" });
		const first = await jobId(await emu.create(body, { key: "tenant-a" }));
		const again = await jobId(await emu.create(body, { key: "tenant-a", base: "/v1/async/sonar" }));
		const otherTenant = await jobId(await emu.create(body, { key: "tenant-b" }));
		expect(again).toBe(first);
		expect(otherTenant).not.toBe(first);
		const stats = emu.emulator.stats();
		expect(stats).toMatchObject({ creates: 3, createsAccepted: 2, idempotentReplays: 1 });
		expect(stats.jobs[first]).toMatchObject({ idempotencyKey: "idem-1", creates: 2 });
		expect(stats.jobs[otherTenant]).toMatchObject({ idempotencyKey: "idem-1", creates: 1 });
	});

	it("pages 25 jobs by 10, newest first, with no duplicates", async () => {
		const emu = makeEmulator();
		const ids: string[] = [];
		for (let i = 0; i < 25; i++) {
			ids.push(await jobId(await emu.create(makeBody(`Job ${i}`))));
			if (i % 2 === 0) emu.advance(1000); // some jobs share a created_at: the order must still hold
		}
		const pages: string[][] = [];
		let token: string | null | undefined;
		do {
			const query = `?limit=10${token ? `&next_token=${encodeURIComponent(token)}` : ""}`;
			const res = await emu.list(query, { base: "/v1/async/sonar" });
			expect(res.status).toBe(200);
			const page = ListAsyncApiChatCompletionsResponse.parse(await res.json());
			pages.push(page.requests.map((r) => r.id));
			token = page.next_token;
		} while (token && pages.length < 5);
		expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
		expect(pages.flat()).toEqual([...ids].reverse());

		const defaults = ListAsyncApiChatCompletionsResponse.parse(await (await emu.list()).json());
		expect(defaults.requests).toHaveLength(20);
		expect(defaults.next_token).toEqual(expect.any(String));
	});

	it("answers 422 with loc [query, limit] or [query, next_token] to a bad page request", async () => {
		const emu = makeEmulator();
		for (const limit of ["0", "101", "abc", "2.5"]) {
			const res = await emu.list(`?limit=${limit}`);
			expect(res.status).toBe(422);
			expect(HTTPValidationError.parse(await res.json()).detail?.[0]?.loc).toEqual(["query", "limit"]);
		}
		for (const token of ["garbage", Buffer.from('{"before":"x"}').toString("base64url")]) {
			const res = await emu.list(`?next_token=${token}`);
			expect(res.status).toBe(422);
			expect(HTTPValidationError.parse(await res.json()).detail?.[0]?.loc).toEqual(["query", "next_token"]);
		}
		expect((await emu.list("?limit=100")).status).toBe(200);
	});

	it("scopes jobs to the API key: other tenants' jobs do not exist", async () => {
		const emu = makeEmulator({ apiKey: undefined });
		const mine = await jobId(await emu.create(makeBody("Mine"), { key: "tenant-a" }));
		const theirs = await jobId(await emu.create(makeBody("Theirs"), { key: "tenant-b" }));
		const listA = ListAsyncApiChatCompletionsResponse.parse(await (await emu.list("", { key: "tenant-a" })).json());
		expect(listA.requests.map((r) => r.id)).toEqual([mine]);
		expect((await emu.get(theirs, { key: "tenant-a" })).status).toBe(404);
		expect((await emu.get(theirs, { key: "tenant-b" })).status).toBe(200);
	});
});

describe("emulator: counters and control routes", () => {
	it("counts creates, gets, lists and answers, in stats() and over HTTP", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Count me")));
		await emu.get(id);
		await emu.get(id);
		await emu.list();
		await emu.get("missing");
		await emu.create({ request: {} });

		const expected = {
			creates: 2,
			createsAccepted: 1,
			idempotentReplays: 0,
			gets: 3,
			lists: 1,
			responses: { "200": 4, "404": 1, "422": 1 },
		};
		expect(emu.emulator.stats()).toMatchObject(expected);
		const overHttp = await emu.call("/__emulator/stats", {}, null);
		expect(overHttp.status).toBe(200);
		expect(await overHttp.json()).toMatchObject({ ...expected, jobs: { [id]: { gets: 2, model: "sonar" } } });

		const one = await emu.call(`/__emulator/stats/jobs/${id}`, {}, null);
		expect(await one.json()).toMatchObject({ id, gets: 2, createdAtMs: T0, status: "CREATED" });
		expect((await emu.call("/__emulator/stats/jobs/nope", {}, null)).status).toBe(404);
	});

	it("applies global faults to the API only, set by setFaults or POST /__emulator/faults", async () => {
		const emu = makeEmulator();
		emu.emulator.setFaults({ errorRate: 1 });
		const failed = await emu.list();
		expect([500, 502, 503]).toContain(failed.status);
		expect((await emu.call("/__emulator/stats", {}, null)).status).toBe(200);

		const set = await emu.call(
			"/__emulator/faults",
			{ method: "POST", body: JSON.stringify({ errorRate: 0, rateLimitRate: 1, retryAfterSeconds: [3, 3] }) },
			null,
		);
		expect(set.status).toBe(200);
		expect(await set.json()).toMatchObject({ errorRate: 0, rateLimitRate: 1, retryAfterSeconds: [3, 3] });
		const limited = await emu.create(makeBody("Hi"));
		expect(limited.status).toBe(429);
		expect(limited.headers.get("retry-after")).toBe("3");

		const invalid = await emu.call("/__emulator/faults", { method: "POST", body: '{"errorRat": 1}' }, null);
		expect(invalid.status).toBe(422);

		expect((await emu.call("/__emulator/reset", { method: "POST" }, null)).status).toBe(200);
		expect(emu.emulator.stats()).toMatchObject({ creates: 0, lists: 0, jobs: {} });
		expect((await emu.list()).status).toBe(200);
	});

	it("adds latency and makes hanging calls wait hangMs, then answer 504", async () => {
		const emu = makeEmulator({ faults: { latencyMs: 40, hangRate: 1, hangMs: 5000 } });
		const res = await emu.list();
		expect(res.status).toBe(504);
		expect(emu.sleeps).toEqual([40, 5000]);
	});

	it("draws the same faults for the same seed", async () => {
		const statuses = async () => {
			const emu = makeEmulator({ seed: 99, faults: { errorRate: 0.5 } });
			const out: number[] = [];
			for (let i = 0; i < 20; i++) out.push((await emu.list()).status);
			return out;
		};
		const first = await statuses();
		expect(await statuses()).toEqual(first);
		expect(new Set(first).size).toBeGreaterThan(1);
	});

	it("admits at most createRateLimitPerSecond creates per second, with an honest Retry-After", async () => {
		const emu = makeEmulator({ faults: { createRateLimitPerSecond: 3 } });
		const statuses: number[] = [];
		for (let i = 0; i < 5; i++) {
			const res = await emu.create(makeBody(`Burst ${i}`));
			statuses.push(res.status);
			if (res.status === 429) expect(res.headers.get("retry-after")).toBe("1");
		}
		expect(statuses).toEqual([200, 200, 200, 429, 429]);
		expect((await emu.list()).status).toBe(200); // only creates are limited

		emu.advance(1000);
		const next: number[] = [];
		for (let i = 0; i < 4; i++) next.push((await emu.create(makeBody(`Next ${i}`))).status);
		expect(next).toEqual([200, 200, 200, 429]);
		expect(emu.emulator.stats().createsAccepted).toBe(6);

		const slow = makeEmulator({ faults: { createRateLimitPerSecond: 0.25 } });
		expect((await slow.create(makeBody("One"))).status).toBe(200);
		expect((await slow.create(makeBody("Two"))).headers.get("retry-after")).toBe("4");
	});
});

describe("emulator: answers", () => {
	async function completed(emu: ReturnType<typeof makeEmulator>, content: string, request: Body = {}) {
		const id = await jobId(await emu.create(makeBody(`${content} [[emu:steps=1]]`, request)));
		const done = await job(await emu.get(id));
		expect(done.status).toBe("COMPLETED");
		if (!done.response) throw new Error("a COMPLETED job carries a response");
		return done.response;
	}

	it("answers the same question with the same content, and carries citations, search_results and cost", async () => {
		const emu = makeEmulator();
		const a = await completed(emu, "Why is the sky blue?");
		const b = await completed(emu, "Why is the sky blue?");
		const other = await completed(emu, "Why is grass green?");
		const content = a.choices[0]?.message.content;
		expect(b.choices[0]?.message.content).toBe(content);
		expect(b.id).not.toBe(a.id);
		expect(other.choices[0]?.message.content).not.toBe(content);

		expect(typeof content).toBe("string");
		const text = content as string;
		expect(text).toMatch(/^## /);
		expect(text).toMatch(/^- \*\*.+\*\*/m);
		expect(text).toMatch(/\[[^\]]+\]\(https:\/\/[^)]+\)/);
		for (const n of [1, 2, 3]) expect(text).toContain(`[${n}]`);

		expect(a).toMatchObject({ object: "chat.completion", model: "sonar" });
		expect(a.choices[0]).toMatchObject({ index: 0, finish_reason: "stop", delta: { role: "assistant", content } });
		const citations = a.citations ?? [];
		expect(citations.length).toBeGreaterThanOrEqual(3);
		expect(citations.length).toBeLessThanOrEqual(5);
		for (const url of citations) expect(new URL(url).hostname).toMatch(/(^|\.)example\.(com|org|net)$/);
		expect(a.search_results?.map((r) => r.url)).toEqual(citations);
		expect(a.search_results?.every((r) => r.source === "web" && r.title && r.snippet && r.date)).toBe(true);

		const usage = a.usage;
		expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
		expect(usage?.search_context_size).toBe("low");
		expect(usage?.num_search_queries).toBeGreaterThan(0);
		expect(usage?.reasoning_tokens).toBeUndefined();
		const cost = usage?.cost;
		const parts =
			(cost?.input_tokens_cost ?? 0) +
			(cost?.output_tokens_cost ?? 0) +
			(cost?.request_cost ?? 0) +
			(cost?.reasoning_tokens_cost ?? 0) +
			(cost?.citation_tokens_cost ?? 0) +
			(cost?.search_queries_cost ?? 0);
		expect(cost?.total_cost).toBeCloseTo(parts, 6);
		expect(cost?.total_cost).toBeGreaterThan(0);
		expect(a.images).toBeUndefined();
		expect(a.related_questions).toBeUndefined();
	});

	it("answers the same question the same way, with or without markers", () => {
		const request = (content: string) => ({ model: "sonar-pro", messages: [{ role: "user" as const, content }] });
		const plain = buildAnswer({ id: "a", model: "sonar-pro", created: 1, request: request("Tell me about KV") });
		const marked = buildAnswer({
			id: "b",
			model: "sonar-pro",
			created: 2,
			request: request("Tell me about KV [[emu:steps=4]]"),
		});
		expect(marked.choices).toEqual(plain.choices);
		expect(marked.citations).toEqual(plain.citations);
		expect(marked.search_results).toEqual(plain.search_results);
	});

	it("adds images and related questions only when asked", async () => {
		const emu = makeEmulator();
		const res = await completed(emu, "Pictures please", {
			return_images: true,
			return_related_questions: true,
			num_images: 2,
		});
		expect(res.images).toHaveLength(2);
		expect(res.images?.[0]).toMatchObject({ width: expect.any(Number), height: expect.any(Number) });
		expect(res.related_questions?.length).toBeGreaterThanOrEqual(3);
	});

	it("reports reasoning tokens for reasoning and deep-research models", async () => {
		const emu = makeEmulator();
		for (const model of ["sonar-reasoning-pro", "sonar-deep-research"]) {
			const res = await completed(emu, "Think hard", { model });
			expect(res.usage?.reasoning_tokens).toBeGreaterThan(0);
		}
		const deep = await completed(emu, "Think hard", {
			model: "sonar-deep-research",
			web_search_options: { search_context_size: "high" },
		});
		expect(deep.usage?.search_context_size).toBe("high");
		expect(deep.usage?.cost.reasoning_tokens_cost).toBeGreaterThan(0);
	});

	it("writes a ~12,000-character answer when asked for a long answer", async () => {
		const emu = makeEmulator();
		const res = await completed(emu, "Give me a LONG ANSWER about Durable Objects");
		const length = String(res.choices[0]?.message.content).length;
		expect(length).toBeGreaterThanOrEqual(12_000);
		expect(length).toBeLessThan(13_500);
	});

	it("answers JSON that follows a json_schema response_format", async () => {
		const emu = makeEmulator();
		const res = await completed(emu, "Structured", {
			response_format: {
				type: "json_schema",
				json_schema: {
					schema: {
						type: "object",
						properties: {
							title: { type: "string" },
							score: { type: "integer" },
							tags: { type: "array", items: { type: "string" } },
						},
					},
				},
			},
		});
		const parsed = JSON.parse(String(res.choices[0]?.message.content));
		expect(parsed).toMatchObject({ title: expect.any(String), score: expect.any(Number), tags: expect.any(Array) });
	});
});

describe("emulator: both APIs, one emulator", () => {
	it("records what the caller sent and asked, per job, on both APIs", async () => {
		const emu = makeEmulator();
		const body = makeBody("Which body? [[emu:steps=1]]", {}, { idempotency_key: "k-9" });
		const sonar = await jobId(await emu.create(body));
		const agentBody = { model: "perplexity/sonar", input: "And this one?", background: true };
		const agent = await emu.call("/v1/agent", { method: "POST", body: JSON.stringify(agentBody) });
		const agentId = ((await agent.json()) as { id: string }).id;

		const stats = emu.emulator.stats();
		expect(stats).toMatchObject({ creates: 2, createsAccepted: 2, cancels: 0, streams: 0 });
		expect(stats.jobs[sonar]).toEqual({
			api: "sonar",
			model: "sonar",
			preset: null,
			question: "Which body?",
			idempotencyKey: "k-9",
			creates: 1,
			answerLost: false,
			gets: 0,
			cancels: 0,
			streams: 0,
			body,
			createdAtMs: T0,
			finishedAtMs: null,
			status: "CREATED",
			firstSeen: {},
		});
		expect(stats.jobs[agentId]).toMatchObject({
			api: "agent",
			body: agentBody,
			idempotencyKey: null,
			status: "queued",
		});
	});

	it("pads a Sonar answer to about [[emu:size=BYTES]]", async () => {
		const emu = makeEmulator();
		const id = await jobId(await emu.create(makeBody("Huge [[emu:size=50000]] [[emu:steps=1]]")));
		const content = String((await job(await emu.get(id))).response?.choices[0]?.message.content);
		expect(Buffer.byteLength(content)).toBeGreaterThan(49_000);
		expect(Buffer.byteLength(content)).toBeLessThanOrEqual(50_000);
	});

	it("parses the Agent API markers", () => {
		expect(
			parseMarkers(
				"[[emu:incomplete]] [[emu:cancelled]] [[emu:drift]] [[emu:unusable]] [[emu:size=2048]] [[emu:stream-drop=5x2]]",
			),
		).toEqual({
			fail: false,
			incomplete: true,
			cancelled: true,
			drift: true,
			unusable: true,
			sizeBytes: 2048,
			streamDrop: { afterEvents: 5, connections: 2 },
		});
		expect(parseMarkers("[[emu:stream-drop=3]] [[emu:size=0]] [[emu:size=1e9]]")).toEqual({
			fail: false,
			streamDrop: { afterEvents: 3, connections: 1 },
		});
		expect(parseMarkers("[[emu:size=999999999999]]").sizeBytes).toBe(32 * 1024 * 1024);
	});

	it("never imports the relay's code: the emulator must not share what it tests", () => {
		const root = join(import.meta.dirname, "../../tools/emulator");
		const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
		expect(files.length).toBeGreaterThan(10);
		for (const file of files) {
			const source = readFileSync(join(root, file), "utf8");
			const imports = [...source.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1] as string);
			for (const spec of imports) expect(spec, `${file} imports ${spec}`).not.toMatch(/(^|\/)src\//);
		}
	});
});

describe("emulator: served on Node", () => {
	it("serves the API over HTTP on a free loopback port", async () => {
		let now = T0;
		const lines: string[] = [];
		const upstream = await startEmulator({ apiKey: KEY, port: 0, now: () => now, log: (line) => lines.push(line) });
		try {
			expect(upstream.url).toBe(`http://127.0.0.1:${upstream.port}`);
			const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
			const created = await fetch(`${upstream.url}/async/chat/completions`, {
				method: "POST",
				headers,
				body: JSON.stringify(makeBody("Over the wire")),
			});
			const { id } = await job(created);
			now += 2000;
			const done = await job(await fetch(`${upstream.url}/v1/async/sonar/${id}`, { headers }));
			expect(done.status).toBe("COMPLETED");
			const stats = await (await fetch(`${upstream.url}/__emulator/stats`)).json();
			expect(stats).toMatchObject({ createsAccepted: 1, gets: 1 });
			expect(upstream.emulator.stats().jobs[id]?.status).toBe("COMPLETED");
			expect(lines).toHaveLength(3);
			expect(lines[0]).toMatch(/POST \/async\/chat\/completions 200/);
			expect(lines.join("\n")).not.toContain(KEY);
		} finally {
			await upstream.close();
		}
	});
});
