/**
 * The Perplexity emulator: a faithful, in-memory stand-in for the upstream,
 * used in development, tests and benchmarks, where there is no internet and
 * often no API key. It serves two APIs at once (or one, with `apis`):
 * - the **Agent API** (`agent/`): `POST /v1/agent` and `/v1/responses`,
 *   `GET /v1/responses/{id}` (JSON or event stream), cancel, `GET /v1/models`;
 * - the retired **Sonar async API** (`sonar/`): `/async/chat/completions` and
 *   `/v1/async/sonar`, create, get and list.
 *
 * It never imports the relay's code: each API validates with its own
 * transcription (the SDK's types for the Agent API, the seed OpenAPI files for
 * Sonar), so the emulator can catch the relay's mistakes instead of sharing them.
 * Time comes from an injectable clock and randomness from a seeded PRNG, so tests
 * are deterministic. Markers in the last user text (`[[emu:steps=2]]`,
 * `[[emu:fail]]`, …; see `markers.ts`) script one job without touching shared
 * state. Global faults (errors, 429s, latency, hangs, rate limits, stream drops,
 * Agent creates whose answer is lost after the run started) are for resilience
 * tests and benchmarks.
 *
 * Every API answer carries `x-perplexity-emulator: sonar-relay-emulator`, so the relay can label
 * the jobs it ran here; the real API never sends it.
 *
 * Control routes, unauthenticated (bind to loopback only):
 * - `GET /__emulator/stats`, `GET /__emulator/stats/jobs/{id}`: counters;
 * - `GET|POST /__emulator/faults`: read or change the global faults;
 * - `POST /__emulator/reset`: forget all jobs and counters, restore the initial faults;
 * - `GET /__emulator/healthz`: liveness.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { agentError } from "./agent/errors.ts";
import { agentRouter } from "./agent/routes.ts";
import { ALL_APIS, type EmulatorOptions, type FaultOptions } from "./options.ts";
import { createRuntime, type EmulatorStats } from "./runtime.ts";
import { sonarRouter } from "./sonar/routes.ts";
import { PARSE, toValidationError } from "./sonar/validation.ts";

export { buildAgentAnswer } from "./agent/answer.ts";
export { MODELS, PRESET_ALIASES, PRESETS } from "./agent/catalog.ts";
export { CANCELLED_MESSAGE } from "./agent/run.ts";
export type { EmulatedFault, Markers } from "./markers.ts";
export { parseMarkers } from "./markers.ts";
export type { ApiName, EmulatorOptions, FaultOptions, Range } from "./options.ts";
export type { EmulatorStats, JobStats, JobStatus } from "./runtime.ts";
export { buildAnswer } from "./sonar/answer.ts";
export { DEFAULT_DURATIONS_MS, FAILURE_MESSAGE } from "./sonar/routes.ts";

export interface Emulator {
	app: Hono;
	stats(): EmulatorStats;
	reset(): void;
	setFaults(faults: Partial<FaultOptions>): void;
}

/** The header that marks the emulator's answers (the relay's `src/upstream/http.ts` looks for it by name). */
export const EMULATOR_HEADER = "x-perplexity-emulator";
export const EMULATOR_HEADER_VALUE = "sonar-relay-emulator";

/** How long an Agent API stream cursor stays resumable, by default. */
export const DEFAULT_STREAM_CURSOR_TTL_MS = 10 * 60 * 1000;

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
	requestRateLimitPerMinute: z.number().min(0).optional(),
	streamDropRate: Share.optional(),
	lostAnswerRate: Share.optional(),
});

/** The paths of the Agent API: where errors wear its envelope. */
const AGENT_PATH = /^\/v1\/(agent|responses|models)(\/|$)/;

/**
 * Builds an emulator: a Hono app plus its counters and fault controls.
 *
 * @example
 * let now = Date.UTC(2030, 0, 1);
 * const emulator = createEmulator({ apiKey: "k", now: () => now, seed: 1, durations: { "perplexity/sonar": 2000 } });
 * const res = await emulator.app.request("/v1/responses", {
 *   method: "POST",
 *   headers: { authorization: "Bearer k", "content-type": "application/json" },
 *   body: JSON.stringify({ model: "perplexity/sonar", input: "Hi", background: true }),
 * });
 * now += 2000; // GET /v1/responses/{id} now shows it completed
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
	const runtime = createRuntime(options);
	const apis = new Set(options.apis ?? ALL_APIS);
	const app = new Hono();

	app.use("*", async (c, next) => {
		await next();
		if (c.req.path.startsWith("/__emulator/")) return;
		const code = String(c.res.status);
		runtime.counters.responses[code] = (runtime.counters.responses[code] ?? 0) + 1;
		// Every API answer says it came from the emulator: the relay records it on the job it ran, so a
		// dashboard can tell an emulated answer from Perplexity's. The real API never sends this header.
		c.res.headers.set(EMULATOR_HEADER, EMULATOR_HEADER_VALUE);
	});

	// An API left out is not mounted: its paths fall through to the 404 below, as on a server that dropped it.
	if (apis.has("sonar")) {
		const sonar = sonarRouter(runtime);
		app.route("/async/chat/completions", sonar);
		app.route("/v1/async/sonar", sonar);
	}
	if (apis.has("agent")) {
		app.route(
			"/v1",
			agentRouter(runtime, { streamCursorTtlMs: options.streamCursorTtlMs ?? DEFAULT_STREAM_CURSOR_TTL_MS }),
		);
	}

	// ── Control routes: no auth, no faults ──

	const control = new Hono();
	control.get("/healthz", (c) => c.json({ ok: true }));
	control.get("/stats", (c) => c.json(runtime.stats()));
	control.get("/stats/jobs/:id", (c) => {
		const job = runtime.jobs.get(c.req.param("id"));
		if (!job) return c.json({ detail: "Unknown job" }, 404);
		return c.json({ id: job.id, ...job.statsAt(runtime.now()) });
	});
	control.get("/faults", (c) => c.json(runtime.faults()));
	control.post("/faults", async (c) => {
		let raw: unknown;
		try {
			raw = JSON.parse(await c.req.text());
		} catch {
			return c.json({ detail: "Malformed JSON body" }, 400);
		}
		const parsed = FaultsPatch.safeParse(raw, PARSE);
		if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
		runtime.setFaults(parsed.data as Partial<FaultOptions>);
		return c.json(runtime.faults());
	});
	control.post("/reset", (c) => {
		runtime.reset();
		return c.json({ ok: true });
	});
	app.route("/__emulator", control);

	// The server the emulator plays today is the Agent API's: unknown paths answer in its envelope.
	app.notFound((c) => agentError(c, 404, `Unknown path: ${c.req.method} ${c.req.path}`));
	app.onError((error, c) => {
		const agent = AGENT_PATH.test(c.req.path);
		if (error instanceof HTTPException) {
			return agent ? agentError(c, error.status, error.message) : c.json({ detail: error.message }, error.status);
		}
		console.error("emulator: unexpected error", error);
		return agent ? agentError(c, 500, "Internal Server Error") : c.json({ detail: "Internal Server Error" }, 500);
	});

	return {
		app,
		stats: runtime.stats,
		reset: runtime.reset,
		setFaults: runtime.setFaults,
	};
}
