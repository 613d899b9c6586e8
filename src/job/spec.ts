/**
 * A new job's spec, from what its surface's create took (`CreateJobInput`, the Job DO's `create`
 * parameter), and what the upstream port is asked to run for it.
 */
import { DEFAULT_RESPONSE_CALLBACK_EVENTS, type ResponseCreateParams } from "../schemas/agent.ts";
import { type CreateJobBody, DEFAULT_CALLBACK_EVENTS } from "../schemas/relay.ts";
import type { UpstreamJob } from "../upstream/port.ts";
import type { JobIntegration, JobSpec } from "./state.ts";

export type CreateJobInput = {
	id: string;
	tenant: string;
	bodyHash: string;
	integration?: JobIntegration | null;
	/** The relay's origin as the caller reached it, for links to the result. */
	origin?: string | null;
	/**
	 * Leave the upstream create to the alarm and answer at once (Slack wants an
	 * answer within 3 s); an upstream rejection then fails the job instead.
	 */
	deferUpstream?: boolean;
} & ({ surface?: "sonar"; body: CreateJobBody } | { surface: "agent"; body: ResponseCreateParams });

/** What the upstream port is asked to run for a job. */
export function upstreamJobOf(spec: JobSpec): UpstreamJob {
	return spec.surface === "agent"
		? { jobId: spec.id, surface: "agent", request: spec.request }
		: { jobId: spec.id, surface: "sonar", request: spec.request };
}

/** A new job's spec, from what its surface's create took. */
export function specOf(input: CreateJobInput, now: number): JobSpec {
	const common = {
		id: input.id,
		tenant: input.tenant,
		createdAtMs: now,
		bodyHash: input.bodyHash,
		integration: input.integration ?? null,
		origin: input.origin ?? null,
	};
	if (input.surface === "agent") {
		const { callback_url, callback_events, ...request } = input.body;
		return {
			...common,
			surface: "agent",
			model: request.model ?? request.preset ?? request.models?.[0] ?? "",
			request,
			callbackUrl: callback_url ?? null,
			callbackEvents: callback_events ?? DEFAULT_RESPONSE_CALLBACK_EVENTS,
			metadata: request.metadata ?? null,
		};
	}
	const { body } = input;
	return {
		...common,
		model: body.request.model,
		request: body.request,
		callbackUrl: body.callback_url ?? null,
		callbackEvents: body.callback_events ?? DEFAULT_CALLBACK_EVENTS,
		metadata: body.metadata ?? null,
	};
}
