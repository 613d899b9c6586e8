/**
 * `GET /v1/results/{id}?expires=…&signature=…`: a job's result through a
 * signed link, the `result_url` of an event too large to carry its result and
 * the "full answer" link of a Slack message. The link is the credential (no
 * API key): it names one job and expires with its result (see
 * `delivery/result-link.ts`). The answer is the job as GET returns it on its
 * surface: a Sonar job, or an Agent API Response object.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { readResult } from "../cache.ts";
import { signingKeys } from "../config.ts";
import { checkResultLink } from "../delivery/result-link.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { storedJson } from "../http.ts";
import { RelayResponse } from "../schemas/agent.ts";
import { ErrorDetail, RelayJob } from "../schemas/relay.ts";
import { JobId, json, notFound } from "../schemas/route.ts";
import { jobStub } from "../stubs.ts";

/** A link is a credential: no cache along the way keeps the answer, and no page it is opened from learns it. */
const LINK_HEADERS = { "cache-control": "private, no-store", "referrer-policy": "no-referrer" };

const LinkedResult = z.union([RelayJob, RelayResponse]);

export const results = new OpenAPIHono<AppEnv>().openapi(
	createRoute({
		method: "get",
		path: "/{id}",
		tags: ["Deliveries"],
		summary: "A job's result through a signed link (an event's result_url)",
		description:
			"The link an event carries as `result_url` when its result was too large to push (over MAX_PUSH_BYTES), " +
			"and a Slack answer links to. The link is the credential: no API key. It names one job and expires " +
			"with its result. The answer is the job as GET returns it on its surface.",
		request: {
			params: JobId,
			query: z.object({
				expires: z
					.string()
					.openapi({ description: "Unix seconds; the link is refused after it.", example: "1764417600" }),
				signature: z.string().openapi({ description: "base64url HMAC-SHA256 of `<id>.<expires>`." }),
			}),
		},
		responses: {
			200: json(LinkedResult, "The job (Sonar surface) or the Response object (Agent surface)"),
			403: json(ErrorDetail, "A link that is not valid, or has expired", { detail: "This result link has expired" }),
			...notFound,
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { expires, signature } = c.req.valid("query");
		const check = await checkResultLink(signingKeys(c.get("settings")), id, expires, signature, Date.now());
		if (check === "expired") throw new ApiError(403, "This result link has expired");
		if (check !== "ok") throw new ApiError(403, "This result link is not valid");
		const stored = await readResult(c.env.RESULTS, id);
		if (stored) return storedJson(c, LinkedResult, stored.text, LINK_HEADERS);
		// Not in KV (yet): the first push of a result goes out before the KV write.
		const view = await jobStub(c.env, id).linkedView(id);
		if (!view) throw new ApiError(404, "Job not found");
		return c.json(view, 200, LINK_HEADERS);
	},
	// A link without its parts is a link that is not valid, not a validation error.
	(result) => {
		if (!result.success) throw new ApiError(403, "This result link is not valid");
		return undefined;
	},
);
