/**
 * What the relay scenarios share: the context every scenario gets, the relay
 * stack (emulator + receiver + relay under wrangler dev), the join of relay
 * jobs to upstream jobs, and the push figures (lag, lost, duplicates).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { FaultOptions, JobStats } from "../../tools/emulator/app.ts";
import { type RunningEmulator, type StartEmulatorOptions, startEmulator } from "../../tools/emulator/server.ts";
import { selfTimes, startCpuProfile } from "../lib/inspector.ts";
import { type Arrival, type Receiver, startReceiver } from "../lib/receiver.ts";
import { type Cleanup, RELAY_SOURCES, type RunningWorker, startWorker } from "../lib/stack.ts";
import { mean, quantile, round, summary } from "../lib/stats.ts";
import type { BenchOptions } from "../options.ts";

export interface ScenarioContext {
	options: BenchOptions;
	cleanup: Cleanup;
	log: (line: string) => void;
}

export const BENCH_TENANT = "bench";
export const BENCH_API_KEY = "bench-key";
export const BENCH_SIGNING_KEY = "bench-signing-key";
export const EMULATOR_API_KEY = "emulator-key";

/**
 * The relay's settings in the bench: `wrangler.toml` `[vars]` (production
 * defaults) plus the secrets a local run needs, `ALLOW_PRIVATE_CALLBACKS=true`
 * (the receiver is on 127.0.0.1), and whatever `--relay-var` sets.
 */
export function relayVars(emulatorUrl: string, overrides: Record<string, string>): Record<string, string> {
	return {
		PERPLEXITY_BASE_URL: emulatorUrl,
		PERPLEXITY_API_KEY: EMULATOR_API_KEY,
		API_KEYS: `${BENCH_TENANT}:${BENCH_API_KEY}`,
		WEBHOOK_SIGNING_KEY: BENCH_SIGNING_KEY,
		SLACK_SIGNING_SECRET: "bench-slack-signing-secret",
		ALLOW_PRIVATE_CALLBACKS: "true",
		...overrides,
	};
}

/** The settings worth printing: the overrides only, secrets masked. */
export function publicRelaySettings(overrides: Record<string, string>): Record<string, string> {
	const shown: Record<string, string> = { ALLOW_PRIVATE_CALLBACKS: "true" };
	for (const [name, value] of Object.entries(overrides)) {
		shown[name] = /KEY|SECRET/.test(name) ? "***" : value;
	}
	return shown;
}

export interface RelayStack {
	emulator: RunningEmulator;
	receiver: Receiver;
	relay: RunningWorker;
	callbackUrl: string;
	stop(): Promise<void>;
}

/** Starts the emulator, the receiver and the relay for one scenario, on a fresh state directory. */
export async function startRelayStack(
	ctx: ScenarioContext,
	label: string,
	faults: Partial<FaultOptions> = {},
	emulatorOptions: Partial<StartEmulatorOptions> = {},
	/** This scenario's relay settings; `--relay-var` still wins over them. */
	scenarioVars: Record<string, string> = {},
): Promise<RelayStack> {
	const { options, cleanup } = ctx;
	const emulator = await startEmulator({
		host: "127.0.0.1",
		port: 0,
		apiKey: EMULATOR_API_KEY,
		quiet: true,
		seed: options.seed,
		faults,
		...emulatorOptions,
	});
	const stopEmulator = cleanup.add(`emulator (${label})`, () => emulator.close());
	const receiver = await startReceiver({ secret: await tenantSecret(BENCH_SIGNING_KEY, BENCH_TENANT) });
	const stopReceiver = cleanup.add(`receiver (${label})`, () => receiver.close());
	const relay = await startWorker({
		label,
		vars: relayVars(emulator.url, { ...scenarioVars, ...options.relayVars }),
		sources: RELAY_SOURCES,
		revision: options.relayRevision,
		config: "wrangler.toml",
		startupTimeoutMs: options.startupTimeoutMs,
		sampleMs: options.sampleMs,
		verbose: options.verbose,
		cleanup,
	});
	const profiling = options.cpuProfileDir ? await startCpuProfile(relay.inspectorPort) : null;
	return {
		emulator,
		receiver,
		relay,
		callbackUrl: `${receiver.url}/hooks/${label}`,
		async stop() {
			if (profiling && options.cpuProfileDir) {
				const profile = await profiling.stop();
				mkdirSync(options.cpuProfileDir, { recursive: true });
				const file = join(options.cpuProfileDir, `${label}.cpuprofile`);
				writeFileSync(file, JSON.stringify(profile));
				const top = selfTimes(profile).slice(0, 25);
				ctx.log(
					`${label}: CPU profile in ${file}; most self time:\n${top.map((t) => `${t.ms.toFixed(0).padStart(8)} ms  ${t.name}`).join("\n")}`,
				);
			}
			await relay.stop();
			await Promise.allSettled([stopReceiver(), stopEmulator()]);
		},
	};
}

/**
 * Upstream stats per relay job id. The relay creates each upstream job with
 * `idempotency_key = "sonar-relay-<jobId>"` (src/job/job.ts), which the emulator records.
 */
export function joinUpstream(jobs: Record<string, JobStats>): Map<string, JobStats> {
	const byRelayJob = new Map<string, JobStats>();
	for (const job of Object.values(jobs)) {
		const key = job.idempotencyKey;
		if (key?.startsWith("sonar-relay-")) byRelayJob.set(key.slice("sonar-relay-".length), job);
	}
	return byRelayJob;
}

/**
 * Lost, duplicates, signatures and push lag of the accepted jobs. `clockShiftMs` turns the
 * emulator's completion instants into real time, when its clock was paused (scale).
 */
export function pushFigures(
	jobIds: readonly string[],
	receiver: Receiver,
	upstream: Map<string, JobStats>,
	clockShiftMs = 0,
) {
	const finals = receiver.finalByJob();
	const lags: number[] = [];
	let lost = 0;
	let failedEvents = 0;
	let unjoined = 0;
	for (const id of jobIds) {
		const arrival: Arrival | undefined = finals.get(id);
		if (!arrival) {
			lost++;
			continue;
		}
		if (arrival.type !== "async_chat_completion.completed") failedEvents++;
		const finishedAtMs = upstream.get(id)?.finishedAtMs;
		if (finishedAtMs === undefined || finishedAtMs === null) unjoined++;
		else lags.push(arrival.arrivedAtMs - (finishedAtMs + clockShiftMs));
	}
	const known = new Set(jobIds);
	const arrivals = receiver.arrivals();
	return {
		pushed: jobIds.length - lost,
		lost,
		duplicates: receiver.duplicates(),
		duplicate_samples: receiver.duplicateSamples(5),
		unverified: arrivals.filter((a) => !a.verified).length,
		failed_events: failedEvents,
		unknown_job_events: arrivals.filter((a) => a.jobId === null || !known.has(a.jobId)).length,
		unjoined_upstream: unjoined,
		push_lag_ms: summary(lags),
		lags,
	};
}

/** Mean upstream GETs and creates per joined job. */
export function upstreamFigures(jobIds: readonly string[], upstream: Map<string, JobStats>) {
	const joined = jobIds.flatMap((id) => {
		const job = upstream.get(id);
		return job ? [job] : [];
	});
	return {
		upstream_gets_per_job: round(mean(joined.map((j) => j.gets)), 2),
		upstream_creates_per_job: round(mean(joined.map((j) => j.creates)), 2),
	};
}

export { mean, quantile, round };
