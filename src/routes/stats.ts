/**
 * `GET /v1/stats?window=1h|24h|7d`: the numbers behind the dashboard's Operations tab, for the
 * caller's tenant only: jobs per hour (the last 24 h), counts over the window (accepted, completed,
 * failed, cancelled, dead-lettered) and push lag p50/p99 per hour. The tenant index computes them
 * with bounded queries (see `tenant/stats.ts`).
 */
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { validate } from "../http.ts";
import { requireTenant } from "../middleware.ts";
import { StatsQuery } from "../schemas/ops.ts";
import { tenantStub } from "../stubs.ts";

export const stats = new Hono<AppEnv>().get("/", requireTenant, async (c) => {
	const tenant = c.get("tenant");
	const { window } = validate(StatsQuery, c.req.query(), "query");
	const report = await tenantStub(c.env, tenant).stats(window);
	return c.json(report, 200);
});
