/**
 * Job ids. A job's id is its Job Durable Object's id (64 hex digits), so the
 * id alone finds the object. A job submitted with an idempotency key lives in
 * the object named by that key, and the key outlives the job: its id carries a
 * suffix of its own (`<object id>-<10 hex>`), so that a new job under the same
 * key, after the first has retired, gets new ids everywhere (its webhook-ids,
 * its KV key, its upstream idempotency key), and receivers that deduplicate on
 * `webhook-id` do not drop its events as repeats.
 */

const JOB_ID = /^([0-9a-f]{64})(?:-([0-9a-f]{10}))?$/;

/**
 * The Durable Object id string inside a job id; null for anything that is not a job id.
 *
 * @example
 * objectIdOf("3f…0f-a1b2c3d4e5") // "3f…0f"
 */
export function objectIdOf(jobId: string): string | null {
	return JOB_ID.exec(jobId)?.[1] ?? null;
}

/**
 * A new job's id: the object's id, plus a suffix of its own when the object is named by an
 * idempotency key (and so may hold other jobs after this one).
 */
export function newJobId(objectId: string, named: boolean): string {
	if (!named) return objectId;
	const suffix = [...crypto.getRandomValues(new Uint8Array(5))].map((b) => b.toString(16).padStart(2, "0")).join("");
	return `${objectId}-${suffix}`;
}
