/**
 * The programs in examples/, each run as a child process the way examples/README.md says
 * (`npm run …`, `python3 …`), against one local stack: wrangler dev, the emulator, the inbox.
 * Only the relay's URL, key and secrets (and the receivers' ports) come from the test, as
 * environment variables and flags the examples document.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signPayload } from "../../src/delivery/sign.ts";
import type { Delivery } from "../../tools/inbox/app.ts";
import { freePort } from "../../tools/lib/ports.ts";
import { type Stack, startStack } from "./stack.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** The longest any example may run (or a receiver take to start) before the test gives up on it. */
const CHILD_TIMEOUT_MS = 60_000;
/** The Agent example's slow run (preset "high") outlasts the test, so its cancel always finds it running. */
const SLOW_RUN_MS = 600_000;

/** python3 is installed by .ci/run when missing, so under CI the Python receiver always runs. */
const hasPython = spawnSync("python3", ["--version"]).status === 0;

let stack: Stack;
const children = new Set<ChildProcess>();

beforeAll(async () => {
	stack = await startStack({
		emulator: { durationFor: (model) => (model === "high" ? SLOW_RUN_MS : undefined) },
	});
}, 120_000);

afterAll(async () => {
	for (const child of children) killGroup(child);
	await stack?.stop();
}, 30_000);

/** The environment an example reads: the relay's URL and this stack's key instead of npm start's. */
function exampleEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	return { ...process.env, RELAY_URL: stack.relayUrl, RELAY_API_KEY: stack.apiKey, ...extra };
}

/** A child in its own process group (npm → sh → node), so that killing it leaves nothing behind. */
function launch(command: string, args: string[], env: NodeJS.ProcessEnv) {
	const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
	children.add(child);
	let output = "";
	child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
		output += chunk;
	});
	child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
		output += chunk;
	});
	const exited = new Promise<number | string>((resolve) => {
		child.once("exit", (code, signal) => {
			children.delete(child);
			resolve(code ?? signal ?? "unknown");
		});
		child.once("error", (error) => resolve(`spawn error: ${error.message}`));
	});
	return { child, exited, output: () => output };
}

function killGroup(child: ChildProcess): void {
	if (child.pid === undefined || child.exitCode !== null) return;
	try {
		process.kill(-child.pid, "SIGKILL");
	} catch {
		// ESRCH: already gone.
	}
}

/** Runs an example to its end (bounded): its exit code and everything it printed. */
async function runExample(command: string, args: string[], env: NodeJS.ProcessEnv) {
	const run = launch(command, args, env);
	let timer: NodeJS.Timeout | undefined;
	const timedOut = new Promise<"timeout">((resolve) => {
		timer = setTimeout(() => resolve("timeout"), CHILD_TIMEOUT_MS);
	});
	const code = await Promise.race([run.exited, timedOut]);
	clearTimeout(timer);
	if (code === "timeout") {
		killGroup(run.child);
		throw new Error(`${command} ${args.join(" ")} ran over ${CHILD_TIMEOUT_MS} ms:\n${run.output()}`);
	}
	return { code, output: run.output() };
}

/** Waits (bounded) until a running child has printed something matching `pattern`. */
async function waitForOutput(run: ReturnType<typeof launch>, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
	const deadline = Date.now() + CHILD_TIMEOUT_MS;
	while (Date.now() < deadline) {
		const match = run.output().match(pattern);
		if (match) return match;
		if (run.child.exitCode !== null) break;
		await sleep(100);
	}
	throw new Error(`no ${what} (${pattern}) in the output:\n${run.output()}\n--- relay ---\n${stack.relayOutput()}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the inbox holds `count` deliveries for `name`. */
async function inboxEvents(name: string, count: number): Promise<Delivery[]> {
	for (let i = 0; i < 120; i++) {
		const events = stack.inbox.inbox.events(name);
		if (events.length >= count) return events;
		await sleep(250);
	}
	throw new Error(`the inbox got ${stack.inbox.inbox.events(name).length} of ${count} deliveries for ${name}`);
}

const parse = (delivery: Delivery | undefined) =>
	JSON.parse(delivery?.body ?? "null") as { type: string; data: { id: string; status: string } };

describe("examples/sdk-async.ts (npm run example:sdk)", () => {
	it("submits through the SDK, polls until COMPLETED, finds the job in the list, and its push arrives signed", async () => {
		const name = "example-sdk";
		const { code, output } = await runExample(
			"npm",
			["run", "example:sdk", "--", "What is a Durable Object alarm?"],
			exampleEnv({ CALLBACK_URL: `${stack.inbox.url}/hooks/${name}` }),
		);
		expect(code, output).toBe(0);
		const id = output.match(/created\s+(\S+)\s+CREATED/)?.[1];
		expect(id, output).toBeTruthy();
		expect(output).toContain("status    COMPLETED");
		expect(output).toMatch(/answer {4}\S/);
		expect(output).toContain(`${id}  COMPLETED   sonar   ← this one`);

		const [delivery] = await inboxEvents(name, 1);
		expect(delivery?.verified).toBe(true);
		expect(parse(delivery)).toMatchObject({ type: "async_chat_completion.completed", data: { id } });
	});
});

describe("examples/agent-responses.ts (npm run example:agent)", () => {
	it("starts a background run and retrieves it completed, then cancels a slower run; both events are pushed", async () => {
		const name = "example-agent";
		const { code, output } = await runExample(
			"npm",
			["run", "example:agent"],
			exampleEnv({ CALLBACK_URL: `${stack.inbox.url}/hooks/${name}` }),
		);
		expect(code, output).toBe(0);
		const [first, slow] = [...output.matchAll(/created\s+(\S+)\s+queued/g)].map((match) => match[1]);
		expect(first && slow, output).toBeTruthy();
		expect(output).toMatch(new RegExp(`retrieved ${first}  completed`));
		expect(output).toMatch(/answer {4}\S/);
		expect(output).toContain(`cancel    ${slow}  cancelling`);
		expect(output).toContain(`retrieved ${slow}  cancelled`);

		const events = (await inboxEvents(name, 2)).map((delivery) => ({
			...parse(delivery),
			verified: delivery.verified,
		}));
		expect(events).toEqual(
			expect.arrayContaining([
				expect.objectContaining({ type: "response.completed", data: expect.objectContaining({ id: first }) }),
				expect.objectContaining({ type: "response.cancelled", data: expect.objectContaining({ id: slow }) }),
			]),
		);
		expect(events.every((event) => event.verified)).toBe(true);
		// The slow run is cancelled upstream too, not left to run (and bill).
		const upstream = Object.values(stack.emulator.emulator.stats().jobs).find((run) => run.preset === "high");
		expect(upstream).toMatchObject({ cancels: 1, status: "cancelled" });
	});
});

interface ReceiverCase {
	name: string;
	/** How examples/README.md runs it, given its port. */
	command: (port: number) => [string, string[]];
	/** What it is given besides the relay's URL and key. */
	env: () => Record<string, string>;
	/** The surface its real push comes from. */
	surface: "sonar" | "agent";
	skip?: string;
}

const receivers: ReceiverCase[] = [
	{
		name: "examples/receiver.ts (npm run example:receiver), secret given",
		command: (port) => ["npm", ["run", "example:receiver", "--", "--port", String(port)]],
		env: () => ({ WEBHOOK_SECRET: stack.secret }),
		surface: "sonar",
	},
	{
		name: "examples/receiver.py (python3), secret fetched from the relay",
		command: (port) => ["python3", ["examples/receiver.py", "--port", String(port)]],
		env: () => ({}),
		surface: "agent",
		// Outside CI only: a machine without Python skips this case (CI installs python3, see .ci/run).
		skip: hasPython || process.env.CI ? undefined : "python3 is not installed",
	},
];

for (const receiver of receivers) {
	describe.skipIf(receiver.skip !== undefined)(receiver.name, () => {
		let run: ReturnType<typeof launch>;
		let url: string;

		beforeAll(async () => {
			const port = await freePort();
			const [command, args] = receiver.command(port);
			run = launch(command, args, exampleEnv(receiver.env()));
			await waitForOutput(run, /receiver listening on/, "start-up line");
			url = `http://127.0.0.1:${port}/hooks`;
		}, CHILD_TIMEOUT_MS + 5_000);

		afterAll(() => killGroup(run.child));

		/** A delivery signed with the tenant's secret as the relay signs it, then changed as asked. */
		async function send(options: { tamper?: boolean; ageSeconds?: number; extraSignature?: boolean } = {}) {
			const body = JSON.stringify({
				type: "async_chat_completion.completed",
				timestamp: new Date().toISOString(),
				data: { id: "hand-made", status: "COMPLETED", response: null },
			});
			const id = `msg_${crypto.randomUUID()}`;
			const timestamp = Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0);
			const signature = await signPayload(stack.secret, id, timestamp, body);
			const bogus = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
			return fetch(url, {
				method: "POST",
				headers: {
					"content-type": "application/json",
					"webhook-id": id,
					"webhook-timestamp": String(timestamp),
					"webhook-signature": options.extraSignature ? `${bogus} ${signature}` : signature,
				},
				body: options.tamper ? body.replace("COMPLETED", "FAILED") : body,
			});
		}

		it("verifies a real push from the relay, answers it 2xx and prints the event, the job and the answer", async () => {
			const submit =
				receiver.surface === "sonar"
					? {
							path: "/async/chat/completions",
							body: {
								request: { model: "sonar", messages: [{ role: "user", content: "Where do pushes go?" }] },
								callback_url: url,
							},
							event: "async_chat_completion.completed",
						}
					: {
							path: "/v1/responses",
							body: { preset: "fast", input: "Where do pushes go?", background: true, callback_url: url },
							event: "response.completed",
						};
			const res = await fetch(`${stack.relayUrl}${submit.path}`, {
				method: "POST",
				headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
				body: JSON.stringify(submit.body),
			});
			expect(res.status).toBe(200);
			const { id } = (await res.json()) as { id: string };

			const [line, detail] = await waitForOutput(
				run,
				new RegExp(`✓ verified ${submit.event.replaceAll(".", "\\.")}  job ${id}\\n  (.+)`),
				"verified push",
			);
			expect(line).toBeTruthy();
			expect(detail?.trim().length).toBeGreaterThan(10);

			const deliveriesPath = receiver.surface === "sonar" ? "/async/chat/completions" : "/v1/responses";
			const report = (await (
				await fetch(`${stack.relayUrl}${deliveriesPath}/${id}/deliveries`, {
					headers: { authorization: `Bearer ${stack.apiKey}` },
				})
			).json()) as { delivery_status: string; attempts: { status_code: number | null }[] };
			expect(report.delivery_status).toBe("delivered");
			expect(report.attempts[0]?.status_code).toBe(204);
		});

		it("rejects a tampered body and a stale timestamp with 401, and accepts one good signature among several", async () => {
			const tampered = await send({ tamper: true });
			expect(tampered.status).toBe(401);
			expect(await tampered.json()).toEqual({ error: "no signature matches" });

			// Six minutes old, correctly signed: a replay.
			const stale = await send({ ageSeconds: 360 });
			expect(stale.status).toBe(401);
			expect(await stale.json()).toEqual({ error: expect.stringContaining("5 minutes") });

			// During a key rotation the relay sends two signatures; one that matches is enough.
			const rotated = await send({ extraSignature: true });
			expect(rotated.status).toBe(204);

			await waitForOutput(run, /✗ rejected \(401\): no signature matches/, "rejection line");
			await waitForOutput(run, /✓ verified async_chat_completion\.completed {2}job hand-made/, "hand-made event");
		});
	});
}

describe("examples/slack-command.ts (npm run slack)", () => {
	it("signs a slash command, prints the relay's reply, then the messages posted to its response_url up to the answer", async () => {
		const { code, output } = await runExample(
			"npm",
			["run", "slack", "--", "What is a Durable Object?"],
			exampleEnv({ SLACK_SIGNING_SECRET: stack.vars.SLACK_SIGNING_SECRET as string }),
		);
		expect(code, output).toBe(0);
		expect(output).toContain("[reply] 200 (ephemeral):");
		expect(output).toContain("Researching: What is a Durable Object?");
		const final = output.slice(output.indexOf("[response_url] final message"));
		expect(final, output).toMatch(/^\[response_url\] final message/);
		expect(final).toContain("# What is a Durable Object?");
		expect(final).toContain("Durable Object");
		expect(final).toMatch(/Answered by/);
	});

	it("exits 1 with a hint when the signing secret is not the relay's", async () => {
		const { code, output } = await runExample(
			"npm",
			["run", "slack", "--", "Who signed this?"],
			exampleEnv({ SLACK_SIGNING_SECRET: "not-the-relay-secret" }),
		);
		expect(code).toBe(1);
		expect(output).toContain("the relay answered 401");
		expect(output).toContain("is SLACK_SIGNING_SECRET the relay's?");
	});
});
