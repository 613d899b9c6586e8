/**
 * What the deploy tools (`npm run setup`, `deploy`, `smoke`, `keys`) share: running as a script or
 * being imported by a test, failing with one clear line, and running the project's own wrangler.
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";

/** The repository root (two folders up from here). */
export const ROOT = join(import.meta.dirname, "..", "..");

/** A failure the user can act on: printed as one line, without a stack trace, and exit code 1. */
export class UsageError extends Error {
	override readonly name = "UsageError";
}

/**
 * Whether the module at `filename` is the script Node was started with (not imported by a test).
 *
 * @example
 * if (isMain(import.meta.filename)) await runCli("setup", main);
 */
export function isMain(filename: string): boolean {
	const entry = process.argv[1];
	if (!entry) return false;
	try {
		return realpathSync(entry) === realpathSync(filename);
	} catch {
		return false;
	}
}

/**
 * Runs a tool's `main` and exits with its code; a `UsageError` is one line, anything else its stack.
 *
 * @example
 * if (isMain(import.meta.filename)) await runCli("smoke", () => main(process.argv.slice(2)));
 */
export async function runCli(name: string, main: () => Promise<number>): Promise<never> {
	try {
		process.exit(await main());
	} catch (error) {
		if (error instanceof UsageError) console.error(`npm run ${name}: ${error.message}`);
		else console.error(`npm run ${name}:`, error);
		process.exit(1);
	}
}

/**
 * `parseArgs`, strict, with a bad flag as a `UsageError` naming the tool's flags.
 *
 * @example
 * const { values, positionals } = parseFlags(argv, { force: { type: "boolean" } }, "npm run setup -- [--force]");
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig["options"]>>(
	argv: string[],
	options: O,
	usage: string,
) {
	try {
		return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
	} catch (error) {
		throw new UsageError(`${(error as Error).message}\nusage: ${usage}`);
	}
}

export interface WranglerRun {
	/** The exit code, or -1 when wrangler could not be started or was killed. */
	code: number;
	stdout: string;
	stderr: string;
}

export interface WranglerOptions {
	/** The project root, wrangler's working directory. @default ROOT */
	cwd?: string;
	/** Added to this process's environment (`WRANGLER_SEND_METRICS=false` always is). */
	env?: Record<string, string>;
	/** Copy wrangler's output to this process's as it comes, as well as returning it. @default false */
	echo?: boolean;
}

/**
 * Runs the project's wrangler (on this Node: npm scripts put Node 22 first on the PATH) and
 * collects what it prints. Its stdin is this process's, so `wrangler login` prompts still reach
 * a terminal; its stdout is a pipe, so wrangler runs non-interactively (no prompts, and no
 * rewriting of wrangler.toml with the ids of the namespaces it provisions).
 *
 * @example
 * const { code, stdout } = await runWrangler(["kv", "key", "list", "--binding", "KEYS", "--local"]);
 */
export function runWrangler(args: string[], options: WranglerOptions = {}): Promise<WranglerRun> {
	const cwd = options.cwd ?? ROOT;
	return new Promise((resolve) => {
		// SONAR_RELAY_WRANGLER: another wrangler script, for the tests of the tools that run it.
		const bin = process.env.SONAR_RELAY_WRANGLER || join(cwd, "node_modules", ".bin", "wrangler");
		const child = spawn(process.execPath, [bin, ...args], {
			cwd,
			env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...options.env },
			stdio: ["inherit", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
			stdout += chunk;
			if (options.echo) process.stdout.write(chunk);
		});
		child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
			stderr += chunk;
			if (options.echo) process.stderr.write(chunk);
		});
		child.once("error", (error) => resolve({ code: -1, stdout, stderr: `${stderr}${error.message}\n` }));
		child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
	});
}

/** Wrangler's output without its colours, for messages and parsing. */
export function plain(text: string): string {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point.
	return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
}
