/** The front door, liveness, the tenant's webhook signing secret, and its usage against its limits. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { tenantSecret } from "../delivery/sign.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { requireTenant } from "../middleware.ts";
import { TenantUsageReport, WebhookSecret } from "../schemas/relay.ts";
import { errors, json, security } from "../schemas/route.ts";
import { tenantStub } from "../stubs.ts";
import { limitsFor, startOfUtcDay } from "../tenant/limits.ts";
import { upstreamPort } from "../upstream/index.ts";
import { VERSION } from "../version.ts";

export const meta = new OpenAPIHono<AppEnv>();

// The front door: a person who opens the relay's URL lands on the dashboard (which links the API docs).
meta.get("/", (c) => c.redirect("/dashboard", 302));

meta.openapi(
	createRoute({
		method: "get",
		path: "/healthz",
		tags: ["Operations"],
		summary: "Liveness",
		responses: {
			200: json(
				z.object({
					ok: z.boolean(),
					version: z.string(),
					upstream_api: z
						.enum(["agent", "sonar"])
						.openapi({ description: "The upstream API jobs run on (`UPSTREAM_API`)." }),
				}),
				"Alive",
				{ ok: true, version: VERSION, upstream_api: "agent" },
			),
		},
	}),
	(c) => c.json({ ok: true, version: VERSION, upstream_api: upstreamPort(c.get("settings")).api }, 200),
);

meta.openapi(
	createRoute({
		method: "get",
		path: "/v1/webhook-secret",
		tags: ["Deliveries"],
		summary: "This tenant's Standard Webhooks signing secret",
		security,
		middleware: [requireTenant] as const,
		responses: { 200: json(WebhookSecret, "The secret (and the next one during a rotation)"), 401: errors[401] },
	}),
	async (c) => {
		const tenant = c.get("tenant");
		const { webhookSigningKey, webhookSigningKeyNext } = c.get("settings");
		if (!webhookSigningKey) throw new ApiError(503, "WEBHOOK_SIGNING_KEY is not configured");
		return c.json(
			{
				secret: await tenantSecret(webhookSigningKey, tenant),
				// Present only during a key rotation: deliveries are signed with both.
				...(webhookSigningKeyNext ? { next_secret: await tenantSecret(webhookSigningKeyNext, tenant) } : {}),
			},
			200,
		);
	},
);

meta.openapi(
	createRoute({
		method: "get",
		path: "/v1/usage",
		tags: ["Deliveries"],
		summary: "This tenant's limits (TENANT_LIMITS) and what it has used against them",
		security,
		middleware: [requireTenant] as const,
		responses: { 200: json(TenantUsageReport, "Limits (null: none) and usage"), 401: errors[401] },
	}),
	async (c) => {
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
		return c.json(report, 200);
	},
);
