/**
 * `POST /v1/ask`: the flat submit for forms and no-code tools (Zapier's
 * "Webhooks by Zapier", Make's HTTP module, n8n's HTTP node), none of which
 * build nested JSON comfortably. It becomes an ordinary job.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { readJson, validate } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { AskBody, type CreateJobBody } from "../schemas/relay.ts";
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

export const ask = new Hono<AppEnv>().post("/", requireTenant, async (c) => {
	const tenant = c.get("tenant");
	const settings = c.get("settings");
	const body = validate(AskBody, await readJson(c, settings.maxBodyBytes), "body");
	return c.json(
		await submitJob(c.env, tenant, askToCreateBody(body, settings.askModel), {
			// The ask's `model` is the request's; everything else in it comes from `query` (and `system`).
			requestLoc: (loc) => ["body", loc[0] === "model" ? (body.preset ? "preset" : "model") : "query"],
			origin: new URL(c.req.url).origin,
		}),
		200,
	);
});
