/**
 * `GET /v1/stats?window=1h|24h|7d`: the numbers behind the dashboard's Operations tab, for the
 * caller's tenant only: jobs per hour (the last 24 h), counts over the window (accepted, completed,
 * failed, cancelled, dead-lettered) and push lag p50/p99 per hour. The tenant index computes them
 * with bounded queries (see `tenant/stats.ts`).
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { requireTenant } from "../middleware.ts";
import { OpsStats, StatsQuery } from "../schemas/ops.ts";
import { errors, json, security } from "../schemas/route.ts";
import { tenantStub } from "../stubs.ts";

export const stats = new OpenAPIHono<AppEnv>().openapi(
	createRoute({
		method: "get",
		path: "/",
		tags: ["Operations"],
		summary: "Jobs per hour, counts over a window, and push lag percentiles (relay extension)",
		description:
			"This tenant's numbers for the dashboard's Operations tab. Each of the three queries behind them reads at " +
			"most `scan.max_rows` rows of the tenant's index, the newest first.",
		security,
		middleware: [requireTenant] as const,
		request: { query: StatsQuery },
		responses: { 200: json(OpsStats, "The numbers"), ...errors },
	}),
	async (c) => c.json(await tenantStub(c.env, c.get("tenant")).stats(c.req.valid("query").window), 200),
);
