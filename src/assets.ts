/**
 * The Worker's static files: `src/public/` (wrangler.toml `[assets]`), reached only through the
 * `ASSETS` binding, because the Worker answers every request first and hands out only the files
 * it lists (`/dashboard`, `/docs`). Nothing here knows which files those are.
 *
 * @example
 * const css = await assetText(c.env.ASSETS, "dashboard/app.css");
 * `/dashboard/app.css?v=${contentVersion(css)}`
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { trimTrailingSlash } from "hono/trailing-slash";
import { ApiError } from "./errors.ts";

/**
 * The headers of a page the Worker serves with its static files (`/dashboard`, `/docs`): no referrer,
 * no sniffing, no framing, same-origin only, no powerful features, and `csp` on every answer (a 404
 * under the page included, so it is set after the handler). `/page/` redirects to `/page`.
 *
 * @example
 * new Hono<AppEnv>().use(...pageHeaders(DASHBOARD_CSP))
 */
export function pageHeaders(csp: string): MiddlewareHandler[] {
	return [
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
			c.res.headers.set("content-security-policy", csp);
		},
		trimTrailingSlash(),
	];
}

/**
 * FNV-1a (32 bits) in hex: a cache-busting version for an asset's text.
 *
 * @example
 * contentVersion("body {}") // "8-hex-digit string", the same for the same text
 */
export function contentVersion(text: string): string {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * Fetches one file of the static assets (a path under `src/public/`, no leading slash).
 * Forwards `If-None-Match`, so the asset server can answer a 304 with its ETag.
 * A file missing from the deployment is a 503: the code lists it, the upload lacks it.
 *
 * @example
 * const res = await fetchAsset(c.env.ASSETS, "swagger-ui/swagger-ui.css", c.req.header("if-none-match"));
 */
export async function fetchAsset(assets: Fetcher, path: string, ifNoneMatch?: string): Promise<Response> {
	const response = await assets.fetch(
		new Request(`https://assets.invalid/${path}`, ifNoneMatch ? { headers: { "if-none-match": ifNoneMatch } } : {}),
	);
	if (response.status !== 200 && response.status !== 304) {
		await response.body?.cancel();
		throw new ApiError(503, `${path} is missing from this deployment's assets`);
	}
	return response;
}

/**
 * One file of the static assets as text.
 *
 * @example
 * await assetText(c.env.ASSETS, "dashboard/app.css") // ":root { … }"
 */
export async function assetText(assets: Fetcher, path: string): Promise<string> {
	return (await fetchAsset(assets, path)).text();
}
