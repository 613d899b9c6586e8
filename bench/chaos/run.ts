/**
 * `npm run chaos`: the chaos run on the real stack, on loopback only.
 *
 * - `wrangler dev` on a fresh temporary state directory, reused across restarts;
 * - the Perplexity emulator's Agent API (the relay's default upstream) with faults
 *   (15 % 5xx, 10 % 429 with Retry-After 1–3 s, 5 % hangs past the relay's
 *   UPSTREAM_TIMEOUT_MS, 3 % of creates that start their run but lose the answer,
 *   which the relay must retry and count as possible duplicate runs, and 10 % of event
 *   streams cut mid-run); the relay follows every run's event stream (WATCH_MODE=stream);
 * - a receiver with faults (40 % of events fail their first attempt with a 500,
 *   5 % hang past DELIVERY_TIMEOUT_MS, 2 % reset the connection);
 * - 500 jobs (1–5 s each, 5 % ending FAILED), each retried by the caller with the
 *   same idempotency_key until the relay accepts it;
 * - while they are in flight, `wrangler dev`'s whole process tree is SIGKILLed twice,
 *   at seeded random moments, and restarted on the same state directory;
 * - alarm faults, through the chaos Worker (`worker.ts`, run from the snapshot only): 5 % of the
 *   jobs lose their alarm once (the cron sweeper, fired every 5 s, must bring them back), and 5 %
 *   throw from an alarm run three times in a row (the alarm guard must re-arm them).
 *
 * Then every accepted job is read back (GET, `/deliveries`), the relay is stopped,
 * and the state directory is inspected on disk (KV results, each Job DO's stored state
 * and alarm). Upstream runs are joined to relay jobs by their question (each job's text is
 * unique), since the Agent API has no idempotency key: the report counts the extra runs by
 * cause, beside the relay's own `possible_duplicate_runs`. Exits 0 only when lost = 0,
 * stuck = 0 and every submission was accepted.
 * Writes bench/results/chaos-latest.json and chaos-latest.md.
 *
 * Everything it starts is stopped at the end, on an error, and on Ctrl-C; every wait is
 * bounded by the deadline (a watchdog ends the process 3 minutes after it, whatever happens).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
	cpSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { writeEnvFile } from "../../tools/dev-vars.ts";
import { hashString, mulberry32 } from "../../tools/emulator/answers.ts";
import { stripMarkers } from "../../tools/emulator/markers.ts";
import { type RunningEmulator, startEmulator } from "../../tools/emulator/server.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { delay } from "../../tools/lib/wrangler.ts";
import {
	type DeliveriesView,
	isSettled,
	type JobView,
	pool,
	readDeliveries,
	readJob,
	type SubmitResult,
	submitUntilAccepted,
} from "./client.ts";
import { type ChaosOptions, parseOptions, USAGE } from "./options.ts";
import { type ChaosReceiver, startChaosReceiver } from "./receiver.ts";
import { type CrashableRelay, startCrashableRelay } from "./relay.ts";
import {
	type CrashMoment,
	computeReport,
	type RelayLogSummary,
	readAlarmFaults,
	renderMarkdown,
	renderTable,
	type UpstreamRunView,
} from "./report.ts";
import { inspectState, type StateInspection } from "./state.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const TENANT = "chaos";
const API_KEY = "chaos-key";
const SIGNING_KEY = "chaos-signing-key";
const UPSTREAM_KEY = "emulator-key";
/** After the deadline, the read-back and the report may take this long before the watchdog ends the process. */
const WATCHDOG_GRACE_MS = 180_000;
/** The read-back of every job after the drain. */
const READ_BACK_BUDGET_MS = 120_000;

const log = (text: string) => console.log(`[chaos] ${text}`);

/**
 * Copies the Worker's code (src/, wrangler.toml, package.json) into `dir`, with a link to
 * node_modules: wrangler dev watches its sources and reloads on every change, and other
 * people edit this tree while the run lasts. The run tests the snapshot, and says which.
 */
function snapshotCode(
	dir: string,
	from: string = ROOT,
	chaosWorker = false,
): { root: string; commit: string | null; uncommitted: string[]; src_sha256: string } {
	const root = join(dir, "code");
	mkdirSync(root, { recursive: true });
	cpSync(join(from, "src"), join(root, "src"), { recursive: true });
	for (const file of ["wrangler.toml", "package.json", "tsconfig.json"]) {
		if (existsSync(join(from, file))) cpSync(join(from, file), join(root, file));
	}
	if (chaosWorker) {
		// The alarm faults live in the chaos Worker only (bench/chaos/worker.ts): the snapshot, not the tree, runs it.
		mkdirSync(join(root, "bench", "chaos"), { recursive: true });
		cpSync(join(import.meta.dirname, "worker.ts"), join(root, "bench", "chaos", "worker.ts"));
		const config = join(root, "wrangler.toml");
		const toml = readFileSync(config, "utf8");
		if (!/^main = "src\/index\.ts"$/m.test(toml)) throw new Error(`no main = "src/index.ts" in ${config}`);
		writeFileSync(config, toml.replace(/^main = "src\/index\.ts"$/m, 'main = "bench/chaos/worker.ts"'));
	}
	symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"), "dir");
	const hash = createHash("sha256");
	const walk = (path: string) => {
		for (const name of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
			const full = join(path, name.name);
			if (name.isDirectory()) walk(full);
			else hash.update(`${full.slice(root.length)}\0`).update(readFileSync(full));
		}
	};
	walk(join(root, "src"));
	if (chaosWorker) walk(join(root, "bench"));
	hash.update(readFileSync(join(root, "wrangler.toml")));
	let commit: string | null = null;
	let uncommitted: string[] = [];
	try {
		const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trimEnd();
		commit = git("rev-parse", "HEAD").trim();
		uncommitted = git("status", "--porcelain", "--", "src", "wrangler.toml", "bench/chaos/worker.ts")
			.split("\n")
			.filter(Boolean)
			.map((line) => line.slice(3));
	} catch {
		// Not a git checkout: the hash still names the code.
	}
	return { root, commit, uncommitted, src_sha256: hash.digest("hex") };
}

/**
 * Counts the relay's structured log records (one JSON object a line) by event and cause,
 * and keeps a few of the lines that are not records but look like errors (workerd's own).
 */
function summarizeRelayLog(text: string): RelayLogSummary {
	const summary: RelayLogSummary = { lines: 0, records: {}, causes: {}, other_errors: 0, other_error_samples: [] };
	const bump = (counts: Record<string, number>, key: string) => {
		counts[key] = (counts[key] ?? 0) + 1;
	};
	for (const line of text.split("\n")) {
		if (!line) continue;
		summary.lines++;
		const start = line.indexOf("{");
		let record: Record<string, unknown> | null = null;
		if (start >= 0) {
			try {
				record = JSON.parse(line.slice(start)) as Record<string, unknown>;
			} catch {
				record = null;
			}
		}
		if (record && typeof record.event === "string") {
			bump(summary.records, `${record.level ?? "?"} ${record.event}`);
			if (record.event !== "job.transition") {
				const cause = [record.call, record.upstream_status ?? record.status_code, record.error ?? record.message]
					.filter((part) => part !== undefined && part !== null)
					.join(" ");
				bump(summary.causes, `${record.event}: ${cause}`.slice(0, 160));
			}
		} else if (/error|exception|uncaught|failed/i.test(line) && !/\] (GET|POST) \//.test(line)) {
			summary.other_errors++;
			if (summary.other_error_samples.length < 10) summary.other_error_samples.push(line.slice(0, 300));
		}
	}
	return summary;
}

/** A seeded uniform draw in [min, max) for a named purpose: independent streams per purpose. */
function draw(seed: number, purpose: string, min: number, max: number): number {
	return min + mulberry32(hashString(`${seed}:${purpose}`))() * (max - min);
}

async function run(options: ChaosOptions): Promise<number> {
	const runStartedAtMs = Date.now();
	const loadavgStart = loadavg();
	const cpuStart = process.cpuUsage();
	const startedAt = new Date(runStartedAtMs).toISOString();
	const deadlineAt = runStartedAtMs + options.deadlineS * 1000;
	const dir = mkdtempSync(join(tmpdir(), "sonar-relay-chaos-"));
	const persistTo = join(dir, "state");

	let emulator: RunningEmulator | undefined;
	let receiver: ChaosReceiver | undefined;
	let relay: CrashableRelay | undefined;
	const killOnExit = () => relay?.killNow();
	process.on("exit", killOnExit);
	let cleaning: Promise<void> | undefined;
	const cleanup = () => {
		cleaning ??= (async () => {
			await Promise.allSettled([relay?.stop(), emulator?.close(), receiver?.close()]);
			if (options.keepState) log(`state kept in ${dir}`);
			else rmSync(dir, { recursive: true, force: true });
		})();
		return cleaning;
	};
	const onSignal = () => {
		log("interrupted: stopping everything");
		void cleanup().finally(() => process.exit(130));
	};
	process.once("SIGINT", onSignal);
	process.once("SIGTERM", onSignal);
	const watchdog = setTimeout(
		() => {
			console.error("[chaos] watchdog: the run overran its deadline; killing everything");
			relay?.killNow();
			void cleanup().finally(() => process.exit(3));
		},
		deadlineAt - Date.now() + WATCHDOG_GRACE_MS,
	);
	watchdog.unref();

	try {
		log(`seed ${options.seed}: ${options.jobs} jobs, ${options.crashes} crash(es), deadline ${options.deadlineS} s`);

		// ── Upstream: the emulator with faults ──
		const [minMs, maxMs] = options.durationMs;
		emulator = await startEmulator({
			host: "127.0.0.1",
			port: 0,
			apiKey: UPSTREAM_KEY,
			quiet: true,
			seed: options.seed,
			durationFor: (_model, seq) => Math.round(draw(options.seed, `duration:${seq}`, minMs, maxMs)),
			faults: {
				errorRate: options.upstreamErrorRate,
				rateLimitRate: options.upstreamRateLimitRate,
				retryAfterSeconds: options.upstreamRetryAfterS,
				hangRate: options.upstreamHangRate,
				hangMs: options.upstreamHangMs,
				lostAnswerRate: options.upstreamLostAnswerRate,
				streamDropRate: options.upstreamStreamDropRate,
			},
		});

		// ── The receiver with faults ──
		const secret = await tenantSecret(SIGNING_KEY, TENANT);
		receiver = await startChaosReceiver({
			secret,
			faults: {
				seed: options.seed,
				failFirstRate: options.receiverFailFirstRate,
				hangRate: options.receiverHangRate,
				resetRate: options.receiverResetRate,
				deadRate: options.receiverDeadRate,
				hangMs: options.receiverHangMs,
			},
		});

		// ── The relay, on a persisted state directory ──
		const alarmFaults = options.alarmDropRate > 0 || options.alarmThrowRate > 0;
		const vars: Record<string, string> = {
			PERPLEXITY_BASE_URL: emulator.url,
			PERPLEXITY_API_KEY: UPSTREAM_KEY,
			API_KEYS: `${TENANT}:${API_KEY}`,
			WEBHOOK_SIGNING_KEY: SIGNING_KEY,
			// Read by the chaos Worker only (bench/chaos/worker.ts); the relay's own entry never reads it.
			...(alarmFaults
				? {
						CHAOS_FAULTS: JSON.stringify({
							seed: options.seed,
							dropAlarmRate: options.alarmDropRate,
							throwAlarmRate: options.alarmThrowRate,
							throws: options.alarmThrows,
						}),
					}
				: {}),
			...options.vars,
		};
		const envFile = join(dir, "chaos.env");
		writeEnvFile(envFile, vars);
		const port = await freePort();
		const code = snapshotCode(dir, options.codeDir ?? ROOT, alarmFaults);
		if (options.codeDir) log(`testing the code in ${options.codeDir}, not the tree`);
		log(
			`testing ${code.commit?.slice(0, 12) ?? "?"}${code.uncommitted.length ? ` + uncommitted ${code.uncommitted.join(", ")}` : ""} (src sha256 ${code.src_sha256.slice(0, 12)})`,
		);
		log("starting wrangler dev…");
		const logFile = join(dir, "wrangler.log");
		relay = await startCrashableRelay({
			root: code.root,
			port,
			persistTo,
			envFile,
			verbose: options.verbose,
			log,
			logFile,
		});
		const relayUrl = relay.url;
		log(`relay ${relayUrl}, emulator ${emulator.url}, receiver ${receiver.url}, state ${persistTo}`);

		// ── The jobs ──
		const plannedFailures = new Set<number>();
		for (let i = 0; i < options.jobs; i++) {
			if (draw(options.seed, `fail:${i}`, 0, 1) < options.failRate) plannedFailures.add(i);
		}
		const callbackUrl = `${receiver.url}/hooks/chaos`;
		// Unique per job: upstream runs are joined to relay jobs by this text (the emulator strips the marker).
		const textOf = (i: number) =>
			`Chaos job ${i}: what does a Durable Object alarm do after a crash?${plannedFailures.has(i) ? " [[emu:fail]]" : ""}`;
		const bodyFor = (i: number) => ({
			request: {
				model: "sonar",
				messages: [{ role: "user", content: textOf(i) }],
			},
			callback_url: callbackUrl,
			metadata: { chaos_index: i, seed: options.seed },
			idempotency_key: `chaos-${options.seed}-${i}`,
		});

		const submissions: SubmitResult[] = new Array(options.jobs);
		let acceptedCount = 0;
		const acceptedIds: string[] = [];
		let submitting = true;
		const loadStartedAt = Date.now();
		const submitDone = pool(options.jobs, options.concurrency, async (index) => {
			const result = await submitUntilAccepted({
				relayUrl,
				apiKey: API_KEY,
				index,
				body: bodyFor(index),
				runStartedAtMs,
				deadlineAt,
			});
			submissions[index] = result;
			if (result.jobId) {
				acceptedCount++;
				acceptedIds.push(result.jobId);
			} else if (result.gaveUp) log(`job ${index} refused: ${result.gaveUp}`);
		}).finally(() => {
			submitting = false;
			log(`submissions done in ${((Date.now() - loadStartedAt) / 1000).toFixed(1)} s: ${acceptedCount} accepted`);
		});

		const pushedCount = () => acceptedIds.filter((id) => receiver?.finalPushed(id)).length;

		// ── Crashes, at seeded random moments while jobs are in flight ──
		const crashes: CrashMoment[] = [];
		const skippedCrashes: string[] = [];
		let crashing = options.crashes > 0;
		const crashesDone = (async () => {
			let lastReadyAt = Date.now();
			for (let c = 0; c < options.crashes; c++) {
				if (c === 0) {
					// The first: once a seeded share (20–70 %) of the jobs is accepted, mid-submission.
					const threshold = Math.max(1, Math.floor(options.jobs * draw(options.seed, "crash:0:share", 0.2, 0.7)));
					while (submitting && acceptedCount < threshold && Date.now() < deadlineAt) await delay(20);
					await delay(draw(options.seed, "crash:0:jitter", 0, 1000));
				} else {
					// The next ones: a seeded 3–15 s after the relay came back.
					const at = lastReadyAt + draw(options.seed, `crash:${c}:after`, 3000, 15_000);
					while (Date.now() < at && Date.now() < deadlineAt) await delay(50);
				}
				const inFlight = acceptedCount - pushedCount();
				if (Date.now() >= deadlineAt || (!submitting && inFlight === 0)) {
					skippedCrashes.push(`crash ${c + 1}: nothing in flight any more (or the deadline came)`);
					continue;
				}
				const acceptedBefore = acceptedCount;
				const notYetAccepted = options.jobs - acceptedCount;
				log(
					`SIGKILL ${c + 1}/${options.crashes}: ${inFlight} accepted jobs in flight, ${notYetAccepted} not yet accepted`,
				);
				const record = await (relay as CrashableRelay).crash(runStartedAtMs);
				lastReadyAt = Date.now();
				crashes.push({ ...record, acceptedBefore, inFlight, notYetAccepted });
				log(`restarted after ${(record.downMs / 1000).toFixed(1)} s (${record.processesKilled} processes killed)`);
			}
		})().finally(() => {
			crashing = false;
		});

		// ── The sweeper: wrangler dev fires no cron by itself, so the harness does, every --sweep-every-s ──
		const sweeper = options.sweepCron
			? { cron: options.sweepCron, fired: 0, outcomes: {} as Record<string, number> }
			: null;
		let sweeping = true;
		const sweepDone = (async () => {
			if (!sweeper) return;
			while (sweeping && Date.now() < deadlineAt) {
				await delay(options.sweepEveryS * 1000);
				if (!sweeping || !relay?.isUp()) continue;
				const result = await relay.fireScheduled(sweeper.cron);
				sweeper.fired++;
				const key = `${result.status} ${result.outcome}`.slice(0, 80);
				sweeper.outcomes[key] = (sweeper.outcomes[key] ?? 0) + 1;
			}
		})();

		// ── Drain: until every accepted job is settled (as GET shows it) and the crashes are done ──
		const settled = new Set<string>();
		let drained = false;
		let lastProgress = 0;
		for (let cycle = 0; Date.now() < deadlineAt; cycle++) {
			if (!submitting && !crashing && settled.size === acceptedCount) {
				drained = true;
				break;
			}
			await delay(2000);
			if (!relay.isUp()) continue;
			// GET only what may have settled: pushed jobs every cycle, all of them every 5th (dead letters).
			const candidates = acceptedIds.filter((id) => !settled.has(id) && (cycle % 5 === 4 || receiver?.finalPushed(id)));
			await pool(candidates.length, 16, async (i) => {
				const id = candidates[i] as string;
				if (Date.now() >= deadlineAt || !relay?.isUp()) return;
				if (isSettled(await readJob(relayUrl, API_KEY, id))) settled.add(id);
			});
			if (Date.now() - lastProgress > 10_000) {
				lastProgress = Date.now();
				log(
					`t=${((Date.now() - runStartedAtMs) / 1000).toFixed(0)} s: accepted ${acceptedCount}/${options.jobs}, pushed ${pushedCount()}, settled ${settled.size}`,
				);
			}
		}
		sweeping = false;
		await Promise.race([Promise.all([submitDone, crashesDone, sweepDone]), delay(30_000)]);
		if (!drained) log(`deadline reached: ${acceptedCount - settled.size} accepted jobs not settled`);
		const endedAtMs = Date.now();
		const wallTimeS = Math.round((endedAtMs - runStartedAtMs) / 100) / 10;
		const cpuUsed = process.cpuUsage(cpuStart);
		const machine = {
			cpus: cpus().length,
			loadavg_start: loadavgStart,
			loadavg_end: loadavg(),
			harness_cpu_s: Math.round((cpuUsed.user + cpuUsed.system) / 100_000) / 10,
		};

		// ── Read-back: every accepted job, as GET (KV first) and /deliveries (the DO) show it ──
		log("reading every job back…");
		const ids = submissions.flatMap((s) => (s?.jobId ? [s.jobId] : []));
		const views = new Map<string, JobView>();
		const deliveries = new Map<string, DeliveriesView>();
		// Bounded too: what cannot be read in time counts as not settled.
		const readBackUntil = Date.now() + READ_BACK_BUDGET_MS;
		await pool(ids.length, 16, async (i) => {
			const id = ids[i] as string;
			if (Date.now() >= readBackUntil) return;
			views.set(id, await readJob(relayUrl, API_KEY, id));
			deliveries.set(id, await readDeliveries(relayUrl, API_KEY, id));
		});
		if (views.size < ids.length) log(`read-back budget spent: ${ids.length - views.size} jobs not read`);

		// ── On disk, with the relay stopped ──
		await relay.stop();
		let inspection: StateInspection | null = null;
		try {
			inspection = inspectState(persistTo, ids);
		} catch (error) {
			log(`could not inspect the state directory: ${String(error)}`);
		}

		let logText = "";
		try {
			logText = readFileSync(logFile, "utf8");
		} catch {
			// No log: the figures that need it read as zero.
		}
		const relayLog = summarizeRelayLog(logText);
		const alarmFaultLog = readAlarmFaults(logText.split("\n"));
		const emulatorStats = emulator.emulator.stats();
		// Every upstream run made for each accepted job's question, oldest first.
		const runsByQuestion = new Map<string, UpstreamRunView[]>();
		for (const job of Object.values(emulatorStats.jobs)) {
			const view: UpstreamRunView = {
				api: job.api,
				answerLost: job.answerLost,
				gets: job.gets,
				streams: job.streams,
				cancels: job.cancels,
				createdAtMs: job.createdAtMs - runStartedAtMs,
				status: job.status,
			};
			runsByQuestion.set(job.question, [...(runsByQuestion.get(job.question) ?? []), view]);
		}
		for (const runs of runsByQuestion.values()) runs.sort((a, b) => a.createdAtMs - b.createdAtMs);
		const runsByJob = new Map<string, UpstreamRunView[]>();
		for (const s of submissions) {
			if (s?.jobId) runsByJob.set(s.jobId, runsByQuestion.get(stripMarkers(textOf(s.index))) ?? []);
		}

		const report = computeReport({
			seed: options.seed,
			quick: options.quick,
			startedAt,
			wallTimeS,
			drained,
			watchMode: options.vars.WATCH_MODE ?? "auto",
			settings: {
				jobs: options.jobs,
				concurrency: options.concurrency,
				crashes: options.crashes,
				deadline_s: options.deadlineS,
				job_duration_ms: options.durationMs,
				fail_rate: options.failRate,
				upstream_faults: {
					error_rate: options.upstreamErrorRate,
					rate_limit_rate: options.upstreamRateLimitRate,
					retry_after_s: options.upstreamRetryAfterS,
					hang_rate: options.upstreamHangRate,
					hang_ms: options.upstreamHangMs,
					lost_answer_rate: options.upstreamLostAnswerRate,
					stream_drop_rate: options.upstreamStreamDropRate,
				},
				receiver_faults: {
					fail_first_rate: options.receiverFailFirstRate,
					hang_rate: options.receiverHangRate,
					reset_rate: options.receiverResetRate,
					dead_rate: options.receiverDeadRate,
					hang_ms: options.receiverHangMs,
				},
				relay_vars: options.vars,
				sweep_cron: options.sweepCron,
				sweep_every_s: options.sweepCron ? options.sweepEveryS : null,
				alarm_faults: alarmFaults
					? { drop_rate: options.alarmDropRate, throw_rate: options.alarmThrowRate, throws: options.alarmThrows }
					: null,
				code: {
					commit: code.commit,
					uncommitted: code.uncommitted,
					src_sha256: code.src_sha256,
					code_dir: options.codeDir,
				},
			},
			submissions: submissions.filter(Boolean),
			plannedFailures,
			crashes,
			skippedCrashes,
			receiverEvents: receiver.events(),
			views,
			deliveries,
			inspection,
			emulator: {
				creates: emulatorStats.creates,
				createsAccepted: emulatorStats.createsAccepted,
				idempotentReplays: emulatorStats.idempotentReplays,
				gets: emulatorStats.gets,
				streams: emulatorStats.streams,
				cancels: emulatorStats.cancels,
				responses: emulatorStats.responses,
				runsByJob,
			},
			sweeper,
			alarmFaults: alarmFaults ? alarmFaultLog : null,
			relayLog,
			endedAtMs,
			machine,
			runStartedAtMs,
		});

		mkdirSync(options.outDir, { recursive: true });
		writeFileSync(join(options.outDir, "chaos-latest.json"), `${JSON.stringify(report, null, "\t")}\n`);
		writeFileSync(join(options.outDir, "chaos-latest.md"), renderMarkdown(report));
		console.log(`\nChaos run ${report.passed ? "passed" : "FAILED"} (seed ${options.seed})\n`);
		console.log(renderTable(report));
		console.log(`\nWrote ${join(options.outDir, "chaos-latest.json")} and chaos-latest.md`);
		return report.passed ? 0 : 1;
	} catch (error) {
		console.error(`[chaos] the run failed: ${(error as Error).stack ?? String(error)}`);
		const output = relay?.recentOutput();
		if (output) console.error(`--- wrangler dev output ---\n${output}`);
		return 2;
	} finally {
		await cleanup();
		clearTimeout(watchdog);
		process.off("exit", killOnExit);
	}
}

let parsed: ReturnType<typeof parseOptions>;
try {
	parsed = parseOptions(process.argv.slice(2));
} catch (error) {
	console.error(`${(error as Error).message}\n\n${USAGE}`);
	process.exit(2);
}
if (parsed === "help") {
	console.log(USAGE);
	process.exit(0);
}
process.exit(await run(parsed));
