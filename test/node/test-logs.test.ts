/**
 * The quiet test output (tools/test-logs/): a passing run prints vitest's report and where the
 * logs are; a failing one prints the records written around each failure, workerd's own messages
 * included; TEST_LOGS=1 streams everything. Proven on a fixture project (test/fixtures/quiet-logs)
 * run by a real vitest, with one Node and one workerd test, each under a second.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatRecord, listTestLogs, readTestLog, resetTestLogs } from "../../tools/test-logs/log-file.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "quiet-logs");
const scratch = mkdtempSync(join(tmpdir(), "sonar-relay-test-logs-"));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface FixtureRun {
	code: number | null;
	/** stdout and stderr together, without colours. */
	output: string;
	dir: string;
}

/** Runs the fixture project with vitest, its logs in a fresh directory. */
function runFixture(name: string, env: Record<string, string>): Promise<FixtureRun> {
	const dir = join(scratch, name);
	const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, TEST_LOGS_DIR: dir, NO_COLOR: "1" };
	// This run's own settings must not leak into the fixture's.
	for (const key of Object.keys(childEnv)) if (key.startsWith("VITEST")) delete childEnv[key];
	if (env.TEST_LOGS === undefined) delete childEnv.TEST_LOGS;
	delete childEnv.FORCE_COLOR;
	const child = spawn(
		process.execPath,
		[join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--root", FIXTURE],
		{
			cwd: ROOT,
			env: childEnv,
			stdio: ["ignore", "pipe", "pipe"],
		},
	);
	let output = "";
	child.stdout.on("data", (chunk: Buffer) => {
		output += chunk;
	});
	child.stderr.on("data", (chunk: Buffer) => {
		output += chunk;
	});
	return new Promise((resolve, reject) => {
		child.once("error", reject);
		child.once("close", (code) => {
			// biome-ignore lint/suspicious/noControlCharactersInRegex: removing ANSI colours is the point.
			resolve({ code, output: output.replace(/\u001b\[[0-9;]*m/g, ""), dir });
		});
	});
}

/** What the fixture's Node test, its Worker and the workerd runtime print. */
const NODE_LINE = "fixture node: console line";
const WORKER_LINE = "fixture worker: handled a request";
const RUNTIME_LINE = "Error: fixture runtime message";
const OTHER_TEST_LINE = "fixture node: another test's line";

describe("a test run's output", () => {
	it("keeps a passing run quiet, and writes what it hid to test-results/logs", { timeout: 60_000 }, async () => {
		const run = await runFixture("pass", {});
		expect(run.code, run.output).toBe(0);
		expect(run.output).toContain("3 passed");
		for (const line of [NODE_LINE, OTHER_TEST_LINE, WORKER_LINE, RUNTIME_LINE]) expect(run.output).not.toContain(line);
		expect(run.output).toContain(`Logs  ${run.dir}/: fixture-node.log, fixture-workers.log, runtime.log`);

		expect(listTestLogs(run.dir)).toEqual(["fixture-node.log", "fixture-workers.log", "runtime.log"]);
		const log = (name: string) => readFileSync(join(run.dir, name), "utf8");
		expect(log("fixture-node.log")).toContain(`stdout node.test.ts > prints a line, then checks | ${NODE_LINE}`);
		expect(log("fixture-workers.log")).toContain(
			`stdout workers.test.ts > calls the Worker, then checks | ${WORKER_LINE}`,
		);
		expect(log("runtime.log")).toMatch(/workerd stdout \| uncaught exception; .*Error: fixture runtime message/);
	});

	it("prints, for each failed test, the records written around it, the runtime's included", {
		timeout: 60_000,
	}, async () => {
		const run = await runFixture("fail", { FIXTURE_FAIL: "1" });
		expect(run.code, run.output).toBe(1);
		expect(run.output).toMatch(/Tests {2}2 failed \| 1 passed/);

		const nodePart = run.output.split("Logs around fixture-node > node.test.ts > prints a line, then checks:")[1];
		expect(nodePart, run.output).toBeDefined();
		const nodeExcerpt = nodePart?.split("Logs around")[0];
		expect(nodeExcerpt).toMatch(
			/fixture-node\.log:1 {2}\d\d:\d\d:\d\d\.\d{3} stdout \(this test\) \| fixture node: console line/,
		);
		// The next test's line came right after, but it is another test's: in the file, not in the excerpt.
		expect(nodeExcerpt).not.toContain(OTHER_TEST_LINE);
		expect(readFileSync(join(run.dir, "fixture-node.log"), "utf8")).toContain(OTHER_TEST_LINE);

		const workersPart = run.output.split(
			"Logs around fixture-workers > workers.test.ts > calls the Worker, then checks:",
		)[1];
		expect(workersPart, run.output).toBeDefined();
		expect(workersPart).toMatch(/fixture-workers\.log:\d+ .*fixture worker: handled a request/);
		expect(workersPart).toMatch(/runtime\.log:\d+ .*workerd stdout \| uncaught exception; .*fixture runtime message/);
		// The runtime's message stays out of vitest's own report: it is only in the excerpt.
		expect(run.output.split("Logs around")[0]).not.toContain(RUNTIME_LINE);
	});

	it("prints the last records of every log when no test failed but the run did", { timeout: 60_000 }, async () => {
		const run = await runFixture("unhandled", { FIXTURE_FAIL: "unhandled" });
		expect(run.code, run.output).toBe(1);
		expect(run.output).toContain("fixture unhandled rejection");
		const excerpt = run.output.split("Logs around the run's unhandled errors:")[1];
		expect(excerpt, run.output).toBeDefined();
		// Every test's records count here, whichever project wrote them.
		for (const line of [NODE_LINE, OTHER_TEST_LINE, WORKER_LINE, RUNTIME_LINE]) expect(excerpt).toContain(line);
	});

	it("streams everything live with TEST_LOGS=1, and still writes the logs", { timeout: 60_000 }, async () => {
		const run = await runFixture("stream", { TEST_LOGS: "1" });
		expect(run.code, run.output).toBe(0);
		for (const line of [NODE_LINE, WORKER_LINE, RUNTIME_LINE]) expect(run.output).toContain(line);
		expect(readFileSync(join(run.dir, "runtime.log"), "utf8")).toContain(RUNTIME_LINE);
	});
});

describe("the log files", () => {
	it("read back record by record, with the line each starts on and its continuation lines", () => {
		const dir = join(scratch, "records");
		mkdirSync(dir, { recursive: true });
		const file = join(dir, "a.log");
		const at = Date.parse("2026-10-05T12:03:04.567Z");
		writeFileSync(file, formatRecord(at, "workerd stderr", "boom\n  at x\n") + formatRecord(at + 5, "stdout t", "{}"));
		expect(readTestLog(file)).toEqual([
			{ time: at, line: 1, text: "2026-10-05T12:03:04.567Z workerd stderr | boom\n    at x" },
			{ time: at + 5, line: 3, text: "2026-10-05T12:03:04.572Z stdout t | {}" },
		]);
	});

	it("are reset each run without touching the other results beside them", () => {
		const dir = join(scratch, "reset");
		mkdirSync(dir, { recursive: true });
		writeFileSync(join(dir, "workers.log"), "old");
		writeFileSync(join(dir, "dashboard.png"), "png");
		resetTestLogs(dir);
		expect(listTestLogs(dir)).toEqual([]);
		expect(readFileSync(join(dir, "dashboard.png"), "utf8")).toBe("png");
	});
});
