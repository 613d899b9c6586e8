/**
 * The `/docs` page: Swagger UI on the relay's own OpenAPI document. The HTML
 * names only the relay's own paths and holds no inline script or style; the code
 * that starts Swagger UI is a served file (`INIT_JS`), so the page runs under a
 * CSP with `script-src 'self'` and no `'unsafe-inline'`.
 */

/** Where the page's files are served; each URL carries the version of what it points at. */
export interface DocsAssets {
	script: string;
	style: string;
	icon: string;
	init: string;
}

/**
 * Starts Swagger UI. `validatorUrl: null` turns off the online-validator badge, an
 * image from validator.swagger.io carrying the document's URL. This layout and an
 * OpenAPI 3.1 document never show it today; the setting keeps it so if either
 * changes. No OAuth or "persist authorization" is set up: a key typed into
 * "Authorize" lives in the page's memory only.
 */
export const INIT_JS = `"use strict";
window.ui = SwaggerUIBundle({
	url: "/openapi.json",
	dom_id: "#swagger-ui",
	deepLinking: true,
	validatorUrl: null,
	presets: [SwaggerUIBundle.presets.apis],
	layout: "BaseLayout",
});
`;

/**
 * The page, given its assets' URLs.
 *
 * @example
 * renderDocsPage({ script: "/docs/assets/swagger-ui-bundle.js?v=5.35.0", … }) // "<!doctype html>…"
 */
export function renderDocsPage(assets: DocsAssets): string {
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="sonar-relay API reference">
<title>sonar-relay API</title>
<link rel="icon" type="image/png" href="${assets.icon}">
<link rel="stylesheet" href="${assets.style}">
</head>
<body>
<noscript><p>The API reference needs JavaScript. The OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="${assets.script}"></script>
<script src="${assets.init}"></script>
</body>
</html>
`;
}
