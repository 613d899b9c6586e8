/**
 * `/docs` in workerd: the page's security headers and strict CSP, a page and an init
 * script that name no other origin, and Swagger UI's files served from the pinned
 * package (static assets) with their content types, a year's immutable cache keyed by
 * the version, and ETag revalidation. The browser side is test/node/api-docs.test.ts.
 */
import { describe, expect, it } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { DOCS_CSP, SWAGGER_UI_VERSION } from "../../src/docs/index.ts";
import { relay } from "./helpers.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** A public GET, as a browser makes it: no key. */
const get = (path: string, headers: Record<string, string> = {}) => relay(path, { headers }, null);

/** The CSP as a map of directive → sources. */
function directives(csp: string): Map<string, string[]> {
	return new Map(
		csp
			.split(";")
			.map((part) => part.trim().split(/\s+/))
			.filter((words) => words[0])
			.map(([name, ...sources]) => [name as string, sources]),
	);
}

/** The same-origin paths the page loads, from its `src` and `href` attributes. */
async function pageAssets(): Promise<string[]> {
	const html = await (await get("/docs")).text();
	return [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
}

function expectDocsHeaders(res: Response, what: string) {
	expect(res.headers.get("content-security-policy"), what).toBe(DOCS_CSP);
	expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
	expect(res.headers.get("referrer-policy"), what).toBe("no-referrer");
	expect(res.headers.get("x-frame-options"), what).toBe("DENY");
	expect(res.headers.get("set-cookie"), what).toBeNull();
}

describe("the /docs page", () => {
	it("is public, never cached, and sent with a strict CSP, nosniff, no-referrer and no framing", async () => {
		const res = await get("/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/html; charset=utf-8/i);
		expect(res.headers.get("cache-control")).toBe("no-store");
		expectDocsHeaders(res, "/docs");

		const csp = directives(res.headers.get("content-security-policy") ?? "");
		expect(Object.fromEntries(csp)).toEqual({
			"default-src": ["'none'"],
			"script-src": ["'self'"],
			"style-src": ["'self'"],
			"img-src": ["'self'", "data:"],
			"connect-src": ["'self'"],
			"frame-ancestors": ["'none'"],
			"base-uri": ["'none'"],
			"form-action": ["'none'"],
		});
	});

	it("names no other origin and holds no inline script or style", async () => {
		const html = await (await get("/docs")).text();
		expect(html).toContain("<title>sonar-relay API</title>");
		expect(html).not.toMatch(/https?:\/\//i);
		expect(html).not.toMatch(/(?:src|href)="\/\//i);
		// Every script is a file; no style element or attribute.
		expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
		expect(html).not.toMatch(/<style|\sstyle=/i);

		const assets = await pageAssets();
		expect(assets.filter((path) => path !== "/openapi.json" && !path.startsWith("/docs/assets/"))).toEqual([]);
		expect(assets.map((path) => path.split("?")[0]).sort()).toEqual([
			"/docs/assets/favicon-32x32.png",
			"/docs/assets/init.js",
			"/docs/assets/swagger-ui-bundle.js",
			"/docs/assets/swagger-ui.css",
			"/openapi.json",
		]);
	});

	it("starts Swagger UI from a served script that loads /openapi.json and names no CDN or other host", async () => {
		const init = (await pageAssets()).find((path) => path.startsWith("/docs/assets/init.js?v="));
		const res = await get(init ?? "/docs/assets/init.js");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
		expectDocsHeaders(res, "init.js");
		const script = await res.text();
		expect(script).toContain('url: "/openapi.json"');
		expect(script).toContain("validatorUrl: null");
		expect(script).not.toMatch(/https?:|\/\/[a-z0-9-]+\.|jsdelivr|unpkg|cdnjs|swagger\.io/i);
	});

	it("redirects /docs/ to /docs", async () => {
		const res = await relay("/docs/", { redirect: "manual" }, null);
		expect(res.status).toBe(301);
		expect(new URL(res.headers.get("location") ?? "", "https://relay.test").pathname).toBe("/docs");
	});
});

describe("Swagger UI's files", () => {
	const TYPES: Record<string, string> = {
		"/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"/docs/assets/swagger-ui.css": "text/css; charset=utf-8",
		"/docs/assets/favicon-32x32.png": "image/png",
	};

	it("come from swagger-ui-dist at the exact version package.json pins, named in every URL", async () => {
		expect(packageJson.dependencies["swagger-ui-dist"]).toMatch(/^\d+\.\d+\.\d+$/);
		expect(SWAGGER_UI_VERSION).toBe(packageJson.dependencies["swagger-ui-dist"]);
		const versioned = (await pageAssets()).filter((path) => (path.split("?")[0] ?? "") in TYPES);
		expect(versioned).toHaveLength(3);
		for (const path of versioned) expect(path.endsWith(`?v=${SWAGGER_UI_VERSION}`), path).toBe(true);
	});

	it("are served with their content types, a year's immutable cache, an ETag and the CSP", async () => {
		for (const [path, type] of Object.entries(TYPES)) {
			const res = await get(`${path}?v=${SWAGGER_UI_VERSION}`);
			expect(res.status, path).toBe(200);
			expect(res.headers.get("content-type"), path).toBe(type);
			expect(res.headers.get("cache-control"), path).toBe(IMMUTABLE);
			expect(res.headers.get("etag"), path).toMatch(/^(W\/)?"[^"]+"$/);
			expectDocsHeaders(res, path);
			const body = new Uint8Array(await res.arrayBuffer());
			expect(body.byteLength, path).toBeGreaterThan(500);
		}
		const bundle = await (await get("/docs/assets/swagger-ui-bundle.js")).text();
		expect(bundle).toContain("SwaggerUIBundle");
		const css = await (await get("/docs/assets/swagger-ui.css")).text();
		expect(css).toContain(".swagger-ui");
	});

	it("answers a revalidation with its ETag with a 304 and no body", async () => {
		const path = `/docs/assets/swagger-ui.css?v=${SWAGGER_UI_VERSION}`;
		const etag = (await get(path)).headers.get("etag") ?? "";
		const res = await get(path, { "if-none-match": etag });
		expect(res.status).toBe(304);
		expect(res.headers.get("etag")).toBe(etag);
		expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
		expect(await res.text()).toBe("");
		expect((await get(path, { "if-none-match": '"something-else"' })).status).toBe(200);
	});

	it("give a URL without the current version a short cache, since its content may change", async () => {
		for (const query of ["", "?v=0.0.1"]) {
			for (const path of ["/docs/assets/swagger-ui.css", "/docs/assets/init.js"]) {
				const res = await get(`${path}${query}`);
				expect(res.status, `${path}${query}`).toBe(200);
				expect(res.headers.get("cache-control"), `${path}${query}`).toBe("public, max-age=300");
			}
		}
	});

	it("answers HEAD with the headers and no body", async () => {
		const res = await relay(`/docs/assets/swagger-ui-bundle.js?v=${SWAGGER_UI_VERSION}`, { method: "HEAD" }, null);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
		expect(await res.text()).toBe("");
	});

	it("answers 404 in the error shape, with the CSP, for every other file of the package or path", async () => {
		for (const file of [
			"index.html",
			"swagger-initializer.js",
			"oauth2-redirect.html",
			"package.json",
			"swagger-ui-bundle.js.map",
			"..%2Fpackage.json",
			"constructor",
			"__proto__",
			"nothing-here.js",
		]) {
			const res = await get(`/docs/assets/${file}`);
			expect(res.status, file).toBe(404);
			expect(await res.json(), file).toEqual({ detail: "Not Found" });
			expect(res.headers.get("content-security-policy"), file).toBe(DOCS_CSP);
		}
		expect((await get("/docs/assets/swagger-ui.css/x")).status).toBe(404);
	});

	it("answers 405 with Allow for another method", async () => {
		for (const path of ["/docs", "/docs/assets/init.js", "/docs/assets/swagger-ui.css"]) {
			const res = await relay(path, { method: "POST" }, null);
			expect(res.status, path).toBe(405);
			expect(res.headers.get("allow"), path).toBe("GET, HEAD");
			expect(await res.json()).toEqual({ detail: "POST is not allowed here; use GET, HEAD" });
		}
	});
});
