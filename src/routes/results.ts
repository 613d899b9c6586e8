/**
 * `GET /v1/results/{id}?expires=…&signature=…`: a job's result through a
 * signed link, the `result_url` of an event too large to carry its result and
 * the "full answer" link of a Slack message. The link is the credential (no
 * API key): it names one job and expires with its result (see
 * `delivery/result-link.ts`). The answer is the job as GET returns it on its
 * surface: a Sonar job, or an Agent API Response object.
 */
import { Hono } from "hono";
import { readResult } from "../cache.ts";
import { signingKeys } from "../config.ts";
import { checkResultLink } from "../delivery/result-link.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { jobStub } from "../stubs.ts";

/** A link is a credential: no cache along the way keeps the answer, and no page it is opened from learns it. */
const LINK_HEADERS = { "cache-control": "private, no-store", "referrer-policy": "no-referrer" };

export const results = new Hono<AppEnv>().get("/:id", async (c) => {
	const id = c.req.param("id");
	const check = await checkResultLink(
		signingKeys(c.get("settings")),
		id,
		c.req.query("expires"),
		c.req.query("signature"),
		Date.now(),
	);
	if (check === "expired") throw new ApiError(403, "This result link has expired");
	if (check !== "ok") throw new ApiError(403, "This result link is not valid");
	const stored = await readResult(c.env.RESULTS, id);
	if (stored) return c.body(stored.text, 200, { ...LINK_HEADERS, "content-type": "application/json" });
	// Not in KV (yet): the first push of a result goes out before the KV write.
	const view = await jobStub(c.env, id).linkedView(id);
	if (!view) throw new ApiError(404, "Job not found");
	return c.json(view, 200, LINK_HEADERS);
});
