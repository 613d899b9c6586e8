/**
 * The Hono app: mounts one router per resource, serves the OpenAPI document
 * generated from the schemas (`/openapi.json`, viewer at `/docs`), and renders
 * every error in one place. Nothing a caller sends makes it answer 500: unexpected failures
 * (a Durable Object briefly unavailable) become a 503 the caller may retry.
 */

import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { dashboard } from "./dashboard/index.ts";
import { docs } from "./docs/index.ts";
import type { AppEnv } from "./env.ts";
import { validationHook } from "./http.ts";
import { slackCommands } from "./integrations/slack/command.ts";
import { withSettings } from "./middleware.ts";
import { isLoopbackHost, withoutExampleSecrets } from "./public-secrets.ts";
import { ask } from "./routes/ask.ts";
import { completions } from "./routes/completions.ts";
import { deliveries } from "./routes/deliveries.ts";
import { hooks } from "./routes/hooks.ts";
import { meta } from "./routes/meta.ts";
import { agent, responses } from "./routes/responses.ts";
import { results } from "./routes/results.ts";
import { stats } from "./routes/stats.ts";
import { ResponseWebhookEvent } from "./schemas/agent.ts";
import { WebhookEvent } from "./schemas/relay.ts";
import { VERSION } from "./version.ts";

/** Settings problems are logged once per isolate, at its first request. */
let settingsChecked = false;
/** The public example secrets are reported once per isolate, at the first request that refuses them. */
let examplesReported = false;

/** Every router's failed validation answers the spec's 422 (src/http.ts). */
export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

app
	// On a public host the example secrets of `.dev.vars.example` count as unset (src/public-secrets.ts).
	.use("*", async (c, next) => {
		if (c.env && !isLoopbackHost(new URL(c.req.url).hostname)) {
			const { env, refused } = withoutExampleSecrets(c.env);
			if (refused.length > 0) {
				c.env = env;
				if (!examplesReported) {
					examplesReported = true;
					const detail = `${refused.join(", ")} hold the public example values from .dev.vars.example (…change-me), refused outside local development: set your own (npm run setup, docs/deploy.md)`;
					console.warn(JSON.stringify({ level: "warn", event: "settings.problem", detail }));
				}
			}
		}
		await next();
	})
	.use("*", withSettings, async (c, next) => {
		if (!settingsChecked) {
			settingsChecked = true;
			for (const problem of c.get("settings").problems) {
				console.warn(JSON.stringify({ level: "warn", event: "settings.problem", detail: problem }));
			}
		}
		await next();
	})
	.route("/", meta)
	.route("/async/chat/completions", completions("Async chat completions"))
	.route("/v1/async/sonar", completions("Async chat completions (v1 paths)"))
	.route("/v1/responses", responses)
	.route("/v1/agent", agent)
	.route("/v1/results", results)
	.route("/v1/ask", ask)
	.route("/v1/hooks", hooks)
	.route("/v1/stats", stats)
	.route("/v1/deliveries", deliveries)
	.route("/integrations/slack/commands", slackCommands)
	.route("/dashboard", dashboard)
	.route("/docs", docs);

// The document: each router declared its routes beside their handlers (`createRoute`); the events
// pushed to callers are components of their own, referenced by the routes' descriptions.
app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
	type: "http",
	scheme: "bearer",
	description: "An API key from API_KEYS (`tenant:key` pairs).",
});
app.openAPIRegistry.register("WebhookEvent", WebhookEvent);
app.openAPIRegistry.register("ResponseWebhookEvent", ResponseWebhookEvent);

app.openapi(
	createRoute({
		method: "get",
		path: "/openapi.json",
		tags: ["Operations"],
		summary: "This document",
		responses: { 200: { description: "OpenAPI 3.1" } },
	}),
	(c) =>
		c.json(
			app.getOpenAPI31Document({
				openapi: "3.1.0",
				info: {
					title: "sonar-relay",
					version: VERSION,
					description:
						"Push, not poll: Perplexity's async chat completions API, with results pushed to your callback URL as " +
						"Standard Webhooks. The Perplexity-compatible operations keep the upstream's schemas.",
				},
			}),
			200,
		),
);

/** Each route's path as a pattern (`:id` one segment, `*` the rest), compiled at the first miss. */
let routePatterns: { method: string; pattern: RegExp }[] | null = null;

/**
 * The methods the app serves at `path` (HEAD wherever GET is), sorted; empty when no route has the path.
 *
 * @example
 * allowedMethods("/v1/hooks") // ["GET", "HEAD", "POST"]
 */
export function allowedMethods(path: string): string[] {
	routePatterns ??= app.routes
		.filter((route) => route.method !== "ALL")
		.map((route) => ({
			method: route.method,
			pattern: new RegExp(
				`^${route.path
					.split("/")
					.map((part) =>
						part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
					)
					.join("/")}$`,
			),
		}));
	const methods = new Set<string>();
	for (const { method, pattern } of routePatterns) if (pattern.test(path)) methods.add(method);
	if (methods.has("GET")) methods.add("HEAD");
	return [...methods].sort();
}

// A path the app serves, with another method: 405 and the methods it takes (RFC 9110 §15.5.6).
app.notFound((c) => {
	// The path as the router saw it (not normalised: `/jobs/.` is no route, whatever it resolves to).
	const allow = allowedMethods(c.req.path);
	const method = c.req.method === "HEAD" ? "GET" : c.req.method;
	if (allow.length > 0 && !allow.includes(method)) {
		return c.json({ detail: `${c.req.method} is not allowed here; use ${allow.join(", ")}` }, 405, {
			Allow: allow.join(", "),
		});
	}
	return c.json({ detail: "Not Found" }, 404);
});

app.onError((error, c) => {
	// ApiError and RequestValidationError carry their response; Hono's own (a 400, a 415) only a message.
	if (error instanceof HTTPException)
		return error.res ? error.getResponse() : c.json({ detail: error.message }, error.status);
	console.error(
		JSON.stringify({
			level: "error",
			event: "http.unexpected_error",
			method: c.req.method,
			path: new URL(c.req.url).pathname,
			error: error instanceof Error ? error.name : "unknown",
			message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
		}),
	);
	return c.json({ detail: "The relay is temporarily unavailable; retry shortly" }, 503, { "retry-after": "1" });
});
