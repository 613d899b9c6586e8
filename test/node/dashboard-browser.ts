/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` package driven
 * through `playwright-core`, with a fresh user-data-dir per launch.
 *
 * The browser test is skipped only on a developer machine without the browser;
 * under CI a missing browser is a failure (`.ci/run` installs it).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Quiet, offline, and no sandbox (CI runs as root in a container). */
export const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

const inCi = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";

/** Why the browser test cannot run here, or null when it must run. */
export const chromiumSkipReason: string | null =
	existsSync(CHROMIUM_PATH) || inCi
		? null
		: `${CHROMIUM_PATH} is missing: install Debian's chromium (apt-get install chromium) to run the dashboard's browser test`;

export interface LaunchedBrowser {
	context: BrowserContext;
	/** Closes the browser and removes its user-data-dir. */
	close(): Promise<void>;
}

/**
 * Launches Chromium with a fresh profile; `extraArgs` go after {@link CHROMIUM_ARGS}.
 *
 * @example
 * const browser = await launchChromium({ width: 1280, height: 900 });
 * const page = await browser.context.newPage();
 * await browser.close();
 */
export async function launchChromium(
	viewport: { width: number; height: number },
	extraArgs: string[] = [],
): Promise<LaunchedBrowser> {
	if (!existsSync(CHROMIUM_PATH)) {
		throw new Error(`${CHROMIUM_PATH} is missing; under CI the browser test must run (.ci/run installs chromium)`);
	}
	const userDataDir = mkdtempSync(join(tmpdir(), "sonar-relay-chromium-"));
	try {
		const context = await chromium.launchPersistentContext(userDataDir, {
			executablePath: CHROMIUM_PATH,
			headless: true,
			args: [...CHROMIUM_ARGS, ...extraArgs],
			viewport,
			deviceScaleFactor: 1,
			colorScheme: "light",
			reducedMotion: "reduce",
			locale: "en-GB",
			timezoneId: "UTC",
		});
		return {
			context,
			close: async () => {
				await context.close().catch(() => {});
				rmSync(userDataDir, { recursive: true, force: true });
			},
		};
	} catch (error) {
		rmSync(userDataDir, { recursive: true, force: true });
		throw error;
	}
}

/** Visible text whose colour has a WCAG contrast below 4.5:1 against its (first opaque) background. */
export function lowContrastText(page: Page): Promise<string[]> {
	return page.evaluate(() => {
		const rgba = (color: string) => (color.match(/[\d.]+/g) ?? []).map(Number);
		const channel = (value: number) => {
			const v = value / 255;
			return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
		};
		const luminance = ([r = 0, g = 0, b = 0]: number[]) =>
			0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
		const background = (element: Element) => {
			for (let e: Element | null = element; e; e = e.parentElement) {
				const color = rgba(getComputedStyle(e).backgroundColor);
				if ((color[3] ?? 1) > 0.5) return color;
			}
			return [255, 255, 255];
		};
		const problems: string[] = [];
		for (const element of Array.from(document.querySelectorAll("body *"))) {
			if (!(element instanceof HTMLElement) || element.getClientRects().length === 0) continue;
			if (element.closest("[hidden], .visually-hidden, .toast, :disabled")) continue;
			const ownText = Array.from(element.childNodes).some(
				(node) => node.nodeType === Node.TEXT_NODE && node.textContent?.trim(),
			);
			if (!ownText) continue;
			const [light, dark] = [luminance(rgba(getComputedStyle(element).color)), luminance(background(element))].sort(
				(a, b) => b - a,
			) as [number, number];
			const ratio = (light + 0.05) / (dark + 0.05);
			if (ratio < 4.5)
				problems.push(
					`${element.tagName.toLowerCase()}.${element.className} ${ratio.toFixed(2)}: ${element.textContent?.trim().slice(0, 40)}`,
				);
		}
		return problems;
	});
}
