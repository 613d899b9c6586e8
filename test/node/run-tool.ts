/**
 * Runs one of the project's Node tools (`tools/…/x.ts`) as `npm run` does, on this Node, and
 * collects its exit code and output: the deploy tools are tested as a user runs them.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface ToolRun {
	code: number | null;
	stdout: string;
	stderr: string;
}

/**
 * @example
 * const { code, stdout } = await runTool("tools/deploy/setup.ts", ["--secrets", path]);
 */
export function runTool(
	script: string,
	args: string[],
	env: Record<string, string | undefined> = {},
): Promise<ToolRun> {
	const childEnv: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };
	// `undefined` removes a variable (PERPLEXITY_API_KEY from a developer's shell, WORKERS_CI from CI).
	for (const [name, value] of Object.entries(env)) {
		if (value === undefined) delete childEnv[name];
		else childEnv[name] = value;
	}
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [join(ROOT, script), ...args], {
			cwd: ROOT,
			env: childEnv,
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
			stdout += chunk;
		});
		child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
			stderr += chunk;
		});
		child.once("error", reject);
		child.once("close", (code) => resolve({ code, stdout, stderr }));
	});
}
