/**
 * Secrets never leak: console output (the Worker's and the Durable Objects',
 * which share the test's isolate) and every answer, through the happy path and
 * every failure path, carry no key, secret or callback query string.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import type { Job } from "../../src/job/job.ts";
import { RelayJob } from "../../src/schemas/relay.ts";
import { upstreamPort } from "../../src/upstream/index.ts";
import {
	TENANT_A,
	TEST_API_KEYS_ALL,
	TEST_SIGNING_KEY,
	TEST_SIGNING_KEY_NEXT,
	TEST_SLACK_SECRET,
	TEST_UPSTREAM_KEY,
} from "./constants.ts";
import { createJob, driveUntil, inboxUrl, jobStub, makeCreateBody, relay, unique, waitForEvents } from "./helpers.ts";
import { settledAndDelivered, slackCommand, slackFields } from "./security-fixtures.ts";

const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;

function render(args: unknown[]): string {
	return args
		.map((arg) => {
			if (typeof arg === "string") return arg;
			if (arg instanceof Error) return `${arg.name}: ${arg.message}\n${arg.stack ?? ""}`;
			try {
				return JSON.stringify(arg) ?? String(arg);
			} catch {
				return String(arg);
			}
		})
		.join(" ");
}

/** Every line written to the console while it runs, silenced. Durable Objects share this isolate. */
function captureConsole(): { lines: string[]; restore: () => void } {
	const lines: string[] = [];
	const spies = CONSOLE_METHODS.map((method) =>
		vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
			lines.push(render(args));
		}),
	);
	return {
		lines,
		restore: () => {
			for (const spy of spies) spy.mockRestore();
		},
	};
}

/** The relay's secrets, and every tenant's derived webhook secret (whole, and its key part). */
async function knownSecrets(extraTenants: string[] = []): Promise<[string, string][]> {
	const pairs = TEST_API_KEYS_ALL.split(",").map((pair) => pair.split(":") as [string, string]);
	const secrets: [string, string][] = [
		...pairs.map(([tenant, key]): [string, string] => [`API key of ${tenant}`, key]),
		["upstream key", TEST_UPSTREAM_KEY],
		["signing key", TEST_SIGNING_KEY],
		["next signing key", TEST_SIGNING_KEY_NEXT],
		["Slack signing secret", TEST_SLACK_SECRET],
	];
	for (const tenant of [...pairs.map(([tenant]) => tenant), ...extraTenants]) {
		for (const signingKey of [TEST_SIGNING_KEY, TEST_SIGNING_KEY_NEXT]) {
			const secret = await tenantSecret(signingKey, tenant);
			secrets.push(
				[`webhook secret of ${tenant}`, secret],
				[`webhook key of ${tenant}`, secret.slice("whsec_".length)],
			);
		}
	}
	return secrets;
}

function expectNoSecrets(texts: string[], secrets: [string, string][]): void {
	for (const text of texts) {
		for (const [label, secret] of secrets) {
			if (text.includes(secret)) throw new Error(`${label} leaked in: ${text.slice(0, 500)}`);
		}
	}
}

describe("secrets never leak", () => {
	const token = `cbtoken-${crypto.randomUUID()}`;
	const callbackQuery = `token=${token}`;
	let capture: ReturnType<typeof captureConsole>;
	let answers: string[];

	const seen = async (res: Response | Promise<Response>): Promise<Response> => {
		const response = await res;
		answers.push(await response.clone().text());
		return response;
	};

	/** The callback query string and its secret token must not show either. */
	const withCallback = async (extra: [string, string][] = [], tenants: string[] = []) => [
		...(await knownSecrets(tenants)),
		["callback token", token] as [string, string],
		...extra,
	];

	beforeAll(() => {
		answers = [];
	});

	afterEach(() => {
		capture?.restore();
		answers = [];
	});

	it("on the happy path, in logs and answers (Durable Object logs included)", async () => {
		capture = captureConsole();
		const name = unique("leak-happy");
		const created = RelayJob.parse(
			await (
				await seen(
					relay("/async/chat/completions", {
						method: "POST",
						body: JSON.stringify(
							makeCreateBody({ callback: inboxUrl(name, callbackQuery), events: ["started", "completed", "failed"] }),
						),
					}),
				)
			).json(),
		);
		await driveUntil(created.id, (job) => job.status === "COMPLETED" && job.delivery_status === "delivered");
		await waitForEvents(name, 1);
		for (const path of [
			`/async/chat/completions/${created.id}`,
			`/v1/async/sonar/${created.id}/deliveries`,
			"/async/chat/completions?limit=100",
			"/v1/hooks",
			"/v1/hooks/sample",
		]) {
			expect((await seen(relay(path))).status).toBe(200);
		}
		expect((await seen(relay(`/async/chat/completions/${created.id}/redeliver`, { method: "POST" }))).status).toBe(200);
		capture.restore();
		// The Job DO's own lines (job.transition, delivery.attempt) reach the spy: it runs in this isolate.
		expect(capture.lines.some((line) => line.includes(created.id) && line.includes("delivery"))).toBe(true);
		expectNoSecrets([...capture.lines, ...answers], await withCallback([["callback query", callbackQuery]]));
	});

	it("when upstream fails: 5xx and 429 retried, a FAILED job, terminal 4xx at create", async () => {
		capture = captureConsole();
		for (const markers of [
			["create=503x1", "steps=1"],
			["get=500x2", "steps=1"],
			["get=429x1", "steps=1"],
			["fail", "steps=1"],
		]) {
			const job = await createJob({ markers, callback: inboxUrl(unique("leak-up"), callbackQuery) });
			await seen(relay(`/async/chat/completions/${job.id}`));
			const settled = await driveUntil(job.id, settledAndDelivered);
			answers.push(JSON.stringify(settled));
			await seen(relay(`/async/chat/completions/${job.id}/deliveries`));
		}
		for (const status of [400, 401, 403, 404, 422]) {
			const res = await seen(
				relay("/async/chat/completions", {
					method: "POST",
					body: JSON.stringify(
						makeCreateBody({ markers: [`create=${status}x1`], callback: inboxUrl(unique("leak-up")) }),
					),
				}),
			);
			expect(res.status).toBeGreaterThanOrEqual(400);
			expect(await res.json()).toEqual({ detail: expect.any(String) });
		}
		capture.restore();
		expect(capture.lines.some((line) => line.includes("upstream.retry"))).toBe(true);
		expectNoSecrets([...capture.lines, ...answers], await withCallback([["callback query", callbackQuery]]));
	});

	it("when the receiver fails: 500s then success, 410, a dead letter", async () => {
		capture = captureConsole();
		for (const script of ["fail=2&status=500", "status=410", "status=500", "fail=1&status=503"]) {
			const query = `${script}&${callbackQuery}`;
			const job = await createJob({ callback: inboxUrl(unique("leak-rx"), query) });
			const settled = await driveUntil(job.id, settledAndDelivered);
			answers.push(JSON.stringify(settled));
			await seen(relay(`/async/chat/completions/${job.id}/deliveries`));
			expectNoSecrets([...capture.lines, ...answers], [["callback query", query]]);
		}
		capture.restore();
		expect(capture.lines.some((line) => line.includes("delivery.dead_letter"))).toBe(true);
		expectNoSecrets([...capture.lines, ...answers], await withCallback());
	});

	it("when keys are wrong: neither the presented key nor a real one is echoed or logged", async () => {
		capture = captureConsole();
		const presented = `presented-${crypto.randomUUID()}`;
		for (const key of [presented, `${TENANT_A.key}x`, TENANT_A.key.slice(0, -1)]) {
			for (const [path, init] of [
				["/async/chat/completions", {}],
				["/v1/webhook-secret", {}],
				["/v1/ask", { method: "POST", body: JSON.stringify({ query: "q" }) }],
				["/v1/hooks", {}],
			] as [string, RequestInit][]) {
				expect((await seen(relay(path, init, key))).status).toBe(401);
			}
		}
		capture.restore();
		expectNoSecrets([...capture.lines, ...answers], [...(await knownSecrets()), ["presented key", presented]]);
	});

	it("through the Slack command: bad signatures, and a job posted to response_url", async () => {
		capture = captureConsole();
		const team = `TLEAK${Date.now().toString(36).toUpperCase()}`;
		const name = unique("leak-slack");
		const fields = slackFields(team, { response_url: inboxUrl(name, callbackQuery) });
		expect((await seen(slackCommand(fields, { secret: "not-the-slack-secret" }))).status).toBe(401);
		expect((await seen(slackCommand(fields, { sign: false }))).status).toBe(401);
		const ack = await seen(slackCommand(fields));
		expect(ack.status).toBe(200);
		const { job_id } = (await ack.json()) as { job_id: string };
		await driveUntil(job_id, settledAndDelivered, { tenant: `slack:${team}` });
		await waitForEvents(name, 1);
		capture.restore();
		expectNoSecrets([...capture.lines, ...answers], await withCallback([], [`slack:${team}`]));
	});

	it("when something unexpected fails: the log line has no header, query string or key", async () => {
		capture = captureConsole();
		const broken = {
			...env,
			JOBS: {
				newUniqueId: () => {
					throw new Error("the namespace is down");
				},
				idFromName: () => {
					throw new Error("the namespace is down");
				},
				idFromString: () => {
					throw new Error("the namespace is down");
				},
			},
		} as unknown as Env;
		const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
		const res = await seen(
			app.fetch(
				new Request(`https://relay.test/async/chat/completions?${callbackQuery}`, {
					method: "POST",
					headers: { authorization: `Bearer ${TENANT_A.key}`, "content-type": "application/json" },
					body: JSON.stringify(makeCreateBody({ callback: inboxUrl("x", callbackQuery) })),
				}),
				broken,
				ctx,
			),
		);
		expect(res.status).toBe(503);
		capture.restore();
		expect(capture.lines.some((line) => line.includes("the namespace is down"))).toBe(true);
		expectNoSecrets([...capture.lines, ...answers], await withCallback([["callback query", callbackQuery]]));
	});

	it("when a Durable Object's side effect fails: its log line names the job, not a secret", async () => {
		const job = await createJob({ callback: inboxUrl(unique("leak-kv"), callbackQuery) });
		const stub = jobStub(job.id);
		let original: Env | undefined;
		await runInDurableObject(stub, (instance: Job) => {
			const self = instance as unknown as { env: Env };
			original = self.env;
			const failing = {
				put: async () => {
					throw new Error("KV is unavailable");
				},
			};
			self.env = { ...original, RESULTS: failing as unknown as KVNamespace };
		});
		capture = captureConsole();
		try {
			await driveUntil(job.id, (j) => j.status === "COMPLETED", { rounds: 50 });
			for (let i = 0; i < 20 && !capture.lines.some((line) => line.includes("KV is unavailable")); i++) {
				await scheduler.wait(10);
			}
		} finally {
			capture.restore();
			await runInDurableObject(stub, (instance: Job) => {
				(instance as unknown as { env: Env }).env = original as Env;
			});
		}
		expect(capture.lines.some((line) => line.includes(job.id) && line.includes("KV is unavailable"))).toBe(true);
		expectNoSecrets(capture.lines, await withCallback());
	});

	it("never passes upstream credentials on to callers, even when upstream echoes them", async () => {
		// A real upstream may quote the key it was sent in its error ("Invalid API key: pplx-…").
		// Its words reach callers (a 502's detail, a FAILED job's error_message), so the key must not.
		const upstreamKey = `pplx-${crypto.randomUUID()}`;
		const echoing = async (_url: string, init: RequestInit) => {
			const sent = (new Headers(init.headers).get("authorization") ?? "").replace(/^Bearer /, "");
			return new Response(
				JSON.stringify({ error: { message: `Invalid API key: ${sent}`, type: "authentication_error", code: 401 } }),
				{ status: 401, headers: { "content-type": "application/json" } },
			);
		};
		for (const upstreamApi of ["agent", "sonar"] as const) {
			const upstream = upstreamPort(
				{
					upstreamApi,
					upstreamBaseUrl: "https://upstream.invalid",
					upstreamApiKey: upstreamKey,
					upstreamTimeoutMs: 1_000,
					modelMap: {},
				},
				{ fetcher: echoing },
			);
			const request = { model: "sonar", messages: [{ role: "user" as const, content: "Hi" }] };
			const failure = await upstream.create({ jobId: "j", request }).catch((error: Error) => error);
			expect(failure).toBeInstanceOf(Error);
			expect((failure as Error).message).toContain("401");
			expect((failure as Error).message).not.toContain(upstreamKey);
		}
	});

	it("never passes upstream credentials on in a failed run's error message", async () => {
		const upstreamKey = `pplx-${crypto.randomUUID()}`;
		const failedRun = async () =>
			new Response(
				JSON.stringify({
					id: "resp_1",
					object: "response",
					created_at: 1,
					status: "failed",
					model: "perplexity/sonar",
					output: [],
					error: { message: `key ${upstreamKey} is over its quota (Bearer ${upstreamKey})`, type: "quota" },
				}),
				{ status: 200, headers: { "content-type": "application/json" } },
			);
		const upstream = upstreamPort(
			{
				upstreamApi: "agent",
				upstreamBaseUrl: "https://upstream.invalid",
				upstreamApiKey: upstreamKey,
				upstreamTimeoutMs: 1_000,
				modelMap: {},
			},
			{ fetcher: failedRun },
		);
		const run = await upstream.read({ jobId: "j", request: { model: "sonar", messages: [] } }, "resp_1");
		expect(run.status).toBe("failed");
		expect(run.error).toContain("over its quota");
		expect(run.error).not.toContain(upstreamKey);
	});
});
