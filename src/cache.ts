/**
 * The KV result cache: `result:<jobId>` holds a settled job as GET returns it,
 * with `expirationTtl` = RESULT_TTL_SECONDS and the owning tenant in its
 * metadata. GET reads here first, and checks the tenant: a key from another
 * tenant is a miss, never a leak.
 */
import type { RelayJob } from "./schemas/relay.ts";

interface ResultMetadata {
	tenant: string;
}

export const resultKey = (jobId: string) => `result:${jobId}`;

/**
 * @example
 * await putResult(env.RESULTS, job, "acme", 604800);
 */
export async function putResult(kv: KVNamespace, job: RelayJob, tenant: string, ttlSeconds: number): Promise<void> {
	await kv.put(resultKey(job.id), JSON.stringify(job), {
		expirationTtl: Math.max(60, ttlSeconds),
		metadata: { tenant } satisfies ResultMetadata,
	});
}

/** The cached job, or null when it is missing or belongs to another tenant. */
export async function getResult(kv: KVNamespace, jobId: string, tenant: string): Promise<RelayJob | null> {
	const { value, metadata } = await kv.getWithMetadata<RelayJob, ResultMetadata>(resultKey(jobId), "json");
	return value && metadata?.tenant === tenant ? value : null;
}

/** Removes a retired job's result, so GET agrees with the retired Job DO (KV's TTL has a 60 s floor). */
export async function deleteResult(kv: KVNamespace, jobId: string): Promise<void> {
	await kv.delete(resultKey(jobId));
}
