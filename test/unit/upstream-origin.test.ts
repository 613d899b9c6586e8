/**
 * Who answered an upstream call: the local emulator marks every answer with
 * `x-perplexity-emulator` (tools/emulator/app.ts), and `callUpstream` tells its observer so, for
 * every answer, errors included; an answer without the header is Perplexity's.
 */
import { describe, expect, it } from "vitest";
import { callUpstream, EMULATOR_HEADER, type UpstreamOrigin } from "../../src/upstream/http.ts";
import { EMULATOR_HEADER as EMULATOR_SENDS } from "../../tools/emulator/app.ts";

const settings = { upstreamBaseUrl: "https://upstream.test", upstreamApiKey: "k", upstreamTimeoutMs: 1000 };

async function originOf(response: Response): Promise<UpstreamOrigin[]> {
	const seen: UpstreamOrigin[] = [];
	await callUpstream(
		settings,
		"/v1/responses/r1",
		{ method: "GET" },
		{
			fetcher: async () => response,
			onOrigin: (origin) => seen.push(origin),
		},
	).catch(() => {});
	return seen;
}

describe("the origin of an upstream answer", () => {
	it("is the emulator when the answer carries its header, on a 2xx and on an error alike", async () => {
		expect(await originOf(new Response("{}", { headers: { [EMULATOR_HEADER]: "sonar-relay-emulator" } }))).toEqual([
			"emulator",
		]);
		expect(await originOf(new Response("{}", { status: 503, headers: { [EMULATOR_HEADER]: "1" } }))).toEqual([
			"emulator",
		]);
	});

	it("is Perplexity otherwise", async () => {
		expect(await originOf(new Response("{}"))).toEqual(["perplexity"]);
	});

	it("is not told when no answer came", async () => {
		const seen: UpstreamOrigin[] = [];
		await callUpstream(
			settings,
			"/v1/agent",
			{ method: "POST" },
			{
				fetcher: async () => {
					throw new TypeError("connection refused");
				},
				onOrigin: (origin) => seen.push(origin),
			},
		).catch(() => {});
		expect(seen).toEqual([]);
	});

	it("reads the header the emulator sends", () => {
		expect(EMULATOR_SENDS).toBe(EMULATOR_HEADER);
	});
});
