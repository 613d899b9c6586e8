/**
 * The counters a job keeps for operators and the benchmark (`JobStats`): what each action cost in
 * upstream calls, KV and index writes, deliveries and Upstream Gate RPCs. Pure; no decision reads them.
 */
import type { UpstreamFailure } from "../upstream/errors.ts";
import { isPushback } from "../upstream/errors.ts";
import type { GateKind } from "../upstream/gate.ts";
import { pollsPaced } from "../upstream/pacing/pacing.ts";
import type { Action, Outcome } from "./actions.ts";
import type { JobStats } from "./state.ts";

/** Which failures slow the gate down for everyone: a 429 for creates; for polls, any pushback (`isPushback`). */
export function reportsPushback(kind: GateKind, failure: UpstreamFailure): boolean {
	return kind === "create" ? failure.status === 429 : isPushback(failure);
}

/** RPCs into the Upstream Gate an action made: its slot, a pushback report, a learnt duration. */
function gateCallsOf(action: Action, outcome: Outcome): number {
	const reported =
		(outcome.type === "create_failed" && reportsPushback("create", outcome.failure)) ||
		(outcome.type === "poll_failed" && reportsPushback("get", outcome.failure))
			? 1
			: 0;
	if (action.type === "create") return 1 + reported;
	if (action.type === "poll") return (pollsPaced(action.pacing) ? 1 : 0) + reported;
	return action.type === "learn" ? 1 : 0;
}

/** Counts what an action cost, for the attempt report and the benchmark. */
export function countAction(counted: JobStats, action: Action, outcome: Outcome): JobStats {
	const stats = { ...counted, gateCalls: (counted.gateCalls ?? 0) + gateCallsOf(action, outcome) };
	switch (action.type) {
		case "create": {
			if (outcome.type === "create_deferred") return stats;
			const lost = outcome.type === "create_failed" && outcome.failure.ambiguous === true ? 1 : 0;
			return {
				...stats,
				createAttempts: stats.createAttempts + 1,
				possibleDuplicates: (stats.possibleDuplicates ?? 0) + lost,
			};
		}
		case "cancel_upstream":
			return { ...stats, upstreamCancels: (stats.upstreamCancels ?? 0) + 1 };
		case "poll":
			return outcome.type === "poll_deferred" ? stats : { ...stats, polls: stats.polls + 1 };
		case "cache":
			return outcome.type === "cached" ? { ...stats, kvWrites: stats.kvWrites + (outcome.ref?.parts ?? 1) } : stats;
		case "index":
			return outcome.type === "indexed" ? { ...stats, indexWrites: stats.indexWrites + 1 } : stats;
		case "deliver":
			return { ...stats, deliveryAttempts: stats.deliveryAttempts + 1 };
		default:
			return stats;
	}
}
