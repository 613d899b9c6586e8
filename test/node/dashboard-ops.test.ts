/**
 * The dashboard's Operations tab end to end, in real headless Chromium against the real stack
 * (wrangler dev, the emulator, the inbox), with real jobs: a delivered one, a failed one, one whose
 * receiver refuses every attempt (dead-lettered) and one without a callback. The counts and both
 * SVG charts render from them; a REST hook is created, tested and deleted through the page; the
 * Jobs tab's metadata search narrows the list; "Redeliver failed" recovers the dead-lettered job
 * (checked in its delivery log); and the job and run pages show the emulator badge.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium, lowContrastText } from "./dashboard-browser.ts";
import { type Stack, startStack } from "./stack.ts";

const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-results");
/** The harness's delivery schedule has 5 attempts: the receiver refuses all of them, then takes the next. */
const REFUSE_ALL_SCHEDULED = "fail=5&status=503";

let stack: Stack;
let browser: LaunchedBrowser | undefined;
let page: Page;
const pageProblems: string[] = [];
const jobs = { delivered: "", failed: "", deadLettered: "", plain: "" };

if (chromiumSkipReason) {
	it("runs the Operations tab in headless Chromium", (ctx) => ctx.skip(chromiumSkipReason ?? ""));
}

// Skipped only without /usr/bin/chromium outside CI; the reason is the test above.
describe.skipIf(chromiumSkipReason !== null)("the Operations tab in headless Chromium", () => {
	async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
		const response = await fetch(`${stack.relayUrl}${path}`, {
			method,
			headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		expect(response.status, `${method} ${path}`).toBeLessThan(300);
		return (await response.json()) as T;
	}

	const submit = (question: string, extra: Record<string, unknown> = {}) =>
		api<{ id: string }>("POST", "/async/chat/completions", {
			request: { model: "sonar", messages: [{ role: "user", content: question }] },
			...extra,
		}).then((job) => job.id);

	/** Polls the job (bounded) until `done` holds. */
	async function waitForJob(id: string, done: (job: { status: string; delivery_status: string | null }) => boolean) {
		for (let round = 0; round < 150; round++) {
			const job = await api<{ status: string; delivery_status: string | null }>("GET", `/async/chat/completions/${id}`);
			if (done(job)) return job;
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		throw new Error(`job ${id} did not settle`);
	}

	async function goTo(hash: string) {
		await page.evaluate((next) => {
			location.hash = next;
		}, hash);
	}

	beforeAll(async () => {
		const [started, launched] = await Promise.allSettled([startStack(), launchChromium({ width: 1280, height: 900 })]);
		if (started.status === "fulfilled") stack = started.value;
		if (launched.status === "fulfilled") browser = launched.value;
		if (started.status === "rejected") throw started.reason;
		if (launched.status === "rejected") throw launched.reason;
		page = launched.value.context.pages()[0] ?? (await launched.value.context.newPage());
		page.setDefaultTimeout(15_000);
		page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
		page.on("console", (message) => {
			if (/Content Security Policy|Trusted ?Type|TrustedHTML/i.test(message.text())) pageProblems.push(message.text());
		});

		const inbox = stack.inbox.url;
		jobs.delivered = await submit("What is a Durable Object alarm?", {
			callback_url: `${inbox}/hooks/ops-delivered`,
			metadata: { customer: "acme", ticket: "T-1" },
		});
		jobs.failed = await submit("Will this fail? [[emu:fail]]", { metadata: { customer: "globex" } });
		jobs.deadLettered = await submit("Who refuses pushes?", {
			callback_url: `${inbox}/hooks/ops-refused?${REFUSE_ALL_SCHEDULED}`,
			metadata: { customer: "acme", ticket: "T-2" },
		});
		jobs.plain = await submit("Nothing to push", { metadata: { customer: "initech" } });
		await waitForJob(jobs.delivered, (job) => job.delivery_status === "delivered");
		await waitForJob(jobs.failed, (job) => job.status === "FAILED");
		await waitForJob(jobs.deadLettered, (job) => job.delivery_status === "failed");
		await waitForJob(jobs.plain, (job) => job.status === "COMPLETED");

		await page.goto(`${stack.relayUrl}/dashboard`);
		await page.getByLabel("API key", { exact: true }).fill(stack.apiKey);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
	}, 180_000);

	afterAll(async () => {
		await browser?.close();
		await stack?.stop();
	}, 30_000);

	it("shows the window's counts and draws jobs per hour and push lag from the real jobs", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "Operations" }).click();
		await page.getByRole("heading", { name: "Operations", level: 1 }).waitFor();
		expect(page.url()).toMatch(/#\/ops$/);
		const count = (key: string) => page.locator(`#ops-count-${key}`);
		await expect.poll(() => count("accepted").textContent()).toBe("4");
		expect(await count("completed").textContent()).toBe("3");
		expect(await count("failed").textContent()).toBe("1");
		expect(await count("cancelled").textContent()).toBe("0");
		expect(await count("dead_lettered").textContent()).toBe("1");
		expect(await page.locator("#ops-range").textContent()).toContain("the last 24 hours");

		// Jobs per hour: 24 bars, all four jobs in them, drawn by the page itself as inline SVG.
		const hourly = page.locator("#ops-hourly-svg");
		expect(await hourly.getAttribute("data-total")).toBe("4");
		expect(await hourly.locator("rect.chart-bar").count()).toBe(24);
		const bars = await hourly
			.locator("rect.chart-bar")
			.evaluateAll((rects) => rects.map((rect) => Number(rect.getAttribute("data-accepted"))));
		expect(bars.reduce((sum, n) => sum + n, 0)).toBe(4);
		const tallest = hourly.locator('rect.chart-bar:not([height="0.0"])');
		expect(await tallest.count()).toBeGreaterThan(0);
		expect(await hourly.getAttribute("role")).toBe("img");
		expect(await hourly.getAttribute("aria-label")).toContain("4 jobs accepted");

		// Push lag: the delivered job is the one sample (the dead-lettered one has none yet).
		expect(await page.locator("#ops-lag-summary").textContent()).toMatch(/^p50 \d.* · p99 .* over 1 delivered job/);
		const lag = page.locator("#ops-lag-svg");
		expect(await lag.getAttribute("data-points")).toBe("1");
		expect(await lag.locator("circle.chart-p50").count()).toBe(1);
		expect(await lag.locator("circle.chart-p99").count()).toBe(1);
		expect(await lag.locator("circle.chart-p50 title").textContent()).toMatch(/p50 \d+(\.\d+)? m?s \(1 job\)/);

		// Another window asks the relay again: a week has one lag bucket per hour.
		await page.getByLabel("Window", { exact: true }).selectOption("7d");
		await expect.poll(() => page.locator("#ops-range").textContent()).toContain("the last 7 days");
		expect(await count("accepted").textContent()).toBe("4");
		await page.getByLabel("Window", { exact: true }).selectOption("24h");
		await expect.poll(() => page.locator("#ops-range").textContent()).toContain("the last 24 hours");

		mkdirSync(ARTIFACTS, { recursive: true });
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-ops.png"), fullPage: true });
	});

	it("creates a REST hook, sends it a test event, and deletes it, from the page", async () => {
		await page.getByLabel("Target URL").fill(`${stack.inbox.url}/hooks/ops-ui-hook`);
		await page.getByLabel("Event", { exact: true }).selectOption("async_chat_completion.*");
		await page.getByRole("button", { name: "Subscribe" }).click();
		const row = page.locator("#hooks-table tbody tr");
		await row.first().waitFor();
		expect(await row.count()).toBe(1);
		expect(await row.first().textContent()).toContain("/hooks/ops-ui-hook");
		expect(await row.first().textContent()).toContain("async_chat_completion.*");
		expect(await page.locator("#hook-result").textContent()).toContain("Subscribed");

		await row.first().getByRole("button", { name: "Send test event" }).click();
		await page.locator("#hook-result").getByText("answered 200").waitFor();
		expect(await page.locator("#hook-result").textContent()).toMatch(
			/^Test event async_chat_completion\.completed to 127\.0\.0\.1:\d+: answered 200 in \d+ ms\. webhook-id msg_test_/,
		);
		const received = stack.inbox.inbox.events("ops-ui-hook");
		expect(received).toHaveLength(1);
		expect(received[0]?.verified).toBe(true);
		expect(received[0]?.headers["webhook-id"]).toMatch(/^msg_test_/);

		// Deleting asks first, in the row.
		await row
			.first()
			.getByRole("button", { name: /^Delete the subscription/ })
			.click();
		await row.first().getByRole("button", { name: "Keep" }).waitFor();
		await row
			.first()
			.getByRole("button", { name: /^Yes, delete/ })
			.click();
		await page.locator("#hooks-empty").waitFor();
		expect(await page.locator("#hook-result").textContent()).toContain("Deleted the subscription");
		expect((await api<{ hooks: unknown[] }>("GET", "/v1/hooks")).hooks).toEqual([]);
	});

	it("narrows the Jobs list by a metadata search, on the relay, and clears it", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "Jobs" }).click();
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
		const rows = page.locator("#jobs-body tr");
		await expect.poll(() => rows.count()).toBe(4);

		const searches: string[] = [];
		const seen = (request: { url(): string }) => {
			if (request.url().includes("metadata")) searches.push(decodeURIComponent(request.url()));
		};
		page.on("request", seen);
		await page.getByRole("searchbox", { name: "Search by metadata" }).fill("customer=acme");
		await page.getByRole("button", { name: "Search", exact: true }).click();
		await expect.poll(() => rows.count()).toBe(2);
		const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-job")));
		expect(shown.sort()).toEqual([jobs.delivered, jobs.deadLettered].sort());
		expect(searches.some((url) => url.includes("metadata[customer]=acme"))).toBe(true);
		expect(await page.locator("#jobs-summary").textContent()).toContain("with metadata customer=acme");

		await page.getByRole("searchbox", { name: "Search by metadata" }).fill("ticket=T-2");
		await page.getByRole("button", { name: "Search", exact: true }).click();
		await expect
			.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-job"))))
			.toEqual([jobs.deadLettered]);

		await page.getByRole("searchbox", { name: "Search by metadata" }).fill("nonsense");
		await page.getByRole("button", { name: "Search", exact: true }).click();
		expect(await page.locator("#jobs-search-error").textContent()).toContain("key=value");

		await page.screenshot({ path: join(ARTIFACTS, "dashboard-search.png") });
		await page.getByRole("button", { name: "Clear search" }).click();
		await expect.poll(() => rows.count()).toBe(4);
		page.off("request", seen);
	});

	it("recovers the dead-lettered delivery since a chosen time, as the delivery log shows", async () => {
		await goTo("#/ops");
		await page.getByRole("heading", { name: "Operations", level: 1 }).waitFor();
		const since = page.getByLabel("Since");
		// The form starts a day back; an hour back covers this run's jobs too.
		expect(await since.inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
		// The browser runs in UTC (dashboard-browser.ts), so its local time is the ISO one without the zone.
		await since.fill(new Date(Date.now() - 3_600_000).toISOString().slice(0, 19));
		await page.getByRole("button", { name: "Redeliver failed" }).click();
		const result = page.locator("#ops-recover-result");
		await result.getByText("Redelivered 1 job").waitFor();
		expect(await result.textContent()).toBe("Redelivered 1 job: 1 delivered now.");
		await expect.poll(() => page.locator("#ops-count-dead_lettered").textContent()).toBe("0");

		// The delivery log: the scheduled series refused, then the recovery's series took it.
		const log = await api<{
			delivery_status: string;
			attempts: { series: number; attempt: number; status_code: number | null }[];
		}>("GET", `/async/chat/completions/${jobs.deadLettered}/deliveries`);
		expect(log.delivery_status).toBe("delivered");
		expect(log.attempts.filter((a) => a.series === 1).map((a) => a.status_code)).toEqual([503, 503, 503, 503, 503]);
		expect(log.attempts.at(-1)).toMatchObject({ series: 2, attempt: 1, status_code: 200 });
		const pushes = stack.inbox.inbox.events("ops-refused");
		expect(pushes).toHaveLength(6);
		expect(new Set(pushes.map((push) => push.headers["webhook-id"])).size).toBe(1);
		expect(pushes.at(-1)?.verified).toBe(true);

		// Nothing is left to recover.
		await page.getByRole("button", { name: "Redeliver failed" }).click();
		await result.getByText("No dead-lettered deliveries").waitFor();
	});

	it("labels answers from the emulator on the job page and the run page", async () => {
		await goTo(`#/jobs/${jobs.delivered}`);
		const badge = page.locator('#job-badges [data-upstream="emulator"]');
		await badge.waitFor();
		expect(await badge.textContent()).toBe("emulator");
		expect(await badge.getAttribute("title")).toContain("not from Perplexity");
		expect(await page.locator("#job-details").textContent()).toContain("Local Perplexity emulator");

		const run = await api<{ id: string }>("POST", "/v1/responses", { preset: "fast", input: "Label me" });
		await goTo(`#/runs/${run.id}`);
		await page.locator('#job-badges [data-status="completed"]').waitFor({ timeout: 30_000 });
		expect(await page.locator('#job-badges [data-upstream="emulator"]').textContent()).toBe("emulator");
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-run-emulator.png") });
	});

	it("keeps text contrast at 4.5:1 or more in light and dark mode, and fits a 375 px screen", async () => {
		await goTo("#/ops");
		await page.locator("#ops-hourly-svg").waitFor();
		await page.locator("#hooks-list > *").first().waitFor();
		for (const colorScheme of ["light", "dark"] as const) {
			await page.emulateMedia({ colorScheme });
			expect(await lowContrastText(page), colorScheme).toEqual([]);
		}
		await page.emulateMedia({ colorScheme: "light" });
		await page.setViewportSize({ width: 375, height: 800 });
		for (const hash of ["#/ops", "#/jobs"]) {
			await goTo(hash);
			await page.locator("main section:not([hidden]) h1").waitFor();
			await page.waitForLoadState("networkidle");
			const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
			expect(overflow, hash).toBeLessThanOrEqual(0);
		}
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-ops-375.png"), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 900 });
	});

	it("ran without a page error or a CSP / Trusted Types violation", () => {
		expect(pageProblems).toEqual([]);
	});
});
