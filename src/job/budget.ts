/**
 * The subrequests an action may make. Cloudflare caps the subrequests of one invocation (fetches, KV
 * operations, calls into other Durable Objects): 50 on the Free plan, 10,000 on Paid. A Job DO's alarm
 * run is one invocation, and so is each RPC into it. `wrangler dev` enforces no such cap, so the count is
 * kept here, from what `perform.ts` can do for each action at worst, in one `Allowance` per invocation
 * that every run of actions in it shares (an alarm run's own, the ones while it follows the run's event
 * stream, and the one after). An action that would take it past `SUBREQUEST_BUDGET` waits: the job saves
 * and re-arms at once, and the next run is a new invocation with a new allowance.
 */
import { asksWhetherHookExists, findDelivery } from "../delivery/outbox.ts";
import type { Action } from "./actions.ts";
import { carriesResult } from "./render.ts";
import { isFinal, type JobState } from "./state.ts";

/** Where the job's result is, for what reading it back and writing it cost. */
export interface ResultAtHand {
	/** The result is in memory (false after a restart, until read back from KV). */
	atHand: boolean;
	/** KV values it takes, at most (`cache.ts` cuts a result over 2 MB into parts). */
	readonly parts: number;
}

/**
 * The most subrequests `perform` makes for `action`:
 * - a create or a poll: the pacer's admission, the call itself, a 429 reported to the pacer, and
 *   the rate limit upstream's headers said, reported to it too;
 * - a cancel upstream: the call and a reported rate limit; learning a duration, an index write: one call;
 * - writing the result to KV: its parts, plus reading it back first when it is not at hand;
 * - a delivery: the POST; for a REST-hook subscription's, removing it on a 410 and, on a retry, asking
 *   first whether it still exists; reading the result back when the event carries it and it is not at hand;
 * - retiring: deleting the result's parts and the index entry.
 *
 * @example
 * subrequestsOf({ type: "deliver", id }, state, { atHand: true, parts: 1 }) // 1; a subscription's 2, its retry 3
 */
export function subrequestsOf(action: Action, state: JobState, result: ResultAtHand): number {
	// `parts` is read only where it counts: the store works it out from the result's size.
	const readBack = () => (result.atHand ? 0 : result.parts);
	switch (action.type) {
		case "create":
		case "poll":
			return 4;
		case "cancel_upstream":
			return 2;
		case "learn":
		case "index":
			return 1;
		case "watch":
			// The stream's connection, a read when it ends without saying how, the rate limit it reported.
			return 3;
		case "expire":
			return 0;
		case "cache":
			return readBack() + result.parts;
		case "retire":
			return result.parts + 1;
		case "deliver": {
			const delivery = findDelivery(state.deliveries, action.id);
			if (!delivery) return 0;
			const asks = asksWhetherHookExists(delivery) ? 1 : 0;
			const removes = delivery.hookId ? 1 : 0;
			return 1 + asks + removes + (isFinal(state) && carriesResult(delivery) ? readBack() : 0);
		}
	}
}

/**
 * Whether an invocation that has spent `spent` subrequests may perform an action costing `cost`
 * within `budget`. Its first action always may: a run that could afford none would never end.
 *
 * @example
 * fitsBudget(38, 3, 40) // false: the run stops here, and the next one goes on
 */
export function fitsBudget(spent: number, cost: number, budget: number): boolean {
	return spent === 0 || spent + cost <= budget;
}

/** What one invocation has spent of its subrequests, shared by every run of actions it makes. */
export interface Allowance {
	spent: number;
	readonly limit: number;
}

/**
 * Takes `cost` from the invocation's allowance if it fits (`fitsBudget`), and says whether it did.
 *
 * @example
 * const allowance = { spent: 0, limit: settings.subrequestBudget };
 * if (!spend(allowance, subrequestsOf(action, state, result))) return; // the next invocation goes on
 */
export function spend(allowance: Allowance, cost: number): boolean {
	if (!fitsBudget(allowance.spent, cost, allowance.limit)) return false;
	allowance.spent += cost;
	return true;
}
