/**
 * The Perplexity emulator: a faithful, in-memory stand-in for the async chat
 * completions API (`spec/`), used as the upstream in development, tests and
 * benchmarks, where there is no internet and often no API key.
 *
 * It validates with the relay's own zod schemas, so the two cannot drift. Time
 * comes from an injectable clock and randomness from a seeded PRNG, so tests
 * are deterministic. Markers in the last user message (`[[emu:steps=2]]`,
 * `[[emu:fail]]`, …) script one job without touching shared state, so many test
 * files can share one emulator. Global faults (errors, 429s, latency, hangs, a
 * create rate limit) are for resilience tests and benchmarks.
 *
 * Control routes, unauthenticated (bind to loopback only):
 * - `GET /__emulator/stats`, `GET /__emulator/stats/jobs/{id}`: counters;
 * - `GET|POST /__emulator/faults`: read or change the global faults;
 * - `POST /__emulator/reset`: forget all jobs and counters, restore the initial faults;
 * - `GET /__emulator/healthz`: liveness.
 */
import { z } from "@hono/zod-openapi";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
	type ApiChatCompletionsRequest,
	type AsyncApiChatCompletionsResponse,
	type AsyncApiChatCompletionsResponseSummary,
	type AsyncProcessingStatus,
	type CompletionResponse,
	AsyncApiChatCompletionsRequest as CreateBody,
	type ListAsyncApiChatCompletionsResponse,
} from "../../src/schemas/perplexity.ts";
import { toValidationError, validationError } from "../../src/schemas/validation.ts";
import { buildAnswer, lastUserText, mulberry32, type Random, randomInt, randomUuid } from "./answers.ts";

// ── Options ──────────────────────────────────────────────────────────────────

/** A fixed value, or an inclusive `[min, max]` range drawn from uniformly. */
export type Range = number | [number, number];

/** Faults applied to the API routes (never to `/__emulator/*`), drawn from the seeded PRNG. */
export interface FaultOptions {
	/** Share (0–1) of API calls answering 500, 502 or 503. @default 0 */
	errorRate: number;
	/** Share (0–1) of API calls answering 429 with `Retry-After`. @default 0 */
	rateLimitRate: number;
	/** `Retry-After` (whole seconds) on emulated 429s. @default 1 */
	retryAfterSeconds: Range;
	/** Latency added to every API call, in ms. @default 0 */
	latencyMs: Range;
	/** Share (0–1) of API calls that hang for `hangMs`, then answer 504. @default 0 */
	hangRate: number;
	/** How long a hanging call hangs, in ms. @default 60000 */
	hangMs: number;
	/** Creates admitted per second and API key (a token bucket, burst = max(1, rate)); 0 is unlimited. @default 0 */
	createRateLimitPerSecond: number;
}

export interface EmulatorOptions {
	/** The only Bearer key accepted. Unset: any non-empty key is accepted (and is its own tenant). */
	apiKey?: string;
	/** The clock, in ms since the epoch. @default Date.now */
	now?: () => number;
	/** Seeds the fault PRNG and the ids. @default random (ids from crypto.randomUUID) */
	seed?: number;
	/** Job duration per model, in ms. Wins over the built-in per-model defaults. */
	durations?: Record<string, number>;
	/** Duration for models with no built-in default and no `durations` entry. @default 3000 */
	defaultDurationMs?: number;
	/** Duration of the `seq`-th accepted job (1-based, across tenants); `undefined` falls through to `durations`. */
	durationFor?: (model: string, seq: number) => number | undefined;
	/** The initial global faults. @default none */
	faults?: Partial<FaultOptions>;
	/** How the emulator waits (latency, hangs, `[[emu:delay]]`); inject it to test without waiting. */
	sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Built-in durations, in ms: the order of magnitude matters, not the exact value. */
export const DEFAULT_DURATIONS_MS: Readonly<Record<string, number>> = {
	sonar: 2000,
	"sonar-pro": 3000,
	"sonar-reasoning-pro": 5000,
	"sonar-deep-research": 8000,
};

const NO_FAULTS: FaultOptions = {
	errorRate: 0,
	rateLimitRate: 0,
	retryAfterSeconds: 1,
	latencyMs: 0,
	hangRate: 0,
	hangMs: 60_000,
	createRateLimitPerSecond: 0,
};

// ── Public surface ───────────────────────────────────────────────────────────

export type JobStatus = AsyncProcessingStatus;

export interface JobStats {
	model: string;
	/** The caller's `idempotency_key`, if it sent one. */
	idempotencyKey: string | null;
	/** Create calls answered with this job: 1, plus its idempotent replays. */
	creates: number;
	/** GETs of this job that reached it (authenticated, found), emulated faults included. */
	gets: number;
	createdAtMs: number;
	/** When it became COMPLETED/FAILED on the emulator clock; null while a `steps` job is unfinished. */
	finishedAtMs: number | null;
	status: JobStatus;
	/** The emulator-clock instant each status was first answered to a GET. */
	firstSeen: Partial<Record<JobStatus, number>>;
}

export interface EmulatorStats {
	/** Every create call received, faulted and rejected ones included. */
	creates: number;
	/** Creates that made a new job. */
	createsAccepted: number;
	/** Creates answered with an existing job because of `idempotency_key`. */
	idempotentReplays: number;
	/** Every GET of one job received. */
	gets: number;
	/** Every list call received. */
	lists: number;
	/** API answers by status code. */
	responses: Record<string, number>;
	jobs: Record<string, JobStats>;
}

export interface Emulator {
	app: Hono;
	stats(): EmulatorStats;
	reset(): void;
	setFaults(faults: Partial<FaultOptions>): void;
}

// ── Markers ──────────────────────────────────────────────────────────────────

export interface EmulatedFault {
	status: number;
	count: number;
}

/** What the `[[emu:…]]` markers of a job's last user message ask for. */
export interface Markers {
	/** `[[emu:fail]]`: end FAILED. */
	fail: boolean;
	/** `[[emu:steps=N]]`: ignore the clock; the N-th GET shows the final status. */
	steps?: number;
	/** `[[emu:create=STATUSxN]]`: the first N creates of this body answer STATUS. */
	create?: EmulatedFault;
	/** `[[emu:get=STATUSxN]]`: the first N GETs of this job answer STATUS. */
	get?: EmulatedFault;
	/** `[[emu:retry-after=S]]`: `Retry-After` on emulated 429/503 answers. */
	retryAfter?: number;
	/** `[[emu:delay=MS]]`: every call about this job waits MS first. */
	delayMs?: number;
	/** `[[emu:duration=MS]]`: this job's duration, over any configured one. */
	durationMs?: number;
}

const MARKER = /\[\[emu:([a-z-]+)(?:=([^\]]*))?\]\]/gi;

function parseCount(value: string | undefined, min: number): number | undefined {
	if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
	const n = Number(value);
	return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

function parseFault(value: string | undefined): EmulatedFault | undefined {
	const match = value?.trim().match(/^([45]\d\d)x(\d+)$/i);
	if (!match) return undefined;
	return { status: Number(match[1]), count: Number(match[2]) };
}

/**
 * Reads the markers of a text. Unknown or malformed markers are ignored: the
 * real API would accept the text too.
 *
 * @example
 * parseMarkers("Hi [[emu:get=429x1]] [[emu:retry-after=3]]");
 * // { fail: false, get: { status: 429, count: 1 }, retryAfter: 3 }
 */
export function parseMarkers(text: string): Markers {
	const markers: Markers = { fail: false };
	for (const [, rawName, value] of text.matchAll(MARKER)) {
		switch (rawName?.toLowerCase()) {
			case "fail":
				markers.fail = true;
				break;
			case "steps":
				markers.steps = parseCount(value, 1) ?? markers.steps;
				break;
			case "create":
				markers.create = parseFault(value) ?? markers.create;
				break;
			case "get":
				markers.get = parseFault(value) ?? markers.get;
				break;
			case "retry-after":
				markers.retryAfter = parseCount(value, 0) ?? markers.retryAfter;
				break;
			case "delay":
				markers.delayMs = parseCount(value, 0) ?? markers.delayMs;
				break;
			case "duration":
				markers.durationMs = parseCount(value, 0) ?? markers.durationMs;
				break;
		}
	}
	return markers;
}

// ── Jobs ─────────────────────────────────────────────────────────────────────

type FinalStatus = "COMPLETED" | "FAILED";

interface Job {
	id: string;
	tenant: string;
	idempotencyKey: string | null;
	creates: number;
	/** 1-based acceptance order, across tenants: the list's sort key. */
	seq: number;
	model: string;
	request: ApiChatCompletionsRequest;
	markers: Markers;
	outcome: FinalStatus;
	createdAtMs: number;
	durationMs: number;
	completionId: string;
	gets: number;
	faultedGets: number;
	/** GETs answered 200: what drives a `steps` job. */
	answeredGets: number;
	/** Set by GETs for `steps` jobs only; clock jobs derive theirs. */
	stepStartedAtMs: number | null;
	stepFinishedAtMs: number | null;
	firstSeen: Partial<Record<JobStatus, number>>;
	answer?: CompletionResponse;
}

interface Timeline {
	status: JobStatus;
	startedAtMs: number | null;
	finishedAtMs: number | null;
}

/** Where a job stands at `now`: from the clock, or from its answered GETs under `[[emu:steps=N]]`. */
function timelineOf(job: Job, now: number): Timeline {
	const steps = job.markers.steps;
	if (steps !== undefined) {
		if (job.answeredGets === 0) return { status: "CREATED", startedAtMs: null, finishedAtMs: null };
		if (job.answeredGets < steps) {
			return { status: "IN_PROGRESS", startedAtMs: job.stepStartedAtMs, finishedAtMs: null };
		}
		return { status: job.outcome, startedAtMs: job.stepStartedAtMs, finishedAtMs: job.stepFinishedAtMs };
	}
	const startedAtMs = job.createdAtMs + job.durationMs * 0.1;
	const finishedAtMs = job.createdAtMs + job.durationMs;
	if (now >= finishedAtMs) return { status: job.outcome, startedAtMs, finishedAtMs };
	if (now >= startedAtMs) return { status: "IN_PROGRESS", startedAtMs, finishedAtMs: null };
	return { status: "CREATED", startedAtMs: null, finishedAtMs: null };
}

const seconds = (ms: number) => Math.floor(ms / 1000);
const secondsOrNull = (ms: number | null) => (ms === null ? null : seconds(ms));

export const FAILURE_MESSAGE = "Emulated upstream failure";

// ── Pagination ───────────────────────────────────────────────────────────────

/** `next_token` is base64url JSON `{"before": seq}`: opaque to callers, canonical so junk is rejected. */
function encodeToken(before: number): string {
	return Buffer.from(JSON.stringify({ before })).toString("base64url");
}

function decodeToken(token: string): number | undefined {
	try {
		const { before } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { before?: unknown };
		if (typeof before !== "number" || !Number.isSafeInteger(before) || before < 1) return undefined;
		return encodeToken(before) === token ? before : undefined;
	} catch {
		return undefined;
	}
}

/**
 * zod 4 leaves `input` out of issues unless asked; `toValidationError` needs it to tell
 * a missing field ("Field required") from a wrongly typed one.
 */
const PARSE = { reportInput: true } as const;

const ListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).optional(),
	next_token: z.string().optional(),
});

// ── Control route bodies ─────────────────────────────────────────────────────

const RangeSchema = z.union([
	z.number().min(0),
	z
		.tuple([z.number().min(0), z.number().min(0)])
		.refine(([min, max]) => min <= max, { message: "min must not exceed max" }),
]);
const Share = z.number().min(0).max(1);
const FaultsPatch = z.strictObject({
	errorRate: Share.optional(),
	rateLimitRate: Share.optional(),
	retryAfterSeconds: RangeSchema.optional(),
	latencyMs: RangeSchema.optional(),
	hangRate: Share.optional(),
	hangMs: z.number().min(0).optional(),
	createRateLimitPerSecond: z.number().min(0).optional(),
});

// ── The emulator ─────────────────────────────────────────────────────────────

type CallKind = "create" | "get" | "list";
type ApiEnv = { Variables: { tenant: string } };

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
	if (ms <= 0 || signal?.aborted) return Promise.resolve();
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			signal?.removeEventListener("abort", done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		// A client that gave up (or a server closing) ends the wait: no timer outlives its request.
		signal?.addEventListener("abort", done, { once: true });
	});
}

function emptyStats(): EmulatorStats {
	return { creates: 0, createsAccepted: 0, idempotentReplays: 0, gets: 0, lists: 0, responses: {}, jobs: {} };
}

/**
 * Builds an emulator: a Hono app plus its counters and fault controls.
 *
 * @example
 * let now = Date.UTC(2030, 0, 1);
 * const emulator = createEmulator({ apiKey: "k", now: () => now, seed: 1 });
 * const res = await emulator.app.request("/async/chat/completions", {
 *   method: "POST",
 *   headers: { authorization: "Bearer k", "content-type": "application/json" },
 *   body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: "Hi" }] } }),
 * });
 * now += 2000; // a sonar job is COMPLETED after 2 s
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
	const clock = options.now ?? Date.now;
	const sleep = options.sleep ?? defaultSleep;
	const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
	const initialFaults: FaultOptions = { ...NO_FAULTS, ...options.faults };

	// Two streams, so creating jobs never shifts which calls get faulted.
	let faultRng: Random = mulberry32(seed);
	const idRng: Random = mulberry32(seed ^ 0x9e3779b9);
	const newId = () => (options.seed === undefined ? crypto.randomUUID() : randomUuid(idRng));

	let faults: FaultOptions = { ...initialFaults };
	let counters = emptyStats();
	let seq = 0;
	const jobs = new Map<string, Job>();
	const jobsByTenant = new Map<string, Job[]>();
	const byIdempotencyKey = new Map<string, Job>();
	const createFaultsSeen = new Map<string, number>();
	const buckets = new Map<string, { tokens: number; atMs: number }>();

	function reset(): void {
		faultRng = mulberry32(seed);
		// The id stream goes on: a relay that outlives the reset must never see an old id again.
		faults = { ...initialFaults };
		counters = emptyStats();
		seq = 0;
		for (const map of [jobs, jobsByTenant, byIdempotencyKey, createFaultsSeen, buckets]) map.clear();
	}

	function draw(range: Range): number {
		if (typeof range === "number") return range;
		const [min, max] = range;
		return min + faultRng() * (max - min);
	}

	function durationOf(model: string, markers: Markers, jobSeq: number): number {
		return (
			markers.durationMs ??
			options.durationFor?.(model, jobSeq) ??
			options.durations?.[model] ??
			DEFAULT_DURATIONS_MS[model] ??
			options.defaultDurationMs ??
			3000
		);
	}

	function answerOf(job: Job, finishedAtMs: number): CompletionResponse {
		job.answer ??= buildAnswer({
			id: job.completionId,
			model: job.model,
			request: job.request,
			created: seconds(finishedAtMs),
		});
		return job.answer;
	}

	function summaryOf(job: Job, now: number): AsyncApiChatCompletionsResponseSummary {
		const { status, startedAtMs, finishedAtMs } = timelineOf(job, now);
		return {
			id: job.id,
			created_at: seconds(job.createdAtMs),
			started_at: secondsOrNull(startedAtMs),
			completed_at: status === "COMPLETED" ? secondsOrNull(finishedAtMs) : null,
			failed_at: status === "FAILED" ? secondsOrNull(finishedAtMs) : null,
			model: job.model,
			status,
		};
	}

	function viewOf(job: Job, now: number): AsyncApiChatCompletionsResponse {
		const summary = summaryOf(job, now);
		const finishedAtMs = timelineOf(job, now).finishedAtMs ?? now;
		return {
			...summary,
			response: summary.status === "COMPLETED" ? answerOf(job, finishedAtMs) : null,
			error_message: summary.status === "FAILED" ? FAILURE_MESSAGE : null,
		};
	}

	function jobStats(job: Job, now: number): JobStats {
		const { status, finishedAtMs } = timelineOf(job, now);
		return {
			model: job.model,
			idempotencyKey: job.idempotencyKey,
			creates: job.creates,
			gets: job.gets,
			createdAtMs: job.createdAtMs,
			finishedAtMs,
			status,
			firstSeen: { ...job.firstSeen },
		};
	}

	function stats(): EmulatorStats {
		const now = clock();
		return {
			...counters,
			responses: { ...counters.responses },
			jobs: Object.fromEntries([...jobs.values()].map((job) => [job.id, jobStats(job, now)])),
		};
	}

	/** An emulated error answer; 429s always carry `Retry-After`, others when one is given. */
	function faultResponse(c: Context, status: number, retryAfter?: number): Response {
		const headers: Record<string, string> = {};
		const wait = retryAfter ?? (status === 429 ? draw(faults.retryAfterSeconds) : undefined);
		if (wait !== undefined) headers["Retry-After"] = String(Math.max(0, Math.round(wait)));
		return c.json(
			{ detail: status === 504 ? "Emulated timeout" : "Emulated fault" },
			status as ContentfulStatusCode,
			headers,
		);
	}

	/** One draw decides a call's global fault: hang, 429, 5xx or none. Latency comes first, always. */
	async function globalFault(c: Context): Promise<Response | undefined> {
		const signal = c.req.raw.signal;
		const latency = draw(faults.latencyMs);
		if (latency > 0) await sleep(latency, signal);
		const roll = faultRng();
		if (roll < faults.hangRate) {
			await sleep(faults.hangMs, signal);
			return faultResponse(c, 504);
		}
		if (roll < faults.hangRate + faults.rateLimitRate) return faultResponse(c, 429);
		if (roll < faults.hangRate + faults.rateLimitRate + faults.errorRate) {
			return faultResponse(c, [500, 502, 503][randomInt(faultRng, 0, 2)] as number);
		}
		return undefined;
	}

	/** The Bearer key, if it is acceptable; it doubles as the tenant. */
	function tenantOf(authorization: string | undefined): string | undefined {
		const key = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
		if (key === undefined) return undefined;
		if (options.apiKey !== undefined && key !== options.apiKey) return undefined;
		return key;
	}

	/** The create token bucket: undefined when admitted, else the honest wait in whole seconds. */
	function createRetryAfter(tenant: string, now: number): number | undefined {
		const rate = faults.createRateLimitPerSecond;
		if (!(rate > 0)) return undefined;
		const capacity = Math.max(1, rate);
		const bucket = buckets.get(tenant) ?? { tokens: capacity, atMs: now };
		bucket.tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.atMs) / 1000) * rate);
		bucket.atMs = now;
		buckets.set(tenant, bucket);
		if (bucket.tokens >= 1) {
			bucket.tokens -= 1;
			return undefined;
		}
		return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
	}

	/** Counts the call, applies global faults, then authenticates. */
	function guard(kind: CallKind): MiddlewareHandler<ApiEnv> {
		return async (c, next) => {
			if (kind === "create") counters.creates++;
			else if (kind === "get") counters.gets++;
			else counters.lists++;
			const fault = await globalFault(c);
			if (fault) return fault;
			const tenant = tenantOf(c.req.header("authorization"));
			if (tenant === undefined) return c.json({ detail: "Invalid API key" }, 401, { "WWW-Authenticate": "Bearer" });
			c.set("tenant", tenant);
			await next();
		};
	}

	function findJob(tenant: string, id: string): Job {
		const job = jobs.get(id);
		// Another tenant's job does not exist, as far as this caller can tell.
		if (!job || job.tenant !== tenant) throw new HTTPException(404, { message: "Async chat completion not found" });
		return job;
	}

	// ── The API, mounted under both path families ──

	const api = new Hono<ApiEnv>();

	api.use("*", async (c, next) => {
		await next();
		const code = String(c.res.status);
		counters.responses[code] = (counters.responses[code] ?? 0) + 1;
	});

	api.post("/", guard("create"), async (c) => {
		const tenant = c.get("tenant");
		const now = clock();
		const wait = createRetryAfter(tenant, now);
		if (wait !== undefined) return faultResponse(c, 429, wait);

		let raw: unknown;
		try {
			raw = JSON.parse(await c.req.text());
		} catch {
			throw new HTTPException(400, { message: "Malformed JSON body" });
		}
		const parsed = CreateBody.safeParse(raw, PARSE);
		if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
		const { request, idempotency_key } = parsed.data;

		const text = lastUserText(request.messages);
		const markers = parseMarkers(text);
		if (markers.delayMs) await sleep(markers.delayMs, c.req.raw.signal);

		if (markers.create) {
			const key = `${tenant}\n${idempotency_key ?? text}`;
			const seen = createFaultsSeen.get(key) ?? 0;
			if (seen < markers.create.count) {
				createFaultsSeen.set(key, seen + 1);
				return faultResponse(c, markers.create.status, markers.retryAfter);
			}
		}

		const idempotencyKey = idempotency_key == null ? undefined : `${tenant}\n${idempotency_key}`;
		const existing = idempotencyKey === undefined ? undefined : byIdempotencyKey.get(idempotencyKey);
		if (existing) {
			counters.idempotentReplays++;
			existing.creates++;
			return c.json(viewOf(existing, clock()), 200);
		}

		const createdAtMs = clock();
		seq++;
		const job: Job = {
			id: newId(),
			tenant,
			idempotencyKey: idempotency_key ?? null,
			creates: 1,
			seq,
			model: request.model,
			request,
			markers,
			outcome: markers.fail ? "FAILED" : "COMPLETED",
			createdAtMs,
			durationMs: Math.max(0, durationOf(request.model, markers, seq)),
			completionId: newId(),
			gets: 0,
			faultedGets: 0,
			answeredGets: 0,
			stepStartedAtMs: null,
			stepFinishedAtMs: null,
			firstSeen: {},
		};
		jobs.set(job.id, job);
		const own = jobsByTenant.get(tenant) ?? [];
		own.push(job);
		jobsByTenant.set(tenant, own);
		if (idempotencyKey !== undefined) byIdempotencyKey.set(idempotencyKey, job);
		counters.createsAccepted++;

		// A new job is CREATED, whatever its duration: the first GET is where it can have moved on.
		const created: AsyncApiChatCompletionsResponse = {
			id: job.id,
			model: job.model,
			created_at: seconds(createdAtMs),
			started_at: null,
			completed_at: null,
			failed_at: null,
			response: null,
			error_message: null,
			status: "CREATED",
		};
		return c.json(created, 200);
	});

	api.get("/", guard("list"), (c) => {
		const parsed = ListQuery.safeParse(c.req.query(), PARSE);
		if (!parsed.success) return c.json(toValidationError(parsed.error, "query"), 422);
		const { limit = 20, next_token } = parsed.data;
		let before = Number.POSITIVE_INFINITY;
		if (next_token !== undefined && next_token !== "") {
			const decoded = decodeToken(next_token);
			if (decoded === undefined) return c.json(validationError(["query", "next_token"], "Invalid next_token"), 422);
			before = decoded;
		}

		const now = clock();
		const own = jobsByTenant.get(c.get("tenant")) ?? [];
		const page: Job[] = [];
		let more = false;
		for (let i = own.length - 1; i >= 0; i--) {
			const job = own[i] as Job;
			if (job.seq >= before) continue;
			if (page.length === limit) {
				more = true;
				break;
			}
			page.push(job);
		}
		const last = page.at(-1);
		const body: ListAsyncApiChatCompletionsResponse = {
			requests: page.map((job) => summaryOf(job, now)),
			next_token: more && last ? encodeToken(last.seq) : null,
		};
		return c.json(body, 200);
	});

	api.get("/:id", guard("get"), async (c) => {
		const job = findJob(c.get("tenant"), c.req.param("id"));
		job.gets++;
		if (job.markers.delayMs) await sleep(job.markers.delayMs, c.req.raw.signal);
		if (job.markers.get && job.faultedGets < job.markers.get.count) {
			job.faultedGets++;
			return faultResponse(c, job.markers.get.status, job.markers.retryAfter);
		}

		const now = clock();
		job.answeredGets++;
		if (job.markers.steps !== undefined) {
			if (job.answeredGets === 1) job.stepStartedAtMs = now;
			if (job.answeredGets === job.markers.steps) job.stepFinishedAtMs = now;
		}
		const view = viewOf(job, now);
		job.firstSeen[view.status] ??= now;
		return c.json(view, 200);
	});

	// ── Control routes: no auth, no faults ──

	const control = new Hono();

	control.get("/healthz", (c) => c.json({ ok: true }));
	control.get("/stats", (c) => c.json(stats()));
	control.get("/stats/jobs/:id", (c) => {
		const job = jobs.get(c.req.param("id"));
		if (!job) throw new HTTPException(404, { message: "Unknown job" });
		return c.json({ id: job.id, ...jobStats(job, clock()) });
	});
	control.get("/faults", (c) => c.json(faults));
	control.post("/faults", async (c) => {
		let raw: unknown;
		try {
			raw = JSON.parse(await c.req.text());
		} catch {
			throw new HTTPException(400, { message: "Malformed JSON body" });
		}
		const parsed = FaultsPatch.safeParse(raw, PARSE);
		if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
		setFaults(parsed.data as Partial<FaultOptions>);
		return c.json(faults);
	});
	control.post("/reset", (c) => {
		reset();
		return c.json({ ok: true });
	});

	function setFaults(patch: Partial<FaultOptions>): void {
		const defined = Object.entries(patch).filter(([, value]) => value !== undefined);
		faults = { ...faults, ...Object.fromEntries(defined) };
	}

	const app = new Hono();
	app.route("/async/chat/completions", api);
	app.route("/v1/async/sonar", api);
	app.route("/__emulator", control);
	app.notFound((c) => c.json({ detail: "Not Found" }, 404));
	app.onError((error, c) => {
		if (error instanceof HTTPException) return c.json({ detail: error.message }, error.status);
		console.error("emulator: unexpected error", error);
		return c.json({ detail: "Internal Server Error" }, 500);
	});

	return { app, stats, reset, setFaults };
}
