/**
 * Per-tenant limits (`TENANT_LIMITS`, set for the tests in constants.ts), the
 * usage report, Slack's allowlist and limits, a Slack workspace's operator key,
 * and the refusals that keep a relay without a signing key from pushing
 * unsigned events. Every refusal is a 429 (or Slack's ephemeral message) with
 * nothing kept and nothing sent upstream.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";
import type { SlackMessage } from "../../src/integrations/slack/blocks.ts";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import type { RelayJob, TenantUsageReport } from "../../src/schemas/relay.ts";
import {
	TENANT_A,
	TENANT_LIMITED,
	TENANT_PACED,
	TENANT_SLACK_OPS,
	TENANT_THRIFTY,
	TEST_SLACK_SECRET,
} from "./constants.ts";
import {
	createJob,
	driveUntil,
	inboxUrl,
	makeCreateBody,
	relay,
	slackCommand,
	unique,
	upstreamRunsFor,
} from "./helpers.ts";

const indexOf = (tenant: string) => env.TENANTS.get(env.TENANTS.idFromName(tenant));

async function submit(key: string, question: string, markers = ["steps=100000"]) {
	return relay(
		"/async/chat/completions",
		{ method: "POST", body: JSON.stringify(makeCreateBody({ question, markers })) },
		key,
	);
}

describe("max_in_flight", () => {
	it("refuses a third job in flight with a 429 that names the limit, keeps nothing, and takes one once a job settles", async () => {
		const kept = [];
		for (let i = 0; i < 2; i++) {
			const res = await submit(TENANT_LIMITED.key, unique("q"));
			expect(res.status).toBe(200);
			kept.push((await res.json()) as RelayJob);
		}
		const question = unique("q");
		const third = await submit(TENANT_LIMITED.key, question);
		expect(third.status).toBe(429);
		expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		expect(((await third.json()) as { detail: string }).detail).toContain("max_in_flight (2)");
		expect(await upstreamRunsFor(question)).toHaveLength(0);
		expect(await indexOf(TENANT_LIMITED.tenant).countJobs()).toBe(2);

		const usage = (await (await relay("/v1/usage", {}, TENANT_LIMITED.key)).json()) as TenantUsageReport;
		expect(usage).toMatchObject({
			tenant: TENANT_LIMITED.tenant,
			limits: { max_in_flight: 2, creates_per_minute: null, daily_cost_usd: null },
			usage: { in_flight: 2 },
		});

		// The Agent surface refuses the same way, in its own envelope.
		const run = await relay(
			"/v1/responses",
			{ method: "POST", body: JSON.stringify({ preset: "fast", input: "q [[emu:steps=1]]" }) },
			TENANT_LIMITED.key,
		);
		expect(run.status).toBe(429);
		expect(((await run.json()) as { error: { type: string } }).error.type).toBe("rate_limit_exceeded");

		// One settles (cancelled): a new job fits again.
		const first = kept[0] as RelayJob;
		expect(
			(await relay(`/async/chat/completions/${first.id}/cancel`, { method: "POST" }, TENANT_LIMITED.key)).status,
		).toBe(200);
		await driveUntil(first.id, (job) => job.status === "FAILED", { tenant: TENANT_LIMITED.tenant });
		// The index learns the job settled in the cancel's own run; allow its write a moment.
		let accepted = 0;
		for (let round = 0; round < 50 && accepted === 0; round++) {
			const res = await submit(TENANT_LIMITED.key, unique("q"));
			if (res.status === 200) accepted++;
			else await scheduler.wait(20);
		}
		expect(accepted).toBe(1);
	});
});

describe("creates_per_minute", () => {
	it("refuses the fourth job within a minute, with a Retry-After inside that minute", async () => {
		for (let i = 0; i < 3; i++) expect((await submit(TENANT_PACED.key, unique("q"), ["steps=1"])).status).toBe(200);
		const fourth = await submit(TENANT_PACED.key, unique("q"), ["steps=1"]);
		expect(fourth.status).toBe(429);
		const wait = Number(fourth.headers.get("retry-after"));
		expect(wait).toBeGreaterThanOrEqual(1);
		expect(wait).toBeLessThanOrEqual(61);
		expect(((await fourth.json()) as { detail: string }).detail).toContain("creates_per_minute (3)");
	});
});

describe("daily_cost_usd", () => {
	it("sums what finished runs cost upstream, and refuses once it reaches the cap until 00:00 UTC", async () => {
		const res = await submit(TENANT_THRIFTY.key, unique("q"), ["steps=1"]);
		const job = (await res.json()) as RelayJob;
		const done = await driveUntil(job.id, (j) => j.status === "COMPLETED", { tenant: TENANT_THRIFTY.tenant });
		const cost = done.response?.usage?.cost?.total_cost ?? 0;
		expect(cost).toBeGreaterThan(0.0001);
		let usage: TenantUsageReport | null = null;
		for (let round = 0; round < 50; round++) {
			usage = (await (await relay("/v1/usage", {}, TENANT_THRIFTY.key)).json()) as TenantUsageReport;
			if (usage.usage.cost_today_usd > 0) break;
			await driveUntil(job.id, () => true, { tenant: TENANT_THRIFTY.tenant });
			await scheduler.wait(10);
		}
		expect(usage?.usage.cost_today_usd).toBeCloseTo(cost, 6);
		const refused = await submit(TENANT_THRIFTY.key, unique("q"), ["steps=1"]);
		expect(refused.status).toBe(429);
		expect(((await refused.json()) as { detail: string }).detail).toContain("daily_cost_usd (0.0001)");
		const untilMidnight = Math.ceil((Date.parse(usage?.day_resets_at ?? "") - Date.now()) / 1000);
		expect(Math.abs(Number(refused.headers.get("retry-after")) - untilMidnight)).toBeLessThanOrEqual(2);
	});
});

describe("a tenant without limits", () => {
	it("reports its usage with no limits", async () => {
		await createJob({ markers: ["steps=1"] });
		const usage = (await (await relay("/v1/usage")).json()) as TenantUsageReport;
		expect(usage.tenant).toBe(TENANT_A.tenant);
		expect(usage.limits).toEqual({ max_in_flight: null, creates_per_minute: null, daily_cost_usd: null });
		expect(usage.usage.creates_last_minute).toBeGreaterThanOrEqual(1);
	});
});

const slackFields = (team: string, text: string, responseUrl: string) => ({
	command: "/ask",
	text,
	team_id: team,
	channel_id: "C123",
	user_id: "U123",
	response_url: responseUrl,
	trigger_id: unique("trigger"),
});

describe("Slack workspaces", () => {
	it("hold TENANT_LIMITS like any tenant: over the limit, the command answers in Slack's words and makes no job", async () => {
		const team = "TLIMIT1";
		const first = await slackCommand(
			slackFields(team, `Why? ${unique("q")} [[emu:steps=100000]]`, inboxUrl(unique("s"))),
		);
		expect(((await first.json()) as { job_id?: string }).job_id).toBeTruthy();
		const second = await slackCommand(slackFields(team, `Why? ${unique("q")}`, inboxUrl(unique("s"))));
		expect(second.status).toBe(200);
		const message = (await second.json()) as SlackMessage & { job_id?: string };
		expect(message.job_id).toBeUndefined();
		expect(message.response_type).toBe("ephemeral");
		expect(message.text).toContain("max_in_flight (1)");
		expect(message.text).toMatch(/Try again in \d+ s/);
		expect(await indexOf(`slack:${team}`).countJobs()).toBe(1);
	});

	it("are served only from SLACK_TEAMS when it is set", async () => {
		const settings = { ...env, SLACK_TEAMS: "TOPS1, TOTHER" };
		const send = async (team: string) => {
			const body = new URLSearchParams(slackFields(team, `Why? ${unique("q")}`, inboxUrl(unique("s")))).toString();
			const timestamp = String(Math.floor(Date.now() / 1000));
			const headers = {
				"content-type": "application/x-www-form-urlencoded",
				"x-slack-request-timestamp": timestamp,
				"x-slack-signature": await signSlackRequest(TEST_SLACK_SECRET, timestamp, body),
			};
			return app.request("/integrations/slack/commands", { method: "POST", headers, body }, settings);
		};
		const refused = (await (await send("TSTRANGER")).json()) as SlackMessage & { job_id?: string };
		expect(refused.job_id).toBeUndefined();
		expect(refused.text).toContain("not allowed");
		expect(await indexOf("slack:TSTRANGER").countJobs()).toBe(0);
		expect(((await (await send("TOPS1")).json()) as { job_id?: string }).job_id).toBeTruthy();
	});

	it("are readable by their operator: an API_KEYS entry names the workspace's tenant (slack:T…:key)", async () => {
		const res = await slackCommand(slackFields("TOPS1", `Why? ${unique("q")} [[emu:steps=1]]`, inboxUrl(unique("s"))));
		const { job_id } = (await res.json()) as { job_id: string };
		const read = await relay(`/async/chat/completions/${job_id}`, {}, TENANT_SLACK_OPS.key);
		expect(read.status).toBe(200);
		expect(((await read.json()) as RelayJob).id).toBe(job_id);
		// Another tenant's key still finds nothing.
		expect((await relay(`/async/chat/completions/${job_id}`)).status).toBe(404);
	});
});

describe("a relay without WEBHOOK_SIGNING_KEY", () => {
	const unsigned = { ...env, WEBHOOK_SIGNING_KEY: "", WEBHOOK_SIGNING_KEY_NEXT: "" };
	const call = (path: string, body: unknown) =>
		app.request(
			path,
			{
				method: "POST",
				headers: { authorization: `Bearer ${TENANT_A.key}`, "content-type": "application/json" },
				body: JSON.stringify(body),
			},
			unsigned,
			{ waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
		);

	it("refuses a job with a callback (503, saying why), runs one without, and refuses REST hooks", async () => {
		const question = unique("q");
		const pushed = await call("/async/chat/completions", makeCreateBody({ question, callback: inboxUrl(unique("u")) }));
		expect(pushed.status).toBe(503);
		expect(((await pushed.json()) as { detail: string }).detail).toContain("WEBHOOK_SIGNING_KEY");
		expect(await upstreamRunsFor(question)).toHaveLength(0);
		expect((await call("/async/chat/completions", makeCreateBody())).status).toBe(200);
		const hook = await call("/v1/hooks", {
			target_url: inboxUrl(unique("h")),
			event: "async_chat_completion.completed",
		});
		expect(hook.status).toBe(503);
	});
});
