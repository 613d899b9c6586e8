/**
 * The KV result cache: `result:<jobId>` holds a settled job as GET returns it
 * (a Sonar job, or an Agent-surface run's Response), with `expirationTtl` =
 * RESULT_TTL_SECONDS and the owning tenant and the surface in its metadata. GET reads here first, and checks the tenant: a key from another
 * tenant is a miss, never a leak.
 */
import type { RelayResponse } from "./schemas/agent.ts";
import type { RelayJob } from "./schemas/relay.ts";

interface ResultMetadata {
	tenant: string;
	/** The surface the job was submitted on: a run's Response is not a Sonar job, nor the other way round. @default "sonar" */
	surface?: "sonar" | "agent";
}

export const resultKey = (jobId: string) => `result:${jobId}`;

/**
 * @example
 * await putResult(env.RESULTS, job, "acme", 604800);
 */
export async function putResult(
	kv: KVNamespace,
	job: RelayJob | RelayResponse,
	tenant: string,
	ttlSeconds: number,
): Promise<void> {
	const surface = job.object === "response" ? "agent" : "sonar";
	await kv.put(resultKey(job.id), JSON.stringify(job), {
		expirationTtl: Math.max(60, ttlSeconds),
		metadata: { tenant, surface } satisfies ResultMetadata,
	});
}

/** The cached Sonar job, or null when it is missing, belongs to another tenant or is a run. */
export async function getResult(kv: KVNamespace, jobId: string, tenant: string): Promise<RelayJob | null> {
	return getCached<RelayJob>(kv, jobId, tenant, "sonar");
}

/** The cached run (Agent surface), or null when it is missing, another tenant's or a Sonar job. */
export async function getResponse(kv: KVNamespace, jobId: string, tenant: string): Promise<RelayResponse | null> {
	return getCached<RelayResponse>(kv, jobId, tenant, "agent");
}

async function getCached<T>(kv: KVNamespace, jobId: string, tenant: string, surface: "sonar" | "agent") {
	const { value, metadata } = await kv.getWithMetadata<T, ResultMetadata>(resultKey(jobId), "json");
	return value && metadata?.tenant === tenant && (metadata.surface ?? "sonar") === surface ? value : null;
}

/** Removes a retired job's result, so GET agrees with the retired Job DO (KV's TTL has a 60 s floor). */
export async function deleteResult(kv: KVNamespace, jobId: string): Promise<void> {
	await kv.delete(resultKey(jobId));
}
