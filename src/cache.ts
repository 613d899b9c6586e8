/**
 * The KV result store: `result:<jobId>` holds a settled job as GET returns it
 * (a Sonar job, or an Agent-surface run's Response), with the owning tenant and
 * the surface in its metadata. It is the result's one home: once it is written,
 * the Job DO keeps only a `ResultRef` and reads the result back from here when
 * it needs it (a retry after an eviction, a GET that misses KV). GET reads here
 * first, and checks the tenant: a key from another tenant is a miss, never a
 * leak.
 *
 * A result over 2 MB is cut into parts: `result:<jobId>` holds the first and
 * says how many there are, `result:<jobId>:1` … the rest. Parts are written
 * before the head, so a head never names a missing part.
 */
import { splitUtf8, utf8Length } from "./bytes.ts";
import type { RelayResponse } from "./schemas/agent.ts";
import type { RelayJob } from "./schemas/relay.ts";

interface ResultMetadata {
	tenant: string;
	/** The surface the job was submitted on: a run's Response is not a Sonar job, nor the other way round. @default "sonar" */
	surface?: "sonar" | "agent";
	/** How many KV values the result takes. @default 1 */
	parts?: number;
}

/** Where a job's result is in KV, kept in the Job DO's state instead of the result itself. */
export interface ResultRef {
	/** KV values it takes: `result:<id>`, then `result:<id>:1` … */
	parts: number;
	/** Its size as stored (UTF-8 JSON). */
	bytes: number;
	/** When KV lets it expire (ms since the epoch): after the job retires, which deletes it first. */
	expiresAt: number;
}

/**
 * A result larger than this is cut into parts. KV would take 25 MiB in one value; 2 MB is what a
 * Durable Object value may take, so that nothing the relay stores anywhere is larger. The usual
 * answer (tens of KB) is one value, one write; a 5 MB one is three.
 */
export const MAX_PART_BYTES = 2_000_000;

export const resultKey = (jobId: string, part = 0) => (part === 0 ? `result:${jobId}` : `result:${jobId}:${part}`);

/**
 * Writes the job's result, cut into parts when it must be, and says where it is.
 *
 * @example
 * const ref = await putResult(env.RESULTS, job, "acme", 604800);
 */
export async function putResult(
	kv: KVNamespace,
	job: RelayJob | RelayResponse,
	tenant: string,
	ttlSeconds: number,
	{ maxPartBytes = MAX_PART_BYTES, now = Date.now() }: { maxPartBytes?: number; now?: number } = {},
): Promise<ResultRef> {
	const surface = job.object === "response" ? "agent" : "sonar";
	const text = JSON.stringify(job);
	const parts = splitUtf8(text, maxPartBytes);
	const expirationTtl = Math.max(60, Math.ceil(ttlSeconds));
	await Promise.all(parts.slice(1).map((part, i) => kv.put(resultKey(job.id, i + 1), part, { expirationTtl })));
	const metadata: ResultMetadata = { tenant, surface, ...(parts.length > 1 ? { parts: parts.length } : {}) };
	await kv.put(resultKey(job.id), parts[0] ?? "", { expirationTtl, metadata });
	return { parts: parts.length, bytes: utf8Length(text), expiresAt: now + expirationTtl * 1000 };
}

/** The stored result as JSON text, with its metadata; null when it (or one of its parts) is missing. */
export async function readResult(
	kv: KVNamespace,
	jobId: string,
): Promise<{ text: string; tenant: string; surface: "sonar" | "agent" } | null> {
	const head = await kv.getWithMetadata<ResultMetadata>(resultKey(jobId), "text");
	if (head.value === null || !head.metadata) return null;
	const count = head.metadata.parts ?? 1;
	let text = head.value;
	if (count > 1) {
		const rest = await Promise.all(
			Array.from({ length: count - 1 }, (_, i) => kv.get(resultKey(jobId, i + 1), "text")),
		);
		if (rest.some((part) => part === null)) return null;
		text += rest.join("");
	}
	return { text, tenant: head.metadata.tenant, surface: head.metadata.surface ?? "sonar" };
}

/**
 * The cached job of `tenant` on `surface`, as JSON text (served as it is, never parsed); null when
 * it is missing, another tenant's or the other surface's.
 */
export async function getResultText(
	kv: KVNamespace,
	jobId: string,
	tenant: string,
	surface: "sonar" | "agent",
): Promise<string | null> {
	const stored = await readResult(kv, jobId);
	return stored && stored.tenant === tenant && stored.surface === surface ? stored.text : null;
}

/** Removes a retired job's result (every part), so GET agrees with the retired Job DO. */
export async function deleteResult(kv: KVNamespace, jobId: string, parts = 1): Promise<void> {
	await Promise.all(Array.from({ length: Math.max(1, parts) }, (_, i) => kv.delete(resultKey(jobId, i))));
}
