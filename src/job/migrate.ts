/**
 * A job's state as stored by an earlier version, brought up to this one when it is loaded: the
 * caller's request kept under `upstreamRequest`, a Slack command's schedule kept in code, deliveries stored before each had an id, a gate
 * slot kept as `reservedEpoch`/`reservedSend`, the pacer's advice kept as `plan`/`paced`, the side
 * effects owed kept as flags beside the lifecycle (`cached`, `indexed`, …) and the status kept beside
 * the phase, counters added since. Pure; the Job DO applies it to what it reads from storage.
 */
import { withIds } from "../delivery/outbox.ts";
import type { AsyncProcessingStatus } from "../schemas/perplexity.ts";
import type { CreateJobBody } from "../schemas/relay.ts";
import { storedPacing } from "../upstream/pacing/pacing.ts";
import { emptyStats, type JobState, type Lifecycle } from "./state.ts";

/** The side-effect flags a state kept beside its lifecycle before each phase carried what it owes. */
interface LegacyFlags {
	cached?: boolean;
	indexed?: boolean;
	admitted?: boolean;
	fannedOut?: boolean;
	learned?: boolean;
	sideEffectRetryAt?: number | null;
	sideEffectFailures?: number;
	/** The contract's status, kept beside the phase before the phase said it. */
	status?: AsyncProcessingStatus;
}

/**
 * The stored state in today's shape. Idempotent: a state already in it comes back equal.
 *
 * @example
 * const state = migrateState(await ctx.storage.get<JobState>("state"));
 */
export function migrateState(stored: JobState): JobState {
	const { cached, indexed, admitted, fannedOut, learned, sideEffectRetryAt, sideEffectFailures, status, ...rest } =
		stored as JobState & LegacyFlags;
	const flags = { cached, indexed, admitted, fannedOut, learned, sideEffectRetryAt, sideEffectFailures, status };
	return {
		...rest,
		spec: migrateSpec(stored.spec),
		lifecycle: migrateStatus(migrateOwed(migratePacing(migrateLifecycle(stored.lifecycle)), flags), flags.status),
		deliveries: withIds(stored.deliveries ?? []),
		stats: { ...emptyStats(), ...stored.stats },
	};
}

/** A spec in today's shape: the request and the integration's schedule (below). */
export function migrateSpec(spec: JobState["spec"]): JobState["spec"] {
	return migrateIntegration(migrateRequest(spec));
}

/** A job stored before the upstream port kept the caller's request as `upstreamRequest.request`. */
export function migrateRequest(spec: JobState["spec"]): JobState["spec"] {
	const legacy = spec as JobState["spec"] & { upstreamRequest?: { request: CreateJobBody["request"] } };
	if (legacy.request || !legacy.upstreamRequest) return spec;
	const { upstreamRequest, ...rest } = legacy;
	return { ...rest, surface: "sonar", request: upstreamRequest.request };
}

/**
 * A job stored before an integration's schedule was data in its spec. The only integration then was
 * Slack's, whose schedule the core itself kept: a `slack-progress` notice 25 minutes after submission
 * and one `slack-searching` message the first time the run searched. Those values are history, fixed
 * here; today's come from `integrations/slack/integration.ts`.
 */
export function migrateIntegration(spec: JobState["spec"]): JobState["spec"] {
	const integration = spec.integration;
	if (integration?.kind !== "slack" || "notice" in integration) return spec;
	return {
		...spec,
		integration: {
			...integration,
			notice: { format: "slack-progress", afterMs: 25 * 60_000 },
			progress: { format: "slack-searching", stage: "searching" },
		},
	};
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

/**
 * A lifecycle stored when the pacer's advice was two fields, the poll plan `plan` and `paced` (polls
 * ask for slots): one opaque `pacing` now.
 */
export function migratePacing(lifecycle: Lifecycle): Lifecycle {
	if (lifecycle.phase !== "submitting" && lifecycle.phase !== "polling") return lifecycle;
	const legacy = lifecycle as typeof lifecycle & { plan?: number[] | null; paced?: boolean };
	if (!("plan" in legacy) && !("paced" in legacy)) return lifecycle;
	const { plan, paced, ...rest } = legacy;
	return { ...rest, pacing: storedPacing(plan, paced) };
}

/**
 * A lifecycle stored when the side effects owed were flags on the state (`cached`, `indexed`,
 * `admitted`, `fannedOut`, `learned`, `sideEffectRetryAt`/`sideEffectFailures`): its phase owes them now.
 */
export function migrateOwed(lifecycle: Lifecycle, flags: LegacyFlags): Lifecycle {
	const legacy = lifecycle as Lifecycle & { owed?: unknown; admitted?: boolean };
	if (lifecycle.phase === "rejected") {
		return "admitted" in legacy ? lifecycle : { ...lifecycle, admitted: flags.admitted !== false };
	}
	if (legacy.owed) return lifecycle;
	const owed = {
		index: flags.indexed !== true,
		retryAt: flags.sideEffectRetryAt ?? null,
		failures: flags.sideEffectFailures ?? 0,
	};
	switch (lifecycle.phase) {
		case "submitting":
			return { ...lifecycle, owed: { ...owed, admit: flags.admitted === false } };
		case "polling":
			return { ...lifecycle, owed };
		case "settled":
			return {
				...lifecycle,
				owed: {
					...owed,
					cache: flags.cached !== true,
					fanout: flags.fannedOut !== true,
					learn: flags.learned !== true,
				},
			};
	}
}

/**
 * A lifecycle stored when the status was a field beside it: a polling phase learns whether the run
 * started, a settled one how it ended (a settled job stored without a final status had failed).
 */
export function migrateStatus(lifecycle: Lifecycle, status: AsyncProcessingStatus | undefined): Lifecycle {
	const legacy = lifecycle as Lifecycle & { started?: boolean; ended?: string };
	if (lifecycle.phase === "polling" && legacy.started === undefined) {
		return { ...lifecycle, started: status === "IN_PROGRESS" };
	}
	if (lifecycle.phase === "settled" && legacy.ended === undefined) {
		return { ...lifecycle, ended: status === "COMPLETED" ? "COMPLETED" : "FAILED" };
	}
	return lifecycle;
}
