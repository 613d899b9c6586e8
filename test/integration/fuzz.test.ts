/**
 * Property-based fuzzing of every endpoint, inside workerd, with fast-check.
 *
 * Inputs: valid bodies shaped on the real schemas and mutations of them (a
 * field dropped, a wrong type, an out-of-range number, a wrong enum), random
 * JSON, `__proto__` / `constructor` and duplicate keys, huge strings and
 * numbers, invalid UTF-8, right, wrong and missing content types, random ids,
 * query strings and headers, and nesting up to 10,000 levels.
 *
 * Properties, for every input:
 * - never a 5xx, and only a status the endpoint documents;
 * - every error body has its documented shape: `{detail: string}`, or for a
 *   422 the spec's HTTPValidationError `{detail: [{loc, msg, type}]}`;
 * - an input that is refused creates no job and no subscription (counted in
 *   the Tenant DO of the `fuzzer` tenant, which only this file uses);
 * - the Worker stays up: `GET /healthz` answers 200 after every request.
 *
 * Budget: a fixed seed and a bounded number of runs per property in `npm test`
 * (about 1,000 requests in all); `npm run fuzz` sets FUZZ_RUNS=5000 runs per
 * property, and FUZZ_SEED picks another seed. vitest.config.ts hands both to
 * workerd with `provide`, read here with `inject`.
 *
 * Everything stays on loopback: URL fields come from the inbox or from URLs the
 * SSRF guard refuses (see fuzz-arbitraries.ts), and valid jobs finish on the
 * emulator in one poll.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import fc from "fast-check";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { checkCallbackUrl } from "../../src/delivery/url-guard.ts";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import type { Job } from "../../src/job/job.ts";
import { RelayResponse } from "../../src/schemas/agent.ts";
import { ValidationError } from "../../src/schemas/perplexity.ts";
import { type CreateJobBody, Hook, RelayJob, RelayJobList } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_FUZZ, TEST_SLACK_SECRET } from "./constants.ts";
import {
	CONTENT_TYPES,
	fuzzJson,
	fuzzString,
	HOOK_EVENTS,
	headerName,
	headerValue,
	type Json,
	mutated,
	queryString,
	REFUSED_URLS,
	sendsNowhereElse,
	toJsonText,
	urlPool,
	validAskBody,
	validCreateBody,
	validHookBody,
	validRunBody,
	withInvalidUtf8,
} from "./fuzz-arbitraries.ts";
import { createJob, driveUntil, makeCreateBody, unique } from "./helpers.ts";

// ── Budget ───────────────────────────────────────────────────────────────────

/** `provide`d by vitest.config.ts at run time (import.meta.env would be baked into cached transforms). */
const RUNS_OVERRIDE = Number(inject("fuzzRuns")) || 0;
const SEED = Number(inject("fuzzSeed")) || 20_261_001;

function budget(defaultRuns: number): { seed: number; numRuns: number } {
	return { seed: SEED, numRuns: RUNS_OVERRIDE || defaultRuns };
}

/** Per-test timeout: room for the runs, and for shrinking a failure. */
function timeout(defaultRuns: number): number {
	return 30_000 + (RUNS_OVERRIDE || defaultRuns) * 150;
}

const INBOX = inject("inboxUrl");
const FAMILIES = ["/async/chat/completions", "/v1/async/sonar"] as const;
const SLACK_TEAMS = ["TFUZZA", "TFUZZB"];

/** A `next_token` in the relay's current format (base64url of `{v: 1, seq}`), for any seq, in range or not. */
const cursorFor = (seq: number) =>
	btoa(JSON.stringify({ v: 1, seq }))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");

// ── Calling the Worker ───────────────────────────────────────────────────────

interface Probe {
	method: string;
	path: string;
	/** `Authorization: Bearer <key>`; null sends none. */
	key?: string | null;
	headers?: [string, string][];
	body?: string | Uint8Array;
	contentType?: string | null;
}

interface Answer {
	status: number;
	contentType: string | null;
	text: string;
}

function describeProbe(probe: Probe): string {
	const body =
		probe.body === undefined
			? ""
			: typeof probe.body === "string"
				? probe.body.slice(0, 300)
				: `<${probe.body.byteLength} bytes>`;
	return `${probe.method} ${probe.path.slice(0, 200)} ${JSON.stringify(probe.headers ?? []).slice(0, 200)} ${body}`;
}

/** The Request, or null when the runtime itself refuses to build it (a header it forbids, say). */
function toRequest(probe: Probe): Request | null {
	try {
		const headers = new Headers();
		for (const [name, value] of probe.headers ?? []) headers.set(name, value);
		if (probe.key !== undefined && probe.key !== null) headers.set("authorization", `Bearer ${probe.key}`);
		const hasBody = probe.body !== undefined && probe.method !== "GET" && probe.method !== "HEAD";
		// A string body would get text/plain by default; bytes get no content-type unless we set one.
		const body = hasBody ? (typeof probe.body === "string" ? new TextEncoder().encode(probe.body) : probe.body) : null;
		if (hasBody && probe.contentType !== undefined && probe.contentType !== null) {
			headers.set("content-type", probe.contentType);
		}
		return new Request(`https://relay.test${probe.path}`, { method: probe.method, headers, body });
	} catch {
		return null;
	}
}

async function call(probe: Probe): Promise<Answer> {
	const request = toRequest(probe);
	fc.pre(request !== null);
	const res = await exports.default.fetch(request as Request);
	return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

/** What the relay would read from a body's top level, to keep URL fields on loopback. */
function topLevelFields(body: Probe["body"], form = false): Record<string, unknown> | null {
	if (body === undefined) return null;
	const text = typeof body === "string" ? body : new TextDecoder().decode(body);
	if (form) return Object.fromEntries(new URLSearchParams(text));
	try {
		const parsed: unknown = JSON.parse(text);
		return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
	} catch {
		return null;
	}
}

// ── The properties every answer must hold ────────────────────────────────────

/** The spec's HTTPValidationError, with at least one error, each with a non-empty `loc`. */
const ValidationBody = z.object({
	detail: z.array(ValidationError.extend({ loc: ValidationError.shape.loc.min(1), msg: z.string().min(1) })).min(1),
});

/** Never a 5xx; a documented status; an error body in its documented shape. */
function expectDocumentedAnswer(probe: Probe, answer: Answer, allowed?: readonly number[]): void {
	const where = `${describeProbe(probe)}\n  → ${answer.status} ${answer.text.slice(0, 400)}`;
	if (answer.status >= 500) throw new Error(`a ${answer.status}: ${where}`);
	if (allowed && !allowed.includes(answer.status)) {
		throw new Error(`status ${answer.status} is not one of ${allowed.join(", ")}: ${where}`);
	}
	if (answer.status < 400 || probe.method === "HEAD") return;
	if (!answer.contentType?.startsWith("application/json")) throw new Error(`error without JSON: ${where}`);
	let body: unknown;
	try {
		body = JSON.parse(answer.text);
	} catch {
		throw new Error(`error body is not JSON: ${where}`);
	}
	if (answer.status === 422) {
		const parsed = ValidationBody.safeParse(body);
		if (!parsed.success) throw new Error(`422 is not an HTTPValidationError: ${where}`);
		for (const { loc } of parsed.data.detail) {
			if (!["body", "query", "path", "header"].includes(String(loc[0]))) throw new Error(`422 loc root: ${where}`);
		}
		return;
	}
	// The Agent surface answers in the Agent API's own envelope.
	const path = probe.path.split("?")[0] ?? "";
	if (/^\/v1\/(responses|agent)(\/|$)/.test(path)) {
		const error = (body as { error?: { message?: unknown; type?: unknown; code?: unknown } } | null)?.error;
		if (typeof error?.message !== "string" || typeof error.type !== "string" || error.code !== answer.status) {
			throw new Error(`error is not the Agent API's {error: {message, type, code}}: ${where}`);
		}
		return;
	}
	const detail = (body as { detail?: unknown } | null)?.detail;
	if (typeof detail !== "string" || detail.length === 0) throw new Error(`error is not {detail: string}: ${where}`);
}

interface Tally {
	jobs: number;
	hooks: number;
}

/** Jobs and subscriptions of the fuzz tenants, from their Tenant DOs. */
async function tally(tenants: readonly string[] = [TENANT_FUZZ.tenant]): Promise<Tally> {
	let jobs = 0;
	let hooks = 0;
	for (const tenant of tenants) {
		const index = env.TENANTS.get(env.TENANTS.idFromName(tenant));
		jobs += await index.countJobs();
		hooks += ((await index.listHooks()) as Hook[]).length;
	}
	return { jobs, hooks };
}

/** What a successful answer may have added: a job (0 on an idempotent replay), a subscription, or nothing. */
type Effect = "job" | "subscribe" | "unsubscribe" | "none";

function expectTally(probe: Probe, answer: Answer, before: Tally, after: Tally, effect: Effect): void {
	const where = `${describeProbe(probe)}\n  → ${answer.status} ${answer.text.slice(0, 300)}`;
	const ok = answer.status >= 200 && answer.status < 300;
	const jobsAdded = after.jobs - before.jobs;
	const hooksAdded = after.hooks - before.hooks;
	if (!ok || effect === "none") {
		if (jobsAdded !== 0 || hooksAdded !== 0) {
			throw new Error(
				`answered ${answer.status} yet jobs ${jobsAdded >= 0 ? "+" : ""}${jobsAdded}, hooks ${hooksAdded}: ${where}`,
			);
		}
		return;
	}
	const expected = {
		job: jobsAdded >= 0 && jobsAdded <= 1 && hooksAdded === 0,
		subscribe: jobsAdded === 0 && hooksAdded === 1,
		unsubscribe: jobsAdded === 0 && hooksAdded === -1,
	}[effect];
	if (!expected)
		throw new Error(`${effect} answered ${answer.status}: jobs ${jobsAdded}, hooks ${hooksAdded}: ${where}`);
}

async function expectAlive(): Promise<void> {
	const res = await exports.default.fetch(new Request("https://relay.test/healthz"));
	await res.body?.cancel();
	if (res.status !== 200) throw new Error(`healthz answered ${res.status} after the last input`);
}

function expectPrototypesClean(): void {
	expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
	expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

interface Expectation {
	allowed?: readonly number[];
	effect?: Effect;
	tenants?: readonly string[];
	/** The body is a form (Slack), for the URL-field net. */
	form?: boolean;
}

/** One fuzz input: sent, checked against every property, counted before and after. */
async function fuzzOnce(probe: Probe, expectation: Expectation = {}): Promise<Answer> {
	fc.pre(sendsNowhereElse(topLevelFields(probe.body, expectation.form), INBOX));
	const before = await tally(expectation.tenants);
	const answer = await call(probe);
	expectDocumentedAnswer(probe, answer, expectation.allowed);
	const after = await tally(expectation.tenants);
	expectTally(probe, answer, before, after, expectation.effect ?? "none");
	await expectAlive();
	return answer;
}

/** Subscriptions are capped: after a 409, clear the fuzz tenant's so the next runs can subscribe again. */
async function clearHooks(): Promise<void> {
	const index = env.TENANTS.get(env.TENANTS.idFromName(TENANT_FUZZ.tenant));
	for (const hook of (await index.listHooks()) as Hook[]) await index.deleteHook(hook.id);
}

// ── Bodies ───────────────────────────────────────────────────────────────────

type BodyForm = { kind: "json"; value: Json } | { kind: "bytes"; bytes: Uint8Array } | { kind: "text"; text: string };

/** A body for a JSON endpoint: valid, mutated, random, not JSON, or not UTF-8. */
function jsonBodies(valid: fc.Arbitrary<{ [key: string]: Json }>): fc.Arbitrary<BodyForm> {
	return fc.oneof(
		{ weight: 2, arbitrary: valid.map((value): BodyForm => ({ kind: "json", value })) },
		{ weight: 5, arbitrary: mutated(valid).map((value): BodyForm => ({ kind: "json", value })) },
		{ weight: 2, arbitrary: fuzzJson.map((value): BodyForm => ({ kind: "json", value })) },
		{
			weight: 1,
			arbitrary: fc
				.oneof(fuzzString, fc.constantFrom("", "{", "[1,]", '{"a":1,}', "nul", "'x'", '{"a":\u0001}', "1 2"))
				.map((text): BodyForm => ({ kind: "text", text })),
		},
		{
			weight: 2,
			arbitrary: fc
				.oneof(valid, mutated(valid))
				.chain((value) => withInvalidUtf8(toJsonText(value)))
				.map((bytes): BodyForm => ({ kind: "bytes", bytes })),
		},
	);
}

function bodyOf(form: BodyForm): string | Uint8Array {
	return form.kind === "json" ? toJsonText(form.value) : form.kind === "text" ? form.text : form.bytes;
}

/** Extra headers, but never `authorization` (each property sets the key it means). */
const extraHeaders = fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 });

const bodyRequest = (valid: fc.Arbitrary<{ [key: string]: Json }>) =>
	fc.record({ body: jsonBodies(valid), contentType: fc.constantFrom(...CONTENT_TYPES), headers: extraHeaders });

// ── The properties, endpoint by endpoint ─────────────────────────────────────

describe("fuzzing the create endpoint (both path families)", () => {
	it(
		"answers 200, 400, 409, 413 or 422, in the documented shapes, and makes a job only on a 200",
		async () => {
			await fc.assert(
				fc.asyncProperty(fc.constantFrom(...FAMILIES), bodyRequest(validCreateBody(INBOX)), async (path, input) => {
					const probe: Probe = { method: "POST", path, key: TENANT_FUZZ.key, ...input, body: bodyOf(input.body) };
					const answer = await fuzzOnce(probe, { allowed: [200, 400, 409, 413, 422], effect: "job" });
					if (answer.status === 200) expect(RelayJob.safeParse(JSON.parse(answer.text)).success).toBe(true);
				}),
				budget(150),
			);
			expectPrototypesClean();
		},
		timeout(150),
	);
});

describe("fuzzing the Agent surface's create (both paths)", () => {
	it(
		"answers 200, 400, 409 or 413, in the Agent API's shapes, and makes a job only on a 200",
		async () => {
			await fc.assert(
				fc.asyncProperty(
					fc.constantFrom("/v1/responses", "/v1/agent"),
					bodyRequest(validRunBody(INBOX)),
					async (path, input) => {
						const probe: Probe = { method: "POST", path, key: TENANT_FUZZ.key, ...input, body: bodyOf(input.body) };
						const answer = await fuzzOnce(probe, { allowed: [200, 400, 409, 413], effect: "job" });
						if (answer.status === 200) expect(RelayResponse.safeParse(JSON.parse(answer.text)).success).toBe(true);
					},
				),
				budget(100),
			);
			expectPrototypesClean();
		},
		timeout(100),
	);
});

describe("fuzzing /v1/ask", () => {
	it(
		"answers 200, 400, 409, 413 or 422, in the documented shapes, and makes a job only on a 200",
		async () => {
			await fc.assert(
				fc.asyncProperty(bodyRequest(validAskBody(INBOX)), async (input) => {
					const probe: Probe = {
						method: "POST",
						path: "/v1/ask",
						key: TENANT_FUZZ.key,
						...input,
						body: bodyOf(input.body),
					};
					const answer = await fuzzOnce(probe, { allowed: [200, 400, 409, 413, 422], effect: "job" });
					if (answer.status === 200) expect(RelayJob.safeParse(JSON.parse(answer.text)).success).toBe(true);
				}),
				budget(100),
			);
			expectPrototypesClean();
		},
		timeout(100),
	);
});

describe("fuzzing /v1/hooks", () => {
	it(
		"subscribes only on a 201, answers 400, 409, 413 or 422 otherwise, in the documented shapes",
		async () => {
			await clearHooks();
			await fc.assert(
				fc.asyncProperty(bodyRequest(validHookBody(INBOX)), async (input) => {
					const probe: Probe = {
						method: "POST",
						path: "/v1/hooks",
						key: TENANT_FUZZ.key,
						...input,
						body: bodyOf(input.body),
					};
					const answer = await fuzzOnce(probe, { allowed: [201, 400, 409, 413, 422], effect: "subscribe" });
					if (answer.status === 201) expect(Hook.safeParse(JSON.parse(answer.text)).success).toBe(true);
					if (answer.status === 409) await clearHooks();
				}),
				budget(80),
			);
			await clearHooks();
		},
		timeout(80),
	);

	it(
		"lists, samples and unsubscribes with random ids and query strings without a 5xx",
		async () => {
			const route = fc.oneof(
				queryString.map((q) => ({ method: "GET", path: `/v1/hooks${q}`, allowed: [200] })),
				fc
					.tuple(
						fc.oneof(fc.constantFrom(...HOOK_EVENTS, "async_chat_completion.started", "", "*"), fuzzString),
						queryString,
					)
					.map(([event, q]) => ({
						method: "GET",
						path: `/v1/hooks/sample?event=${encodeURIComponent(event.replace(/[\ud800-\udfff]/g, ""))}${q.replace("?", "&")}`,
						allowed: [200, 422],
					})),
				fc.oneof(fuzzString, fc.constant("hook_0123456789abcdef0123456789abcdef")).map((id) => ({
					method: "DELETE",
					path: `/v1/hooks/${encodeURIComponent(id.replace(/[\ud800-\udfff]/g, "")) || "x"}`,
					allowed: [404],
				})),
			);
			await fc.assert(
				fc.asyncProperty(route, extraHeaders, async ({ method, path, allowed }, headers) => {
					await fuzzOnce({ method, path, key: TENANT_FUZZ.key, headers }, { allowed });
				}),
				budget(80),
			);
		},
		timeout(80),
	);
});

describe("fuzzing the job routes with random ids", () => {
	const ids: Record<string, string> = {};

	beforeAll(async () => {
		// A settled job of the fuzz tenant with a callback (redeliverable), and one of another tenant.
		const own = await createJob({ callback: `${INBOX}/hooks/fuzz-a` }, TENANT_FUZZ.key);
		await driveUntil(own.id, (job) => job.delivery_status === "delivered", { tenant: TENANT_FUZZ.tenant });
		ids.own = own.id;
		ids.foreign = (await createJob({}, TENANT_A.key)).id;
		ids.unused = env.JOBS.newUniqueId().toString();
		ids.otherNamespace = env.TENANTS.idFromName(TENANT_FUZZ.tenant).toString();
	});

	it(
		"answers 200, 404 or 409 to get, deliveries and redeliver, whatever the id and query",
		async () => {
			const id = fc.oneof(
				fc.constantFrom("own", "foreign", "unused", "otherNamespace").map((name) => ids[name] as string),
				fc.stringMatching(/^[0-9a-f]{64}$/),
				fc.constantFrom("0".repeat(64), "F".repeat(64), "a".repeat(500), ".", "..", "%2e%2e", "%00", "null"),
				fuzzString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "")) || "x"),
			);
			const route = fc.constantFrom(
				{ method: "GET", suffix: "", allowed: [200, 404] },
				{ method: "GET", suffix: "/deliveries", allowed: [200, 404] },
				{ method: "POST", suffix: "/redeliver", allowed: [200, 404, 409] },
			);
			await fc.assert(
				fc.asyncProperty(
					fc.constantFrom(...FAMILIES),
					id,
					route,
					queryString,
					extraHeaders,
					fc.option(fuzzJson),
					async (family, jobId, { method, suffix, allowed }, query, headers, body) => {
						const probe: Probe = {
							method,
							path: `${family}/${jobId}${suffix}${query}`,
							key: TENANT_FUZZ.key,
							headers,
							body: body === null ? undefined : toJsonText(body),
							contentType: "application/json",
						};
						const answer = await fuzzOnce(probe, { allowed });
						if (jobId === ids.foreign) expect(answer.status).toBe(404);
					},
				),
				budget(120),
			);
		},
		timeout(120),
	);
});

describe("fuzzing the list endpoint (both path families)", () => {
	it(
		"answers 200 with at most `limit` jobs, or 422, whatever the query string",
		async () => {
			const query = fc.oneof(
				queryString,
				fc.integer({ min: -5, max: 2 ** 53 }).map((seq) => `?next_token=${cursorFor(seq)}`),
			);
			await fc.assert(
				fc.asyncProperty(fc.constantFrom(...FAMILIES), query, extraHeaders, async (family, q, headers) => {
					const probe: Probe = { method: "GET", path: `${family}${q}`, key: TENANT_FUZZ.key, headers };
					const answer = await fuzzOnce(probe, { allowed: [200, 422] });
					if (answer.status === 200) {
						const list = RelayJobList.parse(JSON.parse(answer.text));
						expect(list.requests.length).toBeLessThanOrEqual(100);
					}
				}),
				budget(100),
			);
		},
		timeout(100),
	);
});

describe("fuzzing the Slack command", () => {
	const tenants = SLACK_TEAMS.map((team) => `slack:${team}`);
	const form = fc.record(
		{
			command: fc.oneof(fc.constant("/ask"), fuzzString),
			text: fc.oneof(
				fc.string({ maxLength: 40 }).map((t) => `${t} [[emu:steps=1]]`),
				fuzzString,
			),
			team_id: fc.oneof(fc.constantFrom(...SLACK_TEAMS), fc.constantFrom("", "T 1", "t-1", "T".repeat(33)), fuzzString),
			channel_id: fuzzString,
			user_id: fuzzString,
			response_url: urlPool(INBOX),
			trigger_id: fc.oneof(fc.uuid(), fuzzString),
		},
		{ requiredKeys: [] },
	);
	const rawBody = fc.oneof(
		{ weight: 4, arbitrary: form.map((fields) => new URLSearchParams(fields as Record<string, string>).toString()) },
		{ weight: 1, arbitrary: fuzzJson.map(toJsonText) },
		{ weight: 1, arbitrary: fuzzString },
	);
	const signing = fc.oneof(
		{ weight: 4, arbitrary: fc.constant({ kind: "right" as const }) },
		fc.constantFrom(
			{ kind: "none" as const },
			{ kind: "wrong-secret" as const },
			{ kind: "stale" as const },
			{ kind: "future" as const },
		),
		fc
			.tuple(headerValue, headerValue)
			.map(([timestamp, signature]) => ({ kind: "random" as const, timestamp, signature })),
	);

	it(
		"answers 200, 400, 401, 409 or 413, in the documented shapes, and makes a job only on a 200",
		async () => {
			await fc.assert(
				fc.asyncProperty(rawBody, signing, fc.constantFrom(...CONTENT_TYPES), async (body, sign, contentType) => {
					const now = Math.floor(Date.now() / 1000);
					const headers: [string, string][] = [];
					if (sign.kind === "random") {
						headers.push(["x-slack-request-timestamp", sign.timestamp], ["x-slack-signature", sign.signature]);
					} else if (sign.kind !== "none") {
						const timestamp = String(sign.kind === "stale" ? now - 600 : sign.kind === "future" ? now + 600 : now);
						const secret = sign.kind === "wrong-secret" ? "not-the-slack-secret" : TEST_SLACK_SECRET;
						headers.push(
							["x-slack-request-timestamp", timestamp],
							["x-slack-signature", await signSlackRequest(secret, timestamp, body)],
						);
					}
					const probe: Probe = {
						method: "POST",
						path: "/integrations/slack/commands",
						key: null,
						headers,
						body,
						contentType,
					};
					const answer = await fuzzOnce(probe, {
						allowed: sign.kind === "right" ? [200, 400, 409, 413] : [401, 413],
						effect: "job",
						tenants,
						form: true,
					});
					if (sign.kind !== "right") expect(answer.status).not.toBe(200);
				}),
				budget(100),
			);
		},
		timeout(100),
	);
});

describe("fuzzing every route with any method, path and headers", () => {
	const TEMPLATES = [
		"/healthz",
		"/v1/webhook-secret",
		"/async/chat/completions",
		"/async/chat/completions/:id",
		"/async/chat/completions/:id/deliveries",
		"/async/chat/completions/:id/redeliver",
		"/v1/async/sonar",
		"/v1/async/sonar/:id",
		"/v1/async/sonar/:id/deliveries",
		"/v1/async/sonar/:id/redeliver",
		"/v1/ask",
		"/v1/hooks",
		"/v1/hooks/:id",
		"/v1/hooks/sample",
		"/integrations/slack/commands",
		"/",
		"/openapi.json",
		"/docs",
		"/docs/assets/:id",
		"/v2/async/sonar",
		"/async/chat/completions/:id/:id",
		"//healthz",
		"/healthz/",
		"/HEALTHZ",
		"/async/chat/completions/",
		"/.env",
		"/wp-admin/",
	];
	const segment = fc.oneof(
		fc.constantFrom("x", "0".repeat(64), "..", "%2F", "%", "%zz", "%00", "sample", "a".repeat(2_000)),
		fuzzString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "")) || "x"),
	);
	const path = fc
		.tuple(fc.constantFrom(...TEMPLATES), segment, queryString)
		.map(([template, id, q]) => `${template.replaceAll(":id", id)}${q}`);
	const authorization = fc.oneof(
		fc.constant(null),
		fc.constantFrom(
			`Bearer ${TENANT_FUZZ.key}`,
			`bearer ${TENANT_FUZZ.key}`,
			`Bearer   ${TENANT_FUZZ.key}  `,
			`Bearer ${TENANT_FUZZ.key} extra`,
			`Bearer ${TENANT_FUZZ.key.slice(0, -1)}`,
			`Basic ${btoa(`${TENANT_FUZZ.tenant}:${TENANT_FUZZ.key}`)}`,
			`${TENANT_FUZZ.key}`,
			"Bearer",
			"Bearer ",
		),
		headerValue.map((v) => `Bearer ${v}`),
		headerValue,
	);

	it(
		"never answers a 5xx, always in the documented shapes, and only a 2xx changes anything",
		async () => {
			await clearHooks();
			await fc.assert(
				fc.asyncProperty(
					fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
					path,
					authorization,
					extraHeaders,
					fc.option(jsonBodies(validCreateBody(INBOX)).map(bodyOf)),
					fc.constantFrom(...CONTENT_TYPES),
					async (method, target, auth, headers, body, contentType) => {
						const probe: Probe = {
							method,
							path: target,
							key: null,
							headers: auth === null ? headers : [...headers, ["authorization", auth]],
							body: body ?? undefined,
							contentType,
						};
						const effect: Effect =
							method === "POST" && /^\/(async\/chat\/completions|v1\/async\/sonar|v1\/ask)(\?|$)/.test(target)
								? "job"
								: method === "POST" && /^\/v1\/hooks(\?|$)/.test(target)
									? "subscribe"
									: "none";
						const answer = await fuzzOnce(probe, { effect });
						if (answer.status === 409) await clearHooks();
					},
				),
				budget(200),
			);
			await clearHooks();
			expectPrototypesClean();
		},
		timeout(200),
	);
});

// ── Deep nesting ─────────────────────────────────────────────────────────────

/** `depth` levels of arrays (`[[[1]]]`) or objects (`{"a":{"a":1}}`), as text: JSON.stringify itself overflows. */
function nested(depth: number, kind: "array" | "object"): string {
	return kind === "array"
		? `${"[".repeat(depth)}1${"]".repeat(depth)}`
		: `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Where a deep value can sit in each JSON endpoint's body. */
const DEEP_POSITIONS: Record<string, { path: string; body: (deep: string) => string }> = {
	"create: an unknown top-level field": {
		path: "/async/chat/completions",
		body: (deep) => `{"deep":${deep},"request":${JSON.stringify(makeCreateBody().request)}}`,
	},
	"create: an unknown field of request": {
		path: "/v1/async/sonar",
		body: (deep) => JSON.stringify(makeCreateBody()).replace('"request":{', `"request":{"deep":${deep},`),
	},
	"create: request.response_metadata": {
		path: "/async/chat/completions",
		body: (deep) =>
			JSON.stringify(makeCreateBody()).replace('"request":{', `"request":{"response_metadata":{"a":${deep}},`),
	},
	"create: a message's content": {
		path: "/async/chat/completions",
		body: (deep) => `{"request":{"model":"sonar","messages":[{"role":"user","content":${deep}}]}}`,
	},
	"create: metadata": {
		path: "/async/chat/completions",
		body: (deep) => JSON.stringify(makeCreateBody()).replace(/^\{/, `{"metadata":{"a":${deep}},`),
	},
	"create: the whole body": { path: "/async/chat/completions", body: (deep) => deep },
	"ask: metadata": {
		path: "/v1/ask",
		body: (deep) => `{"query":"${unique("q")} [[emu:steps=1]]","metadata":{"a":${deep}}}`,
	},
	"ask: an unknown field": { path: "/v1/ask", body: (deep) => `{"query":"q [[emu:steps=1]]","deep":${deep}}` },
	"hooks: an unknown field": {
		path: "/v1/hooks",
		body: (deep) => `{"target_url":"${INBOX}/hooks/fuzz-deep","event":"async_chat_completion.failed","deep":${deep}}`,
	},
};

describe("deep nesting", () => {
	it.each(Object.keys(DEEP_POSITIONS))(
		"answers 10,000 levels in %s without a 5xx, and keeps nothing it refused",
		async (position) => {
			const { path, body } = DEEP_POSITIONS[position] as (typeof DEEP_POSITIONS)[string];
			for (const kind of ["array", "object"] as const) {
				const probe: Probe = { method: "POST", path, key: TENANT_FUZZ.key, body: body(nested(10_000, kind)) };
				const before = await tally();
				const answer = await call(probe);
				expectDocumentedAnswer(probe, answer);
				expectTally(probe, answer, before, await tally(), path === "/v1/hooks" ? "subscribe" : "job");
				await expectAlive();
			}
			await clearHooks();
		},
	);

	it(
		"never answers a 5xx at any depth up to 10,000, anywhere in a body",
		async () => {
			await fc.assert(
				fc.asyncProperty(
					fc.constantFrom(...Object.keys(DEEP_POSITIONS)),
					fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom(2_000, 2_045, 5_000, 10_000)),
					fc.constantFrom("array" as const, "object" as const),
					async (position, depth, kind) => {
						const { path, body } = DEEP_POSITIONS[position] as (typeof DEEP_POSITIONS)[string];
						const answer = await fuzzOnce(
							{ method: "POST", path, key: TENANT_FUZZ.key, body: body(nested(depth, kind)) },
							{ effect: path === "/v1/hooks" ? "subscribe" : "job" },
						);
						if (answer.status === 201) await clearHooks();
					},
				),
				budget(40),
			);
			await clearHooks();
		},
		timeout(40),
	);

	it("leaves no trace of a submit that failed: its idempotency key is still free", async () => {
		// 2,044 levels of arrays fit in the 4 KiB metadata limit; whatever the relay answers, a later
		// valid submit with the same key must be judged on its own, not against a job that was never stored.
		const key = unique("fuzz-idem");
		const deep = `{"query":"q [[emu:steps=1]]","idempotency_key":"${key}","metadata":{"a":${nested(2_044, "array")}}}`;
		const first = await call({ method: "POST", path: "/v1/ask", key: TENANT_FUZZ.key, body: deep });
		const retry = { query: "q [[emu:steps=1]]", idempotency_key: key };
		const second = await call({ method: "POST", path: "/v1/ask", key: TENANT_FUZZ.key, body: JSON.stringify(retry) });
		if (first.status === 200) expect(second.status).toBe(409);
		else expect(second.status, `first ${first.status}, then ${second.text}`).toBe(200);
	});

	it("keeps no phantom job in memory when storing a new job fails", async () => {
		// Deep nesting once made the Job DO's first save throw (V8's serializer overflowed): the job stayed
		// in memory, unstored and without an alarm, and its idempotency key answered 409 until eviction.
		// Any failed save (a storage error) must leave the object as if the submit never happened.
		const id = env.JOBS.newUniqueId();
		await runInDurableObject(env.JOBS.get(id) as DurableObjectStub<Job>, async (instance: Job, state) => {
			const storage = state.storage as DurableObjectStorage & { put: DurableObjectStorage["put"] };
			const put = storage.put;
			storage.put = (() => Promise.reject(new Error("storage is unavailable"))) as DurableObjectStorage["put"];
			const input = { id: id.toString(), tenant: TENANT_FUZZ.tenant, body: makeCreateBody() as CreateJobBody };
			try {
				await expect(instance.create({ ...input, bodyHash: "first" })).rejects.toThrow("storage is unavailable");
			} finally {
				storage.put = put;
			}
			expect(await instance.view(TENANT_FUZZ.tenant)).toBeNull();
			const retry = await instance.create({ ...input, bodyHash: "second" });
			expect(retry.ok).toBe(true);
		});
	});
});

describe("the fuzz inputs themselves", () => {
	it("only ever name callback URLs on loopback, or ones the SSRF guard refuses even in development", () => {
		for (const url of REFUSED_URLS) expect(checkCallbackUrl(url, { allowPrivate: true }).ok, url).toBe(false);
		fc.assert(
			fc.property(
				urlPool(INBOX),
				(url) => url.startsWith(`${INBOX}/`) || !checkCallbackUrl(url, { allowPrivate: true }).ok,
			),
			{ seed: SEED, numRuns: 200 },
		);
	});
});
