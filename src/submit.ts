/**
 * Submitting a job: the one path every entry point takes (the Perplexity-
 * compatible create, the flat `/v1/ask`, the Slack command, and the Agent
 * surface's create). It asks the upstream port what it cannot run, checks the
 * callback URL, picks the Job DO (by idempotency key when there is one), and
 * lets the DO store the job and create it upstream.
 */
import { readSettings } from "./config.ts";
import { sha256Hex } from "./crypto.ts";
import { checkCallbackUrl } from "./delivery/url-guard.ts";
import { ApiError, RequestValidationError } from "./errors.ts";
import { canonicalJson } from "./http.ts";
import { newJobId } from "./job/id.ts";
import type { CreateJobInput, JobIntegration, JobView } from "./job/job.ts";
import type { RelayResponse, ResponseCreateParams } from "./schemas/agent.ts";
import type { CreateJobBody, RelayJob } from "./schemas/relay.ts";
import { validationError } from "./schemas/validation.ts";
import { newJobStub } from "./stubs.ts";
import { upstreamPort } from "./upstream/index.ts";
import type { UpstreamCheck } from "./upstream/port.ts";

export interface SubmitOptions {
	/** Where the body's fields sit in the caller's request, for 422 `loc`s. @default ["body"] */
	locPrefix?: (string | number)[];
	/**
	 * Where a field of `request` sits in the caller's own body, for the upstream port's 422s (the flat
	 * `/v1/ask` has `model` and `query` where the Sonar body has `request.model` and `request.messages`).
	 * @default [...locPrefix, "request", ...loc]
	 */
	requestLoc?: (loc: (string | number)[]) => (string | number)[];
	/** Delivery through an integration (Slack's response_url) instead of Standard Webhooks. */
	integration?: JobIntegration;
	/** Answer before the upstream create; the job's alarm makes it. */
	deferUpstream?: boolean;
	/** The relay's origin as the caller reached it, for signed links to the result. @default null */
	origin?: string;
}

/**
 * @example
 * const job = await submitJob(c.env, tenant, body);
 */
export async function submitJob(
	env: Env,
	tenant: string,
	body: CreateJobBody,
	options: SubmitOptions = {},
): Promise<RelayJob> {
	const locPrefix = options.locPrefix ?? ["body"];
	const where = options.requestLoc ?? ((loc: (string | number)[]) => [...locPrefix, "request", ...loc]);
	const job = await submit(env, tenant, {
		surface: "sonar",
		body,
		check: { surface: "sonar", request: body.request },
		where,
		callbackLoc: [...locPrefix, "callback_url"],
		idempotencyKey: body.idempotency_key ? `${tenant}:${body.idempotency_key}` : null,
		options,
	});
	return job as RelayJob;
}

/**
 * A run from the Agent surface (`POST /v1/agent`, `POST /v1/responses`): the Agent API request,
 * sent upstream as it is, plus the push fields. `idempotencyKey` comes from the `Idempotency-Key`
 * header (the Agent API's body has no such field).
 *
 * @example
 * const response = await submitRun(c.env, tenant, body, c.req.header("idempotency-key") ?? null);
 */
export async function submitRun(
	env: Env,
	tenant: string,
	body: ResponseCreateParams,
	idempotencyKey: string | null,
	origin?: string,
): Promise<RelayResponse> {
	const { callback_url: _url, callback_events: _events, ...request } = body;
	const job = await submit(env, tenant, {
		surface: "agent",
		body,
		check: { surface: "agent", request },
		where: (loc) => ["body", ...loc],
		callbackLoc: ["body", "callback_url"],
		// Apart from the Sonar surface's keys: the same key on both surfaces names two jobs.
		idempotencyKey: idempotencyKey ? `${tenant}:responses:${idempotencyKey}` : null,
		options: { origin },
	});
	return job as RelayResponse;
}

interface Submission {
	surface: "sonar" | "agent";
	body: CreateJobBody | ResponseCreateParams;
	check: UpstreamCheck;
	where: (loc: (string | number)[]) => (string | number)[];
	callbackLoc: (string | number)[];
	/** The Job DO's name when the caller gave an idempotency key. */
	idempotencyKey: string | null;
	options: SubmitOptions;
}

async function submit(env: Env, tenant: string, submission: Submission): Promise<JobView> {
	const settings = readSettings(env);
	const { body, options } = submission;
	// What upstream cannot run is refused now, in the caller's request, never failed later.
	const issues = upstreamPort(settings).check(submission.check);
	if (issues.length > 0) {
		throw new RequestValidationError({
			detail: issues.map((issue) => ({ ...issue, loc: submission.where(issue.loc) })),
		});
	}
	if (body.callback_url) {
		const check = checkCallbackUrl(body.callback_url, { allowPrivate: settings.allowPrivateCallbacks });
		if (!check.ok) throw new RequestValidationError(validationError(submission.callbackLoc, check.reason));
		// Never an unsigned push: without the key, a job with a callback is refused before it is stored.
		if (!settings.webhookSigningKey) throw unsignedError();
	}
	const key = submission.idempotencyKey;
	const doId = key ? env.JOBS.idFromName(key) : env.JOBS.newUniqueId();
	const common = {
		// A replay answers the stored job's id; a new job under a used key (the first retired) gets its own.
		id: newJobId(doId.toString(), key !== null),
		tenant,
		bodyHash: await sha256Hex(
			canonicalJson({ surface: submission.surface, body, integration: options.integration ?? null }),
		),
		integration: options.integration ?? null,
		deferUpstream: options.deferUpstream ?? false,
		origin: options.origin ?? null,
	};
	const input: CreateJobInput =
		submission.surface === "agent"
			? { ...common, surface: "agent", body: body as ResponseCreateParams }
			: { ...common, surface: "sonar", body: body as CreateJobBody };
	const result = await newJobStub(env, doId).create(input);
	if (!result.ok) {
		const retryAfter = result.retryAfterMs
			? { "retry-after": String(Math.ceil(result.retryAfterMs / 1000)) }
			: undefined;
		throw new ApiError(result.status, result.detail, retryAfter);
	}
	return result.job;
}

/**
 * The 503 for work that would push an event while the relay has no signing key.
 *
 * @example
 * if (!settings.webhookSigningKey) throw unsignedError();
 */
export function unsignedError(): ApiError {
	return new ApiError(
		503,
		"the relay cannot sign webhooks: its operator has not set WEBHOOK_SIGNING_KEY, so it pushes no events (a job without callback_url still runs)",
	);
}
