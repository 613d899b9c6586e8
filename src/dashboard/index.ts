/**
 * The operator dashboard at `/dashboard`: a server-rendered shell (Hono JSX), its
 * script and its stylesheet. The page holds no data and needs no auth: the
 * client signs in with an API key and calls the relay's JSON API like any other
 * caller, so the dashboard can show nothing the API would not.
 *
 * Every response carries a strict Content-Security-Policy (no inline script or
 * style, same-origin fetches only, Trusted Types for the one HTML sink), plus
 * `nosniff`, `no-referrer` and no framing. Assets are addressed by a hash of
 * their content, so they can be cached for good.
 *
 * The script, stylesheet and icon are real files in `src/public/dashboard/` (Workers
 * static assets, see docs/dashboard.md, "How it is built"). Each isolate reads them
 * once through the `ASSETS` binding, hashes them for their versioned URLs and
 * renders the page; `/dashboard/app.js` is `markdown.js` then `app.js`, one file.
 *
 * @example
 * app.route("/dashboard", dashboard); // in app.ts
 */
import { Hono } from "hono";
import { assetText, contentVersion, pageHeaders } from "../assets.ts";
import type { AppEnv } from "../env.ts";
import { MAX_METADATA_BYTES } from "../schemas/relay.ts";
import { DASHBOARD_PAGE_SIZE, renderShell } from "./shell.tsx";

/** The Trusted Types policy the client (`src/public/dashboard/app.js`) creates for the rendered answer. */
export const TRUSTED_TYPES_POLICY = "sonar-relay-markdown";

/** The dashboard's Content-Security-Policy, as sent. */
export const DASHBOARD_CSP = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self'",
	"connect-src 'self'",
	"img-src 'self' data:",
	"object-src 'none'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	`trusted-types ${TRUSTED_TYPES_POLICY}`,
	"require-trusted-types-for 'script'",
].join("; ");

/** What the dashboard serves, read from the static assets once per isolate. */
interface DashboardFiles {
	page: string;
	script: string;
	style: string;
	icon: string;
}

let loaded: Promise<DashboardFiles> | undefined;

/** Reads the files, versions them by content and renders the page; a failed read is tried again next time. */
function dashboardFiles(assets: Fetcher): Promise<DashboardFiles> {
	if (loaded === undefined) {
		loaded = (async () => {
			const read = (file: string) => assetText(assets, `dashboard/${file}`);
			const [markdown, client, style, icon] = await Promise.all([
				read("markdown.js"),
				read("app.js"),
				read("app.css"),
				read("icon.svg"),
			]);
			const script = `${markdown}\n${client}`;
			const page = renderShell(
				{
					script: `/dashboard/app.js?v=${contentVersion(script)}`,
					style: `/dashboard/app.css?v=${contentVersion(style)}`,
					icon: `/dashboard/icon.svg?v=${contentVersion(icon)}`,
				},
				{
					pageSize: DASHBOARD_PAGE_SIZE,
					maxMetadataBytes: MAX_METADATA_BYTES,
					trustedTypesPolicy: TRUSTED_TYPES_POLICY,
				},
			);
			return { page, script, style, icon };
		})();
		loaded.catch(() => {
			loaded = undefined;
		});
	}
	return loaded;
}

/** Versioned URLs never change content; an unversioned request gets a short cache. */
function assetCacheControl(version: string | undefined): string {
	return version ? "public, max-age=31536000, immutable" : "public, max-age=300";
}

export const dashboard = new Hono<AppEnv>()
	.use(...pageHeaders(DASHBOARD_CSP))

	.get("/", async (c) => {
		const { page } = await dashboardFiles(c.env.ASSETS);
		c.header("cache-control", "no-store");
		return c.html(page);
	})

	.get("/app.js", async (c) => {
		c.header("content-type", "text/javascript; charset=utf-8");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body((await dashboardFiles(c.env.ASSETS)).script);
	})

	.get("/app.css", async (c) => {
		c.header("content-type", "text/css; charset=utf-8");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body((await dashboardFiles(c.env.ASSETS)).style);
	})

	.get("/icon.svg", async (c) => {
		c.header("content-type", "image/svg+xml");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body((await dashboardFiles(c.env.ASSETS)).icon);
	});
