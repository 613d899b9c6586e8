/**
 * The `agent` adapter, the default: a job runs as an Agent API background run.
 * - create: `POST /v1/agent` with `background: true` (the request translated
 *   from the seeds' shape);
 * - read: `GET /v1/responses/{id}`;
 * - cancel: `POST /v1/responses/{id}/cancel`.
 *
 * The Agent API has no idempotency key, so a create whose answer was lost may
 * have started a run: such failures are marked `ambiguous`, and the job
 * bounds how often it retries them. A failure before anything was sent (a
 * refused connection) and an answer that says nothing was started (a 429, a
 * 503, any 4xx) are safe to retry or final.
 */
import { UpstreamError, type UpstreamFailure } from "../errors.ts";
import { type CallOptions, type CallSettings, callUpstream, failedBeforeSending, safeJson } from "../http.ts";
import type { UpstreamJob, UpstreamPort, UpstreamRun } from "../port.ts";
import { type AgentRequest, toAgentRequest } from "./request.ts";
import { readAgentRun } from "./response.ts";

export const AGENT_PATHS = {
	create: "/v1/agent",
	response: (id: string) => `/v1/responses/${encodeURIComponent(id)}`,
	cancel: (id: string) => `/v1/responses/${encodeURIComponent(id)}/cancel`,
} as const;

/** Answers that prove nothing was started: rate limited, unavailable, or refused. */
function provesNothingStarted(failure: UpstreamFailure): boolean {
	if (failure.kind === "network") return failedBeforeSending(failure.message);
	if (failure.kind !== "http" || failure.status === null) return false;
	return failure.status === 429 || failure.status === 503 || failure.status === 408 || failure.status < 500;
}

/**
 * @example
 * const upstream = agentAdapter({ ...settings, modelMap: {} });
 * const run = await upstream.create({ jobId, request: { model: "sonar-deep-research", messages } });
 * run.status // "queued"
 */
export function agentAdapter(
	settings: CallSettings & { modelMap: Readonly<Record<string, string>> },
	options: CallOptions = {},
): UpstreamPort {
	const context = (job: UpstreamJob) => ({
		model: job.surface === "agent" ? (job.request.model ?? job.request.preset ?? "") : job.request.model,
		apiKey: settings.upstreamApiKey,
		native: job.surface === "agent",
	});

	/** The request to send: an Agent-surface job's own (in background mode), or a Sonar one translated. */
	function requestOf(job: UpstreamJob): ReturnType<typeof toAgentRequest> {
		// Checked against the Agent API's own schema at the route; tool kinds the relay does not model pass as they are.
		if (job.surface === "agent") return { body: { ...job.request, background: true } as AgentRequest, issues: [] };
		return toAgentRequest(job.request, settings.modelMap);
	}

	return {
		api: "agent",
		// An Agent-surface request was validated against the Agent API's own schema at the route.
		check: (job) => (job.surface === "agent" ? [] : toAgentRequest(job.request, settings.modelMap).issues),

		async create(job) {
			const { body, issues } = requestOf(job);
			if (!body) {
				// Checked at submit; only a change of MODEL_MAP since then gets here.
				throw new UpstreamError({
					kind: "http",
					status: 422,
					retryable: false,
					retryAfterMs: null,
					message: `the request cannot run on the Agent API: ${issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; ")}`,
				});
			}
			let run: UpstreamRun;
			try {
				const answer = await callUpstream(
					settings,
					AGENT_PATHS.create,
					{ method: "POST", body: JSON.stringify(body) },
					options,
				);
				run = readAgentRun(safeJson(answer.text), context(job));
			} catch (error) {
				if (!(error instanceof UpstreamError)) throw error;
				throw new UpstreamError({ ...error.failure, ambiguous: !provesNothingStarted(error.failure) });
			}
			return run;
		},

		async read(job, upstreamId) {
			const answer = await callUpstream(settings, AGENT_PATHS.response(upstreamId), { method: "GET" }, options);
			return readAgentRun(safeJson(answer.text), context(job));
		},

		async cancel(upstreamId) {
			await callUpstream(settings, AGENT_PATHS.cancel(upstreamId), { method: "POST" }, options);
		},
	};
}
