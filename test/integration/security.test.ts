/**
 * Security in tests:
 * - the auth matrix: every route the app serves × {no key, a wrong key, another
 *   tenant's key, the right key}, table-driven from `app.routes`, so a route
 *   added without an entry fails here;
 * - secrets never leak: console output (the Worker's and the Durable Objects',
 *   which share the test's isolate) and every answer, through the happy path
 *   and every failure path, carry no key, secret or callback query string;
 * - the comparisons of secrets behave as constant-time ones must: near misses
 *   of every kind are refused, the API key is compared through fixed-length
 *   SHA-256 digests, and Slack's MAC through `crypto.subtle.timingSafeEqual`;
 * - every size limit is enforced.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app.ts";
import { resultLink } from "../../src/delivery/result-link.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import type { Job } from "../../src/job/job.ts";
import { OpsStats, RecoverReport } from "../../src/schemas/ops.ts";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import { type Hook, RelayJob, RelayJobList } from "../../src/schemas/relay.ts";
import { upstreamPort } from "../../src/upstream/port.ts";
import {
	TENANT_A,
	TENANT_B,
	TEST_API_KEYS_ALL,
	TEST_MAX_SUBSCRIPTIONS,
	TEST_SIGNING_KEY,
	TEST_SIGNING_KEY_NEXT,
	TEST_SLACK_SECRET,
	TEST_UPSTREAM_KEY,
} from "./constants.ts";
import { createJob, driveUntil, inboxUrl, jobStub, makeCreateBody, relay, unique, waitForEvents } from "./helpers.ts";

/** MAX_BODY_BYTES as vitest.config.ts sets it. */
const MAX_BODY_BYTES = 65_536;
const WRONG_KEY = "wrong-key";

const settledAndDelivered = (job: RelayJob) =>
	(job.status === "COMPLETED" || job.status === "FAILED") && job.delivery_status !== "pending";

async function tenantIndex(tenant: string) {
	return env.TENANTS.get(env.TENANTS.idFromName(tenant));
}

async function hooksOf(tenant: string): Promise<Hook[]> {
	return (await (await tenantIndex(tenant)).listHooks()) as Hook[];
}

async function removeHooks(tenant: string): Promise<void> {
	const index = await tenantIndex(tenant);
	for (const hook of await hooksOf(tenant)) await index.deleteHook(hook.id);
}

async function subscribe(key: string, target = inboxUrl(unique("sec-hook"))): Promise<Response> {
	return relay(
		"/v1/hooks",
		{
			method: "POST",
			body: JSON.stringify({ target_url: target, event: "async_chat_completion.failed" }),
		},
		key,
	);
}

async function slackCommand(
	fields: Record<string, string>,
	{ secret = TEST_SLACK_SECRET, sign = true, key = null as string | null } = {},
): Promise<Response> {
	const body = new URLSearchParams(fields).toString();
	const timestamp = String(Math.floor(Date.now() / 1000));
	const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
	if (sign) {
		headers["x-slack-request-timestamp"] = timestamp;
		headers["x-slack-signature"] = await signSlackRequest(secret, timestamp, body);
	}
	return relay("/integrations/slack/commands", { method: "POST", headers, body }, key);
}

function slackFields(team: string, overrides: Record<string, string> = {}): Record<string, string> {
	return {
		command: "/ask",
		text: `${unique("q")} [[emu:steps=1]]`,
		team_id: team,
		channel_id: "C123",
		user_id: "U123",
		response_url: inboxUrl(unique("sec-slack")),
		trigger_id: unique("trigger"),
		...overrides,
	};
}

// ── The auth matrix ──────────────────────────────────────────────────────────

type Credential = "none" | "wrong" | "other" | "right";
const CREDENTIALS: Credential[] = ["none", "wrong", "other", "right"];

interface Fixtures {
	/** A settled job of TENANT_A, delivered to the inbox (so it can be redelivered). */
	jobId: string;
	/** A subscription of TENANT_A. */
	hookId: string;
	/** A settled Agent-surface run of TENANT_A, delivered to the inbox. */
	runId: string;
}

interface Call {
	method: string;
	path: string;
	body?: string;
}

interface RouteCase {
	/**
	 * - `key`: a Bearer API key; another tenant's key sees `other` (404 for one
	 *   tenant's resource; a collection answers, scoped to the caller);
	 * - `public`: anyone, whatever key they send;
	 * - `slack`: Slack's signature; the columns are no signature, a wrong one,
	 *   a tenant's API key instead of one, and the right one.
	 */
	access: "key" | "public" | "slack";
	/** The request; `fresh` is a subscription made for this one call (DELETE consumes it). */
	call: (fx: Fixtures, fresh: () => Promise<string>) => Promise<Call> | Call;
	/** The answer to the right credential (public: to anyone). */
	ok: number;
	/** The answer to another tenant's key (`key` routes only). */
	other?: number;
	/** For collections: proof that another tenant's answer holds only its own. */
	scoped?: (res: Response, fx: Fixtures) => Promise<void>;
	/** Errors in the Agent API's envelope (`{"error": {…}}`) rather than `{"detail": …}`. @default false */
	agentErrors?: boolean;
}

const jobRoutes = (family: string): Record<string, RouteCase> => ({
	[`POST ${family}`]: {
		access: "key",
		call: () => ({ method: "POST", path: family, body: JSON.stringify(makeCreateBody()) }),
		ok: 200,
		other: 200,
		scoped: async (res) => {
			const { id } = RelayJob.parse(await res.json());
			expect((await relay(`${family}/${id}`, {}, TENANT_A.key)).status).toBe(404);
			expect((await relay(`${family}/${id}`, {}, TENANT_B.key)).status).toBe(200);
		},
	},
	[`GET ${family}`]: {
		access: "key",
		call: () => ({ method: "GET", path: `${family}?limit=100` }),
		ok: 200,
		other: 200,
		scoped: async (res, fx) => {
			const list = RelayJobList.parse(await res.json());
			expect(list.requests.map((r) => r.id)).not.toContain(fx.jobId);
		},
	},
	[`GET ${family}/:id`]: {
		access: "key",
		call: (fx) => ({ method: "GET", path: `${family}/${fx.jobId}` }),
		ok: 200,
		other: 404,
	},
	[`GET ${family}/:id/deliveries`]: {
		access: "key",
		call: (fx) => ({ method: "GET", path: `${family}/${fx.jobId}/deliveries` }),
		ok: 200,
		other: 404,
	},
	[`POST ${family}/:id/redeliver`]: {
		access: "key",
		call: (fx) => ({ method: "POST", path: `${family}/${fx.jobId}/redeliver` }),
		ok: 200,
		other: 404,
	},
	// The fixture job has ended: its owner is told so (409); anyone else finds no job.
	[`POST ${family}/:id/cancel`]: {
		access: "key",
		call: (fx) => ({ method: "POST", path: `${family}/${fx.jobId}/cancel` }),
		ok: 409,
		other: 404,
	},
});

const runCreate = (path: string): RouteCase => ({
	access: "key",
	agentErrors: true,
	call: () => ({
		method: "POST",
		path,
		body: JSON.stringify({ preset: "low", input: `${unique("q")} [[emu:steps=1]]` }),
	}),
	ok: 200,
	other: 200,
	scoped: async (res) => {
		const { id } = (await res.json()) as { id: string };
		expect((await relay(`/v1/responses/${id}`, {}, TENANT_A.key)).status).toBe(404);
		expect((await relay(`/v1/responses/${id}`, {}, TENANT_B.key)).status).toBe(200);
	},
});

/** The Agent surface's routes: the same matrix, with errors in the Agent API's envelope. */
const runRoutes: Record<string, RouteCase> = {
	"POST /v1/responses": runCreate("/v1/responses"),
	"POST /v1/agent": runCreate("/v1/agent"),
	"GET /v1/responses": {
		access: "key",
		agentErrors: true,
		call: () => ({ method: "GET", path: "/v1/responses?limit=100" }),
		ok: 200,
		other: 200,
		scoped: async (res, fx) => {
			const { data } = (await res.json()) as { data: { id: string }[] };
			expect(data.map((r) => r.id)).not.toContain(fx.runId);
		},
	},
	"GET /v1/responses/:id": {
		access: "key",
		agentErrors: true,
		call: (fx) => ({ method: "GET", path: `/v1/responses/${fx.runId}` }),
		ok: 200,
		other: 404,
	},
	"POST /v1/responses/:id/cancel": {
		access: "key",
		agentErrors: true,
		call: (fx) => ({ method: "POST", path: `/v1/responses/${fx.runId}/cancel` }),
		ok: 409,
		other: 404,
	},
	"GET /v1/responses/:id/deliveries": {
		access: "key",
		agentErrors: true,
		call: (fx) => ({ method: "GET", path: `/v1/responses/${fx.runId}/deliveries` }),
		ok: 200,
		other: 404,
	},
	"POST /v1/responses/:id/redeliver": {
		access: "key",
		agentErrors: true,
		call: (fx) => ({ method: "POST", path: `/v1/responses/${fx.runId}/redeliver` }),
		ok: 200,
		other: 404,
	},
};

const publicGet = (path: string): RouteCase => ({ access: "public", call: () => ({ method: "GET", path }), ok: 200 });

/**
 * One entry per route the app serves, keyed `METHOD path` as `app.routes` names it.
 * A new route fails "has an entry for every route the app serves" until it has one here.
 */
const ROUTES: Record<string, RouteCase> = {
	"GET /healthz": publicGet("/healthz"),
	// The front door: a redirect to the dashboard, for anyone (followed here; api.test.ts checks the 302).
	"GET /": publicGet("/"),
	"GET /v1/webhook-secret": {
		access: "key",
		call: () => ({ method: "GET", path: "/v1/webhook-secret" }),
		ok: 200,
		other: 200,
		scoped: async (res) => {
			const { secret } = (await res.json()) as { secret: string };
			expect(secret).toBe(await tenantSecret(TEST_SIGNING_KEY, TENANT_B.tenant));
			expect(secret).not.toBe(await tenantSecret(TEST_SIGNING_KEY, TENANT_A.tenant));
		},
	},
	"GET /v1/usage": {
		access: "key",
		call: () => ({ method: "GET", path: "/v1/usage" }),
		ok: 200,
		other: 200,
		// Each tenant sees its own usage, named as itself.
		scoped: async (res) => {
			expect(((await res.json()) as { tenant: string }).tenant).toBe(TENANT_B.tenant);
		},
	},
	...jobRoutes("/async/chat/completions"),
	...jobRoutes("/v1/async/sonar"),
	...runRoutes,
	"POST /v1/ask": {
		access: "key",
		call: () => ({
			method: "POST",
			path: "/v1/ask",
			body: JSON.stringify({ query: `${unique("q")} [[emu:steps=1]]` }),
		}),
		ok: 200,
		other: 200,
		scoped: async (res) => {
			const { id } = RelayJob.parse(await res.json());
			expect((await relay(`/async/chat/completions/${id}`, {}, TENANT_A.key)).status).toBe(404);
		},
	},
	"POST /v1/hooks": {
		access: "key",
		call: () => ({
			method: "POST",
			path: "/v1/hooks",
			body: JSON.stringify({ target_url: inboxUrl(unique("sec-hook")), event: "async_chat_completion.failed" }),
		}),
		ok: 201,
		other: 201,
		scoped: async (res) => {
			const { id } = (await res.json()) as Hook;
			expect((await hooksOf(TENANT_A.tenant)).map((h) => h.id)).not.toContain(id);
			expect((await hooksOf(TENANT_B.tenant)).map((h) => h.id)).toContain(id);
		},
	},
	"GET /v1/hooks": {
		access: "key",
		call: () => ({ method: "GET", path: "/v1/hooks" }),
		ok: 200,
		other: 200,
		scoped: async (res, fx) => {
			const { hooks } = (await res.json()) as { hooks: Hook[] };
			expect(hooks.map((h) => h.id)).not.toContain(fx.hookId);
		},
	},
	"GET /v1/hooks/sample": {
		access: "key",
		call: () => ({ method: "GET", path: "/v1/hooks/sample" }),
		ok: 200,
		other: 200,
	},
	"DELETE /v1/hooks/:id": {
		access: "key",
		call: async (_fx, fresh) => ({ method: "DELETE", path: `/v1/hooks/${await fresh()}` }),
		ok: 204,
		other: 404,
	},
	// Sends the sample to the fixture subscription's target (the inbox); to another tenant it does not exist.
	"POST /v1/hooks/:id/test": {
		access: "key",
		call: (fx) => ({ method: "POST", path: `/v1/hooks/${fx.hookId}/test` }),
		ok: 200,
		other: 404,
	},
	"GET /v1/stats": {
		access: "key",
		call: () => ({ method: "GET", path: "/v1/stats?window=7d" }),
		ok: 200,
		other: 200,
		// Each tenant sees numbers of its own index only (stats.test.ts counts them).
		scoped: async (res) => {
			expect(OpsStats.parse(await res.json()).window).toBe("7d");
		},
	},
	// From tomorrow: it redelivers nothing here, so the other files' dead letters stay as they are.
	"POST /v1/deliveries/recover": {
		access: "key",
		call: () => ({
			method: "POST",
			path: "/v1/deliveries/recover",
			body: JSON.stringify({ since: Math.floor(Date.now() / 1000) + 86_400 }),
		}),
		ok: 200,
		other: 200,
		scoped: async (res, fx) => {
			const report = RecoverReport.parse(await res.json());
			expect(report.jobs.map((job) => job.id)).not.toContain(fx.jobId);
		},
	},
	"POST /integrations/slack/commands": {
		access: "slack",
		call: () => ({ method: "POST", path: "/integrations/slack/commands" }),
		ok: 200,
	},
	"GET /dashboard": publicGet("/dashboard"),
	"GET /dashboard/app.js": publicGet("/dashboard/app.js"),
	"GET /dashboard/app.css": publicGet("/dashboard/app.css"),
	"GET /dashboard/icon.svg": publicGet("/dashboard/icon.svg"),
	// The signed link is the credential: whatever key comes with it (or none), it opens that one result.
	"GET /v1/results/:id": {
		access: "public",
		call: async (fx) => {
			const link = new URL(
				await resultLink("https://relay.test", fx.jobId, Date.now() / 1000 + 3600, TEST_SIGNING_KEY),
			);
			return { method: "GET", path: `${link.pathname}${link.search}` };
		},
		ok: 200,
	},
	"GET /docs": publicGet("/docs"),
	"GET /docs/assets/init.js": publicGet("/docs/assets/init.js"),
	"GET /docs/assets/:file": publicGet("/docs/assets/swagger-ui.css"),
	"GET /openapi.json": publicGet("/openapi.json"),
};

/** `METHOD path` of every route the app serves; `use()` middleware (ALL …/*) is not a route. */
function servedRoutes(): string[] {
	const routes = app.routes
		.filter((route) => !(route.method === "ALL" && route.path.endsWith("/*")))
		.map((route) => `${route.method} ${route.path}`);
	return [...new Set(routes)];
}

async function callAs(route: RouteCase, credential: Credential, fx: Fixtures, fresh: () => Promise<string>) {
	const { method, path, body } = await route.call(fx, fresh);
	if (route.access === "slack") {
		const team = `TSEC${Date.now().toString(36).toUpperCase()}`;
		const fields = slackFields(team);
		if (credential === "none") return slackCommand(fields, { sign: false });
		if (credential === "wrong") return slackCommand(fields, { secret: "not-the-slack-secret" });
		if (credential === "other") return slackCommand(fields, { sign: false, key: TENANT_A.key });
		return slackCommand(fields);
	}
	const key = { none: null, wrong: WRONG_KEY, other: TENANT_B.key, right: TENANT_A.key }[credential];
	return relay(path, { method, ...(body === undefined ? {} : { body }) }, key);
}

function expected(route: RouteCase): Record<Credential, number> {
	if (route.access === "public") return { none: route.ok, wrong: route.ok, other: route.ok, right: route.ok };
	if (route.access === "slack") return { none: 401, wrong: 401, other: 401, right: route.ok };
	return { none: 401, wrong: 401, other: route.other ?? 404, right: route.ok };
}

describe("the auth matrix", () => {
	const fx: Fixtures = { jobId: "", hookId: "", runId: "" };

	beforeAll(async () => {
		const job = await createJob({ callback: inboxUrl(unique("sec-matrix")) }, TENANT_A.key);
		await driveUntil(job.id, (j) => j.delivery_status === "delivered");
		fx.jobId = job.id;
		fx.hookId = ((await (await subscribe(TENANT_A.key)).json()) as Hook).id;
		const run = (await (
			await relay("/v1/responses", {
				method: "POST",
				body: JSON.stringify({
					preset: "low",
					input: `${unique("q")} [[emu:steps=1]]`,
					callback_url: inboxUrl(unique("sec-run")),
				}),
			})
		).json()) as { id: string };
		const stub = jobStub(run.id);
		for (let round = 0; round < 100; round++) {
			const response = (await stub.response(TENANT_A.tenant)) as { delivery_status?: string | null } | null;
			if (response?.delivery_status === "delivered") break;
			await runDurableObjectAlarm(stub);
			await scheduler.wait(5);
		}
		fx.runId = run.id;
	});

	it("has an entry for every route the app serves, and none for a route it does not", () => {
		const served = servedRoutes();
		expect(
			served.filter((route) => !(route in ROUTES)),
			"routes without an auth-matrix entry",
		).toEqual([]);
		expect(
			Object.keys(ROUTES).filter((route) => !served.includes(route)),
			"entries for no route",
		).toEqual([]);
	});

	it.each(Object.keys(ROUTES))("%s answers each credential as the matrix says", async (name) => {
		const route = ROUTES[name] as RouteCase;
		const made: string[] = [];
		const fresh = async () => {
			const { id } = (await (await subscribe(TENANT_A.key)).json()) as Hook;
			made.push(id);
			return id;
		};
		const observed = {} as Record<Credential, number>;
		for (const credential of CREDENTIALS) {
			const res = await callAs(route, credential, fx, fresh);
			observed[credential] = res.status;
			const errorShape = route.agentErrors
				? { error: { message: expect.any(String), type: expect.any(String), code: res.status } }
				: { detail: expect.any(String) };
			if (res.status === 401) {
				expect(await res.json()).toEqual(errorShape);
				if (route.access === "key") expect(res.headers.get("www-authenticate")).toBe("Bearer");
			} else if (res.status >= 400) {
				expect(await res.json()).toEqual(errorShape);
			} else if (credential === "other" && route.scoped) {
				await route.scoped(res, fx);
			} else {
				await res.body?.cancel();
			}
		}
		expect(observed).toEqual(expected(route));
		const index = await tenantIndex(TENANT_A.tenant);
		for (const id of made) await index.deleteHook(id);
		if (name === "POST /v1/hooks") {
			for (const hook of await hooksOf(TENANT_A.tenant)) if (hook.id !== fx.hookId) await index.deleteHook(hook.id);
			await removeHooks(TENANT_B.tenant);
		}
	});

	it("lets no credential other than the owner's delete a subscription", async () => {
		const { id } = (await (await subscribe(TENANT_A.key)).json()) as Hook;
		for (const key of [null, WRONG_KEY, TENANT_B.key]) {
			expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, key)).status).not.toBe(204);
		}
		expect((await hooksOf(TENANT_A.tenant)).map((h) => h.id)).toContain(id);
		expect((await relay(`/v1/hooks/${id}`, { method: "DELETE" }, TENANT_A.key)).status).toBe(204);
	});
});

// ── Secrets never leak ───────────────────────────────────────────────────────

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

// ── Constant-time comparisons, behaviourally ─────────────────────────────────

describe("comparisons of secrets", () => {
	const key = TENANT_A.key;
	const flip = (c: string) => (c === "a" ? "b" : "a");

	it.each([
		["the last character changed", `${key.slice(0, -1)}${flip(key.slice(-1))}`],
		["the first character changed", `${flip(key[0] as string)}${key.slice(1)}`],
		["one character short (a prefix)", key.slice(0, -1)],
		["one character more", `${key}a`],
		["the key twice", `${key}${key}`],
		["another case", key.toUpperCase()],
		["the tenant's name", TENANT_A.tenant],
		["the tenant:key pair", `${TENANT_A.tenant}:${key}`],
		["a 10,000-character key", "k".repeat(10_000)],
		["one character", "k"],
		["another tenant's key, one character changed", `${TENANT_B.key.slice(0, -1)}${flip(TENANT_B.key.slice(-1))}`],
	])("refuses a key with %s", async (_name, presented) => {
		for (const path of ["/v1/webhook-secret", "/async/chat/completions", "/v1/hooks"]) {
			const res = await relay(path, {}, presented);
			expect(res.status).toBe(401);
			expect(await res.json()).toEqual({ detail: "Invalid or missing API key" });
		}
	});

	it("refuses a key's SHA-256 digest in place of the key", async () => {
		const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
		const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
		expect((await relay("/v1/webhook-secret", {}, hex)).status).toBe(401);
		expect((await relay("/v1/webhook-secret", {}, btoa(String.fromCharCode(...digest)))).status).toBe(401);
	});

	it("accepts the exact key whatever the case of Bearer and the spaces around it", async () => {
		for (const authorization of [`Bearer ${key}`, `bearer ${key}`, `BEARER   ${key}  `]) {
			const res = await relay("/v1/webhook-secret", { headers: { authorization } }, null);
			expect(res.status, authorization).toBe(200);
		}
		for (const authorization of [`Basic ${btoa(`${TENANT_A.tenant}:${key}`)}`, key, `Bearer ${key} ${key}`, "Bearer"]) {
			expect((await relay("/v1/webhook-secret", { headers: { authorization } }, null)).status, authorization).toBe(401);
		}
	});

	it("compares API keys through SHA-256 digests: every presented key is hashed, whatever its length", async () => {
		const digest = vi.spyOn(crypto.subtle, "digest");
		try {
			for (const presented of ["k", key, "k".repeat(10_000)]) {
				digest.mockClear();
				await relay("/v1/webhook-secret", {}, presented);
				const hashed = digest.mock.calls.map(([algorithm, data]) => [
					typeof algorithm === "string" ? algorithm : (algorithm as { name: string }).name,
					new TextDecoder().decode(data as ArrayBuffer),
				]);
				expect(hashed).toContainEqual(["SHA-256", presented]);
			}
		} finally {
			digest.mockRestore();
		}
	});

	describe("Slack signatures", () => {
		const body = new URLSearchParams(slackFields("TCMP")).toString();
		const send = (timestamp: string, signature: string) =>
			relay(
				"/integrations/slack/commands",
				{
					method: "POST",
					headers: {
						"content-type": "application/x-www-form-urlencoded",
						"x-slack-request-timestamp": timestamp,
						"x-slack-signature": signature,
					},
					body,
				},
				null,
			);

		it("refuses near misses of the right signature", async () => {
			const timestamp = String(Math.floor(Date.now() / 1000));
			const right = await signSlackRequest(TEST_SLACK_SECRET, timestamp, body);
			const hex = right.slice("v0=".length);
			const flipHex = (c: string) => (c === "0" ? "1" : "0");
			for (const signature of [
				`v0=${hex.slice(0, -1)}${flipHex(hex.slice(-1))}`,
				`v0=${flipHex(hex[0] as string)}${hex.slice(1)}`,
				`v0=${hex.slice(0, -1)}`,
				`v0=${hex}0`,
				`v1=${hex}`,
				hex,
				`v0=${"0".repeat(64)}`,
				await signSlackRequest(TEST_SLACK_SECRET, String(Number(timestamp) - 1), body),
				await signSlackRequest(`${TEST_SLACK_SECRET}x`, timestamp, body),
			]) {
				expect((await send(timestamp, signature)).status, signature).toBe(401);
			}
		});

		it("checks the MAC over the body's bytes exactly as received (a BOM, a byte that is not UTF-8)", async () => {
			// Found by the fuzz tests: the body is decoded to text before the MAC is computed, and
			// decoding drops a leading BOM and turns invalid bytes into U+FFFD, so the MAC no longer
			// covers what the sender signed. Slack's own bodies are ASCII; any other signer's may not be.
			const timestamp = String(Math.floor(Date.now() / 1000));
			const form = new TextEncoder().encode(new URLSearchParams(slackFields("TBYTES", { text: "" })).toString());
			for (const bytes of [
				new Uint8Array([0xef, 0xbb, 0xbf, ...form]),
				new Uint8Array([...form, 0x26, 0x78, 0x3d, 0xe9]),
			]) {
				const key = await crypto.subtle.importKey(
					"raw",
					new TextEncoder().encode(TEST_SLACK_SECRET),
					{ name: "HMAC", hash: "SHA-256" },
					false,
					["sign"],
				);
				const message = new Uint8Array([...new TextEncoder().encode(`v0:${timestamp}:`), ...bytes]);
				const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
				const signature = `v0=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
				const res = await relay(
					"/integrations/slack/commands",
					{
						method: "POST",
						headers: {
							"content-type": "application/x-www-form-urlencoded",
							"x-slack-request-timestamp": timestamp,
							"x-slack-signature": signature,
						},
						body: bytes,
					},
					null,
				);
				expect(res.status, `${bytes.slice(0, 3)}…${bytes.slice(-3)}: ${await res.clone().text()}`).not.toBe(401);
			}
		});

		it("compares the MAC with crypto.subtle.timingSafeEqual, in workerd", async () => {
			const subtle = crypto.subtle as SubtleCrypto & {
				timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean;
			};
			expect(typeof subtle.timingSafeEqual).toBe("function");
			const compare = vi.spyOn(subtle as Required<typeof subtle>, "timingSafeEqual");
			try {
				const timestamp = String(Math.floor(Date.now() / 1000));
				const right = await signSlackRequest(TEST_SLACK_SECRET, timestamp, body);
				const wrong = `v0=${"0".repeat(64)}`;
				expect((await send(timestamp, wrong)).status).toBe(401);
				expect((await send(timestamp, right)).status).toBe(200);
				expect(compare).toHaveBeenCalledTimes(2);
			} finally {
				compare.mockRestore();
			}
		});
	});
});

// ── Size limits ──────────────────────────────────────────────────────────────
// Already covered elsewhere, not repeated here:
// - a create body over MAX_BODY_BYTES → 413: api.test.ts "answers 413 on a body over MAX_BODY_BYTES";
// - metadata over 4 KiB → 422 and exactly 4 KiB accepted (create): api.test.ts; over 4 KiB on /v1/ask: integrations.test.ts;
// - list `limit` outside 1–100 → 422: api.test.ts;
// - the attempt log keeps the last 50 (MAX_LOG_ENTRIES), each response_body at most 512 bytes: delivery.test.ts;
// - the 409 past MAX_SUBSCRIPTIONS: integrations.test.ts "rejects bad subscriptions … more than MAX_SUBSCRIPTIONS with 409".

/** `fields` as JSON, padded with trailing whitespace (valid JSON, no unknown field) to exactly `bytes`. */
function paddedBody(fields: Record<string, unknown>, bytes: number): string {
	const body = JSON.stringify(fields);
	return body + " ".repeat(bytes - new TextEncoder().encode(body).length);
}

async function tallyOf(tenant: string) {
	const index = await tenantIndex(tenant);
	return { jobs: await index.countJobs(), hooks: ((await index.listHooks()) as Hook[]).length };
}

async function expect422(res: Response, loc: (string | number)[]) {
	expect(res.status).toBe(422);
	expect(HTTPValidationError.parse(await res.json()).detail?.map((d) => d.loc)).toContainEqual(loc);
}

describe("size limits", () => {
	describe("the body (MAX_BODY_BYTES)", () => {
		it.each([
			["POST /v1/async/sonar", "/v1/async/sonar", makeCreateBody()],
			["POST /v1/ask", "/v1/ask", { query: "q [[emu:steps=1]]" }],
			["POST /v1/hooks", "/v1/hooks", { target_url: inboxUrl("sec-big"), event: "async_chat_completion.failed" }],
			["POST /integrations/slack/commands (before any signature check)", "/integrations/slack/commands", {}],
		])("refuses one byte over the limit on %s with 413, and keeps nothing", async (_name, path, fields) => {
			const before = await tallyOf(TENANT_A.tenant);
			const res = await relay(path, { method: "POST", body: paddedBody(fields, MAX_BODY_BYTES + 1) });
			expect(res.status).toBe(413);
			expect(await res.json()).toEqual({ detail: `Request body exceeds ${MAX_BODY_BYTES} bytes` });
			expect(await tallyOf(TENANT_A.tenant)).toEqual(before);
		});

		it("accepts a body of exactly MAX_BODY_BYTES", async () => {
			const body = paddedBody({ query: `${unique("q")} [[emu:steps=1]]` }, MAX_BODY_BYTES);
			expect(new TextEncoder().encode(body).length).toBe(MAX_BODY_BYTES);
			expect((await relay("/v1/ask", { method: "POST", body })).status).toBe(200);
		});

		it("counts bytes, not characters", async () => {
			// 22,000 characters (within /v1/ask's 32,768 for `system`), 66,000 bytes in UTF-8.
			const res = await relay("/v1/ask", {
				method: "POST",
				body: JSON.stringify({ query: "q", system: "€".repeat(22_000) }),
			});
			expect(res.status).toBe(413);
		});

		it("refuses a declared Content-Length over the limit before reading the body", async () => {
			const res = await relay("/v1/ask", {
				method: "POST",
				headers: { "content-length": String(MAX_BODY_BYTES * 100) },
				body: JSON.stringify({ query: "q" }),
			});
			expect(res.status).toBe(413);
		});

		it("refuses a streamed body without Content-Length once it grows over the limit", async () => {
			const before = await tallyOf(TENANT_A.tenant);
			const chunk = new TextEncoder().encode(" ".repeat(8_192));
			let sent = 0;
			const stream = new ReadableStream<Uint8Array>({
				pull(controller) {
					if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query":"q","pad":"'));
					if (sent++ < 10) controller.enqueue(chunk);
					else {
						controller.enqueue(new TextEncoder().encode('"}'));
						controller.close();
					}
				},
			});
			const res = await relay("/v1/ask", { method: "POST", body: stream });
			expect(res.status).toBe(413);
			expect(await tallyOf(TENANT_A.tenant)).toEqual(before);
		});
	});

	describe("metadata (4 KiB as UTF-8 JSON)", () => {
		it("measures metadata in bytes: 1,400 '€' (4,211 bytes) are refused, 1,360 (4,091 bytes) accepted", async () => {
			for (const path of ["/async/chat/completions", "/v1/async/sonar"]) {
				const over = makeCreateBody({ metadata: { blob: "€".repeat(1_400) } });
				await expect422(await relay(path, { method: "POST", body: JSON.stringify(over) }), ["body", "metadata"]);
				const within = makeCreateBody({ metadata: { blob: "€".repeat(1_360) } });
				expect((await relay(path, { method: "POST", body: JSON.stringify(within) })).status).toBe(200);
			}
			const ask = { query: "q", metadata: { blob: "€".repeat(1_400) } };
			await expect422(await relay("/v1/ask", { method: "POST", body: JSON.stringify(ask) }), ["body", "metadata"]);
		});

		it("holds for Slack commands too: no job keeps more than 4 KiB of metadata", async () => {
			// The Slack route builds metadata from channel_id and user_id itself, outside the Metadata schema.
			const team = `TMETA${Date.now().toString(36).toUpperCase()}`;
			const res = await slackCommand(slackFields(team, { channel_id: "C".repeat(5_000), user_id: "U".repeat(5_000) }));
			expect(res.status).toBeLessThan(500);
			if (res.status === 200) {
				const { job_id } = (await res.json()) as { job_id: string };
				// Not RelayJob.parse: its own Metadata schema would refuse what this test measures.
				const job = (await jobStub(job_id).view(`slack:${team}`)) as unknown as RelayJob;
				expect(new TextEncoder().encode(JSON.stringify(job.metadata)).length).toBeLessThanOrEqual(4_096);
			} else {
				expect(res.status).toBe(400);
				expect(await res.json()).toEqual({ detail: expect.any(String) });
			}
		});
	});

	describe("messages", () => {
		// The schema (the upstream's) bounds neither the number of messages nor their length:
		// the body limit does. (A single 70,000-character message → 413: api.test.ts.)
		const messages = (count: number) =>
			Array.from({ length: count }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `m${i}` })).concat([
				{ role: "user", content: `${unique("q")} [[emu:steps=1]]` },
			]);

		it("bounds the number of messages by the body limit: 1,000 pass, 4,000 are a 413", async () => {
			const within = { request: { model: "sonar", messages: messages(1_000) } };
			expect(JSON.stringify(within).length).toBeLessThan(MAX_BODY_BYTES);
			expect((await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(within) })).status).toBe(
				200,
			);
			const over = { request: { model: "sonar", messages: messages(4_000) } };
			expect(JSON.stringify(over).length).toBeGreaterThan(MAX_BODY_BYTES);
			expect((await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(over) })).status).toBe(413);
		});

		it("limits /v1/ask's query and system to 32,768 characters, model to 200, idempotency_key to 255", async () => {
			const ask = (fields: Record<string, unknown>) =>
				relay("/v1/ask", { method: "POST", body: JSON.stringify({ query: "q [[emu:steps=1]]", ...fields }) });
			await expect422(await ask({ query: "q".repeat(32_769) }), ["body", "query"]);
			await expect422(await ask({ system: "s".repeat(32_769) }), ["body", "system"]);
			await expect422(await ask({ model: "m".repeat(201) }), ["body", "model"]);
			await expect422(await ask({ idempotency_key: "k".repeat(256) }), ["body", "idempotency_key"]);
			expect((await ask({ query: `${"q".repeat(32_760)} [[emu:steps=1]]`.slice(-32_768) })).status).toBe(200);
		});
	});

	describe("URLs, events and tokens", () => {
		const urlOfLength = (length: number) => {
			const base = inboxUrl("");
			return `${base}${"u".repeat(length - base.length)}`;
		};

		it("refuses a callback_url or target_url over 2,048 characters with 422", async () => {
			const long = urlOfLength(2_049);
			for (const path of ["/async/chat/completions", "/v1/async/sonar"]) {
				const body = { ...makeCreateBody(), callback_url: long };
				await expect422(await relay(path, { method: "POST", body: JSON.stringify(body) }), ["body", "callback_url"]);
			}
			await expect422(
				await relay("/v1/ask", { method: "POST", body: JSON.stringify({ query: "q", callback_url: long }) }),
				["body", "callback_url"],
			);
			await expect422(
				await relay("/v1/hooks", {
					method: "POST",
					body: JSON.stringify({ target_url: long, event: "async_chat_completion.failed" }),
				}),
				["body", "target_url"],
			);
		});

		it("refuses more than four callback_events, and a next_token over 512 characters", async () => {
			const events = ["started", "progress", "completed", "failed", "completed"];
			const body = { ...makeCreateBody(), callback_events: events };
			await expect422(await relay("/async/chat/completions", { method: "POST", body: JSON.stringify(body) }), [
				"body",
				"callback_events",
			]);
			await expect422(await relay(`/v1/async/sonar?next_token=${"a".repeat(513)}`), ["query", "next_token"]);
		});
	});

	describe("subscriptions per tenant (MAX_SUBSCRIPTIONS)", () => {
		it("caps each tenant on its own, and frees a slot on delete", async () => {
			await removeHooks(TENANT_B.tenant);
			await removeHooks(TENANT_A.tenant);
			const ids: string[] = [];
			for (let i = 0; i < TEST_MAX_SUBSCRIPTIONS; i++) {
				const res = await subscribe(TENANT_B.key);
				expect(res.status).toBe(201);
				ids.push(((await res.json()) as Hook).id);
			}
			expect((await subscribe(TENANT_B.key)).status).toBe(409);
			// Another tenant is not affected by B's cap.
			expect((await subscribe(TENANT_A.key)).status).toBe(201);
			expect((await relay(`/v1/hooks/${ids[0]}`, { method: "DELETE" }, TENANT_B.key)).status).toBe(204);
			expect((await subscribe(TENANT_B.key)).status).toBe(201);
			expect((await subscribe(TENANT_B.key)).status).toBe(409);
			await removeHooks(TENANT_B.tenant);
			await removeHooks(TENANT_A.tenant);
		});

		it("never exceeds the cap under a concurrent burst", async () => {
			await removeHooks(TENANT_B.tenant);
			const answers = await Promise.all(
				Array.from({ length: 3 * TEST_MAX_SUBSCRIPTIONS }, () => subscribe(TENANT_B.key)),
			);
			const statuses = answers.map((res) => res.status);
			expect(statuses.filter((s) => s === 201)).toHaveLength(TEST_MAX_SUBSCRIPTIONS);
			expect(statuses.filter((s) => s !== 201).every((s) => s === 409)).toBe(true);
			expect(await hooksOf(TENANT_B.tenant)).toHaveLength(TEST_MAX_SUBSCRIPTIONS);
			await removeHooks(TENANT_B.tenant);
		});
	});

	describe("error answers", () => {
		it("keeps a 422 bounded: 16,000 invalid messages do not make a multi-megabyte answer", async () => {
			// 48 KB in; without a cap on `detail`, about 3.9 MB (two errors per message) comes back out.
			const body = `{"request":{"model":"sonar","messages":[${Array(16_000).fill("{}").join(",")}]}}`;
			expect(body.length).toBeLessThan(MAX_BODY_BYTES);
			const res = await relay("/async/chat/completions", { method: "POST", body });
			expect(res.status).toBe(422);
			const text = await res.text();
			expect(HTTPValidationError.parse(JSON.parse(text)).detail?.length).toBeGreaterThan(0);
			expect(text.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
		});
	});
});
