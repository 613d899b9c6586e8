/**
 * CLI for the Perplexity emulator: `npm run emulator -- --port 8788 --error-rate 0.1`.
 * Prints `emulator ready on http://HOST:PORT` once listening; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import type { ApiName, FaultOptions, Range } from "./app.ts";
import { startEmulator } from "./server.ts";

const HELP = `Usage: node tools/emulator/main.ts [options]

A local emulator of Perplexity's Agent API (POST /v1/agent, /v1/responses,
GET /v1/responses/{id} with ?stream=true, cancel, GET /v1/models) and of the
retired Sonar async API (/async/chat/completions, /v1/async/sonar).

Options:
  --port N                   port to listen on (default $EMULATOR_PORT or 8788; 0 = any free port)
  --host HOST                address to bind (default 127.0.0.1)
  --api-key KEY              the Bearer key to accept (default $EMULATOR_API_KEY or "emulator-key")
  --api agent|sonar|both     which APIs to serve; the other answers 404 (default both)
  --duration KEY=MS          run duration for a model slug, preset or Sonar model (repeatable),
                             e.g. --duration perplexity/sonar=500 --duration medium=2000 --duration sonar=500
  --default-duration MS      duration for keys without a built-in or --duration value (default 3000)
  --error-rate R             share (0-1) of API calls answering 500/502/503
  --rate-limit-rate R        share (0-1) of API calls answering 429
  --retry-after S|MIN-MAX    Retry-After seconds on emulated 429s (default 1)
  --latency-ms MS|MIN-MAX    latency added to every API call
  --hang-rate R              share (0-1) of API calls that hang 60 s, then answer 504
  --create-rate-limit N      creates admitted per second and API key, both APIs (default unlimited)
  --request-rate-limit N     Agent API calls admitted per minute and API key, with
                             x-ratelimit-*-requests headers (default unlimited, no headers)
  --stream-drop-rate R       share (0-1) of Agent API event streams cut at a random event
  --lost-answer-rate R       share (0-1) of Agent API creates that start their run but lose the answer:
                             the call hangs 60 s (less if the client gives up), then answers 504
  --stream-cursor-ttl MS     how long a stream cursor (starting_after) stays resumable (default 600000)
  --seed N                   seed for faults, ids and built-in durations (default random)
  --quiet                    no per-request log lines
  --help                     this text

Markers in the last user text script one job:
  [[emu:fail]] [[emu:steps=N]] [[emu:create=503x2]] [[emu:get=429x1]]
  [[emu:retry-after=S]] [[emu:delay=MS]] [[emu:duration=MS]] [[emu:size=BYTES]]
  Agent API only: [[emu:incomplete]] [[emu:cancelled]] [[emu:drift]] [[emu:unusable]]
  [[emu:stream-drop=N]] (or =NxK: the first K connections)
  [[emu:ratelimit=LIMIT/REMAINING]] (this run's answers carry these x-ratelimit-* headers)
  [[emu:cursor-ttl=MS]] (this run's stream cursors expire after MS)
Control: GET /__emulator/stats, GET|POST /__emulator/faults, POST /__emulator/reset`;

class UsageError extends Error {
	override name = "UsageError";
}

function number(flag: string, value: string | undefined, { min = 0, max = Number.POSITIVE_INFINITY } = {}) {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
		throw new UsageError(`--${flag}: expected a number between ${min} and ${max}, got "${value}"`);
	}
	return n;
}

function range(flag: string, value: string | undefined): Range | undefined {
	const match = value?.match(/^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/);
	if (!match) return number(flag, value);
	const min = number(flag, match[1]) as number;
	const max = number(flag, match[2]) as number;
	if (min > max) throw new UsageError(`--${flag}: the minimum ${min} exceeds the maximum ${max}`);
	return [min, max];
}

function durations(values: readonly string[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const value of values) {
		const [key, ms] = value.split("=");
		if (!key || ms === undefined) throw new UsageError(`--duration: expected KEY=MS, got "${value}"`);
		out[key] = number("duration", ms) as number;
	}
	return out;
}

function apis(value: string | undefined): ApiName[] | undefined {
	switch (value) {
		case undefined:
		case "both":
			return undefined;
		case "agent":
		case "sonar":
			return [value];
		default:
			throw new UsageError(`--api: expected agent, sonar or both, got "${value}"`);
	}
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			port: { type: "string" },
			host: { type: "string" },
			"api-key": { type: "string" },
			duration: { type: "string", multiple: true },
			"default-duration": { type: "string" },
			"error-rate": { type: "string" },
			"rate-limit-rate": { type: "string" },
			"retry-after": { type: "string" },
			"latency-ms": { type: "string" },
			"hang-rate": { type: "string" },
			"create-rate-limit": { type: "string" },
			"request-rate-limit": { type: "string" },
			"stream-drop-rate": { type: "string" },
			"lost-answer-rate": { type: "string" },
			"stream-cursor-ttl": { type: "string" },
			api: { type: "string" },
			seed: { type: "string" },
			quiet: { type: "boolean" },
			help: { type: "boolean", short: "h" },
		},
		strict: true,
	});
	if (values.help) {
		console.log(HELP);
		return;
	}

	const faults: Partial<FaultOptions> = {
		errorRate: number("error-rate", values["error-rate"], { max: 1 }),
		rateLimitRate: number("rate-limit-rate", values["rate-limit-rate"], { max: 1 }),
		retryAfterSeconds: range("retry-after", values["retry-after"]),
		latencyMs: range("latency-ms", values["latency-ms"]),
		hangRate: number("hang-rate", values["hang-rate"], { max: 1 }),
		createRateLimitPerSecond: number("create-rate-limit", values["create-rate-limit"]),
		requestRateLimitPerMinute: number("request-rate-limit", values["request-rate-limit"]),
		streamDropRate: number("stream-drop-rate", values["stream-drop-rate"], { max: 1 }),
		lostAnswerRate: number("lost-answer-rate", values["lost-answer-rate"], { max: 1 }),
	};
	const seed = number("seed", values.seed);
	const running = await startEmulator({
		port: number("port", values.port ?? process.env.EMULATOR_PORT ?? "8788", { max: 65_535 }),
		host: values.host,
		apiKey: values["api-key"] ?? process.env.EMULATOR_API_KEY ?? "emulator-key",
		durations: durations(values.duration ?? []),
		defaultDurationMs: number("default-duration", values["default-duration"]),
		faults: Object.fromEntries(Object.entries(faults).filter(([, value]) => value !== undefined)),
		seed: seed === undefined ? undefined : Math.trunc(seed),
		apis: apis(values.api),
		streamCursorTtlMs: number("stream-cursor-ttl", values["stream-cursor-ttl"]),
		quiet: values.quiet,
	});
	console.log(`emulator ready on ${running.url}`);

	const stop = (signal: NodeJS.Signals) => {
		if (!values.quiet) console.log(`emulator: ${signal}, stopping`);
		running.close().then(
			() => process.exit(0),
			(error: unknown) => {
				console.error("emulator: error while stopping", error);
				process.exit(1);
			},
		);
	};
	process.once("SIGINT", stop);
	process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
	if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
		console.error(`${error.message}\n\n${HELP}`);
		process.exit(2);
	}
	console.error("emulator: failed to start:", error);
	process.exit(1);
});
