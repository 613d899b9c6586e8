/**
 * The end-to-end harness: the real stack on loopback, as a user runs it.
 *
 * - the Perplexity emulator, in-process, serving only the Agent API (as the live API does), with
 *   sub-second job durations and a high tier's rate-limit headers;
 * - the webhook inbox, in-process, verifying with the test tenants' secrets;
 * - `wrangler dev` as a child process (its own process group), on free ports, with a
 *   fresh temporary persist dir.
 *
 * Defaults make everything fast: polls start after 200 ms and back off to 1 s at most, and
 * a refused delivery is retried 4 times, 300 ms apart (then dead-lettered).
 *
 * What wrangler, the emulator and the inbox print goes to test-results/logs/node.log (see
 * tools/test-logs/), where the reporter finds it when a test fails; with `TEST_LOGS=1` (or
 * `E2E_VERBOSE=1`) it is printed live too.
 *
 * The relay's settings go in one temporary `--env-file`. Given an `--env-file`, wrangler
 * does not read the repo's `.dev.vars` at all, and the file's values win over
 * `wrangler.toml` `[vars]`, so a developer's local settings cannot leak into the run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { writeEnvFile } from "../../tools/dev-vars.ts";
import { type RunningEmulator, type StartEmulatorOptions, startEmulator } from "../../tools/emulator/server.ts";
import { type RunningInbox, startInbox } from "../../tools/inbox/server.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { spawnWranglerDev, waitForHealth } from "../../tools/lib/wrangler.ts";
import { appendTestLog, streamTestLogs, testLogDir } from "../../tools/test-logs/log-file.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * Fast but ordered: every model finishes well within a second. Keyed by the Sonar names (the
 * retired API's runs) and by the Agent API slugs and presets they become.
 */
const FAST_DURATIONS_MS: Record<string, number> = {
	sonar: 400,
	"sonar-pro": 500,
	"sonar-reasoning-pro": 600,
	"sonar-deep-research": 800,
	"perplexity/sonar": 400,
	fast: 400,
	low: 500,
	medium: 800,
	high: 900,
	xhigh: 1000,
};

/**
 * The upstream's request limit, per minute, in its `x-ratelimit-*` headers: a high tier's, so
 * the relay learns it on its first call instead of pacing creates at its tier-0 default.
 */
export const E2E_UPSTREAM_LIMIT_PER_MINUTE = 3000;

export interface StackOptions {
	/** Relay settings added to, or replacing, the harness defaults. */
	vars?: Record<string, string>;
	/** Emulator options on top of the harness defaults (fast durations, its log in node.log). */
	emulator?: Partial<StartEmulatorOptions>;
	/**
	 * The wrangler config to run.
	 * @default the repo's wrangler.toml
	 */
	configPath?: string;
	/**
	 * How long wrangler dev may take to answer /healthz.
	 * @default 60000
	 */
	startupTimeoutMs?: number;
	/**
	 * Print wrangler's, the emulator's and the inbox's output as it comes, besides logging it
	 * to test-results/logs/node.log.
	 * @default true with TEST_LOGS=1 or E2E_VERBOSE=1
	 */
	verbose?: boolean;
}

export interface Stack {
	/** `http://127.0.0.1:<port>`: the relay under wrangler dev. */
	relayUrl: string;
	emulator: RunningEmulator;
	/** Callbacks go to `${inbox.url}/hooks/<name>`. */
	inbox: RunningInbox;
	/** Bearer key of tenant "e2e". */
	apiKey: string;
	/** Bearer key of tenant "other", for isolation tests. */
	otherApiKey: string;
	/** The `whsec_` secret of tenant "e2e". */
	secret: string;
	/** Every relay setting the run uses. */
	vars: Record<string, string>;
	/** wrangler dev's `--persist-to` (local KV and Durable Objects), e.g. for `npm run keys -- --local --persist-to`. */
	persistTo: string;
	/** What wrangler printed lately, for failure messages. */
	relayOutput(): string;
	/** Stops wrangler (the whole process tree), the emulator and the inbox; removes the temp dir. */
	stop(): Promise<void>;
}

export const E2E_API_KEY = "e2e-key";
export const OTHER_API_KEY = "other-key";
const SIGNING_KEY = "e2e-signing-key";

/**
 * Starts the stack; always `stop()` it (in `afterAll`).
 *
 * @example
 * const stack = await startStack();
 * const client = new Perplexity({ baseURL: stack.relayUrl, apiKey: stack.apiKey });
 * await stack.stop();
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
	const dir = mkdtempSync(join(tmpdir(), "sonar-relay-e2e-"));
	const verbose = options.verbose ?? (Boolean(process.env.E2E_VERBOSE) || streamTestLogs());
	const logDir = testLogDir(ROOT);
	/** Logs a line of one part of the stack, and prints it too when verbose. */
	const logger = (part: string, prefix: string) => (line: string) => {
		if (line.trim() !== "") appendTestLog(logDir, "node", part, line);
		if (verbose) console.log(`${prefix}${line}`);
	};
	let emulator: RunningEmulator | undefined;
	let inbox: RunningInbox | undefined;
	let wrangler: ReturnType<typeof spawnWranglerDev> | undefined;
	const killOnExit = () => wrangler?.killNow();

	let stopping: Promise<void> | undefined;
	const stop = () => {
		stopping ??= (async () => {
			process.off("exit", killOnExit);
			await Promise.allSettled([wrangler?.stop(), emulator?.close(), inbox?.close()]);
			rmSync(dir, { recursive: true, force: true });
		})();
		return stopping;
	};

	try {
		emulator = await startEmulator({
			host: "127.0.0.1",
			port: 0,
			apiKey: "emulator-key",
			log: logger("emulator", ""),
			durations: FAST_DURATIONS_MS,
			defaultDurationMs: 500,
			// The live API serves only the Agent API: the retired Sonar paths answer 404, as they do there.
			apis: ["agent"],
			faults: { requestRateLimitPerMinute: E2E_UPSTREAM_LIMIT_PER_MINUTE },
			...options.emulator,
		});
		const secrets = await Promise.all(["e2e", "other"].map((tenant) => tenantSecret(SIGNING_KEY, tenant)));
		inbox = await startInbox({ host: "127.0.0.1", port: 0, secrets, print: true, log: logger("inbox", "") });

		const vars: Record<string, string> = {
			PERPLEXITY_BASE_URL: emulator.url,
			PERPLEXITY_API_KEY: "emulator-key",
			API_KEYS: `e2e:${E2E_API_KEY},other:${OTHER_API_KEY}`,
			WEBHOOK_SIGNING_KEY: SIGNING_KEY,
			SLACK_SIGNING_SECRET: "e2e-slack-signing-secret",
			ALLOW_PRIVATE_CALLBACKS: "true",
			POLL_INITIAL_DELAY_MS: "200",
			POLL_MAX_INTERVAL_MS: "1000",
			CREATE_RETRY_INITIAL_MS: "200",
			// Five attempts, 300 ms apart: retries and dead-lettering show within a test's time.
			DELIVERY_RETRY_SCHEDULE_MS: "0,300,300,300,300",
			...options.vars,
		};
		const envFile = join(dir, "e2e.env");
		writeEnvFile(envFile, vars);

		const [port, inspectorPort] = [await freePort(), await freePort()];
		const persistTo = join(dir, "state");
		wrangler = spawnWranglerDev({
			root: ROOT,
			port,
			persistTo,
			envFiles: [envFile],
			configPath: options.configPath,
			inspectorPort,
			onLine: logger(`wrangler dev :${port}`, "[relay] "),
		});
		process.on("exit", killOnExit);

		await waitForHealth(`${wrangler.url}/healthz`, {
			timeoutMs: options.startupTimeoutMs ?? 60_000,
			exited: wrangler.exited,
		});

		const running = wrangler;
		return {
			relayUrl: running.url,
			emulator,
			inbox,
			apiKey: E2E_API_KEY,
			otherApiKey: OTHER_API_KEY,
			secret: secrets[0] as string,
			vars,
			persistTo,
			relayOutput: () => running.recentOutput(),
			stop,
		};
	} catch (error) {
		const output = wrangler?.recentOutput();
		await stop();
		const detail = output ? `\n--- wrangler dev output ---\n${output}` : "";
		throw new Error(`the e2e stack did not start: ${(error as Error).message}${detail}`, { cause: error });
	}
}
