/**
 * The middleware every request passes through: the settings read from the Worker's env, put on the
 * context once (`c.get("settings")`), and the one auth check, which puts the tenant behind the API
 * key there (`c.get("tenant")`). Kept apart from auth.ts, which Node-side tools import.
 */
import { createMiddleware } from "hono/factory";
import { authenticate } from "./auth.ts";
import { readSettings } from "./config.ts";
import type { AppEnv } from "./env.ts";

/**
 * Reads the settings once per request (after app.ts has refused public example secrets).
 *
 * @example
 * app.use("*", withSettings); // then c.get("settings").maxBodyBytes
 */
export const withSettings = createMiddleware<AppEnv>(async (c, next) => {
	c.set("settings", readSettings(c.env ?? {}));
	await next();
});

/**
 * The one auth middleware: the tenant behind `Authorization: Bearer <key>` on the context, or a
 * 401 (a 503 when the `KEYS` namespace cannot be read).
 *
 * @example
 * export const hooks = new OpenAPIHono<AppEnv>().use(requireTenant);
 */
export const requireTenant = createMiddleware<AppEnv>(async (c, next) => {
	c.set("tenant", await authenticate(c.env, c.req.header("authorization")));
	await next();
});
