/**
 * Search by metadata (`tenant/metadata.ts`): which entries of a job's metadata are indexed, and
 * how the list endpoints read `metadata[key]=value`.
 */
import { describe, expect, it } from "vitest";
import { indexedMetadata, MAX_INDEXED_ENTRIES, metadataFilters } from "../../src/tenant/metadata.ts";

describe("indexedMetadata", () => {
	it("keeps top-level scalars, a number or boolean as its JSON text, in key order", () => {
		expect(
			indexedMetadata({ ticket: "T-42", retries: 3, urgent: true, tags: ["a"], nested: { a: 1 }, none: null }),
		).toEqual([
			["retries", "3"],
			["ticket", "T-42"],
			["urgent", "true"],
		]);
		expect(indexedMetadata(null)).toEqual([]);
	});

	it("skips keys or values too long to search by, and keeps at most MAX_INDEXED_ENTRIES", () => {
		expect(indexedMetadata({ ["k".repeat(65)]: "v", long: "v".repeat(513), ok: "" })).toEqual([["ok", ""]]);
		const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, "0")}`, "v"]));
		expect(indexedMetadata(many)).toHaveLength(MAX_INDEXED_ENTRIES);
	});
});

describe("metadataFilters", () => {
	it("reads metadata[key]=value pairs and ignores other parameters", () => {
		expect(metadataFilters({ limit: "5", "metadata[ticket]": "T-42", "metadata[a]b]": "x" })).toEqual({
			ok: true,
			filters: [
				["ticket", "T-42"],
				["a]b", "x"],
			],
		});
		expect(metadataFilters({})).toEqual({ ok: true, filters: [] });
	});

	it("refuses an empty key, a bare metadata or dotted parameter, a long value, and more than five", () => {
		const bad = (query: Record<string, string>) => {
			const result = metadataFilters(query);
			return result.ok ? [] : result.issues.map((issue) => issue.loc);
		};
		expect(bad({ "metadata[]": "x" })).toEqual([["query", "metadata[]"]]);
		expect(bad({ metadata: "ticket=T-42" })).toEqual([["query", "metadata"]]);
		expect(bad({ "metadata.ticket": "T-42" })).toEqual([["query", "metadata.ticket"]]);
		expect(bad({ "metadata[k]": "v".repeat(513) })).toEqual([["query", "metadata[k]"]]);
		const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`metadata[k${i}]`, "v"]));
		expect(bad(six)).toEqual([["query", "metadata"]]);
	});
});
