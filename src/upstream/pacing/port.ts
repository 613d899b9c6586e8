/**
 * The pacing port: how a job asks for leave to call upstream, and tells what upstream said about
 * the rate. One small interface (`Pacer`); the Upstream Gate Durable Object is its one adapter
 * (`gate-pacer.ts`). A job keeps only an opaque `Slot` and an opaque `Pacing` between its calls
 * (read through `pacing.ts`); what an admission means for the call at hand (go now, wait for the
 * slot, or refuse the waiting caller) is `verdict`.
 */

import type { WatchEstimate } from "../../polling/cost.ts";
import type { RateLimitHint } from "../http.ts";

/** Which kind of call is paced: an upstream create, or a poll (GET). */
export type PaceKind = "create" | "get";

/** A slot a job was given for later: shown back when it comes due. Opaque to the job. */
export interface Slot {
	readonly epoch: number;
	readonly send: boolean;
}

/**
 * What a job keeps of the pacer's advice between its calls: when to poll, and whether its polls ask
 * for slots. Opaque to the job: it asks `pacing.ts` what it means (`nextPlannedPoll`, `pollsPaced`)
 * and how it changes (`heed`, `afterPushback`). In an outcome, an absent field is no word: the held one stays.
 */
export interface Pacing {
	/** When to poll, in ms after the upstream create; null: plain back-off. */
	readonly plan?: readonly number[] | null;
	/**
	 * Polls ask the pacer for a slot first. Off until upstream pushes back: set by a GET 429 (the job's
	 * own, or one the pacer heard of), cleared when the pacer says its GET rate has recovered.
	 */
	readonly paced?: boolean;
}

/** What the pacer answered about one call. */
export interface Admission {
	/** When the call may go (ms); now or later. */
	at: number;
	/** The slot to show when `at` comes (a later call). */
	slot: Slot;
	/** The waiting caller's deadline is past: refused, with when to try again. */
	refused?: { retryAfterMs: number };
	/** For creates: when to poll, in ms after the upstream create. */
	plan?: number[];
	/** For creates: what the model's runs are expected to take, and to cost when polled on `plan`. */
	estimate?: WatchEstimate;
	/** Polls should ask for slots too (upstream pushed back on one lately). */
	getsPaced: boolean;
}

/** What a job asks of the pacer for one call. */
export interface PaceRequest {
	model?: string;
	/** The slot the job holds, if it waited for one. */
	slot: Slot | null;
	/** Whose call it is: each tenant with calls queued gets an equal share. */
	tenant?: string;
	/** The latest acceptable slot (ms): a later one is refused. */
	deadline?: number;
}

/**
 * Paces upstream calls to the account's limits. Every method is best effort: an unreachable pacer
 * answers `admit` with null and swallows reports (it protects, it must not block).
 */
export interface Pacer {
	admit(kind: PaceKind, request: PaceRequest): Promise<Admission | null>;
	/** Upstream answered a call with 429 (or a GET with 503). */
	report429(kind: PaceKind, retryAfterMs: number | null): Promise<void>;
	/** What upstream's rate-limit headers said. */
	observeLimits(hint: RateLimitHint): Promise<void>;
	/** How long a model's run took, to plan later polls. */
	record(model: string, durationMs: number): Promise<void>;
}

/** A slot this close to now is taken at once. */
export const SLOT_SLACK_MS = 5;

/** What an admission means for the call now. */
export type Verdict =
	| { go: true }
	| { go: false; at: number; slot: Slot }
	| { go: false; refused: { retryAfterMs: number; waitS: number } };

/**
 * Go now (no pacer, or a slot due within `SLOT_SLACK_MS`), wait for the slot, or refuse the call
 * (its caller's deadline is past the slot).
 *
 * @example
 * verdict({ at: now + 2_000, slot, getsPaced: false }, now) // { go: false, at: now + 2000, slot }
 */
export function verdict(admission: Admission | null, now: number): Verdict {
	if (!admission) return { go: true };
	if (admission.refused) {
		return { go: false, refused: { ...admission.refused, waitS: Math.ceil((admission.at - now) / 1000) } };
	}
	if (admission.at > now + SLOT_SLACK_MS) return { go: false, at: admission.at, slot: admission.slot };
	return { go: true };
}
