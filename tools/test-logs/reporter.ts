/**
 * A vitest reporter that keeps a passing run quiet and a failing one explained.
 *
 * It writes everything the tests and the runtime print to `test-results/logs/` (see
 * log-file.ts), rewritten each run:
 * - `<project>.log`: the console output of that project's tests, as vitest intercepted it, each
 *   record headed by the test that wrote it; the node project's `wrangler dev` children add
 *   theirs (test/node/stack.ts);
 * - `runtime.log`: what no test owns: the workerd runtime's own messages under the workers
 *   projects (runtime-output.ts; the plugin does not say which project they come from), and
 *   console lines vitest could not tie to a test (an alarm firing after its test ended).
 *
 * The terminal gets vitest's report (its `silent: "passed-only"` prints a failed test's own
 * console output there), one line saying where the logs are, and, when something failed, the
 * records written around each failure, from the failing project's log and the runtime's.
 * `TEST_LOGS=1` streams everything live as well (see streamTestLogs).
 */
import { basename, isAbsolute, join, relative } from "node:path";
import type { SerializedError, UserConsoleLog } from "vitest";
import type { Reporter, TestCase, TestModule, TestRunEndReason, TestSuite, Vitest } from "vitest/node";
import { appendTestLog, listTestLogs, readTestLog, resetTestLogs, streamTestLogs, testLogDir } from "./log-file.ts";
import { divertRuntimeOutput } from "./runtime-output.ts";

/** The log of what no test owns: workerd's own messages and console lines without a test. */
export const RUNTIME_LOG = "runtime";

export interface TestLogsReporterOptions {
	/**
	 * Where the logs go.
	 * @default `$TEST_LOGS_DIR`, or `<root>/test-results/logs`
	 */
	dir?: string;
	/**
	 * Also print everything live, as without this reporter.
	 * @default `TEST_LOGS=1`
	 */
	stream?: boolean;
	/**
	 * Records shown per failure: the last ones written before it was reported.
	 * @default 30
	 */
	linesPerFailure?: number;
	/**
	 * Failures shown with their records; the others are only counted.
	 * @default 5
	 */
	maxFailures?: number;
	/** Where the report goes. @default process.stdout */
	output?: { write(text: string): unknown };
}

/** A failed test, suite or module, and when it ran by this process's clock. */
interface Failure {
	title: string;
	project: string;
	from: number;
	to: number;
	/** Not one test's failure (unhandled errors, an interrupted run): every test's records count. */
	wholeRun?: boolean;
}

/**
 * Records written this long before a failing test started, or after it ended, still count as
 * around it: what led up to a failure matters more than what the next tests wrote.
 */
const BEFORE_MS = 500;
const AFTER_MS = 150;
/** A record line longer than this is cut in the terminal (never in the file). */
const MAX_LINE = 240;

/**
 * @example
 * // vitest.config.ts
 * export default defineConfig({
 * 	test: { silent: streamTestLogs() ? false : "passed-only", reporters: ["default", new TestLogsReporter()] },
 * });
 */
export class TestLogsReporter implements Reporter {
	#options: TestLogsReporterOptions;
	#vitest: Vitest | undefined;
	#dir = "";
	#stopDiverting: (() => void) | undefined;
	/** When this process learnt that a test, suite or module started, by id. */
	#started = new Map<string, number>();
	#failures: Failure[] = [];

	constructor(options: TestLogsReporterOptions = {}) {
		this.#options = options;
	}

	get #stream(): boolean {
		return this.#options.stream ?? streamTestLogs();
	}

	onInit(vitest: Vitest): void {
		this.#vitest = vitest;
		this.#dir = this.#options.dir ?? testLogDir(vitest.config.root);
		this.#stopDiverting?.();
		this.#stopDiverting = divertRuntimeOutput({
			passThrough: this.#stream,
			onMessage: (stream, message) => appendTestLog(this.#dir, RUNTIME_LOG, `workerd ${stream}`, message),
		});
	}

	onTestRunStart(): void {
		resetTestLogs(this.#dir);
		this.#started.clear();
		this.#failures = [];
	}

	onUserConsoleLog(log: UserConsoleLog): void {
		const entity = log.taskId ? this.#vitest?.state.getReportedEntityById(log.taskId) : undefined;
		const name = entity ? projectLogName(entity.project.name) : RUNTIME_LOG;
		const owner = entity ? titleOf(entity) : `(no test) ${log.taskId ?? ""}`.trimEnd();
		appendTestLog(this.#dir, name, `${log.type} ${owner}`, log.content, log.time);
	}

	onTestModuleStart(testModule: TestModule): void {
		this.#started.set(testModule.id, Date.now());
	}

	onTestSuiteReady(testSuite: TestSuite): void {
		this.#started.set(testSuite.id, Date.now());
	}

	onTestCaseReady(testCase: TestCase): void {
		this.#started.set(testCase.id, Date.now());
	}

	onTestCaseResult(testCase: TestCase): void {
		if (testCase.result().state !== "failed") return;
		// By the test's own clock where it has one (in workerd it moves on I/O only: close enough).
		const diagnostic = testCase.diagnostic();
		const started = Math.min(this.#started.get(testCase.id) ?? Date.now(), diagnostic?.startTime ?? Infinity);
		const ended = diagnostic ? Math.min(Date.now(), diagnostic.startTime + diagnostic.duration) : Date.now();
		this.#fail(testCase, started, ended);
	}

	onTestSuiteResult(testSuite: TestSuite): void {
		// A hook failed: its tests did not run, so only the suite can say where to look.
		if (testSuite.errors().length > 0) this.#fail(testSuite, this.#started.get(testSuite.id) ?? Date.now());
	}

	onTestModuleEnd(testModule: TestModule): void {
		if (testModule.errors().length > 0) this.#fail(testModule, this.#started.get(testModule.id) ?? Date.now());
	}

	onTestRunEnd(
		_modules: ReadonlyArray<TestModule>,
		unhandledErrors: ReadonlyArray<SerializedError>,
		reason: TestRunEndReason,
	): void {
		const out = this.#options.output ?? process.stdout;
		const files = listTestLogs(this.#dir);
		const near = relative(process.cwd(), this.#dir);
		const where = near === "" ? "." : near.startsWith("..") || isAbsolute(near) ? this.#dir : near;
		const hint = this.#stream ? "" : " (TEST_LOGS=1 streams them)";
		if (files.length > 0) out.write(`\n Logs  ${where}/: ${files.join(", ")}${hint}\n`);
		if (reason === "passed" && this.#failures.length === 0 && unhandledErrors.length === 0) return;

		const failures = [...this.#failures];
		if (failures.length === 0) {
			// Unhandled errors (vitest may call that run "passed"), or an interrupted run: the last records of every log.
			const title = unhandledErrors.length > 0 ? "the run's unhandled errors" : `the run (${reason})`;
			failures.push({ title, project: "", from: -Infinity, to: Infinity, wholeRun: true });
		}
		const shown = failures.slice(0, this.#options.maxFailures ?? 5);
		for (const failure of shown) out.write(this.#excerpt(failure, files));
		if (failures.length > shown.length) {
			out.write(`\n … and ${failures.length - shown.length} more failures: their records are in ${where}/.\n`);
		}
	}

	#fail(entity: TestCase | TestSuite | TestModule, startedAt: number, endedAt = Date.now()): void {
		this.#failures.push({
			title: titleOf(entity),
			project: entity.project.name,
			from: startedAt - BEFORE_MS,
			to: endedAt + AFTER_MS,
		});
	}

	/**
	 * The records around one failure, in time order, from its project's log and the runtime's:
	 * its own console output and what no test owns (workerd, `wrangler dev`); other tests' console
	 * output, which a parallel run interleaves, is left in the files.
	 */
	#excerpt(failure: Failure, files: string[]): string {
		const wanted = failure.project
			? [`${projectLogName(failure.project)}.log`, `${RUNTIME_LOG}.log`].filter((file) => files.includes(file))
			: files;
		const records = wanted
			.flatMap((file) => readTestLog(join(this.#dir, file)).map((record) => ({ ...record, file })))
			.filter((record) => record.time >= failure.from && record.time <= failure.to)
			.filter((record) => failure.wholeRun || !byAnotherTest(record.text, failure.title))
			.sort((a, b) => a.time - b.time);
		const limit = this.#options.linesPerFailure ?? 30;
		const last = records.slice(-limit);
		const project = failure.project ? `${failure.project} > ` : "";
		const lines = [`\n Logs around ${project}${failure.title}:\n`];
		if (last.length === 0) lines.push("   (nothing was logged while it ran)\n");
		if (records.length > last.length) lines.push(`   … ${records.length - last.length} earlier records\n`);
		for (const record of last) {
			const [first = "", ...rest] = record.text.split("\n");
			// On screen the time of day is enough (the file has the date), and "this test" is the one above.
			const shown = first.replace(/^\d{4}-\d\d-\d\dT(\S+)Z /, "$1 ").replace(` ${failure.title} | `, " (this test) | ");
			lines.push(`   ${basename(record.file)}:${record.line}  ${cut(shown)}\n`);
			for (const line of rest.slice(0, 5)) lines.push(`     ${cut(line)}\n`);
			if (rest.length > 5) lines.push(`     … ${rest.length - 5} more lines\n`);
		}
		return lines.join("");
	}
}

/** The log file of a project's console: its name, or `tests` for an unnamed root project. */
function projectLogName(project: string): string {
	return project.replace(/[^\w.-]+/g, "_") || "tests";
}

function titleOf(entity: TestCase | TestSuite | TestModule): string {
	return entity.type === "module" ? entity.relativeModuleId : `${entity.module.relativeModuleId} > ${entity.fullName}`;
}

/** Whether a record is the console output of a test other than `title` and the tests under it. */
function byAnotherTest(text: string, title: string): boolean {
	const owner = /^\S+ (?:stdout|stderr) (.*)/.exec(text)?.[1];
	if (owner === undefined || owner.startsWith("(no test)")) return false;
	return !owner.startsWith(`${title} | `) && !owner.startsWith(`${title} > `);
}

function cut(line: string): string {
	return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

/** For `vitest --reporter=default --reporter=./tools/test-logs/reporter.ts`, which loads a default export. */
export default TestLogsReporter;
