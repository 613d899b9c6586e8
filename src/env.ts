/**
 * The Hono environment every router shares: the Worker's bindings, the settings read from them
 * (put on the context once per request, in app.ts) and the tenant the auth middleware found.
 */
import type { Settings } from "./config.ts";

export interface AppEnv {
	Bindings: Env;
	Variables: { tenant: string; settings: Settings };
}
