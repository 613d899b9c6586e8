/** Liveness and the tenant's webhook signing secret. */
import { Hono } from "hono";
import { authenticate } from "../auth.ts";
import { readSettings } from "../config.ts";
import { tenantSecret } from "../delivery/sign.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { upstreamPort } from "../upstream/port.ts";
import { VERSION } from "../version.ts";

export const meta = new Hono<AppEnv>()
	.get("/healthz", (c) => c.json({ ok: true, version: VERSION, upstream_api: upstreamPort(readSettings(c.env)).api }))

	.get("/v1/webhook-secret", async (c) => {
		const tenant = await authenticate(c.env.API_KEYS, c.req.header("authorization"));
		const { webhookSigningKey, webhookSigningKeyNext } = readSettings(c.env);
		if (!webhookSigningKey) throw new ApiError(503, "WEBHOOK_SIGNING_KEY is not configured");
		return c.json({
			secret: await tenantSecret(webhookSigningKey, tenant),
			// Present only during a key rotation: deliveries are signed with both.
			...(webhookSigningKeyNext ? { next_secret: await tenantSecret(webhookSigningKeyNext, tenant) } : {}),
		});
	});
