/**
 * A Slack command's job, as the job core stores it: where its messages go, the fields its formats
 * read, and which messages are due when. The core reads only the generic part (`JobIntegration`);
 * the schedule below is Slack's, set here as data when the command is submitted.
 */
import type { JobIntegration } from "../../job/state.ts";

/**
 * Slack's `response_url` takes posts for 30 minutes only. A job still running near the end of that
 * window posts a notice with a link to where its answer will be, while it still can; a job that
 * settles first drops the notice.
 */
export const SLACK_NOTICE_AFTER_MS = 25 * 60_000;

/** A Slack slash command's job: the final result is posted to `response_url` as Block Kit. */
export interface SlackIntegration extends JobIntegration {
	kind: "slack";
	responseType: "in_channel" | "ephemeral";
	question: string;
	/** The full result is at this base plus the job id: the link for answers cut to fit Slack's limits. */
	resultBaseUrl: string | null;
}

/**
 * A Slack command's integration: the answer in format `slack`, a `slack-progress` notice at 25
 * minutes, and one `slack-searching` message the first time the run searches.
 *
 * @example
 * slackIntegration({ responseUrl, responseType: "in_channel", question: "…", resultBaseUrl: null }).notice
 * // { format: "slack-progress", afterMs: 1_500_000 }
 */
export function slackIntegration(
	fields: Pick<SlackIntegration, "responseUrl" | "responseType" | "question" | "resultBaseUrl">,
): SlackIntegration {
	return {
		kind: "slack",
		...fields,
		notice: { format: "slack-progress", afterMs: SLACK_NOTICE_AFTER_MS },
		progress: { format: "slack-searching", stage: "searching" },
	};
}
