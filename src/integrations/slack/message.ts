/**
 * The Slack message for a settled job: the answer as Block Kit (with its
 * sources), or an ephemeral error. Pure: the Job DO sends what this returns to
 * the command's `response_url`.
 */
import type { JobState, SlackIntegration } from "../../job/machine.ts";
import { messageText } from "../../schemas/content.ts";
import type { ProgressNote } from "../../upstream/port.ts";
import { answerMessage, errorMessage, type SlackMessage, type Source } from "./blocks.ts";
import { escapeEntities, slackLink } from "./mrkdwn.ts";

/** The answer's sources: `search_results` when upstream gave them, else the bare `citations`. */
export function sourcesOf(state: Pick<JobState, "response">): Source[] {
	const results = state.response?.search_results ?? [];
	if (results.length > 0) return results.map((r) => ({ title: r.title, url: r.url }));
	return (state.response?.citations ?? []).map((url) => ({ url }));
}

/** The text of the first choice, when it is text. */
export function answerText(state: Pick<JobState, "response">): string {
	return messageText(state.response?.choices[0]?.message.content);
}

/**
 * Where the full result is, for a link in a message: `resultUrl` (a signed link anyone in the
 * channel can open) when the relay made one, else the job's API URL (jobs stored before signed links).
 */
function resultLinkOf(state: Pick<JobState, "spec">, slack: SlackIntegration, resultUrl?: string): string | undefined {
	if (resultUrl) return resultUrl;
	return slack.resultBaseUrl ? `${slack.resultBaseUrl}${state.spec.id}` : undefined;
}

/**
 * The answer as Block Kit. However long the answer, the message stays within Slack's limits (50
 * blocks, a bounded prefix of the answer read): a longer one is cut, with a link to the full result.
 *
 * @example
 * slackResultMessage(state, state.spec.integration, resultUrl) // { response_type: "in_channel", blocks: [...] }
 */
export function slackResultMessage(
	state: Pick<JobState, "status" | "response" | "errorMessage" | "spec">,
	slack: SlackIntegration,
	resultUrl?: string,
): SlackMessage {
	const answer = answerText(state);
	if (state.status !== "COMPLETED" || !answer) {
		return errorMessage(slack.question, state.errorMessage ?? "the research job failed");
	}
	return answerMessage({
		question: slack.question,
		answerMarkdown: answer,
		sources: sourcesOf(state),
		resultUrl: resultLinkOf(state, slack, resultUrl),
		responseType: slack.responseType,
		model: state.spec.model,
	});
}

/**
 * Posted while `response_url` still works, for a job that may outlive it: the
 * answer may not reach Slack, so say where it will be.
 */
export function slackProgressMessage(
	state: Pick<JobState, "spec">,
	slack: SlackIntegration,
	resultUrl?: string,
): SlackMessage {
	const question = escapeEntities(slack.question.slice(0, 200));
	const link = resultLinkOf(state, slack, resultUrl);
	const where = link ? slackLink(link, "the job's result") : `job \`${state.spec.id}\``;
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
