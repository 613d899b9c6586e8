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
import { type BrowserContext, chromium } from "playwright-core";

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
