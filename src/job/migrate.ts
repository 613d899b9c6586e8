/**
 * A job's state as stored by an earlier version, brought up to this one when it is loaded: the
 * caller's request kept under `upstreamRequest`, deliveries stored before each had an id, a gate
 * slot kept as `reservedEpoch`/`reservedSend`, counters added since. Pure; the Job DO applies it to what it reads from storage.
 */
import { withIds } from "../delivery/outbox.ts";
import type { CreateJobBody } from "../schemas/relay.ts";
import { emptyStats, type JobState } from "./state.ts";

/**
 * The stored state in today's shape. Idempotent: a state already in it comes back equal.
 *
 * @example
 * const state = migrateState(await ctx.storage.get<JobState>("state"));
 */
export function migrateState(stored: JobState): JobState {
	return {
		...stored,
		spec: migrateSpec(stored.spec),
		lifecycle: migrateLifecycle(stored.lifecycle),
		deliveries: withIds(stored.deliveries ?? []),
		stats: { ...emptyStats(), ...stored.stats },
	};
}

/** A job stored before the upstream port kept the caller's request as `upstreamRequest.request`. */
export function migrateSpec(spec: JobState["spec"]): JobState["spec"] {
	const legacy = spec as JobState["spec"] & { upstreamRequest?: { request: CreateJobBody["request"] } };
	if (legacy.request || !legacy.upstreamRequest) return spec;
	const { upstreamRequest, ...rest } = legacy;
	return { ...rest, surface: "sonar", request: upstreamRequest.request };
}

/** A lifecycle stored when a gate slot was two fields, `reservedEpoch` and `reservedSend`: one `slot` now. */
export function migrateLifecycle(lifecycle: JobState["lifecycle"]): JobState["lifecycle"] {
	if (lifecycle.phase !== "submitting" && lifecycle.phase !== "polling") return lifecycle;
	const legacy = lifecycle as typeof lifecycle & { reservedEpoch?: number | null; reservedSend?: boolean };
	if (!("reservedEpoch" in legacy) && !("reservedSend" in legacy)) return lifecycle;
	const { reservedEpoch, reservedSend, ...rest } = legacy;
	const slot = typeof reservedEpoch === "number" ? { epoch: reservedEpoch, send: reservedSend === true } : null;
	return { ...rest, slot };
}
