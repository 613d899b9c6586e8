/**
 * The writes a job still owes the world, carried by its lifecycle phase: the tenant index's entry
 * (every phase), the tenant's admission (while submitting), and once settled the KV result, the
 * subscriptions' fan-out and the learnt duration. A failed write backs off here too. Pure.
 */
import type { JobState, Lifecycle, Owed, SettledOwed } from "./state.ts";

/** Everything a phase can owe; each phase keeps only its own. */
export type OwedPatch = Partial<SettledOwed & { admit: boolean }>;

/** Nothing owed, no back-off: a phase's starting point before its own writes are added. */
export const NOTHING_OWED: Owed = { index: false, retryAt: null, failures: 0 };

/**
 * What the job owes now; null once rejected (nothing is kept).
 *
 * @example
 * owedOf(newJob(spec, now)) // { admit: true, index: true, retryAt: null, failures: 0 }
 */
export function owedOf(state: Pick<JobState, "lifecycle">): (Owed & OwedPatch) | null {
	return state.lifecycle.phase === "rejected" ? null : state.lifecycle.owed;
}

/**
 * The job with some writes owed or paid. A field the phase cannot owe is ignored (a settled job
 * owes no admission; a job still running owes no KV result).
 *
 * @example
 * owe(state, { index: true }) // the index's entry is written again
 */
export function owe(state: JobState, patch: OwedPatch): JobState {
	const lifecycle = oweIn(state.lifecycle, patch);
	return lifecycle === state.lifecycle ? state : { ...state, lifecycle };
}

function oweIn(lifecycle: Lifecycle, patch: OwedPatch): Lifecycle {
	const { index, retryAt, failures, admit, cache, fanout, learn } = patch;
	const shared: Partial<Owed> = {
		...(index !== undefined ? { index } : {}),
		...(retryAt !== undefined ? { retryAt } : {}),
		...(failures !== undefined ? { failures } : {}),
	};
	switch (lifecycle.phase) {
		case "rejected":
			return lifecycle;
		case "submitting":
			return { ...lifecycle, owed: { ...lifecycle.owed, ...shared, ...(admit !== undefined ? { admit } : {}) } };
		case "polling":
			return { ...lifecycle, owed: { ...lifecycle.owed, ...shared } };
		case "settled": {
			const own = {
				...(cache !== undefined ? { cache } : {}),
				...(fanout !== undefined ? { fanout } : {}),
				...(learn !== undefined ? { learn } : {}),
			};
			return { ...lifecycle, owed: { ...lifecycle.owed, ...shared, ...own } };
		}
	}
}

/** The writes owed by any phase, carried into the next one (the back-off goes on across it). */
export function carried(lifecycle: Lifecycle): Owed {
	if (lifecycle.phase === "rejected") return NOTHING_OWED;
	const { index, retryAt, failures } = lifecycle.owed;
	return { index, retryAt, failures };
}
