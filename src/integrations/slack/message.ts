/**
 * The Slack message for a settled job: the answer as Block Kit (with its
 * sources), or an ephemeral error. Pure: the Job DO sends what this returns to
 * the command's `response_url`. Loading this module registers Slack's delivery
 * formats (`slack`, `slack-progress`, `slack-searching`), so the job core
 * renders them without importing Slack.
 */
import { registerFormat } from "../../delivery/formats.ts";
import { messageText } from "../../schemas/content.ts";
import type { RelayJob } from "../../schemas/relay.ts";
import type { ProgressNote } from "../../upstream/port.ts";
import { answerMessage, errorMessage, type SlackMessage, type Source } from "./blocks.ts";
import type { SlackIntegration } from "./integration.ts";
import { escapeEntities, slackLink } from "./mrkdwn.ts";

/** The answer's sources: `search_results` when upstream gave them, else the bare `citations`. */
/** What a Slack message reads of a job: the job as an event's `data` carries it. */
export type SlackJob = Pick<RelayJob, "id" | "model" | "status" | "response" | "error_message">;

export function sourcesOf(state: Pick<SlackJob, "response">): Source[] {
	const results = state.response?.search_results ?? [];
	if (results.length > 0) return results.map((r) => ({ title: r.title, url: r.url }));
	return (state.response?.citations ?? []).map((url) => ({ url }));
}

/** The text of the first choice, when it is text. */
export function answerText(state: Pick<SlackJob, "response">): string {
	return messageText(state.response?.choices[0]?.message.content);
}

/**
 * Where the full result is, for a link in a message: `resultUrl` (a signed link anyone in the
 * channel can open) when the relay made one, else the job's API URL (jobs stored before signed links).
 */
function resultLinkOf(state: Pick<SlackJob, "id">, slack: SlackIntegration, resultUrl?: string): string | undefined {
	if (resultUrl) return resultUrl;
	return slack.resultBaseUrl ? `${slack.resultBaseUrl}${state.id}` : undefined;
}

/**
 * The answer as Block Kit. However long the answer, the message stays within Slack's limits (50
 * blocks, a bounded prefix of the answer read): a longer one is cut, with a link to the full result.
 *
 * @example
 * slackResultMessage(toEventData(state), state.spec.integration, resultUrl) // { response_type: "in_channel", blocks: [...] }
 */
export function slackResultMessage(state: SlackJob, slack: SlackIntegration, resultUrl?: string): SlackMessage {
	const answer = answerText(state);
	if (state.status !== "COMPLETED" || !answer) {
		return errorMessage(slack.question, state.error_message ?? "the research job failed");
	}
	return answerMessage({
		question: slack.question,
		answerMarkdown: answer,
		sources: sourcesOf(state),
		resultUrl: resultLinkOf(state, slack, resultUrl),
		responseType: slack.responseType,
		model: state.model,
	});
}

/**
 * Posted while `response_url` still works, for a job that may outlive it: the
 * answer may not reach Slack, so say where it will be.
 */
export function slackProgressMessage(
	state: Pick<SlackJob, "id">,
	slack: SlackIntegration,
	resultUrl?: string,
): SlackMessage {
	const question = escapeEntities(slack.question.slice(0, 200));
	const link = resultLinkOf(state, slack, resultUrl);
	const where = link ? slackLink(link, "the job's result") : `job \`${state.id}\``;
	const text =
		`:hourglass_flowing_sand: Still researching *${question}*. Slack accepts replies for 30 minutes only, ` +
		`so if the answer takes longer it will be at ${where}.`;
	return {
		response_type: "ephemeral",
		replace_original: false,
		text,
		blocks: [{ type: "section", text: { type: "mrkdwn", text } }],
	};
}

/**
 * Posted once, the first time a watched run searches: the acknowledgement becomes "Researching …
 * Searching: <the queries>", so the user sees the work going on.
 */
export function slackSearchingMessage(slack: SlackIntegration, note: ProgressNote | null): SlackMessage {
	const question = escapeEntities(slack.question.slice(0, 200));
	const queries = (note?.items ?? []).map((item) => `_${escapeEntities(item)}_`).join(" · ");
	const text = `:mag: Researching *${question}*. Searching: ${queries || "the web"}…`;
	return {
		response_type: "ephemeral",
		replace_original: true,
		text,
		blocks: [{ type: "section", text: { type: "mrkdwn", text } }],
	};
}

/** Slack's `response_url` is Slack's own: its messages go to no other host (local development aside). */
const SLACK_HOSTS = ["hooks.slack.com"];

const slackOf = (integration: unknown) => integration as SlackIntegration;

registerFormat("slack", {
	render: ({ job, integration, resultUrl }) => slackResultMessage(job, slackOf(integration), resultUrl ?? undefined),
	carriesResult: true,
	linksResult: true,
	allowedHosts: SLACK_HOSTS,
});
registerFormat("slack-progress", {
	render: ({ job, integration, resultUrl }) => slackProgressMessage(job, slackOf(integration), resultUrl ?? undefined),
	linksResult: true,
});
registerFormat("slack-searching", {
	render: ({ integration, note }) => slackSearchingMessage(slackOf(integration), note),
});
