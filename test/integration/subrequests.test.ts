/**
 * Cloudflare caps the subrequests of one invocation (fetches, KV operations, calls into other Durable
 * Objects): 50 on the Free plan. Local workerd enforces no cap, so this file counts them for real: the
 * Job DO's bindings and `fetch` are wrapped, and every alarm run's count is kept. A job that fans out to
 * 60 REST-hook subscriptions, each failing once, must stay within `SUBREQUEST_BUDGET` (40) in every run,
 * where 32 actions a run, two subrequests each for the retries, would have made 64.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { Job } from "../../src/job/job.ts";
import { TENANT_FANOUT } from "./constants.ts";
import { createJob, inboxEvents, inboxUrl, unique } from "./helpers.ts";

const SUBSCRIPTIONS = 60;
/** The default `SUBREQUEST_BUDGET` (the tests leave it as wrangler.toml sets it). */
const BUDGET = 40;

/** Counts what goes out of one object: KV calls, calls on other Durable Objects' stubs, and fetches. */
class Meter {
	counting = false;
	count = 0;
	readonly runs: number[] = [];

	tick(): void {
		if (this.counting) this.count++;
	}

	/** `target` with each method call counted. */
	calls<T extends object>(target: T): T {
		return new Proxy(target, {
			get: (object, key) => {
				const value = Reflect.get(object, key) as unknown;
				if (typeof value !== "function") return value;
				return (...args: unknown[]) => {
					this.tick();
					// Reflect.apply: on an RPC stub, `.apply` would itself be a remote method.
					return Reflect.apply(value as (...a: unknown[]) => unknown, object, args);
				};
			},
		});
	}

	/** The Worker's env as the Job DO sees it, with every KV call and Durable Object call counted. */
	bindings(real: Env): Env {
		return new Proxy(real, {
			get: (object, key) => {
				const binding = Reflect.get(object, key) as unknown;
				if (!binding || typeof binding !== "object") return binding;
				if ("idFromName" in binding) {
					const namespace = binding as DurableObjectNamespace;
					return new Proxy(namespace, {
						get: (ns, name) => {
							const value = Reflect.get(ns, name) as unknown;
							if (name === "get") return (...args: Parameters<typeof ns.get>) => this.calls(ns.get(...args));
							return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(ns) : value;
						},
					});
				}
				if ("getWithMetadata" in binding) return this.calls(binding as KVNamespace);
				return binding;
			},
		});
	}
}

const realFetch = globalThis.fetch;
afterEach(() => {
	globalThis.fetch = realFetch;
});

describe("the subrequests of one invocation", () => {
	it("stay within SUBREQUEST_BUDGET while a job fans out to 60 subscriptions that each fail once", async () => {
		const index = env.TENANTS.get(env.TENANTS.idFromName(TENANT_FANOUT.tenant));
		const names = Array.from({ length: SUBSCRIPTIONS }, () => unique("fan"));
		for (const name of names) {
			// The route allows the tests 5 subscriptions; the index takes its cap from the caller.
			const made = await index.createHook(inboxUrl(name, "fail=1&status=503"), "async_chat_completion.*", 100);
			expect(made.ok).toBe(true);
		}

		// The object is patched before the job exists (its id comes from the idempotency key), so every run is counted.
		const meter = new Meter();
		globalThis.fetch = (...args: Parameters<typeof fetch>) => {
			meter.tick();
			return realFetch(...args);
		};
		const key = unique("fanout");
		const stub = env.JOBS.get(env.JOBS.idFromName(`${TENANT_FANOUT.tenant}:${key}`)) as DurableObjectStub<Job>;
		await runInDurableObject(stub, (instance: Job) => {
			const object = instance as unknown as { env: Env; run(...args: unknown[]): Promise<void> };
			object.env = meter.bindings(object.env);
			const run = object.run.bind(instance);
			object.run = async (...args: unknown[]) => {
				meter.counting = true;
				meter.count = 0;
				try {
					await run(...args);
				} finally {
					meter.counting = false;
					meter.runs.push(meter.count);
				}
			};
		});
		const created = await createJob({ idempotencyKey: key }, TENANT_FANOUT.key);
		expect(created.id.startsWith(`${stub.id.toString()}-`)).toBe(true);

		// Until every subscription has its event (the failed attempt, then the retry), bounded.
		const delivered = async () => {
			const report = await stub.deliveries(TENANT_FANOUT.tenant);
			return (report?.events ?? []).filter((e) => e.status === "delivered").length;
		};
		for (let round = 0; round < 300 && (await delivered()) < SUBSCRIPTIONS; round++) {
			await runDurableObjectAlarm(stub);
			await scheduler.wait(20);
		}
		expect(await delivered()).toBe(SUBSCRIPTIONS);
		for (const name of names.slice(0, 5)) expect(await inboxEvents(name)).toHaveLength(2);

		// Runs were counted, none went past the budget, and the fan-out needed several.
		expect(meter.runs.length).toBeGreaterThan(3);
		expect(Math.max(...meter.runs), `subrequests per run: ${meter.runs.join(", ")}`).toBeLessThanOrEqual(BUDGET);
		expect(meter.runs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(SUBSCRIPTIONS * 3);
	});
});
