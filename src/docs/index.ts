/**
 * The API reference at `/docs`: Swagger UI, served entirely by the relay. Its files
 * come from the pinned `swagger-ui-dist` package, copied into `src/public/swagger-ui/`
 * (src/docs/copy-swagger-ui.js) and served through the Workers static assets
 * binding (`ASSETS`, see wrangler.toml), so the page works offline and no
 * third-party script ever runs on the origin that also serves `/dashboard` (whose
 * tab holds an API key).
 *
 * Every response carries a strict Content-Security-Policy (`default-src 'none'`,
 * same-origin scripts, styles, images and fetches only), `nosniff`, `no-referrer`
 * and no framing. Swagger UI's files are addressed by the package's version and
 * cached for good; the page itself is never cached.
 *
 * @example
 * app.route("/docs", docs); // in app.ts
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import swaggerUiPackage from "swagger-ui-dist/package.json" with { type: "json" };
import { contentVersion, fetchAsset, pageHeaders } from "../assets.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { INIT_JS, renderDocsPage } from "./page.ts";

/** The version of Swagger UI served: the one installed, which package.json pins exactly. */
export const SWAGGER_UI_VERSION: string = swaggerUiPackage.version;

/**
 * The `/docs` Content-Security-Policy, as sent. Swagger UI needs no `'unsafe-inline'` or
 * `'unsafe-eval'`: React sets inline styles through the CSSOM, which `style-src` does not
 * govern. `data:` images are its stylesheet's icons.
 */
export const DOCS_CSP = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
	"form-action 'none'",
].join("; ");

/** The only files of the package the relay hands out, with their content types. */
const SWAGGER_UI_FILES: Record<string, string> = {
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css": "text/css; charset=utf-8",
	"favicon-32x32.png": "image/png",
};

const INIT_VERSION = contentVersion(INIT_JS);

const PAGE = renderDocsPage({
	script: `/docs/assets/swagger-ui-bundle.js?v=${SWAGGER_UI_VERSION}`,
	style: `/docs/assets/swagger-ui.css?v=${SWAGGER_UI_VERSION}`,
	icon: `/docs/assets/favicon-32x32.png?v=${SWAGGER_UI_VERSION}`,
	init: `/docs/assets/init.js?v=${INIT_VERSION}`,
});

/** A URL carrying the current version never changes content; any other gets a short cache. */
function assetCacheControl(requested: string | undefined, current: string): string {
	return requested === current ? "public, max-age=31536000, immutable" : "public, max-age=300";
}

export const docs = new OpenAPIHono<AppEnv>();

docs
	.use(...pageHeaders(DOCS_CSP))

	// Registered before `/assets/:file`, which would otherwise take it.
	.get("/assets/init.js", (c) => {
		c.header("content-type", "text/javascript; charset=utf-8");
		c.header("cache-control", assetCacheControl(c.req.query("v"), INIT_VERSION));
		return c.body(INIT_JS);
	})

	.get("/assets/:file", async (c) => {
		const file = c.req.param("file");
		const contentType = Object.hasOwn(SWAGGER_UI_FILES, file) ? SWAGGER_UI_FILES[file] : undefined;
		if (contentType === undefined) throw new ApiError(404, "Not Found");
		// The asset server answers a matching If-None-Match with a 304 and its ETag.
		const asset = await fetchAsset(c.env.ASSETS, `swagger-ui/${file}`, c.req.header("if-none-match"));
		const headers = new Headers({
			"content-type": contentType,
			"cache-control": assetCacheControl(c.req.query("v"), SWAGGER_UI_VERSION),
		});
		const etag = asset.headers.get("etag");
		if (etag) headers.set("etag", etag);
		return new Response(asset.status === 304 ? null : asset.body, { status: asset.status, headers });
	});

docs.openapi(
	createRoute({
		method: "get",
		path: "/",
		tags: ["Operations"],
		summary: "Interactive API documentation",
		responses: { 200: { description: "HTML" } },
	}),
	(c) => {
		c.header("cache-control", "no-store");
		return c.html(PAGE);
	},
);
