/**
 * Search by metadata: which of a job's `metadata` the tenant index keeps in its `job_metadata`
 * table (indexed by key and value), and the list endpoints' `metadata[key]=value` filters
 * (Stripe's bracket notation for a nested query parameter; several are ANDed).
 *
 * Only top-level entries with a scalar value are searchable: a string as it is, a number or a
 * boolean as its JSON text (`42`, `true`); a null, an object or an array is not. A job's metadata
 * is fixed at submission, so its entries are written once, when the job enters the index.
 */
import { MAX_METADATA_KEY, MAX_METADATA_VALUE } from "../schemas/agent.ts";
import type { ValidationError } from "../schemas/perplexity.ts";

/** The entries of one job kept for search, at most; the rest of a (4 KiB) object is not searchable. */
export const MAX_INDEXED_ENTRIES = 32;
/** Filters one list call takes. */
export const MAX_METADATA_FILTERS = 5;

export type MetadataPair = [key: string, value: string];

/**
 * The searchable entries of a job's metadata, in key order, at most `MAX_INDEXED_ENTRIES`.
 *
 * @example
 * indexedMetadata({ ticket: "T-42", retries: 3, tags: ["a"], note: null }) // [["retries", "3"], ["ticket", "T-42"]]
 */
export function indexedMetadata(metadata: Record<string, unknown> | null | undefined): MetadataPair[] {
	if (!metadata) return [];
	const pairs: MetadataPair[] = [];
	for (const key of Object.keys(metadata).sort()) {
		if (key.length === 0 || key.length > MAX_METADATA_KEY) continue;
		const value = metadata[key];
		const text =
			typeof value === "string"
				? value
				: typeof value === "number" || typeof value === "boolean"
					? JSON.stringify(value)
					: null;
		if (text === null || text.length > MAX_METADATA_VALUE) continue;
		pairs.push([key, text]);
		if (pairs.length === MAX_INDEXED_ENTRIES) break;
	}
	return pairs;
}

const FILTER_PARAM = /^metadata\[(.*)\]$/s;

/**
 * The `metadata[key]=value` filters of a query, or the 422 details of the bad ones (`loc` names the
 * parameter as sent). Other parameters are not looked at.
 *
 * @example
 * metadataFilters({ limit: "20", "metadata[ticket]": "T-42" }) // { ok: true, filters: [["ticket", "T-42"]] }
 */
export function metadataFilters(
	query: Record<string, string>,
): { ok: true; filters: MetadataPair[] } | { ok: false; issues: ValidationError[] } {
	const filters: MetadataPair[] = [];
	const issues: ValidationError[] = [];
	for (const [name, value] of Object.entries(query)) {
		if (name === "metadata" || name.startsWith("metadata.")) {
			issues.push({
				loc: ["query", name],
				msg: "filter by metadata as metadata[key]=value, e.g. metadata[ticket]=T-42",
				type: "value_error",
			});
			continue;
		}
		const match = FILTER_PARAM.exec(name);
		if (!match) continue;
		const key = match[1] ?? "";
		if (key.length === 0 || key.length > MAX_METADATA_KEY) {
			issues.push({
				loc: ["query", name],
				msg: `the metadata key must be 1 to ${MAX_METADATA_KEY} characters`,
				type: "value_error",
			});
		} else if (value.length > MAX_METADATA_VALUE) {
			issues.push({
				loc: ["query", name],
				msg: `the metadata value must be at most ${MAX_METADATA_VALUE} characters`,
				type: "value_error",
			});
		} else {
			filters.push([key, value]);
		}
	}
	if (filters.length + issues.length > MAX_METADATA_FILTERS) {
		issues.push({
			loc: ["query", "metadata"],
			msg: `at most ${MAX_METADATA_FILTERS} metadata filters`,
			type: "value_error",
		});
	}
	return issues.length > 0 ? { ok: false, issues } : { ok: true, filters };
}
