/**
 * The retired Sonar async API (`spec/000–003`), as it behaved: create with an
 * optional `idempotency_key`, get one job, list a key's jobs newest first.
 * Mounted under both path families, `/async/chat/completions` and
 * `/v1/async/sonar`, which share one job store.
 *
 * Statuses move CREATED → IN_PROGRESS (at 10 % of the duration) →
 * COMPLETED/FAILED on the emulator clock, or on answered GETs under
 * `[[emu:steps=N]]`. Errors are FastAPI's: 422 `{detail: [{loc, msg, type}]}`,
 * otherwise `{detail: "<message>"}`.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Markers, parseMarkers } from "../markers.ts";
import type { DrawnFault, JobStats, Runtime } from "../runtime.ts";
import { buildAnswer, lastUserText, questionOf } from "./answer.ts";
import {
	type ApiChatCompletionsRequest,
	type AsyncApiChatCompletionsResponse,
	type AsyncApiChatCompletionsResponseSummary,
	type AsyncProcessingStatus,
	type CompletionResponse,
	AsyncApiChatCompletionsRequest as CreateBody,
	type ListAsyncApiChatCompletionsResponse,
	ListQuery,
} from "./schemas.ts";
import { PARSE, toValidationError, validationError } from "./validation.ts";

/** Built-in Sonar durations, in ms: the order of magnitude matters, not the exact value. */
export const DEFAULT_DURATIONS_MS: Readonly<Record<string, number>> = {
	sonar: 2000,
	"sonar-pro": 3000,
	"sonar-reasoning-pro": 5000,
	"sonar-deep-research": 8000,
};

export const FAILURE_MESSAGE = "Emulated upstream failure";

type FinalStatus = "COMPLETED" | "FAILED";

interface SonarJob {
	id: string;
	tenant: string;
	idempotencyKey: string | null;
	creates: number;
	/** 1-based acceptance order, across tenants: the list's sort key. */
	seq: number;
	model: string;
	request: ApiChatCompletionsRequest;
	body: unknown;
	question: string;
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
	firstSeen: Partial<Record<AsyncProcessingStatus, number>>;
	answer?: CompletionResponse;
}

interface Timeline {
	status: AsyncProcessingStatus;
	startedAtMs: number | null;
	finishedAtMs: number | null;
}

/** Where a job stands at `now`: from the clock, or from its answered GETs under `[[emu:steps=N]]`. */
function timelineOf(job: SonarJob, now: number): Timeline {
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

type CallKind = "create" | "get" | "list";
type SonarEnv = { Variables: { tenant: string } };

/**
 * The Sonar router, to mount under each path family.
 *
 * @example
 * app.route("/async/chat/completions", sonarRouter(runtime));
 */
export function sonarRouter(runtime: Runtime): Hono<SonarEnv> {
	const { counters } = runtime;
	const jobs = new Map<string, SonarJob>();
	const jobsByTenant = new Map<string, SonarJob[]>();
	const byIdempotencyKey = new Map<string, SonarJob>();
	runtime.onReset(() => {
		for (const map of [jobs, jobsByTenant, byIdempotencyKey]) map.clear();
	});

	function answerOf(job: SonarJob, finishedAtMs: number): CompletionResponse {
		job.answer ??= buildAnswer({
			id: job.completionId,
			model: job.model,
			request: job.request,
			created: seconds(finishedAtMs),
			sizeBytes: job.markers.sizeBytes,
		});
		return job.answer;
	}

	function summaryOf(job: SonarJob, now: number): AsyncApiChatCompletionsResponseSummary {
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

	function viewOf(job: SonarJob, now: number): AsyncApiChatCompletionsResponse {
		const summary = summaryOf(job, now);
		const finishedAtMs = timelineOf(job, now).finishedAtMs ?? now;
		return {
			...summary,
			response: summary.status === "COMPLETED" ? answerOf(job, finishedAtMs) : null,
			error_message: summary.status === "FAILED" ? FAILURE_MESSAGE : null,
		};
	}

	function statsOf(job: SonarJob, now: number): JobStats {
		const { status, finishedAtMs } = timelineOf(job, now);
		return {
			api: "sonar",
			model: job.model,
			preset: null,
			question: job.question,
			idempotencyKey: job.idempotencyKey,
			creates: job.creates,
			answerLost: false,
			gets: job.gets,
			cancels: 0,
			streams: 0,
			body: job.body,
			createdAtMs: job.createdAtMs,
			finishedAtMs,
			status,
			firstSeen: { ...job.firstSeen },
		};
	}

	/** An emulated error answer; 429s always carry `Retry-After`, others when one is given. */
	function faultResponse(c: Context, status: number, retryAfter?: number): Response {
		const headers: Record<string, string> = {};
		const wait = retryAfter ?? (status === 429 ? runtime.retryAfterSeconds() : undefined);
		if (wait !== undefined) headers["Retry-After"] = String(Math.max(0, Math.round(wait)));
		return c.json(
			{ detail: status === 504 ? "Emulated timeout" : "Emulated fault" },
			status as ContentfulStatusCode,
			headers,
		);
	}

	const drawnFaultResponse = (c: Context, fault: DrawnFault) => faultResponse(c, fault.status, fault.retryAfter);

	/** Counts the call, applies global faults, then authenticates. */
	function guard(kind: CallKind): MiddlewareHandler<SonarEnv> {
		return async (c, next) => {
			if (kind === "create") counters.creates++;
			else if (kind === "get") counters.gets++;
			else counters.lists++;
			const fault = await runtime.globalFault(c.req.raw.signal);
			if (fault) return drawnFaultResponse(c, fault);
			const tenant = runtime.tenantOf(c.req.header("authorization"));
			if (tenant === undefined) return c.json({ detail: "Invalid API key" }, 401, { "WWW-Authenticate": "Bearer" });
			c.set("tenant", tenant);
			await next();
		};
	}

	const api = new Hono<SonarEnv>();

	api.post("/", guard("create"), async (c) => {
		const tenant = c.get("tenant");
		const wait = runtime.createRetryAfter(tenant, runtime.now());
		if (wait !== undefined) return faultResponse(c, 429, wait);

		let raw: unknown;
		try {
			raw = JSON.parse(await c.req.text());
		} catch {
			return c.json({ detail: "Malformed JSON body" }, 400);
		}
		const parsed = CreateBody.safeParse(raw, PARSE);
		if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
		const { request, idempotency_key } = parsed.data;

		const text = lastUserText(request.messages);
		const markers = parseMarkers(text);
		if (markers.delayMs) await runtime.sleep(markers.delayMs, c.req.raw.signal);

		if (markers.create) {
			const key = `${tenant}\n${idempotency_key ?? text}`;
			const seen = runtime.createFaultsSeen.get(key) ?? 0;
			if (seen < markers.create.count) {
				runtime.createFaultsSeen.set(key, seen + 1);
				return faultResponse(c, markers.create.status, markers.retryAfter);
			}
		}

		const idempotencyKey = idempotency_key == null ? undefined : `${tenant}\n${idempotency_key}`;
		const existing = idempotencyKey === undefined ? undefined : byIdempotencyKey.get(idempotencyKey);
		if (existing) {
			counters.idempotentReplays++;
			existing.creates++;
			return c.json(viewOf(existing, runtime.now()), 200);
		}

		const createdAtMs = runtime.now();
		const seq = runtime.nextSeq();
		const job: SonarJob = {
			id: runtime.newUuid(),
			tenant,
			idempotencyKey: idempotency_key ?? null,
			creates: 1,
			seq,
			model: request.model,
			request,
			body: raw,
			question: questionOf(request.messages),
			markers,
			outcome: markers.fail ? "FAILED" : "COMPLETED",
			createdAtMs,
			durationMs: runtime.durationOf({
				keys: [request.model],
				markers,
				seq,
				builtIn: (model) => DEFAULT_DURATIONS_MS[model],
			}),
			completionId: runtime.newUuid(),
			gets: 0,
			faultedGets: 0,
			answeredGets: 0,
			stepStartedAtMs: null,
			stepFinishedAtMs: null,
			firstSeen: {},
		};
		jobs.set(job.id, job);
		runtime.jobs.set(job.id, { id: job.id, statsAt: (now) => statsOf(job, now) });
		const own = jobsByTenant.get(tenant) ?? [];
		own.push(job);
		jobsByTenant.set(tenant, own);
		if (idempotencyKey !== undefined) byIdempotencyKey.set(idempotencyKey, job);
		counters.createsAccepted++;

		// A new job is CREATED, whatever its duration: the first GET is where it can have moved on.
		const created: AsyncApiChatCompletionsResponse = {
			id: job.id,
			model: job.model,
			created_at: Math.floor(createdAtMs / 1000),
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

		const now = runtime.now();
		const own = jobsByTenant.get(c.get("tenant")) ?? [];
		const page: SonarJob[] = [];
		let more = false;
		for (let i = own.length - 1; i >= 0; i--) {
			const job = own[i] as SonarJob;
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
		const job = jobs.get(c.req.param("id"));
		// Another tenant's job does not exist, as far as this caller can tell.
		if (!job || job.tenant !== c.get("tenant")) return c.json({ detail: "Async chat completion not found" }, 404);
		job.gets++;
		if (job.markers.delayMs) await runtime.sleep(job.markers.delayMs, c.req.raw.signal);
		if (job.markers.get && job.faultedGets < job.markers.get.count) {
			job.faultedGets++;
			return faultResponse(c, job.markers.get.status, job.markers.retryAfter);
		}

		const now = runtime.now();
		job.answeredGets++;
		if (job.markers.steps !== undefined) {
			if (job.answeredGets === 1) job.stepStartedAtMs = now;
			if (job.answeredGets === job.markers.steps) job.stepFinishedAtMs = now;
		}
		const view = viewOf(job, now);
		job.firstSeen[view.status] ??= now;
		return c.json(view, 200);
	});

	return api;
}
