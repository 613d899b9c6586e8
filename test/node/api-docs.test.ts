/**
 * The API reference at `/docs` in real headless Chromium against the real stack, offline:
 * every request that is not to the relay's own origin is aborted and counted. Swagger UI must
 * still render the relay's OpenAPI document, run "Try it out" against the relay, and trip no
 * Content-Security-Policy. A screenshot goes to `test-results/docs.png`.
 *
 * Chromium reaches the relay as `http://relay.test:<port>` (mapped to 127.0.0.1), as a deployed
 * relay is reached: Swagger UI skips some of its calls out (the online-validator badge) when the
 * document's URL names localhost or 127.0.0.1, so a loopback address could hide them.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "./dashboard-browser.ts";
import { type Stack, startStack } from "./stack.ts";

const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-results");
const RELAY_HOST = "relay.test";

let stack: Stack;
let browser: LaunchedBrowser | undefined;
let page: Page;
/** `http://relay.test:<port>`: the only origin the page may reach. */
let relayOrigin = "";
/** Every request the page made to another origin (each one aborted). */
const aborted: string[] = [];
/** Uncaught errors and CSP violations reported on the console. */
const pageProblems: string[] = [];

/** `securitypolicyviolation` events the page saw, as "directive blocked-URI". */
async function cspViolations(): Promise<string[]> {
	return page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
}

if (chromiumSkipReason) {
	it("renders /docs in headless Chromium", (ctx) => ctx.skip(chromiumSkipReason ?? ""));
}

// Skipped only without /usr/bin/chromium outside CI; the reason is the test above.
describe.skipIf(chromiumSkipReason !== null)("/docs in headless Chromium, with every other origin blocked", () => {
	beforeAll(async () => {
		const [started, launched] = await Promise.allSettled([
			startStack(),
			launchChromium({ width: 1280, height: 900 }, [`--host-resolver-rules=MAP ${RELAY_HOST} 127.0.0.1`]),
		]);
		if (started.status === "fulfilled") stack = started.value;
		if (launched.status === "fulfilled") browser = launched.value;
		if (started.status === "rejected") throw started.reason;
		if (launched.status === "rejected") throw launched.reason;
		relayOrigin = `http://${RELAY_HOST}:${new URL(stack.relayUrl).port}`;

		const { context } = launched.value;
		page = context.pages()[0] ?? (await context.newPage());
		page.setDefaultTimeout(15_000);
		await page.route("**/*", (route) => {
			const url = route.request().url();
			if (new URL(url).origin === relayOrigin) return route.continue();
			aborted.push(url);
			return route.abort("blockedbyclient");
		});
		page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
		page.on("console", (message) => {
			if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(message.text());
		});
		// Runs before the page's own scripts, so a violation during start-up is caught too.
		await page.addInitScript(() => {
			const seen: string[] = [];
			(window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
			document.addEventListener("securitypolicyviolation", (event) => {
				seen.push(`${event.effectiveDirective} ${event.blockedURI}`);
			});
		});
	}, 120_000);

	afterAll(async () => {
		await browser?.close();
		await stack?.stop();
	}, 30_000);

	it("renders the relay's API from the relay alone: nothing aborted, no CSP violation", async () => {
		const response = await page.goto(`${relayOrigin}/docs`);
		expect(response?.status()).toBe(200);
		expect(await page.title()).toBe("sonar-relay API");

		// The document's title and version, then one of its operations.
		const title = page.locator(".info .main .title");
		await title.waitFor().catch((error: Error) => {
			throw new Error(`Swagger UI rendered nothing; aborted: ${JSON.stringify(aborted)}`, { cause: error });
		});
		expect(await title.textContent()).toMatch(/^sonar-relay/);
		const create = page
			.locator(".opblock-post")
			.filter({ has: page.locator('.opblock-summary-path[data-path="/async/chat/completions"]') });
		await create.first().waitFor();
		expect(await create.first().locator(".opblock-summary-method").textContent()).toBe("POST");
		expect(await page.locator(".opblock").count()).toBeGreaterThan(10);

		// Whatever Swagger UI fetches after rendering (a validator badge, fonts) has been asked for by now.
		await page.waitForLoadState("networkidle");
		mkdirSync(ARTIFACTS, { recursive: true });
		await page.screenshot({ path: join(ARTIFACTS, "docs.png") });
		expect(aborted, "requests to other origins").toEqual([]);
		expect(pageProblems).toEqual([]);
		expect(await cspViolations()).toEqual([]);
		expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
	});

	it("runs 'Try it out' against the relay itself (connect-src 'self')", async () => {
		const health = page
			.locator(".opblock-get")
			.filter({ has: page.locator('.opblock-summary-path[data-path="/healthz"]') })
			.first();
		await health.locator(".opblock-summary").click();
		await health.getByRole("button", { name: "Try it out" }).click();
		await health.getByRole("button", { name: "Execute" }).click();

		const live = health.locator(".live-responses-table .response");
		await live.waitFor();
		expect(await live.locator(".response-col_status").textContent()).toContain("200");
		expect(await live.locator(".response-col_description").textContent()).toContain('"ok": true');
		// The request URL Swagger UI shows is the relay's own.
		expect(await health.locator(".request-url pre").textContent()).toBe(`${relayOrigin}/healthz`);

		expect(aborted, "requests to other origins").toEqual([]);
		expect(pageProblems).toEqual([]);
		expect(await cspViolations()).toEqual([]);
	});
});
