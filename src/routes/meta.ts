/** The front door, liveness, the tenant's webhook signing secret, and its usage against its limits. */
import { Hono } from "hono";
import { tenantSecret } from "../delivery/sign.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { requireTenant } from "../middleware.ts";
import type { TenantUsageReport } from "../schemas/relay.ts";
import { tenantStub } from "../stubs.ts";
import { limitsFor, startOfUtcDay } from "../tenant/limits.ts";
import { upstreamPort } from "../upstream/port.ts";
import { VERSION } from "../version.ts";

export const meta = new Hono<AppEnv>()
	// The front door: a person who opens the relay's URL lands on the dashboard (which links the API docs).
	.get("/", (c) => c.redirect("/dashboard", 302))
	.get("/healthz", (c) => c.json({ ok: true, version: VERSION, upstream_api: upstreamPort(c.get("settings")).api }))

	.get("/v1/webhook-secret", requireTenant, async (c) => {
		const tenant = c.get("tenant");
		const { webhookSigningKey, webhookSigningKeyNext } = c.get("settings");
		if (!webhookSigningKey) throw new ApiError(503, "WEBHOOK_SIGNING_KEY is not configured");
		return c.json({
			secret: await tenantSecret(webhookSigningKey, tenant),
			// Present only during a key rotation: deliveries are signed with both.
			...(webhookSigningKeyNext ? { next_secret: await tenantSecret(webhookSigningKeyNext, tenant) } : {}),
		});
	})

	.get("/v1/usage", requireTenant, async (c) => {
		const tenant = c.get("tenant");
		const limits = limitsFor(c.get("settings").tenantLimits, tenant);
		const now = Date.now();
		const usage = await tenantStub(c.env, tenant).usage(now);
		const report: TenantUsageReport = {
			tenant,
			limits: {
				max_in_flight: limits.max_in_flight ?? null,
				creates_per_minute: limits.creates_per_minute ?? null,
				daily_cost_usd: limits.daily_cost_usd ?? null,
			},
			usage: { ...usage, cost_today_usd: Math.round(usage.cost_today_usd * 1e6) / 1e6 },
			day_resets_at: new Date(startOfUtcDay(now) + 86_400_000).toISOString(),
		};
		return c.json(report);
	});
