/** Fixtures shared by the security tests (auth matrix, secret leaks and comparisons, size limits). */
import { env } from "cloudflare:workers";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import type { Hook, RelayJob } from "../../src/schemas/relay.ts";
import { TEST_SLACK_SECRET } from "./constants.ts";
import { inboxUrl, relay, unique } from "./helpers.ts";

/** MAX_BODY_BYTES as vitest.config.ts sets it. */
export const MAX_BODY_BYTES = 65_536;
export const WRONG_KEY = "wrong-key";

export const settledAndDelivered = (job: RelayJob) =>
	(job.status === "COMPLETED" || job.status === "FAILED") && job.delivery_status !== "pending";

export async function tenantIndex(tenant: string) {
	return env.TENANTS.get(env.TENANTS.idFromName(tenant));
}

export async function hooksOf(tenant: string): Promise<Hook[]> {
	return (await (await tenantIndex(tenant)).listHooks()) as Hook[];
}

export async function removeHooks(tenant: string): Promise<void> {
	const index = await tenantIndex(tenant);
	for (const hook of await hooksOf(tenant)) await index.deleteHook(hook.id);
}

export async function subscribe(key: string, target = inboxUrl(unique("sec-hook"))): Promise<Response> {
	return relay(
		"/v1/hooks",
		{
			method: "POST",
			body: JSON.stringify({ target_url: target, event: "async_chat_completion.failed" }),
		},
		key,
	);
}

export async function slackCommand(
	fields: Record<string, string>,
	{ secret = TEST_SLACK_SECRET, sign = true, key = null as string | null } = {},
): Promise<Response> {
	const body = new URLSearchParams(fields).toString();
	const timestamp = String(Math.floor(Date.now() / 1000));
	const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
	if (sign) {
		headers["x-slack-request-timestamp"] = timestamp;
		headers["x-slack-signature"] = await signSlackRequest(secret, timestamp, body);
	}
	return relay("/integrations/slack/commands", { method: "POST", headers, body }, key);
}

export function slackFields(team: string, overrides: Record<string, string> = {}): Record<string, string> {
	return {
		command: "/ask",
		text: `${unique("q")} [[emu:steps=1]]`,
		team_id: team,
		channel_id: "C123",
		user_id: "U123",
		response_url: inboxUrl(unique("sec-slack")),
		trigger_id: unique("trigger"),
		...overrides,
	};
}
