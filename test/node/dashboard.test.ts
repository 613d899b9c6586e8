/**
 * The dashboard end to end, in real headless Chromium against the real stack
 * (wrangler dev, the emulator, the inbox): sign-in, the submit form, live
 * updates, the job page, redelivery, the webhook secret, the job list, Agent
 * API runs (their list tab, their page, cancel, the form's preset), and the
 * security headers. Screenshots go to `test-results/` (artifacts); the README's
 * `docs/dashboard.png` is written when missing or with UPDATE_SCREENSHOTS=1.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium, lowContrastText } from "./dashboard-browser.ts";
import { type Stack, startStack } from "./stack.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const ARTIFACTS = join(ROOT, "test-results");
const README_SCREENSHOT = join(ROOT, "docs", "dashboard.png");
const KEY_STORAGE = "sonar-relay.dashboard.key";
const QUESTION = "What is a Cloudflare Durable Object alarm?";
const RUN_QUESTION = "How do Workers KV reads stay fast worldwide?";
const FORM_RUN_QUESTION = "What does a Durable Object's blockConcurrencyWhile guard?";
/** An emulator marker: the upstream run lasts ten minutes, so it is still running when the test cancels it. */
const LONG = "[[emu:duration=600000]]";

let stack: Stack;
let browser: LaunchedBrowser | undefined;
let page: Page;
/** Uncaught errors and CSP / Trusted Types violations seen by the page: there must be none. */
const pageProblems: string[] = [];
/** The job submitted from the form, once the form test has run. */
let jobId = "";
/** The run started through `POST /v1/responses`, once the runs list test has run. */
let runId = "";

const CSP_DIRECTIVES = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self'",
	"connect-src 'self'",
	"img-src 'self' data:",
	"frame-ancestors 'none'",
	"base-uri 'none'",
	"form-action 'self'",
];

if (chromiumSkipReason) {
	it("runs the dashboard in headless Chromium", (ctx) => ctx.skip(chromiumSkipReason ?? ""));
}

// Skipped only without /usr/bin/chromium outside CI; the reason is the test above.
describe.skipIf(chromiumSkipReason !== null)("the dashboard in headless Chromium", () => {
	beforeAll(async () => {
		const [started, launched] = await Promise.allSettled([startStack(), launchChromium({ width: 1280, height: 900 })]);
		if (started.status === "fulfilled") stack = started.value;
		if (launched.status === "fulfilled") browser = launched.value;
		if (started.status === "rejected") throw started.reason;
		if (launched.status === "rejected") throw launched.reason;
		const { context } = launched.value;
		await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.relayUrl });
		page = context.pages()[0] ?? (await context.newPage());
		page.setDefaultTimeout(15_000);
		page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
		page.on("console", (message) => {
			if (/Content Security Policy|Trusted ?Type|TrustedHTML/i.test(message.text())) pageProblems.push(message.text());
		});
	}, 120_000);

	afterAll(async () => {
		await browser?.close();
		await stack?.stop();
	}, 30_000);

	const dashboardUrl = () => `${stack.relayUrl}/dashboard`;
	const sessionKey = () => page.evaluate((name) => sessionStorage.getItem(name), KEY_STORAGE);

	async function signIn(key: string) {
		await page.getByLabel("API key", { exact: true }).fill(key);
		await page.getByRole("button", { name: "Sign in" }).click();
	}

	/** A POST to the relay's API as any caller makes it; resolves with the JSON answer. */
	async function relayPost<T = { id: string }>(path: string, body?: unknown): Promise<T> {
		const response = await fetch(`${stack.relayUrl}${path}`, {
			method: "POST",
			headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		expect(response.status, path).toBe(200);
		return (await response.json()) as T;
	}

	async function relayGet<T = { status: string }>(path: string): Promise<T> {
		const response = await fetch(`${stack.relayUrl}${path}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
		expect(response.status, path).toBe(200);
		return (await response.json()) as T;
	}

	/** Starts an Agent API run; its id. */
	const startRun = async (input: string) => (await relayPost("/v1/responses", { preset: "fast", input })).id;

	async function goTo(hash: string) {
		await page.evaluate((next) => {
			location.hash = next;
		}, hash);
	}

	it("serves every dashboard response with a strict CSP, nosniff and no-referrer, and no inline code", async () => {
		const html = await (await fetch(dashboardUrl())).text();
		const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1] as string);
		expect(assets.some((a) => a.startsWith("/dashboard/app.js?v="))).toBe(true);
		expect(assets.some((a) => a.startsWith("/dashboard/app.css?v="))).toBe(true);
		// No inline script, no style element, no style attribute: nothing the CSP would have to allow.
		expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
		expect(html).not.toMatch(/<style|\sstyle=/i);

		const expectedTypes: Record<string, RegExp> = {
			"/dashboard": /^text\/html/,
			"/dashboard/app.js": /^text\/javascript/,
			"/dashboard/app.css": /^text\/css/,
			"/dashboard/icon.svg": /^image\/svg\+xml/,
		};
		const slash = await fetch(`${dashboardUrl()}/`, { redirect: "manual" });
		expect(slash.status).toBe(301);
		expect(new URL(slash.headers.get("location") ?? "", stack.relayUrl).pathname).toBe("/dashboard");

		for (const path of ["/dashboard", ...assets, "/dashboard/no-such-page"]) {
			const response = await fetch(`${stack.relayUrl}${path}`);
			const csp = response.headers.get("content-security-policy") ?? "";
			for (const directive of CSP_DIRECTIVES) expect(csp, `${path}: ${directive}`).toContain(directive);
			expect(csp).not.toContain("unsafe-inline");
			expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
			expect(response.headers.get("referrer-policy"), path).toBe("no-referrer");
			expect(response.headers.get("set-cookie"), path).toBeNull();
			const type = expectedTypes[path.split("?")[0] as string];
			if (type) {
				expect(response.status, path).toBe(200);
				expect(response.headers.get("content-type"), path).toMatch(type);
			} else {
				expect(response.status, path).toBe(404);
			}
		}
	});

	it("shows a clear error for a wrong key, and keeps the key out of the URL and storage", async () => {
		await page.goto(dashboardUrl());
		await expect(page.getByRole("heading", { name: "Sign in" }).isVisible()).resolves.toBe(true);
		// Where a local key is, and the API reference.
		expect(await page.locator("#signin-local").textContent()).toContain(".dev.vars");
		expect(await page.locator("#signin-local").getByRole("link", { name: "/docs" }).getAttribute("href")).toBe("/docs");

		await signIn("not-a-valid-key");
		const error = page.locator("#signin-error");
		await error.getByText("not accepted").waitFor();
		expect(await error.textContent()).toMatch(/This API key was not accepted\. The relay answered 401: .+/);
		expect(await page.getByLabel("API key", { exact: true }).getAttribute("aria-invalid")).toBe("true");
		expect(await sessionKey()).toBeNull();
		expect(page.url()).not.toContain("not-a-valid-key");
		expect(await page.locator("#nav").isVisible()).toBe(false);
	});

	it("signs in with a valid key, kept in sessionStorage only", async () => {
		await signIn(stack.apiKey);
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
		expect(await sessionKey()).toBe(stack.apiKey);
		expect(page.url()).not.toContain(stack.apiKey);
		expect(await page.context().cookies()).toEqual([]);
		expect(await page.locator("#signin-error").textContent()).toBe("");
		// The API reference, in a tab that gets no copy of this one's session storage.
		const docs = page.getByRole("navigation").getByRole("link", { name: "API docs" });
		expect(await docs.getAttribute("href")).toBe("/docs");
		expect(await docs.getAttribute("rel")).toContain("noopener");
	});

	it("checks metadata in the browser and shows the relay's 422 next to the field", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "New job" }).click();
		await page.getByRole("heading", { name: "New job", level: 1 }).waitFor();
		const posts: string[] = [];
		const countPosts = (request: { method(): string; url(): string }) => {
			if (request.method() === "POST") posts.push(request.url());
		};
		page.on("request", countPosts);

		await page.getByRole("textbox", { name: "Question" }).fill(QUESTION);
		await page.getByLabel(/^Metadata/).fill('{"ticket": ');
		await page.getByRole("button", { name: "Submit job" }).click();
		await page.locator("#f-metadata-error").getByText("not valid JSON").waitFor();
		expect(await page.getByLabel(/^Metadata/).getAttribute("aria-invalid")).toBe("true");
		expect(posts).toEqual([]);

		await page.getByLabel(/^Metadata/).fill('{"ticket": "DASH-1"}');
		await page.getByLabel(/^Callback URL/).fill("ftp://example.com/hook");
		await page.getByRole("button", { name: "Submit job" }).click();
		const summary = page.locator("#new-errors");
		await summary.getByText("422").waitFor();
		expect(await summary.textContent()).toContain("callback_url");
		expect(await page.locator("#f-callback-error").textContent()).toMatch(/callback_url must use http or https/);
		expect(await page.getByLabel(/^Callback URL/).getAttribute("aria-invalid")).toBe("true");
		expect(posts).toHaveLength(1);
		page.off("request", countPosts);
	});

	it("submits from the form and follows the job live until it is COMPLETED and delivered", async () => {
		// Hold the upstream (every call fails, so the relay keeps retrying) until the page shows the
		// job in progress: the later COMPLETED can then only have come from the page's own updates.
		stack.emulator.emulator.setFaults({ errorRate: 1 });
		try {
			await page.getByLabel(/^Callback URL/).fill(`${stack.inbox.url}/hooks/dashboard`);
			await page.getByRole("button", { name: "Submit job" }).click();
			await page.waitForURL(/#\/jobs\/[0-9a-f]{64}$/);
			jobId = new URL(page.url()).hash.slice("#/jobs/".length);
			await page.locator("#job-badges [data-status]").waitFor();
			expect(await page.locator("#job-badges [data-status]").getAttribute("data-status")).toMatch(
				/^(CREATED|IN_PROGRESS)$/,
			);
			expect(await page.locator("#job-live").isVisible()).toBe(true);
			expect(await page.locator("#job-answer").textContent()).toContain("appears here when the job completes");
		} finally {
			stack.emulator.emulator.setFaults({ errorRate: 0 });
		}

		let loads = 0;
		page.on("load", () => loads++);
		await page.locator('#job-badges [data-status="COMPLETED"]').waitFor({ timeout: 30_000 });
		await page.locator('#job-badges [data-delivery="delivered"]').waitFor({ timeout: 30_000 });
		await page.locator("#job-live").waitFor({ state: "hidden" });
		expect(loads).toBe(0);
		expect(await page.locator("#job-badges").textContent()).toContain("Completed");
		expect(stack.inbox.inbox.events("dashboard")).toHaveLength(1);
	});

	it("shows the question, the rendered answer, the sources, the timeline and the attempt", async () => {
		expect(await page.locator("#job-question").textContent()).toContain(QUESTION);

		// The emulator's answer opens with "## <question>": rendered, and shifted to an h3 under the h2.
		const answer = page.locator("#job-answer");
		await answer.locator("h3").first().waitFor();
		expect(await answer.locator("h3").first().textContent()).toContain("Durable Object alarm");
		expect(await answer.locator("li strong").count()).toBeGreaterThan(0);
		const citations = answer.locator("sup.cite a");
		expect(await citations.count()).toBeGreaterThan(0);
		expect(await citations.first().getAttribute("href")).toMatch(/^https:\/\//);
		expect(await citations.first().getAttribute("rel")).toBe("noopener noreferrer");

		const sources = page.locator("#job-sources li");
		expect(await sources.count()).toBeGreaterThan(0);
		const source = sources.first().locator("a");
		expect(await source.getAttribute("href")).toMatch(/^https:\/\//);
		expect(await source.getAttribute("rel")).toBe("noopener noreferrer");
		expect((await source.textContent())?.trim()).not.toBe("");

		const timeline = await page.locator("#job-timeline").textContent();
		for (const step of ["Created", "Started", "Completed"]) expect(timeline).toContain(step);
		// On the Agent upstream, started_at is known only when a poll saw the run in progress: a run that
		// finished between two polls has none, so the Started step's time is not asserted.
		expect(await page.locator("#job-timeline li").first().locator("time").count()).toBe(1);
		expect(await page.locator("#job-timeline li").last().locator("time").count()).toBe(1);

		const details = await page.locator("#job-details").textContent();
		expect(details).toContain("DASH-1");
		expect(details).toContain("sonar");

		const attempts = page.locator("#attempts-table tbody tr");
		expect(await attempts.count()).toBe(1);
		expect(await attempts.first().textContent()).toContain("200");
		expect(await attempts.first().locator('[data-label="Duration"]').textContent()).toMatch(/^\d+ ms$/);

		await page.setViewportSize({ width: 1000, height: 900 });
		await page.evaluate(() => window.scrollTo(0, 0));
		await page.mouse.move(0, 0);
		await page.locator("#toast.show").waitFor({ state: "detached", timeout: 10_000 });
		mkdirSync(ARTIFACTS, { recursive: true });
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-job.png"), fullPage: true });
		if (!existsSync(README_SCREENSHOT) || process.env.UPDATE_SCREENSHOTS === "1") {
			mkdirSync(join(ROOT, "docs"), { recursive: true });
			await page.screenshot({ path: README_SCREENSHOT, fullPage: true });
		}
		await page.setViewportSize({ width: 1280, height: 900 });
	});

	it("redelivers on request and shows the new attempt", async () => {
		const attempts = page.locator("#attempts-table tbody tr");
		const before = await attempts.count();
		await page.getByRole("button", { name: "Redeliver" }).click();
		await page.locator("#attempts-table tr.is-new").waitFor();
		expect(await attempts.count()).toBe(before + 1);
		const fresh = page.locator("#attempts-table tr.is-new");
		expect(await fresh.textContent()).toContain("series 2");
		expect(await fresh.textContent()).toContain("200");
		expect(await page.locator("#redeliver-result").textContent()).toMatch(
			/^Redelivered: attempt #1 of series 2 answered 200/,
		);

		const deliveries = stack.inbox.inbox.events("dashboard");
		expect(deliveries).toHaveLength(2);
		expect(deliveries[1]?.verified).toBe(true);
		expect(deliveries[1]?.headers["webhook-id"]).toBe(deliveries[0]?.headers["webhook-id"]);
	});

	it("copies the job's GET as curl without the key unless asked", async () => {
		const readClipboard = () => page.evaluate(() => navigator.clipboard.readText());
		const expectedUrl = `${stack.relayUrl}/async/chat/completions/${jobId}`;

		const shown = await page.locator("#job-curl").textContent();
		expect(shown).toContain(expectedUrl);
		expect(shown).toContain("$SONAR_RELAY_KEY");
		expect(shown).not.toContain(stack.apiKey);
		await page.getByRole("button", { name: "Copy as curl" }).click();
		await page.locator("#toast").getByText("copied").waitFor();
		const copied = await readClipboard();
		expect(copied).toBe(shown);

		await page.getByLabel("Include my API key").check();
		expect(await page.locator("#job-curl").textContent()).toContain(`Bearer ${stack.apiKey}`);
		await page.getByRole("button", { name: "Copy as curl" }).click();
		await expect.poll(readClipboard).toContain(`Bearer ${stack.apiKey}`);
		await page.getByLabel("Include my API key").uncheck();

		// The copied command works as is.
		const response = await fetch(expectedUrl, { headers: { authorization: `Bearer ${stack.apiKey}` } });
		expect(((await response.json()) as { status: string }).status).toBe("COMPLETED");
	});

	it("shows the webhook secret masked, with reveal and copy", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "Webhook secret" }).click();
		const value = page.locator("#secret-value-secret");
		await value.waitFor();
		const masked = await value.textContent();
		expect(masked).toMatch(/^whsec_•+.{4}$/);
		expect(masked).not.toContain(stack.secret.slice(6, 20));

		const reveal = page.getByRole("button", { name: "Reveal" });
		expect(await reveal.getAttribute("aria-pressed")).toBe("false");
		await reveal.click();
		expect(await value.textContent()).toBe(stack.secret);
		expect(await page.getByRole("button", { name: "Hide" }).getAttribute("aria-pressed")).toBe("true");
		await page.getByRole("button", { name: "Hide" }).click();
		expect(await value.textContent()).toBe(masked);

		await page.getByRole("button", { name: "Copy" }).click();
		await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(stack.secret);
	});

	it("lists jobs with status and delivery badges, filters them, and pages with Load more", async () => {
		// 20 newer jobs push the form's job onto the second page.
		await Promise.all(
			Array.from({ length: 20 }, (_, i) =>
				fetch(`${stack.relayUrl}/async/chat/completions`, {
					method: "POST",
					headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
					body: JSON.stringify({
						request: { model: "sonar", messages: [{ role: "user", content: `List filler ${i}` }] },
					}),
				}).then((response) => expect(response.status).toBe(200)),
			),
		);
		await page.getByRole("navigation").getByRole("link", { name: "Jobs" }).click();
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
		await page.getByRole("button", { name: "Refresh" }).click();
		await expect.poll(() => page.locator("#jobs-body tr").count()).toBe(20);
		const row = page.locator(`#jobs-body tr[data-job="${jobId}"]`);
		expect(await row.count()).toBe(0);
		// The tenant's usage against its limits (none set locally), from GET /v1/usage.
		await expect.poll(() => page.locator("#jobs-usage").textContent()).toMatch(/^Usage: \d+ in flight · /);
		expect(await page.locator("#jobs-usage").textContent()).toMatch(/2\d accepted in the last minute/);
		expect(await page.locator("#jobs-usage").textContent()).toContain("no limits set");

		await page.getByRole("button", { name: "Load more" }).click();
		await row.waitFor();
		expect(await row.locator("[data-status]").textContent()).toBe("Completed");
		expect(await row.locator("[data-delivery]").textContent()).toBe("Delivered");
		expect(await row.textContent()).toContain(QUESTION);

		await page.getByLabel("Show").selectOption({ label: "Failed" });
		await row.waitFor({ state: "detached" });
		expect(await page.locator("#jobs-summary").textContent()).toMatch(/^Showing 0 of \d+ jobs loaded/);
		await page.getByLabel("Show").selectOption({ label: "Delivered" });
		await row.waitFor();
		expect(await page.locator("#jobs-body tr").count()).toBe(1);
		await page.getByLabel("Show").selectOption({ label: "All jobs" });

		// Keyboard: the row's link opens the job page.
		await row.getByRole("link").focus();
		await page.keyboard.press("Enter");
		await page.waitForURL(new RegExp(`#/jobs/${jobId}$`));
		await page.locator('#job-badges [data-status="COMPLETED"]').waitFor();
	});

	it("holds Load more while the first page reloads, so a late first page cannot drop a further one", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "Jobs" }).click();
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
		await expect.poll(() => page.locator("#jobs-body tr").count()).toBeGreaterThan(20);
		// Hold the next first page (Refresh's) until the test lets it go.
		let release = () => {};
		const held = new Promise<void>((resolve) => {
			release = resolve;
		});
		let holding = true;
		const pattern = /\/async\/chat\/completions\?limit=\d+$/;
		await page.route(pattern, async (route) => {
			if (holding) {
				holding = false;
				await held;
			}
			await route.continue();
		});
		try {
			const reloaded = page.waitForResponse(pattern);
			await page.getByRole("button", { name: "Refresh" }).click();
			await expect.poll(() => holding).toBe(false);
			// Before, Load more stayed live here: its second page landed, then the late first page replaced it.
			expect(await page.locator("#jobs-more").isDisabled()).toBe(true);
			release();
			await reloaded;
			await expect.poll(() => page.locator("#jobs-body tr").count()).toBe(20);
			await page.getByRole("button", { name: "Load more" }).click();
			await page.locator(`#jobs-body tr[data-job="${jobId}"]`).waitFor();
		} finally {
			release();
			await page.unroute(pattern);
		}
	});

	it("lists Agent API runs under their own tab, with run badges, a filter, and links to the run", async () => {
		runId = await startRun(RUN_QUESTION);
		await expect
			.poll(async () => (await relayGet(`/v1/responses/${runId}`)).status, { timeout: 30_000 })
			.toBe("completed");

		await page.getByRole("navigation").getByRole("link", { name: "Jobs" }).click();
		await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
		const jobsTab = page.getByRole("tab", { name: "Jobs (Sonar API)" });
		const runsTab = page.getByRole("tab", { name: "Runs (Agent API)" });
		expect(await jobsTab.getAttribute("aria-selected")).toBe("true");

		// Keyboard: the arrow key moves to the other tab and shows its list; focus stays on the tab.
		await jobsTab.focus();
		await page.keyboard.press("ArrowRight");
		await page.waitForURL(/#\/runs$/);
		// The hash changes first; the page's hashchange handler selects the tab after it.
		await page.locator('#jobs-tabs [role=tab][data-kind="agent"][aria-selected="true"]').waitFor();
		expect(await runsTab.getAttribute("aria-selected")).toBe("true");
		expect(await runsTab.evaluate((tab) => tab === document.activeElement)).toBe(true);
		expect(await page.getByRole("tabpanel").getAttribute("aria-labelledby")).toBe("tab-agent");

		const row = page.locator(`#jobs-body tr[data-job="${runId}"]`);
		await row.waitFor();
		expect(await row.locator("[data-status]").getAttribute("data-status")).toBe("completed");
		expect(await row.locator("[data-status]").textContent()).toBe("Completed");
		expect(await row.locator("[data-delivery]").textContent()).toBe("No callback");
		expect(await row.textContent()).toContain(RUN_QUESTION);
		expect(await row.getByRole("link").getAttribute("href")).toBe(`#/runs/${runId}`);
		// Sonar jobs are listed under their own tab only.
		expect(await page.locator(`#jobs-body tr[data-job="${jobId}"]`).count()).toBe(0);
		expect(await page.locator("#jobs-summary").textContent()).toMatch(/^\d+ runs? loaded, newest first\.$/);

		// The filter offers the run statuses.
		await page.getByLabel("Show").selectOption({ label: "Cancelled" });
		await row.waitFor({ state: "detached" });
		await page.getByLabel("Show").selectOption({ label: "Completed" });
		await row.waitFor();
		await page.getByLabel("Show").selectOption({ label: "All runs" });
		mkdirSync(ARTIFACTS, { recursive: true });
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-runs.png") });

		// Each tab keeps its own list: back on the jobs tab, the form's job is there and no run is.
		await jobsTab.click();
		await page.waitForURL(/#\/jobs$/);
		await page.locator("#jobs-body tr").first().waitFor();
		expect(await page.locator(`#jobs-body tr[data-job="${runId}"]`).count()).toBe(0);
		expect(await page.getByLabel("Show").locator("option").first().textContent()).toBe("All jobs");
		await runsTab.click();
		await row.waitFor();
	});

	it("opens a completed run: its question, answer, sources, timeline, details and curl; Back returns to the runs", async () => {
		await page.locator(`#jobs-body tr[data-job="${runId}"]`).getByRole("link").click();
		await page.waitForURL(new RegExp(`#/runs/${runId}$`));
		await page.getByRole("heading", { name: "Run", level: 1 }).waitFor();
		await page.locator('#job-badges [data-status="completed"]').waitFor();
		expect(await page.locator("#job-badges").textContent()).toContain("Completed");

		// The run carries request_preview (a relay extension), so the page shows it as the question,
		// without the "from the runs list" hint it needs only for runs that lack one.
		const question = await page.locator("#job-question").textContent();
		expect(question).toContain(RUN_QUESTION);
		expect(question).not.toContain("from the runs list");

		const answer = page.locator("#job-answer");
		await answer.locator("h3").first().waitFor();
		expect(await answer.locator("h3").first().textContent()).toContain("Workers KV");
		const citations = answer.locator("sup.cite a");
		expect(await citations.count()).toBeGreaterThan(0);
		expect(await citations.first().getAttribute("href")).toMatch(/^https:\/\//);

		const sources = page.locator("#job-sources li");
		expect(await sources.count()).toBeGreaterThan(0);
		expect(await sources.first().locator("a").getAttribute("href")).toMatch(/^https:\/\//);
		expect(await sources.first().locator("a").getAttribute("rel")).toBe("noopener noreferrer");
		expect((await sources.first().locator(".source-snippet").textContent())?.trim()).not.toBe("");

		const timeline = await page.locator("#job-timeline").textContent();
		for (const step of ["Created", "Started", "Completed"]) expect(timeline).toContain(step);
		expect(await page.locator("#job-timeline time").count()).toBe(2);
		expect(await page.locator("#job-timeline-note").textContent()).toContain("no start time");

		const details = await page.locator("#job-details").textContent();
		expect(details).toMatch(/Tokens\d+ in · \d+ out · \d+ total/);
		expect(details).toMatch(/Cost\$\d+\.\d{4}/);

		expect(await page.locator("#job-curl").textContent()).toContain(`${stack.relayUrl}/v1/responses/${runId}`);
		expect(await page.getByRole("button", { name: "Cancel run" }).isDisabled()).toBe(true);
		expect(await page.getByRole("link", { name: "← All runs" }).getAttribute("href")).toBe("#/runs");
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-run.png"), fullPage: true });

		await page.goBack();
		await page.waitForURL(/#\/runs$/);
		await page.locator('#jobs-tabs [role=tab][data-kind="agent"][aria-selected="true"]').waitFor();
		expect(await page.getByRole("tab", { name: "Runs (Agent API)" }).getAttribute("aria-selected")).toBe("true");
		await page.locator(`#jobs-body tr[data-job="${runId}"]`).waitFor();
		// The nav's Jobs link leads back to the list last shown.
		expect(await page.getByRole("navigation").getByRole("link", { name: "Jobs" }).getAttribute("href")).toBe("#/runs");
	});

	it("cancels a running run from its page after a confirm step, and shows it cancelled", async () => {
		const id = await startRun(`${LONG} Summarise the history of the transistor.`);
		await goTo(`#/runs/${id}`);
		const cancel = page.getByRole("button", { name: "Cancel run" });
		await expect.poll(() => cancel.isEnabled()).toBe(true);
		expect(await page.locator("#job-badges [data-status]").getAttribute("data-status")).toMatch(
			/^(queued|in_progress)$/,
		);

		await cancel.click();
		expect(await cancel.getAttribute("aria-expanded")).toBe("true");
		const confirm = page.getByRole("group", { name: /^Cancel this run\?/ });
		await confirm.waitFor();
		const yes = confirm.getByRole("button", { name: "Yes, cancel the run" });
		expect(await yes.evaluate((button) => button === document.activeElement)).toBe(true);
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-run-cancel.png") });
		await yes.click();

		await page.locator('#job-badges [data-status="cancelled"]').waitFor();
		expect(await page.locator("#job-badges").textContent()).toContain("Cancelled");
		expect(await page.locator("#cancel-result").textContent()).toBe("Cancel accepted: the relay answered cancelling.");
		expect(await confirm.isVisible()).toBe(false);
		expect(await cancel.isDisabled()).toBe(true);
		expect(await page.locator("#job-answer").textContent()).toContain("The run was cancelled.");
		expect(await page.locator("#job-timeline").textContent()).toContain("Cancelled");
		expect((await relayGet(`/v1/responses/${id}`)).status).toBe("cancelled");
	});

	it("shows the relay's 409 when the run ended before the cancel was confirmed", async () => {
		const id = await startRun(`${LONG} Explain the CAP theorem.`);
		await goTo(`#/runs/${id}`);
		const cancel = page.getByRole("button", { name: "Cancel run" });
		await expect.poll(() => cancel.isEnabled()).toBe(true);

		// The page keeps seeing the run as it was (its GETs answered with this snapshot) while another
		// caller cancels it: the page's own cancel then meets the relay's real 409.
		const snapshot = await relayGet(`/v1/responses/${id}`);
		const runUrl = `${stack.relayUrl}/v1/responses/${id}`;
		await page.route(runUrl, (route) => route.fulfill({ json: snapshot }));
		try {
			await relayPost(`/v1/responses/${id}/cancel`);
			await cancel.click();
			await page.getByRole("button", { name: "Yes, cancel the run" }).click();
			const result = page.locator("#cancel-result");
			await result.getByText("409").waitFor();
			expect(await result.textContent()).toMatch(/^Cannot cancel the run \(409\): .*already ended \(cancelled\)/);
			expect(await result.getAttribute("class")).toContain("alert-error");
		} finally {
			await page.unroute(runUrl);
		}
		await page.getByRole("button", { name: "Refresh" }).click();
		await page.locator('#job-badges [data-status="cancelled"]').waitFor();
		expect(await cancel.isDisabled()).toBe(true);
	});

	it("cancels a running Sonar job likewise; Escape closes the confirm step without cancelling", async () => {
		const { id } = await relayPost("/async/chat/completions", {
			request: { model: "sonar", messages: [{ role: "user", content: `${LONG} Explain consistent hashing.` }] },
		});
		await goTo(`#/jobs/${id}`);
		await page.getByRole("heading", { name: "Job", level: 1 }).waitFor();
		const cancel = page.getByRole("button", { name: "Cancel job" });
		await expect.poll(() => cancel.isEnabled()).toBe(true);

		const posts: string[] = [];
		const countPosts = (request: { method(): string; url(): string }) => {
			if (request.method() === "POST") posts.push(request.url());
		};
		page.on("request", countPosts);
		try {
			await cancel.click();
			const confirm = page.getByRole("group", { name: /^Cancel this job\?/ });
			await confirm.waitFor();
			await page.keyboard.press("Escape");
			await confirm.waitFor({ state: "hidden" });
			expect(await cancel.evaluate((button) => button === document.activeElement)).toBe(true);
			expect(await cancel.getAttribute("aria-expanded")).toBe("false");
			expect(posts).toEqual([]);

			// Keyboard all the way: Enter opens the confirm step, whose "Yes" has the focus.
			await page.keyboard.press("Enter");
			await confirm.waitFor();
			await page.keyboard.press("Enter");
			await page.locator('#job-badges [data-status="FAILED"]').waitFor();
			expect(posts).toEqual([`${stack.relayUrl}/async/chat/completions/${id}/cancel`]);
		} finally {
			page.off("request", countPosts);
		}
		expect(await page.locator("#cancel-result").textContent()).toBe("Cancelled: the job ended FAILED (cancelled).");
		expect(await page.locator("#job-answer").textContent()).toContain("The job failed: cancelled.");
		expect(await cancel.isDisabled()).toBe(true);
		const job = await relayGet<{ status: string; error_message: string }>(`/async/chat/completions/${id}`);
		expect(job).toMatchObject({ status: "FAILED", error_message: "cancelled" });
	});

	it("starts an Agent API run with a preset from the form and follows it until completed and delivered", async () => {
		await page.getByRole("navigation").getByRole("link", { name: "New job" }).click();
		await page.getByRole("heading", { name: "New job", level: 1 }).waitFor();
		await page.getByRole("radio", { name: /^Agent API/ }).check();
		expect(await page.getByLabel("Preset", { exact: true }).isVisible()).toBe(true);
		expect(await page.getByLabel("Model", { exact: true }).isVisible()).toBe(false);
		expect(await page.locator("#new-endpoint").textContent()).toBe("POST /v1/responses");

		await page.getByLabel("Preset", { exact: true }).selectOption("high");
		await page.getByRole("textbox", { name: "Question" }).fill(FORM_RUN_QUESTION);
		await page.getByLabel(/^Callback URL/).fill(`${stack.inbox.url}/hooks/dashboard-run`);
		// The Agent API's metadata values are strings: checked before anything is sent.
		await page.getByLabel(/^Metadata/).fill('{"ticket": 2}');
		await page.getByRole("button", { name: "Start run" }).click();
		await page.locator("#f-metadata-error").getByText("metadata values are strings").waitFor();

		await page.getByLabel(/^Metadata/).fill('{"ticket": "DASH-2"}');
		const [create] = await Promise.all([
			page.waitForRequest((request) => request.method() === "POST" && request.url().endsWith("/v1/responses")),
			page.getByRole("button", { name: "Start run" }).click(),
		]);
		expect(create.postDataJSON()).toEqual({
			preset: "high",
			input: FORM_RUN_QUESTION,
			callback_url: `${stack.inbox.url}/hooks/dashboard-run`,
			callback_events: ["completed", "failed", "cancelled", "incomplete"],
			metadata: { ticket: "DASH-2" },
		});
		await page.waitForURL(/#\/runs\/[0-9a-f]{64}$/);
		const id = new URL(page.url()).hash.slice("#/runs/".length);
		await page.locator('#job-badges [data-status="completed"]').waitFor({ timeout: 30_000 });
		await page.locator('#job-badges [data-delivery="delivered"]').waitFor({ timeout: 30_000 });
		await page.locator("#job-live").waitFor({ state: "hidden" });

		expect(await page.locator("#job-question").textContent()).toContain(FORM_RUN_QUESTION);
		expect(await page.locator("#job-details").textContent()).toContain("DASH-2");
		await page.locator("#job-answer h3").first().waitFor();
		const events = page.locator("#events-table tbody tr");
		expect(await events.first().locator('[data-label="Event"]').textContent()).toBe("completed");

		const pushed = stack.inbox.inbox.events("dashboard-run");
		expect(pushed.map((d) => (JSON.parse(d.body) as { type: string; data: { id: string } }).data.id)).toEqual([id]);
		expect(pushed.map((d) => (JSON.parse(d.body) as { type: string }).type)).toEqual(["response.completed"]);
		expect(pushed[0]?.verified).toBe(true);
	});

	it("fits a 375 px wide screen without horizontal scrolling", async () => {
		await page.setViewportSize({ width: 375, height: 800 });
		for (const hash of [`#/jobs/${jobId}`, "#/jobs", `#/runs/${runId}`, "#/runs", "#/new", "#/secret"]) {
			await page.evaluate((next) => {
				location.hash = next;
			}, hash);
			await page.waitForFunction(() => document.querySelector("main section:not([hidden])") !== null);
			await page.waitForLoadState("networkidle");
			const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
			expect(overflow, hash).toBeLessThanOrEqual(0);
		}
		await page.evaluate((next) => {
			location.hash = next;
		}, `#/jobs/${jobId}`);
		await page.locator('#job-badges [data-status="COMPLETED"]').waitFor();
		await page.screenshot({ path: join(ARTIFACTS, "dashboard-job-375.png"), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 900 });
	});

	it("keeps text contrast at 4.5:1 or more, in light and dark mode", async () => {
		for (const colorScheme of ["light", "dark"] as const) {
			await page.emulateMedia({ colorScheme });
			for (const hash of [`#/jobs/${jobId}`, "#/jobs", `#/runs/${runId}`, "#/runs", "#/new", "#/secret"]) {
				await page.evaluate((next) => {
					location.hash = next;
				}, hash);
				await page.locator("main section:not([hidden]) h1").waitFor();
				await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"));
				expect(await lowContrastText(page), `${colorScheme} ${hash}`).toEqual([]);
			}
		}
		await page.emulateMedia({ colorScheme: "light" });
	});

	it("signs out, forgetting the key; a new tab starts signed out", async () => {
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("heading", { name: "Sign in" }).waitFor();
		expect(await sessionKey()).toBeNull();
		expect(await page.locator("#jobs-body tr").count()).toBe(0);

		const other = await page.context().newPage();
		await other.goto(`${dashboardUrl()}#/jobs/${jobId}`);
		await other.getByRole("heading", { name: "Sign in" }).waitFor();
		await other.close();
	});

	it("ran without a script error or a CSP violation", () => {
		expect(pageProblems).toEqual([]);
	});
});
