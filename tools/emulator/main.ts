/**
 * CLI for the Perplexity emulator: `npm run emulator -- --port 8788 --error-rate 0.1`.
 * Prints `emulator ready on http://HOST:PORT` once listening; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import type { FaultOptions, Range } from "./app.ts";
import { startEmulator } from "./server.ts";

const HELP = `Usage: node tools/emulator/main.ts [options]

A local emulator of Perplexity's async chat completions API.

Options:
  --port N                 port to listen on (default $EMULATOR_PORT or 8788; 0 = any free port)
  --host HOST              address to bind (default 127.0.0.1)
  --api-key KEY            the Bearer key to accept (default $EMULATOR_API_KEY or "emulator-key")
  --duration MODEL=MS      job duration for a model (repeatable), e.g. --duration sonar=500
  --default-duration MS    duration for models without a built-in or --duration value (default 3000)
  --error-rate R           share (0-1) of API calls answering 500/502/503
  --rate-limit-rate R      share (0-1) of API calls answering 429
  --retry-after S|MIN-MAX  Retry-After seconds on emulated 429s (default 1)
  --latency-ms MS|MIN-MAX  latency added to every API call
  --hang-rate R            share (0-1) of API calls that hang 60 s, then answer 504
  --create-rate-limit N    creates admitted per second and API key (default unlimited)
  --seed N                 seed for faults and ids (default random)
  --quiet                  no per-request log lines
  --help                   this text

Markers in the last user message script one job:
  [[emu:fail]] [[emu:steps=N]] [[emu:create=503x2]] [[emu:get=429x1]]
  [[emu:retry-after=S]] [[emu:delay=MS]] [[emu:duration=MS]]
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
		const [model, ms] = value.split("=");
		if (!model || ms === undefined) throw new UsageError(`--duration: expected MODEL=MS, got "${value}"`);
		out[model] = number("duration", ms) as number;
	}
	return out;
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
