/**
 * What the relay scenarios share: the context every scenario gets, the relay
 * stack (emulator + receiver + relay under wrangler dev), the join of relay
 * jobs to upstream jobs, and the push figures (lag, lost, duplicates).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { FaultOptions, JobStats } from "../../tools/emulator/app.ts";
import { stripMarkers } from "../../tools/emulator/markers.ts";
import { type RunningEmulator, type StartEmulatorOptions, startEmulator } from "../../tools/emulator/server.ts";
import { selfTimes, startCpuProfile } from "../lib/inspector.ts";
import { type Arrival, type Receiver, startReceiver } from "../lib/receiver.ts";
import { type Cleanup, RELAY_SOURCES, ROOT, type RunningWorker, startWorker } from "../lib/stack.ts";
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
 * The bench account's upstream rates, as an operator on a high tier sets them (the relay's
 * production defaults, 0.4/s each, are safe for the lowest tier until the relay learns the limit
 * from upstream's `x-ratelimit-*` headers, which the bench's emulator sends only with
 * `--upstream-rpm`). They are what the relay was measured with before the Agent API (the old
 * defaults), so that runs stay comparable; at 0.4 creates/s the bench would measure the pacing.
 * A scenario's own settings and `--relay-var` win over them.
 */
export const BENCH_ACCOUNT_VARS: Readonly<Record<string, string>> = {
	UPSTREAM_CREATE_RPS: "50",
	UPSTREAM_GET_RPS: "100",
};

/**
 * The relay's settings in the bench: `wrangler.toml` `[vars]` (production
 * defaults) plus the secrets a local run needs, `ALLOW_PRIVATE_CALLBACKS=true`
 * (the receiver is on 127.0.0.1), the bench account's rates, and whatever
 * `--relay-var` sets.
 */
export function relayVars(emulatorUrl: string, overrides: Record<string, string>): Record<string, string> {
	return {
		PERPLEXITY_BASE_URL: emulatorUrl,
		PERPLEXITY_API_KEY: EMULATOR_API_KEY,
		API_KEYS: `${BENCH_TENANT}:${BENCH_API_KEY}`,
		WEBHOOK_SIGNING_KEY: BENCH_SIGNING_KEY,
		SLACK_SIGNING_SECRET: "bench-slack-signing-secret",
		ALLOW_PRIVATE_CALLBACKS: "true",
		...BENCH_ACCOUNT_VARS,
		...overrides,
	};
}

/**
 * A relay setting as the bench runs it: `--relay-var`, else the bench account's rate, else the
 * production default in `wrangler.toml` `[vars]`; undefined when none sets it.
 *
 * @example
 * relaySetting("WATCH_LAG_VALUE_USD_PER_HOUR", options.relayVars); // "1"
 */
export function relaySetting(name: string, overrides: Record<string, string>): string | undefined {
	const chosen = overrides[name] ?? BENCH_ACCOUNT_VARS[name];
	if (chosen !== undefined) return chosen;
	const toml = readFileSync(`${ROOT}/wrangler.toml`, "utf8");
	const vars = toml.slice(toml.indexOf("[vars]"));
	return vars.match(new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m"))?.[1];
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
		faults: { requestRateLimitPerMinute: options.upstreamRpm, ...faults },
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

/** Relay job id → the question of its last user message, markers stripped, as the emulator records it. */
export type Questions = Map<string, string>;

/**
 * Maps each accepted relay job to its question, at submit time: `textOf(index)` is the last user
 * text of submission `index`. The workload's texts are unique per job (`jobText`), so the
 * question names one relay job; a question asked twice would make the join ambiguous, and throws.
 */
export function questionsOf(
	submissions: readonly { index: number; jobId: string | null }[],
	textOf: (index: number) => string,
	into: Questions = new Map(),
): Questions {
	const seen = new Set(into.values());
	for (const { index, jobId } of submissions) {
		if (!jobId) continue;
		const question = stripMarkers(textOf(index));
		if (seen.has(question))
			throw new Error(`bench: two jobs ask the same question, the join is ambiguous: ${question}`);
		seen.add(question);
		into.set(jobId, question);
	}
	return into;
}

/** The upstream jobs the emulator made for each relay job. */
export interface UpstreamJoin {
	/** The run the relay followed: the one it polled most (the first created on a tie). */
	byJob: Map<string, JobStats>;
	/** Every upstream job made for the relay job's question, oldest first. */
	runsByJob: Map<string, JobStats[]>;
}

/**
 * Joins relay jobs to the emulator's upstream jobs by question. The Agent API has no idempotency
 * key to join on (a create retried after a lost answer can start a second run), so every upstream
 * job whose question is the relay job's is counted as its; on the Sonar API (`UPSTREAM_API=sonar`)
 * the join is the same.
 */
export function joinUpstream(jobs: Record<string, JobStats>, questions: Questions): UpstreamJoin {
	const byQuestion = new Map<string, JobStats[]>();
	for (const job of Object.values(jobs)) {
		const runs = byQuestion.get(job.question);
		if (runs) runs.push(job);
		else byQuestion.set(job.question, [job]);
	}
	const byJob = new Map<string, JobStats>();
	const runsByJob = new Map<string, JobStats[]>();
	for (const [jobId, question] of questions) {
		const runs = [...(byQuestion.get(question) ?? [])].sort((a, b) => a.createdAtMs - b.createdAtMs);
		if (runs.length === 0) continue;
		runsByJob.set(jobId, runs);
		const followed = runs.reduce((best, run) => (run.gets + run.streams > best.gets + best.streams ? run : best));
		byJob.set(jobId, followed);
	}
	return { byJob, runsByJob };
}

/**
 * Lost, duplicates, signatures and push lag of the accepted jobs. `clockShiftMs` turns the
 * emulator's completion instants into real time, when its clock was paused (scale).
 */
export function pushFigures(jobIds: readonly string[], receiver: Receiver, upstream: UpstreamJoin, clockShiftMs = 0) {
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
		const finishedAtMs = upstream.byJob.get(id)?.finishedAtMs;
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

/**
 * Upstream figures of the joined jobs: mean GETs, creates and stream connections per relay job over all of its
 * upstream jobs (a duplicate run's calls count too), the API that ran them, and the runs beyond
 * one per relay job (the Agent API has no idempotency key).
 */
export function upstreamFigures(jobIds: readonly string[], upstream: UpstreamJoin) {
	const joined = jobIds.flatMap((id) => {
		const runs = upstream.runsByJob.get(id);
		return runs ? [runs] : [];
	});
	const sum = (runs: JobStats[], pick: (run: JobStats) => number) => runs.reduce((total, run) => total + pick(run), 0);
	const apis = [...new Set(joined.flatMap((runs) => runs.map((run) => run.api)))].sort();
	return {
		upstream_api: apis.length === 0 ? null : apis.join("+"),
		upstream_gets_per_job: round(mean(joined.map((runs) => sum(runs, (run) => run.gets))), 2),
		upstream_creates_per_job: round(mean(joined.map((runs) => sum(runs, (run) => run.creates))), 2),
		/** Event-stream connections (`stream: true` creates and `?stream=true` GETs) per relay job. */
		upstream_streams_per_job: round(mean(joined.map((runs) => sum(runs, (run) => run.streams))), 2),
		upstream_extra_runs: joined.reduce((total, runs) => total + runs.length - 1, 0),
		upstream_unjoined_jobs: jobIds.length - joined.length,
	};
}

export { mean, quantile, round };
