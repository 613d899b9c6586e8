/**
 * `POST /v1/ask`: the flat submit for forms and no-code tools (Zapier's
 * "Webhooks by Zapier", Make's HTTP module, n8n's HTTP node), none of which
 * build nested JSON comfortably. It becomes an ordinary job.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { jsonBody } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { AskBody, type CreateJobBody, RelayJob } from "../schemas/relay.ts";
import { errors, json, jsonRequest, overLimit, security, unsigned } from "../schemas/route.ts";
import { submitJob } from "../submit.ts";

/**
 * The Perplexity request a flat ask stands for.
 *
 * @example
 * askToCreateBody({ query: "What is KV?" }, "sonar").request.messages // [{ role: "user", content: "What is KV?" }]
 */
export function askToCreateBody(ask: AskBody, defaultModel: string): CreateJobBody {
	const messages: CreateJobBody["request"]["messages"] = [];
	if (ask.system) messages.push({ role: "system", content: ask.system });
	messages.push({ role: "user", content: ask.query });
	return {
		// A preset is a model name the model map passes through as the Agent API's `preset`.
		request: { model: ask.preset ?? ask.model ?? defaultModel, messages },
		callback_url: ask.callback_url,
		callback_events: ask.callback_events,
		metadata: ask.metadata,
		idempotency_key: ask.idempotency_key,
	};
}

export const ask = new OpenAPIHono<AppEnv>().openapi(
	createRoute({
		method: "post",
		path: "/",
		tags: ["Integrations"],
		summary: "The flat submit for forms and no-code tools",
		security,
		middleware: [requireTenant, jsonBody] as const,
		request: jsonRequest(AskBody, {
			query: "What is a Durable Object alarm?",
			callback_url: "https://example.com/hook",
		}),
		responses: {
			200: json(RelayJob, "The job, as the main create returns it"),
			...errors,
			429: overLimit,
			503: unsigned,
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const job = await submitJob(c.env, c.get("tenant"), askToCreateBody(body, c.get("settings").askModel), {
			// The ask's `model` is the request's; everything else in it comes from `query` (and `system`).
			requestLoc: (loc) => ["body", loc[0] === "model" ? (body.preset ? "preset" : "model") : "query"],
			origin: new URL(c.req.url).origin,
		});
		return c.json(job, 200);
	},
);
