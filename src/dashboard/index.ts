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
 * @example
 * app.route("/dashboard", dashboard); // in app.ts
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { trimTrailingSlash } from "hono/trailing-slash";
import type { AppEnv } from "../env.ts";
import { CLIENT_JS } from "./client.ts";
import { MARKDOWN_JS } from "./markdown.ts";
import { renderShell } from "./shell.tsx";
import { DASHBOARD_CSS } from "./styles.ts";

/** The Trusted Types policy `client.ts` creates for the rendered answer. */
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

const APP_JS = `${MARKDOWN_JS}\n${CLIENT_JS}`;

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="6" fill="#2454c5"/><circle cx="8" cy="16" r="2" fill="#fff"/><path d="M8 10.5a5.5 5.5 0 0 1 5.5 5.5M8 6a10 10 0 0 1 10 10" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round"/></svg>`;

/** FNV-1a (32 bits) in hex: a cache-busting version for an asset, computed once per isolate. */
export function contentVersion(text: string): string {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return (hash >>> 0).toString(16).padStart(8, "0");
}

const ASSETS = {
	script: `/dashboard/app.js?v=${contentVersion(APP_JS)}`,
	style: `/dashboard/app.css?v=${contentVersion(DASHBOARD_CSS)}`,
	icon: `/dashboard/icon.svg?v=${contentVersion(ICON_SVG)}`,
};

const PAGE = renderShell(ASSETS);

/** Versioned URLs never change content; an unversioned request gets a short cache. */
function assetCacheControl(version: string | undefined): string {
	return version ? "public, max-age=31536000, immutable" : "public, max-age=300";
}

export const dashboard = new Hono<AppEnv>()
	.use(
		secureHeaders({
			referrerPolicy: "no-referrer",
			xContentTypeOptions: "nosniff",
			xFrameOptions: "DENY",
			crossOriginResourcePolicy: "same-origin",
			crossOriginOpenerPolicy: "same-origin",
			permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
		}),
		async (c, next) => {
			await next();
			// Set after the handler so that every answer, a 404 under /dashboard included, carries it.
			c.res.headers.set("content-security-policy", DASHBOARD_CSP);
		},
		// `/dashboard/` redirects to `/dashboard`.
		trimTrailingSlash(),
	)

	.get("/", (c) => {
		c.header("cache-control", "no-store");
		return c.html(PAGE);
	})

	.get("/app.js", (c) => {
		c.header("content-type", "text/javascript; charset=utf-8");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body(APP_JS);
	})

	.get("/app.css", (c) => {
		c.header("content-type", "text/css; charset=utf-8");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body(DASHBOARD_CSS);
	})

	.get("/icon.svg", (c) => {
		c.header("content-type", "image/svg+xml");
		c.header("cache-control", assetCacheControl(c.req.query("v")));
		return c.body(ICON_SVG);
	});
