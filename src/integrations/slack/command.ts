/**
 * `POST /integrations/slack/commands`: a Slack slash command (`/ask <question>`).
 *
 * It verifies Slack's signature before reading anything, answers within Slack's
 * 3 s with an ephemeral acknowledgement (the upstream create is left to the
 * job's alarm), and the job posts the answer to the command's `response_url`
 * as Block Kit when it settles. Each Slack workspace is a tenant of its own:
 * `slack:<team_id>`, with the limits `TENANT_LIMITS` gives it (its own entry, or
 * `"*"`); its operator reads its jobs with an `API_KEYS` entry for that tenant
 * (`slack:T0123ABCD:<key>`). With `SLACK_TEAMS` set, only those workspaces are
 * served.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { checkCallbackUrl } from "../../delivery/url-guard.ts";
import type { AppEnv } from "../../env.ts";
import { ApiError } from "../../errors.ts";
import { readBodyBytes } from "../../http.ts";
import { ErrorDetail, Preset } from "../../schemas/relay.ts";
import { json } from "../../schemas/route.ts";
import { submitJob } from "../../submit.ts";
import { acknowledgement, refusalMessage, usageMessage } from "./blocks.ts";
import { slackIntegration } from "./integration.ts";
import { verifySlackRequest } from "./verify.ts";

/** `&amp;`, `&lt;`, `&gt;` back to characters (the only three Slack encodes). */
export function decodeSlackEntities(text: string): string {
	return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** A Slack id (`C0123ABCD`), or null for anything that is not one: metadata stays small and clean. */
function slackId(value: string | null): string | null {
	return value && /^[A-Z0-9]{1,32}$/i.test(value) ? value : null;
}

/** Slack's own host for `response_url`s. */
export const SLACK_RESPONSE_HOSTS = ["hooks.slack.com"];

/** Models and presets whose jobs may outlive `response_url`'s 30-minute window. */
const LONG_RUNNING = /deep-research|^(medium|high|xhigh)$/;

/**
 * A leading `preset:NAME` (or `--preset NAME`) picks an Agent API preset for this question instead
 * of `SLACK_MODEL`: `/ask preset:medium What changed in the EU AI Act?`.
 *
 * @example
 * presetOf("preset:high Why is the sky blue?") // { preset: "high", question: "Why is the sky blue?", unknownPreset: null }
 */
export function presetOf(text: string): { preset: Preset | null; question: string; unknownPreset: string | null } {
	const match = text.match(/^(?:preset[:=]|--preset\s+)(\S+)\s*([\s\S]*)$/i);
	if (!match) return { preset: null, question: text, unknownPreset: null };
	const [, name = "", rest = ""] = match;
	const parsed = Preset.safeParse(name.toLowerCase());
	return parsed.success
		? { preset: parsed.data, question: rest.trim(), unknownPreset: null }
		: { preset: null, question: rest.trim(), unknownPreset: name.slice(0, 40) };
}

/**
 * The route as documented. Its form is read only once Slack's signature over the raw bytes checks
 * out, so the form's schema is documented here (plain JSON Schema), not validated by the route.
 */
const slashCommand = createRoute({
	method: "post",
	path: "/",
	tags: ["Integrations"],
	summary: "Slack slash command",
	description: "Signed by Slack (`X-Slack-Signature`, `X-Slack-Request-Timestamp`), not by an API key.",
	request: {
		body: {
			required: true,
			content: {
				"application/x-www-form-urlencoded": {
					schema: {
						type: "object",
						properties: {
							text: { type: "string" },
							team_id: { type: "string" },
							response_url: { type: "string" },
							command: { type: "string" },
							trigger_id: { type: "string" },
						},
						required: ["text", "team_id", "response_url"],
					},
				},
			},
		},
	},
	responses: {
		200: { description: "An ephemeral acknowledgement (Block Kit)" },
		401: json(ErrorDetail, "Bad or missing Slack signature"),
	},
});

export const slackCommands = new OpenAPIHono<AppEnv>().openapi(slashCommand, async (c) => {
	const settings = c.get("settings");
	if (!settings.slackSigningSecret) throw new ApiError(503, "SLACK_SIGNING_SECRET is not configured");
	const rawBytes = await readBodyBytes(c, settings.maxBodyBytes);
	const verified = await verifySlackRequest({
		signingSecret: settings.slackSigningSecret,
		timestamp: c.req.header("x-slack-request-timestamp"),
		signature: c.req.header("x-slack-signature"),
		rawBody: rawBytes,
		nowMs: Date.now(),
	});
	if (!verified.ok) throw new ApiError(401, "Invalid Slack signature or timestamp");

	const form = new URLSearchParams(new TextDecoder().decode(rawBytes));
	const command = form.get("command") || "/ask";
	// Slack sends `&`, `<` and `>` in command text as entities; the question is plain text from here on.
	const { preset, question: text, unknownPreset } = presetOf(decodeSlackEntities(form.get("text") ?? "").trim());
	if (unknownPreset !== null) return c.json(usageMessage(command, `Unknown preset "${unknownPreset}".`), 200);
	if (!text) return c.json(usageMessage(command), 200);
	const model = preset ?? settings.slackModel;
	const teamId = form.get("team_id") ?? "";
	if (!/^[A-Z0-9]{1,32}$/i.test(teamId)) throw new ApiError(400, "team_id is missing or malformed");
	if (settings.slackTeams && !settings.slackTeams.has(teamId)) {
		return c.json(refusalMessage("This workspace is not allowed to use this research relay. Ask its operator."), 200);
	}
	const responseUrl = form.get("response_url") ?? "";
	const check = checkCallbackUrl(responseUrl, {
		allowPrivate: settings.allowPrivateCallbacks,
		allowedHosts: settings.allowPrivateCallbacks ? undefined : SLACK_RESPONSE_HOSTS,
	});
	if (!check.ok) throw new ApiError(400, `response_url is not Slack's: ${check.reason}`);

	const origin = new URL(c.req.url).origin;
	const triggerId = form.get("trigger_id");
	const job = await submitJob(
		c.env,
		`slack:${teamId}`,
		{
			request: { model, messages: [{ role: "user", content: text }] },
			// Slack does not retry slash commands, but a proxy might: one job per invocation.
			idempotency_key: triggerId ? `slack-trigger:${triggerId}` : undefined,
			metadata: {
				slack: { team_id: teamId, channel_id: slackId(form.get("channel_id")), user_id: slackId(form.get("user_id")) },
			},
		},
		{
			integration: slackIntegration({
				responseUrl: check.url.toString(),
				responseType: settings.slackResponseType,
				question: text,
				resultBaseUrl: `${origin}/async/chat/completions/`,
			}),
			deferUpstream: true,
			origin,
		},
	).catch((error: unknown) => {
		// A tenant limit is this workspace's to see, in Slack's words; other errors stay HTTP errors.
		if (error instanceof ApiError && error.status === 429) return error;
		throw error;
	});
	if (job instanceof ApiError) {
		const wait = job.headers["retry-after"];
		return c.json(refusalMessage(`${job.message}${wait ? ` Try again in ${wait} s.` : ""}`), 200);
	}
	return c.json(
		{
			...acknowledgement(text, { model, longRunning: LONG_RUNNING.test(model) }),
			job_id: job.id,
		},
		200,
	);
});
