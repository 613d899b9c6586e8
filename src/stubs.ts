/**
 * Typed stubs for the Durable Objects the Worker calls: the Job, the Tenant index and the Upstream
 * Gate. Workers' RPC types map each method's result through `Rpc.Result`, which turns any object
 * with an open index signature (the schemas' loose objects, `metadata`) into `never`, so a result
 * such as `{ ok: true; job: JobView }` loses its success branch. These stubs declare each method
 * with its own return type, once, instead of a cast at every call site.
 */
import { ApiError } from "./errors.ts";
import { objectIdOf } from "./job/id.ts";
import type { Job } from "./job/job.ts";
import type { Tenant } from "./tenant/tenant.ts";
import type { UpstreamGate } from "./upstream/gate.ts";

/**
 * A Durable Object's public methods as RPC serves them: each async, resolving to what the class
 * declares (RPC clones plain data, so the declared type is the received one).
 */
export type TypedStub<T> = {
	[K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
		? (...args: A) => Promise<Awaited<R>>
		: never;
};

/**
 * The Job DO of a job id; a malformed or foreign id is a 404, never a 500.
 *
 * @example
 * const report = await jobStub(c.env, id).deliveries(tenant, "sonar", id); // DeliveryReport | null
 */
export function jobStub(env: Env, id: string): TypedStub<Job> {
	const objectId = objectIdOf(id);
	let doId: DurableObjectId;
	try {
		if (!objectId) throw new Error("not a job id");
		doId = env.JOBS.idFromString(objectId);
	} catch {
		throw new ApiError(404, "Job not found");
	}
	return typed<Job>(env.JOBS.get(doId));
}

/**
 * The Job DO a new job lives in: named by its idempotency key, or a fresh one.
 *
 * @example
 * const result = await newJobStub(env, doId).create(input); // CreateJobResult
 */
export function newJobStub(env: Env, doId: DurableObjectId): TypedStub<Job> {
	return typed<Job>(env.JOBS.get(doId));
}

/**
 * A tenant's index (its Tenant DO).
 *
 * @example
 * const hooks = await tenantStub(c.env, tenant).listHooks(); // Hook[]
 */
export function tenantStub(env: Env, tenant: string): TypedStub<Tenant> {
	return typed<Tenant>(env.TENANTS.get(env.TENANTS.idFromName(tenant)));
}

/**
 * The Upstream Gate of `name` (one per upstream account).
 *
 * @example
 * const gate = gateStub(env, UPSTREAM_GATE_NAME);
 */
export function gateStub(env: Env, name: string): TypedStub<UpstreamGate> {
	return typed<UpstreamGate>(env.GATES.get(env.GATES.idFromName(name)));
}

/** The one place the RPC result types are restated: a stub forwards each call and clones the plain result. */
function typed<T>(stub: DurableObjectStub): TypedStub<T> {
	return stub as unknown as TypedStub<T>;
}
