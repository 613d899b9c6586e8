/** The job's opaque pacing: the pacer's advice read, merged, pushed back on, and its next planned poll. */
import { describe, expect, it } from "vitest";
import {
	adviceOf,
	afterPushback,
	firstPlannedPoll,
	heed,
	nextPlannedPoll,
	pollsPaced,
	storedPacing,
	whileDeferred,
} from "../../src/upstream/pacing/pacing.ts";

const T0 = 1_700_000_000_000;
const slot = { epoch: 1, send: false };

describe("pacing", () => {
	it("reads the pacer's advice from an admission, and no word without one", () => {
		expect(adviceOf(null)).toEqual({});
		expect(adviceOf({ at: T0, slot, getsPaced: false })).toEqual({ paced: false });
		expect(adviceOf({ at: T0, slot, plan: [2000], getsPaced: true })).toEqual({ plan: [2000], paced: true });
	});

	it("replaces what the advice says and keeps the rest; a deferral keeps only a new plan", () => {
		expect(heed(undefined)).toEqual({ plan: null, paced: false });
		expect(heed({ plan: [2000], paced: true }, { paced: false })).toEqual({ plan: [2000], paced: false });
		expect(heed({ plan: [2000], paced: false }, { plan: [500] })).toEqual({ plan: [500], paced: false });
		expect(whileDeferred({ plan: [2000] }, { paced: true })).toEqual({ plan: [2000], paced: false });
		expect(whileDeferred(null, { plan: [700], paced: true })).toEqual({ plan: [700], paced: false });
	});

	it("paces polls after pushback, and only then", () => {
		expect(pollsPaced(undefined)).toBe(false);
		expect(pollsPaced(afterPushback(undefined))).toBe(true);
		expect(afterPushback({ plan: [2000] })).toEqual({ plan: [2000], paced: true });
	});

	it("finds the first planned poll, and the next one not before the earliest", () => {
		const pacing = { plan: [2000, 3000] };
		expect(firstPlannedPoll(pacing)).toBe(2000);
		expect(firstPlannedPoll({ plan: null })).toBeNull();
		expect(nextPlannedPoll(pacing, T0, T0 + 2500)).toBe(T0 + 3000);
		expect(nextPlannedPoll(pacing, T0, T0 + 3001)).toBeNull();
		expect(nextPlannedPoll(pacing, undefined, T0)).toBeNull();
		expect(nextPlannedPoll(undefined, T0, T0)).toBeNull();
	});

	it("brings a stored plan and paced flag into one pacing", () => {
		expect(storedPacing([2000], true)).toEqual({ plan: [2000], paced: true });
		expect(storedPacing(undefined, undefined)).toEqual({ plan: null, paced: false });
	});
});
