/**
 * Every setting of `npm run chaos`, as command-line flags with their defaults
 * (the fault rates bench/chaos/README.md lists), and the `--quick` preset: 60 jobs and one crash.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

export interface ChaosOptions {
	quick: boolean;
	/** Seeds every random choice: crash moments, receiver faults, job durations, the emulator. */
	seed: number;
	/** Jobs submitted. @default 500 (quick: 60) */
	jobs: number;
	/** Submissions in flight at once. @default 16 */
	concurrency: number;
	/** SIGKILLs of the whole `wrangler dev` tree, each followed by a restart on the same state. @default 2 (quick: 1) */
	crashes: number;
	/** The whole run (submit, crash, drain) stops by then; the read-back and the report come after. @default 600 s (quick: 240 s) */
	deadlineS: number;
	/** Job durations on the emulator, drawn uniformly (seeded) from this range. @default [1000, 5000] */
	durationMs: [number, number];
	/** Share of jobs that end FAILED upstream (`[[emu:fail]]`), so the `failed` event is exercised too. @default 0.05 */
	failRate: number;
	/** Upstream faults (emulator), shares of all API calls. */
	upstreamErrorRate: number;
	upstreamRateLimitRate: number;
	upstreamRetryAfterS: [number, number];
	upstreamHangRate: number;
	/** How long a hanging upstream call hangs (past `UPSTREAM_TIMEOUT_MS`). @default 4000 */
	upstreamHangMs: number;
	/**
	 * Share of Agent API creates that start their run but lose the answer (the emulator's
	 * `lostAnswerRate`: a hang of `upstreamHangMs`, then a 504): the relay cannot know the run
	 * exists, so its retry starts a second one. Each is an extra upstream run, by design. @default 0.03
	 */
	upstreamLostAnswerRate: number;
	/**
	 * Share of Agent API event-stream connections the emulator cuts abruptly at a random event (its
	 * `streamDropRate`): the relay must resume from its cursor on the next alarm. @default 0.1
	 */
	upstreamStreamDropRate: number;
	/** Receiver faults, shares of events, on an event's first attempt. */
	receiverFailFirstRate: number;
	receiverHangRate: number;
	receiverResetRate: number;
	/** Share of events the receiver refuses with 500 on every attempt: they must be dead-lettered. @default 0 */
	receiverDeadRate: number;
	/** How long a hanging receiver holds the request before dropping the connection (past `DELIVERY_TIMEOUT_MS`). @default 5000 */
	receiverHangMs: number;
	/** Relay settings, shortened through vars only (`--relay-var` adds or overrides). */
	vars: Record<string, string>;
	/**
	 * A cron expression: the harness fires the Worker's `scheduled` handler (the alarm sweeper)
	 * with it (`/cdn-cgi/local/scheduled?cron=…`, which wrangler dev serves; it fires no cron by
	 * itself) every `sweepEveryS`. `--sweep-every-s 0` turns it off. @default "*\/5 * * * *"
	 */
	sweepCron: string | null;
	/** @default 5 */
	sweepEveryS: number;
	/**
	 * Alarm faults (`bench/chaos/worker.ts`, through `CHAOS_FAULTS`): the share of jobs that lose
	 * their alarm once, early in their life (only the sweeper, or a late GET, brings them back).
	 * @default 0.05
	 */
	alarmDropRate: number;
	/** The share of jobs whose alarm run throws `alarmThrows` times in a row (the alarm guard's work). @default 0.05 */
	alarmThrowRate: number;
	/** @default 3 */
	alarmThrows: number;
	/** Where chaos-latest.json and .md go. @default bench/results */
	outDir: string;
	/** Keep the temporary state directory (printed) for a post-mortem. @default false */
	keepState: boolean;
	/** Print wrangler's output. @default false */
	verbose: boolean;
	/**
	 * Run this copy of the Worker (a directory with src/ and wrangler.toml) instead of a snapshot
	 * of the tree, e.g. an instrumented copy for a post-mortem. @default null
	 */
	codeDir: string | null;
}

export const USAGE = `npm run chaos -- [--quick] [--seed N] [--jobs N] [--crashes N] [--deadline-s N]
                      [--concurrency N] [--receiver-dead-rate X] [--lost-answer-rate X] [--stream-drop-rate X]
                      [--alarm-drop-rate X] [--alarm-throw-rate X] [--alarm-throws N]
                      [--relay-var NAME=VALUE]... [--sweep-cron "*/5 * * * *"] [--sweep-every-s N]
                      [--out DIR] [--keep-state] [--verbose] [--code DIR]

A chaos run on the real stack (wrangler dev on a persisted state directory, the Perplexity
emulator's Agent API with faults, among them creates whose run starts but whose answer is lost
and event streams cut mid-run, a faulty webhook receiver), with SIGKILLs of wrangler dev mid-run, jobs whose alarm is lost
(the cron sweeper, fired every --sweep-every-s, must bring them back) and alarm runs that throw
(the alarm guard must re-arm them). The relay follows each run's event stream (WATCH_MODE=stream);
--relay-var WATCH_MODE=poll polls. --relay-var UPSTREAM_API=sonar runs it on the retired Sonar
API instead. With --code DIR (older code), --alarm-drop-rate 0 --alarm-throw-rate 0 runs it
without the chaos Worker (bench/chaos/worker.ts).
Exits 0 only when every accepted job was pushed or dead-lettered (lost = 0) and settled
(stuck = 0), and, with WATCH_MODE=stream, jobs really streamed. Writes chaos-latest.json and chaos-latest.md to --out (bench/results).`;

/**
 * Relay settings for the run: the schedules shortened so 500 jobs drain in minutes, and the
 * account's upstream rates of a high tier (the production defaults, 0.4/s, are the lowest tier's
 * until the relay learns the limit from `x-ratelimit-*` headers, which this emulator does not send;
 * at 0.4 creates/s, 500 jobs would take over 20 minutes to create). Every job follows its run's
 * event stream (`WATCH_MODE=stream`): `auto` would poll these 1–5 s jobs, and the streams, their
 * drops and their resumption after a SIGKILL are what needs the chaos.
 */
export const CHAOS_VARS: Readonly<Record<string, string>> = {
	UPSTREAM_CREATE_RPS: "50",
	UPSTREAM_GET_RPS: "100",
	POLL_INITIAL_DELAY_MS: "500",
	POLL_MAX_INTERVAL_MS: "2000",
	CREATE_RETRY_INITIAL_MS: "200",
	DELIVERY_RETRY_SCHEDULE_MS: "0,500,1000,2000,4000,8000",
	DELIVERY_TIMEOUT_MS: "3000",
	UPSTREAM_TIMEOUT_MS: "2000",
	JOB_TIMEOUT_SECONDS: "600",
	ALLOW_PRIVATE_CALLBACKS: "true",
	// An alarm a minute late is taken for lost (a missing one at once): the sweeper, fired every 5 s, finds it first.
	SWEEP_OVERDUE_MS: "60000",
	WATCH_MODE: "stream",
};

function num(name: string, text: string | undefined, fallback: number, min = 0): number {
	if (text === undefined) return fallback;
	const value = Number(text);
	if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}: ${text}`);
	return value;
}

function share(name: string, text: string | undefined, fallback: number): number {
	const value = num(name, text, fallback);
	if (value > 1) throw new Error(`--${name} must be a share between 0 and 1: ${text}`);
	return value;
}

function relayVars(pairs: readonly string[]): Record<string, string> {
	const vars: Record<string, string> = {};
	for (const pair of pairs) {
		const at = pair.indexOf("=");
		if (at <= 0) throw new Error(`--relay-var expects NAME=VALUE: ${pair}`);
		vars[pair.slice(0, at)] = pair.slice(at + 1);
	}
	return vars;
}

export function parseOptions(argv: string[]): ChaosOptions | "help" {
	const { values } = parseArgs({
		args: argv,
		options: {
			help: { type: "boolean", short: "h" },
			quick: { type: "boolean", default: false },
			seed: { type: "string" },
			jobs: { type: "string" },
			concurrency: { type: "string" },
			crashes: { type: "string" },
			"deadline-s": { type: "string" },
			"receiver-dead-rate": { type: "string" },
			"lost-answer-rate": { type: "string" },
			"stream-drop-rate": { type: "string" },
			"relay-var": { type: "string", multiple: true },
			"sweep-cron": { type: "string" },
			"sweep-every-s": { type: "string" },
			"alarm-drop-rate": { type: "string" },
			"alarm-throw-rate": { type: "string" },
			"alarm-throws": { type: "string" },
			out: { type: "string" },
			"keep-state": { type: "boolean", default: false },
			verbose: { type: "boolean", default: false },
			code: { type: "string" },
		},
		strict: true,
	});
	if (values.help) return "help";
	const quick = values.quick ?? false;
	const seed = Math.floor(num("seed", values.seed, Date.now() % 2 ** 31)) >>> 0;
	const sweepEveryS = num("sweep-every-s", values["sweep-every-s"], 5);
	return {
		quick,
		seed,
		jobs: Math.floor(num("jobs", values.jobs, quick ? 60 : 500, 1)),
		concurrency: Math.floor(num("concurrency", values.concurrency, 16, 1)),
		crashes: Math.floor(num("crashes", values.crashes, quick ? 1 : 2)),
		deadlineS: num("deadline-s", values["deadline-s"], quick ? 240 : 600, 10),
		durationMs: [1000, 5000],
		failRate: 0.05,
		upstreamErrorRate: 0.15,
		upstreamRateLimitRate: 0.1,
		upstreamRetryAfterS: [1, 3],
		upstreamHangRate: 0.05,
		upstreamHangMs: 4000,
		upstreamLostAnswerRate: share("lost-answer-rate", values["lost-answer-rate"], 0.03),
		upstreamStreamDropRate: share("stream-drop-rate", values["stream-drop-rate"], 0.1),
		receiverFailFirstRate: 0.4,
		receiverHangRate: 0.05,
		receiverResetRate: 0.02,
		receiverDeadRate: num("receiver-dead-rate", values["receiver-dead-rate"], 0),
		receiverHangMs: 5000,
		vars: { ...CHAOS_VARS, ...relayVars(values["relay-var"] ?? []) },
		sweepCron: sweepEveryS > 0 ? (values["sweep-cron"] ?? "*/5 * * * *") : null,
		sweepEveryS,
		alarmDropRate: share("alarm-drop-rate", values["alarm-drop-rate"], 0.05),
		alarmThrowRate: share("alarm-throw-rate", values["alarm-throw-rate"], 0.05),
		alarmThrows: Math.floor(num("alarm-throws", values["alarm-throws"], 3, 1)),
		outDir: values.out ?? join(import.meta.dirname, "..", "results"),
		keepState: values["keep-state"] ?? false,
		verbose: values.verbose ?? false,
		codeDir: values.code ?? null,
	};
}
