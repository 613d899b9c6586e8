/**
 * Settings: a malformed value is not taken silently. It falls back to its default and says so in
 * `problems`, which the app logs once per isolate (`settings.problem`).
 */
import { describe, expect, it } from "vitest";
import { readSettings } from "../../src/config.ts";

const base = { WEBHOOK_SIGNING_KEY: "k", PERPLEXITY_API_KEY: "p" };

describe("settings", () => {
	it("takes well-formed values, and reports nothing", () => {
		const settings = readSettings({ ...base, POLL_COST_MS: "500", WATCH_MODE: "poll", UPSTREAM_CREATE_RPS: "2.5" });
		expect(settings).toMatchObject({ pollCostMs: 500, watchMode: "poll", upstreamCreateRps: 2.5 });
		expect(settings.problems).toEqual([]);
	});

	it("falls back to the default for a malformed value, and names the setting, the value and the default", () => {
		const settings = readSettings({
			...base,
			POLL_COST_MS: "fast",
			UPSTREAM_CREATE_RPS: "0",
			POLL_LAG_COST: "2",
			WATCH_MODE: "streaming",
			SLACK_RESPONSE_TYPE: "channel",
			DELIVERY_RETRY_SCHEDULE_MS: "soon,later",
		});
		expect(settings).toMatchObject({ pollCostMs: 250, upstreamCreateRps: 0.4, pollLagCost: 0.01, watchMode: "auto" });
		expect(settings.problems).toEqual([
			"DELIVERY_RETRY_SCHEDULE_MS=soon,later is not a list of integers ≥ 0: using the default",
			"WATCH_MODE=streaming is not one of auto, stream, poll: using auto",
			"POLL_COST_MS=fast is not an integer ≥ 1: using 250",
			"POLL_LAG_COST=2 is not between 0 and 1: using 0.01",
			"UPSTREAM_CREATE_RPS=0 is not a number above 0: using 0.4",
			"SLACK_RESPONSE_TYPE=channel is not one of ephemeral, in_channel: using ephemeral",
		]);
	});

	it("says that a relay without PERPLEXITY_API_KEY cannot run jobs on Perplexity (it never emulates)", () => {
		const problem = "PERPLEXITY_API_KEY is not set: Perplexity refuses every job, and callers get a 502";
		expect(readSettings({ WEBHOOK_SIGNING_KEY: "k" }).problems).toEqual([problem]);
		expect(
			readSettings({ WEBHOOK_SIGNING_KEY: "k", PERPLEXITY_BASE_URL: "https://api.perplexity.ai/" }).problems,
		).toEqual([problem]);
		// A gateway of one's own may need no key.
		expect(readSettings({ WEBHOOK_SIGNING_KEY: "k", PERPLEXITY_BASE_URL: "https://gateway.example" }).problems).toEqual(
			[],
		);
	});

	it("says nothing of a setting left empty: the default is what was asked for", () => {
		expect(readSettings({ ...base, POLL_COST_MS: "", WATCH_MODE: "" }).problems).toEqual([]);
	});
});
