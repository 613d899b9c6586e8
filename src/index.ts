/** Worker entry: the Hono app, the sweeper's cron handler, and the Durable Object classes wrangler.toml binds. */
import { app } from "./app.ts";
// Integrations register their delivery formats, which the Job DO renders by name.
import "./integrations/slack/message.ts";
import { scheduled } from "./sweeper/scheduled.ts";

export { Job } from "./job/job.ts";
export { SweepRegistry } from "./sweeper/registry.ts";
export { Tenant } from "./tenant/tenant.ts";
export { UpstreamGate } from "./upstream/gate.ts";

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
