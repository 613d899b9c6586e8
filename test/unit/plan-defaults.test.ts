/** The Node-side copy of the polling defaults (bench/lib/plan-defaults.ts) is the relay's own. */
import { expect, it } from "vitest";
import { PLAN_DEFAULTS } from "../../bench/lib/plan-defaults.ts";
import { readSettings } from "../../src/config.ts";

it("matches readSettings' defaults", () => {
	const settings = readSettings({});
	for (const [key, value] of Object.entries(PLAN_DEFAULTS)) {
		expect(settings[key as keyof typeof PLAN_DEFAULTS], key).toBe(value);
	}
});
