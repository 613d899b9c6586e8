/**
 * Search by metadata on the list endpoints (`metadata[key]=value`), in workerd: both surfaces, AND
 * of several pairs, numbers and booleans by their JSON text, pages with next_token, tenant
 * isolation, and bad filters refused (422 on the Sonar surface, the Agent envelope's 400 on runs).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { AgentErrorBody, ResponseList } from "../../src/schemas/agent.ts";
import { HTTPValidationError } from "../../src/schemas/perplexity.ts";
import { RelayJobList } from "../../src/schemas/relay.ts";
import { TENANT_A, TENANT_SEARCH } from "./constants.ts";
import { createJob, relay, unique } from "./helpers.ts";

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

async function listIds(path: string, params: Record<string, string>, key = TENANT_SEARCH.key): Promise<string[]> {
	const res = await relay(`${path}?${q(params)}`, {}, key);
	expect(res.status, `${path}?${q(params)}`).toBe(200);
	return RelayJobList.parse(await res.json()).requests.map((job) => job.id);
}

describe("search by metadata", () => {
	/** One marker value per run of this file, so that rows of an earlier run in a shared state never match. */
	const run = unique("run");
	const ids: Record<string, string> = {};

	beforeAll(async () => {
		const submit = async (name: string, metadata: Record<string, unknown>, path = "/async/chat/completions") => {
			ids[name] = (await createJob({ metadata: { run, ...metadata } }, TENANT_SEARCH.key, path)).id;
		};
		await submit("acme1", { customer: "acme", tier: "gold", retries: 3, urgent: true });
		await submit("acme2", { customer: "acme", tier: "silver" });
		await submit("globex", { customer: "globex", tier: "gold", nested: { customer: "acme" } });
		await submit("v1", { customer: "acme", tier: "gold" }, "/v1/async/sonar");
		// Another tenant's job with the same metadata.
		await createJob({ metadata: { run, customer: "acme" } }, TENANT_A.key);
	});

	it("lists only the tenant's jobs whose metadata has the entry, newest first, on both path families", async () => {
		const expected = [ids.v1, ids.acme2, ids.acme1];
		expect(await listIds("/async/chat/completions", { "metadata[run]": run, "metadata[customer]": "acme" })).toEqual(
			expected,
		);
		expect(await listIds("/v1/async/sonar", { "metadata[run]": run, "metadata[customer]": "acme" })).toEqual(expected);
		// A nested value is not a top-level entry.
		expect(await listIds("/async/chat/completions", { "metadata[run]": run, "metadata[customer]": "globex" })).toEqual([
			ids.globex,
		]);
	});

	it("ANDs several pairs, and matches numbers and booleans by their JSON text", async () => {
		const base = { "metadata[run]": run };
		expect(
			await listIds("/async/chat/completions", { ...base, "metadata[tier]": "gold", "metadata[customer]": "acme" }),
		).toEqual([ids.v1, ids.acme1]);
		expect(await listIds("/async/chat/completions", { ...base, "metadata[retries]": "3" })).toEqual([ids.acme1]);
		expect(await listIds("/async/chat/completions", { ...base, "metadata[urgent]": "true" })).toEqual([ids.acme1]);
		expect(await listIds("/async/chat/completions", { ...base, "metadata[tier]": "bronze" })).toEqual([]);
		expect(await listIds("/async/chat/completions", { ...base, "metadata[Customer]": "acme" })).toEqual([]);
	});

	it("pages a search with limit and next_token", async () => {
		const params = { "metadata[run]": run, "metadata[customer]": "acme", limit: "2" };
		const first = RelayJobList.parse(
			await (await relay(`/async/chat/completions?${q(params)}`, {}, TENANT_SEARCH.key)).json(),
		);
		expect(first.requests.map((job) => job.id)).toEqual([ids.v1, ids.acme2]);
		expect(first.next_token).toEqual(expect.any(String));
		const second = await listIds("/async/chat/completions", { ...params, next_token: first.next_token ?? "" });
		expect(second).toEqual([ids.acme1]);
	});

	it("never shows another tenant's job, whatever it searches", async () => {
		const other = await listIds("/async/chat/completions", { "metadata[run]": run }, TENANT_A.key);
		expect(other).toHaveLength(1);
		expect(Object.values(ids)).not.toContain(other[0]);
	});

	it("searches Agent API runs the same way, on /v1/responses", async () => {
		const tag = unique("runs");
		const start = async (metadata: Record<string, string>) => {
			const res = await relay(
				"/v1/responses",
				{ method: "POST", body: JSON.stringify({ preset: "fast", input: `${unique("q")} [[emu:steps=1]]`, metadata }) },
				TENANT_SEARCH.key,
			);
			expect(res.status).toBe(200);
			return ((await res.json()) as { id: string }).id;
		};
		const wanted = await start({ tag, customer: "acme" });
		await start({ tag, customer: "globex" });
		const res = await relay(
			`/v1/responses?${q({ "metadata[tag]": tag, "metadata[customer]": "acme" })}`,
			{},
			TENANT_SEARCH.key,
		);
		expect(res.status).toBe(200);
		expect(ResponseList.parse(await res.json()).data.map((r) => r.id)).toEqual([wanted]);
		// The Sonar list does not show runs, even with the same metadata.
		expect(await listIds("/async/chat/completions", { "metadata[tag]": tag })).toEqual([]);
	});

	it("refuses a bad filter: 422 in the spec's shape on the Sonar surface, the Agent envelope's 400 on runs", async () => {
		for (const [params, loc] of [
			[{ "metadata[]": "x" }, ["query", "metadata[]"]],
			[{ metadata: "customer=acme" }, ["query", "metadata"]],
			[{ "metadata.customer": "acme" }, ["query", "metadata.customer"]],
			[{ "metadata[k]": "v".repeat(513) }, ["query", "metadata[k]"]],
			[Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`metadata[k${i}]`, "v"])), ["query", "metadata"]],
		] as [Record<string, string>, string[]][]) {
			const res = await relay(`/async/chat/completions?${q(params)}`, {}, TENANT_SEARCH.key);
			expect(res.status, q(params)).toBe(422);
			expect(HTTPValidationError.parse(await res.json()).detail?.[0]?.loc).toEqual(loc);
			const runs = await relay(`/v1/responses?${q(params)}`, {}, TENANT_SEARCH.key);
			expect(runs.status, q(params)).toBe(400);
			expect(AgentErrorBody.parse(await runs.json()).error).toMatchObject({ type: "invalid_request_error" });
		}
	});
});
