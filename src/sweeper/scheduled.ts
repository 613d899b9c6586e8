/**
 * The cron trigger's handler (`[triggers] crons` in wrangler.toml): one call to the sweeper's
 * registry, which re-arms every unsettled job whose alarm is missing or overdue, a bounded step at
 * a time (see `registry.ts`). `wrangler dev` does not fire crons by itself:
 * `curl "http://127.0.0.1:8787/cdn-cgi/local/scheduled"` does.
 */
import { parseApiKeys } from "../auth.ts";
import { emit } from "../log.ts";
import type { SweepStep } from "./registry.ts";
import { SWEEP_REGISTRY_NAME } from "./tenant-sweep.ts";

/**
 * @example
 * export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
 */
export async function scheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
	await sweepOnce(env);
}

/** Runs one step of the sweep (starting a pass when none is under way) and says what it did. */
export async function sweepOnce(env: Env): Promise<SweepStep> {
	const registry = env.SWEEPER.get(env.SWEEPER.idFromName(SWEEP_REGISTRY_NAME));
	// The tenants with API keys: visited once even if none of their jobs registered (jobs accepted before the sweeper).
	const seed = [...new Set(parseApiKeys(env.API_KEYS ?? "").map((entry) => entry.tenant))];
	try {
		return (await registry.sweep(seed)) as SweepStep;
	} catch (error) {
		emit({
			level: "error",
			event: "sweeper.failed",
			error: error instanceof Error ? error.name : "unknown",
			message: error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200),
		});
		throw error;
	}
}
