/**
 * The local tools read `API_KEYS` the way the relay does (src/auth.ts): the key follows the last colon,
 * so a Slack workspace's tenant (`slack:T0123`) keeps its colon, and the dev key is found for `dev`.
 */
import { describe, expect, it } from "vitest";
import { parseApiKeys as relayParse } from "../../src/auth.ts";
import { parseApiKeys } from "../../tools/dev-vars.ts";

describe("tools/dev-vars parseApiKeys", () => {
	it("splits each pair at its last colon, as the relay does", () => {
		const value = "dev:dev-key, slack:T0123ABCD:k2,acme:k3";
		expect(parseApiKeys(value)).toEqual([
			{ tenant: "dev", key: "dev-key" },
			{ tenant: "slack:T0123ABCD", key: "k2" },
			{ tenant: "acme", key: "k3" },
		]);
		expect(parseApiKeys(value)).toEqual(relayParse(value));
	});

	it("skips blanks and pairs without a tenant or a key", () => {
		expect(parseApiKeys(",:k,t:, ,dev:k")).toEqual([{ tenant: "dev", key: "k" }]);
		expect(parseApiKeys(undefined)).toEqual([]);
	});
});
