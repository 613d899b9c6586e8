/**
 * Submitting a job: the one path every entry point takes (the Perplexity-
 * compatible create, the flat `/v1/ask`, the Slack command). It asks the
 * upstream port what it cannot run, checks the callback URL, picks the Job DO (by idempotency key when there is one), and
 * lets the DO store the job and create it upstream.
 */
import { readSettings } from "./config.ts";
import { checkCallbackUrl } from "./delivery/url-guard.ts";
import { ApiError, RequestValidationError } from "./errors.ts";
import { canonicalJson, sha256Hex } from "./http.ts";
import type { CreateJobResult, JobIntegration } from "./job/job.ts";
import type { CreateJobBody, RelayJob } from "./schemas/relay.ts";
import { validationError } from "./schemas/validation.ts";
import { upstreamPort } from "./upstream/port.ts";

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
	const settings = readSettings(env);
	const locPrefix = options.locPrefix ?? ["body"];
	// What upstream cannot run is refused now, in the caller's request, never failed later.
	const issues = upstreamPort(settings).check(body.request);
	if (issues.length > 0) {
		const where = options.requestLoc ?? ((loc) => [...locPrefix, "request", ...loc]);
		throw new RequestValidationError({ detail: issues.map((issue) => ({ ...issue, loc: where(issue.loc) })) });
	}
	if (body.callback_url) {
		const check = checkCallbackUrl(body.callback_url, { allowPrivate: settings.allowPrivateCallbacks });
		if (!check.ok) {
			throw new RequestValidationError(validationError([...locPrefix, "callback_url"], check.reason));
		}
	}
	const key = body.idempotency_key;
	const doId = key ? env.JOBS.idFromName(`${tenant}:${key}`) : env.JOBS.newUniqueId();
	const result = (await env.JOBS.get(doId).create({
		id: doId.toString(),
		tenant,
		body,
		bodyHash: await sha256Hex(canonicalJson({ body, integration: options.integration ?? null })),
		integration: options.integration ?? null,
		deferUpstream: options.deferUpstream ?? false,
	})) as CreateJobResult;
	if (!result.ok) throw new ApiError(result.status, result.detail);
	return result.job;
}
