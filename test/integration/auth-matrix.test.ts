/**
 * The auth matrix: every route the app serves × {no key, a wrong key, another
 * tenant's key, the right key}, table-driven from `app.routes`, so a route
 * added without an entry fails here. Another tenant's key finds nothing: its
 * jobs, results, deliveries and subscriptions do not exist for it (404).
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";
import { resultLink } from "../../src/delivery/result-link.ts";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { OpsStats, RecoverReport } from "../../src/schemas/ops.ts";
import { type Hook, RelayJob, RelayJobList } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_B, TEST_SIGNING_KEY } from "./constants.ts";
import { createJob, driveUntil, inboxUrl, jobStub, makeCreateBody, relay, unique } from "./helpers.ts";
import {
	hooksOf,
	removeHooks,
	slackCommand,
	slackFields,
	subscribe,
	tenantIndex,
	WRONG_KEY,
} from "./security-fixtures.ts";

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
