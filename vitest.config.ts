/**
 * Four projects:
 * - `workers`: unit and integration tests inside workerd (the real runtime), through
 *   @cloudflare/vitest-plugin. A global setup starts the Perplexity emulator and a
 *   webhook inbox on loopback for them; the relay's vars point at both.
 * - `workers-stream`: the same relay following runs through their event streams (`WATCH_MODE=stream`).
 * - `workers-sonar`: the same relay on the retired Sonar async API (`UPSTREAM_API=sonar`).
 * - `node`: the Node-side tools (emulator, inbox) and the end-to-end tests that start
 *   the real stack (wrangler dev + emulator + inbox) and drive it over HTTP.
 *
 * A passing run prints vitest's report and little else: the tests' console output, workerd's own
 * messages and `wrangler dev`'s go to test-results/logs/, and a failure prints the records
 * written around it (tools/test-logs/reporter.ts). `TEST_LOGS=1` streams them all live.
 */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import {
	TEST_API_KEYS_ALL,
	TEST_DELIVERY_SCHEDULE_MS,
	TEST_MAX_SUBSCRIPTIONS,
	TEST_RECOVER_BATCH,
	TEST_SIGNING_KEY,
	TEST_SIGNING_KEY_NEXT,
	TEST_SLACK_SECRET,
	TEST_SWEEP_BATCH,
	TEST_TENANT_LIMITS,
	TEST_UPSTREAM_KEY,
} from "./test/integration/constants.ts";
import { streamTestLogs } from "./tools/test-logs/log-file.ts";
import { TestLogsReporter } from "./tools/test-logs/reporter.ts";

/** The relay's settings in the workerd tests; `extra` adds to them (the Sonar adapter's project). */
function workersProject(name: string, include: string[], extra: Record<string, string> = {}) {
	return {
		plugins: [
			cloudflareTest(({ inject }) => ({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: {
					bindings: {
						PERPLEXITY_BASE_URL: inject<string>("emulatorUrl"),
						PERPLEXITY_API_KEY: TEST_UPSTREAM_KEY,
						API_KEYS: TEST_API_KEYS_ALL,
						WEBHOOK_SIGNING_KEY: TEST_SIGNING_KEY,
						// A rotation in progress: every delivery carries both signatures.
						WEBHOOK_SIGNING_KEY_NEXT: TEST_SIGNING_KEY_NEXT,
						SLACK_SIGNING_SECRET: TEST_SLACK_SECRET,
						SLACK_MODEL: "sonar",
						MAX_SUBSCRIPTIONS: String(TEST_MAX_SUBSCRIPTIONS),
						TENANT_LIMITS: TEST_TENANT_LIMITS,
						ALLOW_PRIVATE_CALLBACKS: "true",
						// Shortened through settings only: the code paths are production's.
						CREATE_RETRY_INITIAL_MS: "0",
						POLL_INITIAL_DELAY_MS: "20",
						POLL_MAX_INTERVAL_MS: "1000",
						POLL_MIN_INTERVAL_MS: "10",
						// Test jobs take milliseconds: the learnt plans start from that, not from real models' minutes.
						POLL_PRIOR_MEDIAN_MS: "50",
						UPSTREAM_CREATE_RPS: "1000",
						UPSTREAM_GET_RPS: "1000",
						DELIVERY_RETRY_SCHEDULE_MS: TEST_DELIVERY_SCHEDULE_MS.join(","),
						DELIVERY_TIMEOUT_MS: "2000",
						UPSTREAM_TIMEOUT_MS: "5000",
						MAX_BODY_BYTES: "65536",
						SWEEP_BATCH: String(TEST_SWEEP_BATCH),
						RECOVER_BATCH: String(TEST_RECOVER_BATCH),
						...extra,
					},
				},
			})),
		],
		test: {
			name,
			include,
			globalSetup: ["test/integration/global-setup.ts"],
			// Fuzz budget for test/integration/fuzz.test.ts (`npm run fuzz` sets FUZZ_RUNS); read there with inject().
			provide: { fuzzRuns: Number(process.env.FUZZ_RUNS) || 0, fuzzSeed: Number(process.env.FUZZ_SEED) || 0 },
			testTimeout: 30_000,
		},
	};
}

export default defineConfig({
	test: {
		// A failed test's own console output still prints; the rest is in test-results/logs/.
		silent: streamTestLogs() ? false : "passed-only",
		reporters: ["default", new TestLogsReporter()],
		projects: [
			// Polled: the emulator's step-driven jobs (`[[emu:steps=N]]`) advance per GET, which a stream never makes.
			workersProject("workers", ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"], { WATCH_MODE: "poll" }),
			// Watched through the run's event stream, on the emulator's clock; an alarm run follows a stream 2 s at most.
			workersProject("workers-stream", ["test/integration-stream/**/*.test.ts"], {
				WATCH_MODE: "stream",
				WATCH_BUDGET_MS: "2000",
			}),
			// The retired Sonar async API, for gateways that still serve it: the same relay with UPSTREAM_API=sonar.
			workersProject("workers-sonar", ["test/integration-sonar/**/*.test.ts"], {
				UPSTREAM_API: "sonar",
				WATCH_MODE: "poll",
			}),
			{
				test: {
					name: "node",
					environment: "node",
					include: ["test/node/**/*.test.ts"],
					testTimeout: 30_000,
				},
			},
		],
	},
});
