/** Worker entry: the Hono app, and the Durable Object classes wrangler.toml binds. */
import { app } from "./app.ts";

export { Job } from "./job/job.ts";
export { Tenant } from "./tenant/tenant.ts";
export { UpstreamGate } from "./upstream/gate.ts";

export default app satisfies ExportedHandler<Env>;
