/**
 * The test run's logs on disk: `test-results/logs/<name>.log`, rewritten by every run and
 * git-ignored. A file holds records; a record opens with its ISO time and a heading (what
 * wrote it), then ` | ` and its text, whose further lines follow indented. The time lets
 * the reporter pick what was written around a failure, across files and processes.
 *
 *   2026-10-05T12:03:04.567Z stdout test/integration/api.test.ts > list > pages … | {"level":"info",…}
 *   2026-10-05T12:03:04.601Z workerd stderr | uncaught exception; source = Uncaught (in promise); …
 *
 * Both the reporter (in vitest's main process) and the test harness (in the test workers:
 * `wrangler dev`'s output, see test/node/stack.ts) append here.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Where the logs go instead: a test of the reporter points its fixture runs elsewhere. */
export const TEST_LOGS_DIR_ENV = "TEST_LOGS_DIR";

/** One record read back, with the file line it starts on (1-based). */
export interface LogRecord {
	time: number;
	line: number;
	text: string;
}

/**
 * The directory of this run's logs: `$TEST_LOGS_DIR`, or `<root>/test-results/logs`.
 *
 * @example
 * testLogDir("/work/main"); // "/work/main/test-results/logs"
 */
export function testLogDir(root: string = process.cwd()): string {
	return process.env[TEST_LOGS_DIR_ENV] || join(root, "test-results", "logs");
}

/**
 * Whether to stream every log line live, as without the reporter: `TEST_LOGS=1`.
 *
 * @example
 * const verbose = streamTestLogs(); // TEST_LOGS=1 npm test
 */
export function streamTestLogs(): boolean {
	const value = process.env.TEST_LOGS;
	return value !== undefined && value !== "" && value !== "0" && value !== "false";
}

/**
 * One record as the lines it takes in a file.
 *
 * @example
 * formatRecord(0, "workerd stderr", "boom\n  at x"); // "1970-01-01T00:00:00.000Z workerd stderr | boom\n    at x\n"
 */
export function formatRecord(time: number, heading: string, text: string): string {
	const [first = "", ...rest] = text.replace(/\r?\n$/, "").split(/\r?\n/);
	const stamp = Number.isFinite(time) ? new Date(time).toISOString() : new Date().toISOString();
	return `${stamp} ${heading} | ${first}\n${rest.map((line) => `  ${line}\n`).join("")}`;
}

/**
 * Appends one record to `<dir>/<name>.log`, creating the directory if needed. Synchronous, so
 * that records from several processes stay whole and in order of writing.
 *
 * @example
 * appendTestLog(testLogDir(), "node", "wrangler dev :8787", "Ready on http://127.0.0.1:8787");
 */
export function appendTestLog(dir: string, name: string, heading: string, text: string, time = Date.now()): void {
	try {
		appendFileSync(join(dir, `${name}.log`), formatRecord(time, heading, text));
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
		mkdirSync(dir, { recursive: true });
		appendFileSync(join(dir, `${name}.log`), formatRecord(time, heading, text));
	}
}

/** Removes the previous run's `*.log` files (only those: the directory may hold other results). */
export function resetTestLogs(dir: string): void {
	mkdirSync(dir, { recursive: true });
	for (const name of readdirSync(dir)) {
		if (name.endsWith(".log")) rmSync(join(dir, name), { force: true });
	}
}

/** The `*.log` file names in `dir`, sorted; none when it does not exist. */
export function listTestLogs(dir: string): string[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir)
		.filter((name) => name.endsWith(".log"))
		.sort();
}

const RECORD_START = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /;

/**
 * Reads a log file back into records; a missing file has none.
 *
 * @example
 * const records = readTestLog("test-results/logs/workers.log");
 */
export function readTestLog(file: string): LogRecord[] {
	if (!existsSync(file)) return [];
	const records: LogRecord[] = [];
	const lines = readFileSync(file, "utf8").split("\n");
	if (lines.at(-1) === "") lines.pop();
	lines.forEach((text, index) => {
		const start = RECORD_START.exec(text);
		const last = records.at(-1);
		if (start?.[1]) records.push({ time: Date.parse(start[1]), line: index + 1, text });
		else if (last) last.text += `\n${text}`;
	});
	return records;
}
