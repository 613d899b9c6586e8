/**
 * The Agent API, background mode and streaming, as `spec/agent-api.md` and the
 * SDK describe it:
 * - `POST /v1/agent`, `POST /v1/responses`: create a run (strict 400s; `background`
 *   answers `queued` at once, `stream` answers SSE, otherwise the call waits for
 *   the terminal Response);
 * - `GET /v1/responses/{id}`: the Response (`?stream=true&starting_after=N`: the
 *   run's events from N + 1 on);
 * - `POST /v1/responses/{id}/cancel`: `{response_id, status: "cancelling"}`;
 * - `GET /v1/models`: the model slugs, without auth.
 *
 * Every error is the `{"error": {message, type, code, param?}}` envelope. A
 * failed or cancelled run is an HTTP 200 whose `status` says so. Another key's
 * run, or a `store: false` one, does not exist (404).
 */
import type { ServerResponse } from "node:http";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { randomInt } from "../answers.ts";
import { parseMarkers, stripMarkers } from "../markers.ts";
import type { Runtime } from "../runtime.ts";
import { withDrift, withFieldDrift } from "./answer.ts";
import { durationPrior, modelList } from "./catalog.ts";
import { agentError } from "./errors.ts";
import { lastUserText, validateAgentRequest } from "./request.ts";
import {
	type AgentRun,
	endAt,
	eventsOf,
	isTerminal,
	notify,
	responseAt,
	responseWith,
	runNow,
	statsOf,
	statusAt,
} from "./run.ts";
import { openStream, SSE_HEADERS, sleepUnlessChanged } from "./stream.ts";
import type { AgentResponse, CancelAnswer } from "./types.ts";

/** agent-api.md: bodies over 32 MiB are refused. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface AgentRouterOptions {
	/** How long a stream cursor stays resumable, in ms. */
	streamCursorTtlMs: number;
}

type CallKind = "create" | "get" | "cancel";

/** On Node, `@hono/node-server` hands the raw response over: what a dropped stream destroys. */
type AgentEnv = {
	Bindings: { outgoing?: ServerResponse } | undefined;
	Variables: { tenant: string };
};

/**
 * The Agent router, to mount under `/v1`.
 *
 * @example
 * app.route("/v1", agentRouter(runtime, { streamCursorTtlMs: 600_000 }));
 */
export function agentRouter(runtime: Runtime, routerOptions: AgentRouterOptions): Hono<AgentEnv> {
	const { counters } = runtime;
	const runs = new Map<string, AgentRun>();
	const openStreams = new Set<AbortController>();
	runtime.onReset(() => {
		// A reset forgets the runs: their streams end, and waits on them stop.
		for (const stream of [...openStreams]) stream.abort();
		for (const run of runs.values()) notify(run);
		runs.clear();
	});

	/** An emulated error answer; 429s always carry `Retry-After`, others when one is given. */
	function faultAnswer(c: Context, status: number, retryAfter?: number, headers: Record<string, string> = {}) {
		const wait = retryAfter ?? (status === 429 ? runtime.retryAfterSeconds() : undefined);
		const all = { ...headers, ...(wait !== undefined && { "Retry-After": String(Math.max(0, Math.round(wait))) }) };
		return agentError(c, status, status === 504 ? "Emulated timeout" : "Emulated fault", { headers: all });
	}

	/** Counts the call, applies global faults, authenticates, then applies the request rate limit. */
	function guard(kind: CallKind): MiddlewareHandler<AgentEnv> {
		return async (c, next) => {
			if (kind === "create") counters.creates++;
			else if (kind === "cancel") counters.cancels++;
			else if (c.req.query("stream") === "true") counters.streams++;
			else counters.gets++;
			const fault = await runtime.globalFault(c.req.raw.signal);
			const tenant = runtime.tenantOf(c.req.header("authorization"));
			if (fault) {
				// Not the limiter's answer, so it takes no token; it still reports the bucket.
				const limit = tenant === undefined ? undefined : runtime.requestLimit(tenant, runtime.now(), false);
				return faultAnswer(c, fault.status, fault.retryAfter, limit?.headers);
			}
			if (tenant === undefined) {
				return agentError(c, 401, "Invalid API key", { headers: { "WWW-Authenticate": "Bearer" } });
			}
			const limit = runtime.requestLimit(tenant, runtime.now(), true);
			if (limit && !limit.admitted) {
				return agentError(
					c,
					429,
					`Rate limit exceeded: ${limit.headers["x-ratelimit-limit-requests"]} requests per minute`,
					{
						headers: { ...limit.headers, "Retry-After": String(limit.retryAfter ?? 1) },
					},
				);
			}
			for (const [name, value] of Object.entries(limit?.headers ?? {})) c.header(name, value);
			c.set("tenant", tenant);
			await next();
		};
	}

	/** The `[[emu:ratelimit]]` headers of a run, on an answer about it. */
	function markRateLimit(c: Context, run: AgentRun): void {
		const marked = run.markers.rateLimit;
		if (!marked) return;
		c.header("x-ratelimit-limit-requests", String(marked.limit));
		c.header("x-ratelimit-remaining-requests", String(marked.remaining));
		c.header("x-ratelimit-reset-requests", "1s");
	}

	/** What a JSON read shows: the Response, drifted or unusable if the run's markers say so. */
	function render(run: AgentRun, response: AgentResponse): unknown {
		if (run.markers.unusable && isTerminal(response.status)) return { id: run.id, object: "response" };
		return run.markers.drift ? withDrift(response) : response;
	}

	function findRun(c: Context<AgentEnv>): AgentRun | undefined {
		const run = runs.get(c.req.param("id") ?? "");
		// Another key's run, or one created with store: false, does not exist for this caller.
		return run && run.tenant === c.get("tenant") && run.store ? run : undefined;
	}

	const notFound = (c: Context, id: string | undefined) =>
		agentError(c, 404, `No response found with id '${id ?? ""}'`);

	/** An event-stream answer from `startingAfter` on; decides whether this connection will be dropped. */
	function streamAnswer(c: Context<AgentEnv>, run: AgentRun, startingAfter: number): Response {
		run.streams++;
		let dropAfter: number | undefined;
		const drop = run.markers.streamDrop;
		const rate = runtime.faults().streamDropRate;
		if (drop && run.streams <= drop.connections) {
			dropAfter = drop.afterEvents;
		} else if (rate > 0 && runtime.roll() < rate) {
			const remaining = eventsOf(run).length - (startingAfter + 1);
			if (remaining > 0) dropAfter = randomInt(runtime.roll, 0, remaining - 1);
		}
		const outgoing = c.env?.outgoing;
		const destroy = outgoing
			? () => {
					// Ends the socket once what was written is flushed, mid-body: no terminal chunk follows.
					const socket = outgoing.socket;
					if (socket) socket.end();
					else outgoing.destroy();
				}
			: undefined;
		const body = openStream({
			runtime,
			run,
			startingAfter,
			signal: c.req.raw.signal,
			dropAfter,
			destroy,
			open: openStreams,
		});
		return c.body(body, 200, SSE_HEADERS);
	}

	/** Waits (with the injected sleep) until the run is terminal: a create without `background`. */
	async function settle(run: AgentRun, signal: AbortSignal): Promise<void> {
		for (let now = runNow(run, runtime.now()); !isTerminal(statusAt(run, now)); now = runNow(run, runtime.now())) {
			if (signal.aborted) return;
			if (run.markers.steps !== undefined) {
				// Nobody will GET a run the caller is waiting on: its steps happen now.
				run.stepStartedAtMs ??= now;
				run.stepFinishedAtMs = now;
				notify(run);
				continue;
			}
			const end = endAt(run) ?? now;
			if (await sleepUnlessChanged(runtime, run, end - now, signal)) {
				run.advancedToMs = Math.max(run.advancedToMs, end);
			}
		}
	}

	const api = new Hono<AgentEnv>();

	const create = async (c: Context<AgentEnv>) => {
		const tenant = c.get("tenant");
		const signal = c.req.raw.signal;
		const wait = runtime.createRetryAfter(tenant, runtime.now());
		if (wait !== undefined) return faultAnswer(c, 429, wait);

		const text = await c.req.text();
		if (Buffer.byteLength(text) > MAX_BODY_BYTES) return agentError(c, 413, "Request body too large (over 32 MiB)");
		let raw: unknown;
		try {
			raw = JSON.parse(text);
		} catch {
			return agentError(c, 400, "We could not parse the JSON body of your request");
		}
		const validated = validateAgentRequest(raw);
		if (!validated.ok) return agentError(c, 400, validated.problem.message, { param: validated.problem.param });
		const { request, preset, model } = validated;

		const userText = lastUserText(request.input);
		const markers = parseMarkers(userText);
		if (markers.delayMs) await runtime.sleep(markers.delayMs, signal);
		if (markers.create) {
			// No idempotency key on this API: the fault is keyed by the text, and a retry after it is a new run.
			const key = `${tenant}\n${userText}`;
			const seen = runtime.createFaultsSeen.get(key) ?? 0;
			if (seen < markers.create.count) {
				runtime.createFaultsSeen.set(key, seen + 1);
				return faultAnswer(c, markers.create.status, markers.retryAfter);
			}
		}

		const seq = runtime.nextSeq();
		const createdAtMs = runtime.now();
		const requested = request.model ?? request.models?.[0];
		const keys = [preset, requested].filter((key): key is string => key !== undefined && key !== null);
		const run: AgentRun = {
			id: `resp_${runtime.newHex(32)}`,
			messageId: `msg_${runtime.newHex(32)}`,
			tenant,
			seq,
			body: raw,
			request,
			model,
			preset,
			question: stripMarkers(userText),
			markers,
			background: request.background === true,
			store: request.store !== false,
			createdAtMs,
			durationMs: runtime.durationOf({
				keys,
				markers,
				seq,
				builtIn: (key) => {
					const prior = durationPrior(key);
					return prior && runtime.lognormal(key, seq, prior);
				},
			}),
			cancelledAtMs: null,
			advancedToMs: createdAtMs,
			stepStartedAtMs: null,
			stepFinishedAtMs: null,
			gets: 0,
			faultedGets: 0,
			answeredGets: 0,
			cancels: 0,
			streams: 0,
			answerLost: false,
			firstSeen: {},
			waiters: new Set(),
		};
		runs.set(run.id, run);
		runtime.jobs.set(run.id, { id: run.id, statsAt: (now) => statsOf(run, now) });
		counters.createsAccepted++;

		// The run is made (it runs, and is billed); only its answer is lost. Drawn only when the fault is on,
		// so that the other faults' draws are the same as before it existed.
		const { lostAnswerRate, hangMs } = runtime.faults();
		if (lostAnswerRate > 0 && runtime.roll() < lostAnswerRate) {
			run.answerLost = true;
			// Bounded, and over as soon as the client gives up (the signal aborts the wait).
			await runtime.sleep(hangMs, signal);
			return faultAnswer(c, 504);
		}

		if (request.stream) {
			counters.streams++;
			return streamAnswer(c, run, -1);
		}
		if (run.background) {
			// A new background run is queued, whatever its duration: a GET is where it can have moved on.
			markRateLimit(c, run);
			return c.json(render(run, responseWith(run, "queued")), 200);
		}
		await settle(run, signal);
		markRateLimit(c, run);
		return c.json(render(run, responseAt(run, runtime.now())), 200);
	};

	api.post("/agent", guard("create"), create);
	api.post("/responses", guard("create"), create);

	api.get("/responses/:id", guard("get"), async (c) => {
		const run = findRun(c);
		if (!run) return notFound(c, c.req.param("id"));
		const stream = c.req.query("stream") === "true";
		if (!stream) run.gets++;
		if (run.markers.delayMs) await runtime.sleep(run.markers.delayMs, c.req.raw.signal);
		if (run.markers.get && run.faultedGets < run.markers.get.count) {
			run.faultedGets++;
			return faultAnswer(c, run.markers.get.status, run.markers.retryAfter);
		}

		if (stream) {
			const cursor = c.req.query("starting_after");
			let startingAfter = -1;
			if (cursor !== undefined) {
				if (!/^\d+$/.test(cursor)) {
					return agentError(c, 400, "'starting_after' must be a non-negative integer", { param: "starting_after" });
				}
				startingAfter = Number(cursor);
				const events = eventsOf(run);
				const seen = events[startingAfter];
				if (!seen) {
					return agentError(c, 400, `'starting_after' ${cursor} is beyond the last event`, {
						param: "starting_after",
					});
				}
				const age = runNow(run, runtime.now()) - seen.atMs;
				const ttl = run.markers.cursorTtlMs ?? routerOptions.streamCursorTtlMs;
				if (Number.isFinite(seen.atMs) && age > ttl) {
					return agentError(c, 400, `The stream cursor 'starting_after=${cursor}' has expired`, {
						param: "starting_after",
					});
				}
			}
			return streamAnswer(c, run, startingAfter);
		}

		const now = runNow(run, runtime.now());
		run.answeredGets++;
		const steps = run.markers.steps;
		if (steps !== undefined && run.cancelledAtMs === null) {
			if (run.answeredGets === 1) run.stepStartedAtMs ??= now;
			if (run.answeredGets >= steps && run.stepFinishedAtMs === null) run.stepFinishedAtMs = now;
			notify(run);
		}
		const response = responseAt(run, now);
		run.firstSeen[response.status] ??= now;
		markRateLimit(c, run);
		return c.json(render(run, response), 200);
	});

	api.post("/responses/:id/cancel", guard("cancel"), async (c) => {
		const run = findRun(c);
		if (!run) return notFound(c, c.req.param("id"));
		run.cancels++;
		if (run.markers.delayMs) await runtime.sleep(run.markers.delayMs, c.req.raw.signal);
		const now = runNow(run, runtime.now());
		const status = statusAt(run, now);
		if (isTerminal(status)) return agentError(c, 400, `Response is already ${status}`);
		run.cancelledAtMs = now;
		notify(run);
		const answer: CancelAnswer = { response_id: run.id, status: "cancelling" };
		return c.json(run.markers.drift ? withFieldDrift(answer) : answer, 200);
	});

	// A static catalogue: no auth, and no faults or limits (it is not a call about a run).
	api.get("/models", (c) => c.json(modelList(), 200));

	return api;
}
