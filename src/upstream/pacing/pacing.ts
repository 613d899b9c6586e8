/**
 * What a job's `Pacing` means, and how it changes: the pacer's advice read from an admission, merged
 * into what the job holds, pushback noted, and the next planned poll. Pure; the job machine asks these
 * and never reads the advice's fields itself.
 */
import type { Admission, Pacing } from "./port.ts";

/**
 * The advice an admission carries for the job (a poll plan, whether polls ask for slots); no word
 * when the pacer did not answer.
 *
 * @example
 * adviceOf(null) // {}
 * adviceOf({ at: now, slot, plan: [2000], getsPaced: true }) // { plan: [2000], paced: true }
 */
export function adviceOf(admission: Admission | null): Pacing {
	if (!admission) return {};
	return { ...(admission.plan ? { plan: admission.plan } : {}), paced: admission.getsPaced };
}

/**
 * The pacing held after advice: each word the advice gives replaces the held one, the rest stays.
 *
 * @example
 * heed({ plan: [2000], paced: true }, { paced: false }) // { plan: [2000], paced: false }
 * heed(undefined) // { plan: null, paced: false }
 */
export function heed(held: Pacing | null | undefined, advice?: Pacing | null): Pacing {
	return { plan: advice?.plan ?? held?.plan ?? null, paced: advice?.paced ?? held?.paced ?? false };
}

/**
 * The pacing held while a create waits for its slot: a new plan replaces the held one; whether polls
 * are paced is left for the create's own admission to say.
 *
 * @example
 * whileDeferred({ plan: [2000] }, { paced: true }) // { plan: [2000], paced: false }
 */
export function whileDeferred(held: Pacing | null | undefined, advice?: Pacing | null): Pacing {
	return { plan: advice?.plan ?? held?.plan ?? null, paced: held?.paced ?? false };
}

/**
 * Upstream pushed back (a 429 or a 503 on a GET): from now on the job's polls ask for slots.
 *
 * @example
 * pollsPaced(afterPushback(undefined)) // true
 */
export function afterPushback(pacing: Pacing | null | undefined): Pacing {
	return { ...heed(pacing), paced: true };
}

/**
 * Whether the job's polls ask the pacer for a slot first.
 *
 * @example
 * pollsPaced({ paced: true }) // true
 */
export function pollsPaced(pacing: Pacing | null | undefined): boolean {
	return pacing?.paced === true;
}

/**
 * The first poll of the plan, in ms after the upstream create; null without a plan.
 *
 * @example
 * firstPlannedPoll({ plan: [2000, 3000] }) // 2000
 */
export function firstPlannedPoll(pacing: Pacing | null | undefined): number | null {
	return pacing?.plan?.[0] ?? null;
}

/**
 * The first planned poll at `earliest` or later (ms), for a run accepted at `acceptedAt`; null past
 * the plan, or without one (the job backs off on its own then).
 *
 * @example
 * nextPlannedPoll({ plan: [2000, 3000] }, t0, t0 + 2500) // t0 + 3000
 */
export function nextPlannedPoll(
	pacing: Pacing | null | undefined,
	acceptedAt: number | undefined,
	earliest: number,
): number | null {
	const plan = pacing?.plan;
	if (!plan || acceptedAt === undefined) return null;
	const offset = plan.find((o) => acceptedAt + o >= earliest);
	return offset === undefined ? null : acceptedAt + offset;
}

/**
 * A pacing stored before it was one value, as the lifecycle's `plan` and `paced` fields.
 *
 * @example
 * storedPacing([2000], true) // { plan: [2000], paced: true }
 */
export function storedPacing(plan: readonly number[] | null | undefined, paced: boolean | undefined): Pacing {
	return { plan: plan ?? null, paced: paced === true };
}
