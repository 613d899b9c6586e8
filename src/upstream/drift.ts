/**
 * Schema drift, noticed once. The adapters read upstream answers leniently:
 * they take what the relay needs and ignore the rest, so a new field, a new
 * output item type or a missing optional field never fails or stalls a job.
 * Drift is still worth knowing about, so each kind is logged once per isolate
 * (one JSON line, `upstream.drift`), never once per poll.
 */

/** Kinds come from upstream's answers: the set is bounded so that a stream of new names cannot grow it. */
const MAX_KINDS = 200;
const seen = new Set<string>();

/**
 * @example
 * noteDrift("output_item:reasoning_trace", "an output item of an unknown type was ignored");
 */
export function noteDrift(kind: string, detail: string): void {
	const key = kind.slice(0, 120);
	if (seen.has(key) || seen.size >= MAX_KINDS) return;
	seen.add(key);
	console.warn(JSON.stringify({ level: "warn", event: "upstream.drift", kind: key, detail: detail.slice(0, 200) }));
}

/** Forgets what was logged (tests only). */
export function resetDrift(): void {
	seen.clear();
}
