/**
 * The delivery outbox: a pure sub-machine over `Delivery[]`, beside the job's lifecycle. Each
 * delivery is one event to one URL, with an id; per URL only the oldest unsettled one may go, so a
 * job's events to one receiver arrive in order. Attempts follow the delivery schedule (±20 %
 * jitter, never sooner than Retry-After); a 410, a best-effort event's failure or the end of the
 * schedule dead-letters it. No I/O, no clock, no randomness of its own.
 */
import type { RelayResponse } from "../schemas/agent.ts";
import { type DeliveryStatus, type EventType, INTERIM_EVENTS, type RelayJob } from "../schemas/relay.ts";
import type { ProgressNote } from "../upstream/port.ts";

export interface Delivery {
	/** Which delivery this is, within its job: `deliveryId(webhookId, url)`. */
	id: string;
	/** `webhook-id`: stable for one event across all its attempts. */
	webhookId: string;
	type: EventType;
	url: string;
	/** When the event happened (ms); the body's `timestamp`. */
	eventAt: number;
	/** Attempts in the current series; a redelivery starts a new series at 0. */
	attempts: number;
	/** 1 for the scheduled series, +1 for each redelivery. */
	series: number;
	status: DeliveryStatus;
	nextAt: number;
	/** The job as it was when the event happened, for events before the final one. */
	snapshot: RelayJob | RelayResponse | null;
	lastError: string | null;
	/** Set when the delivery goes to a REST-hook subscription rather than `callback_url`. */
	hookId: string | null;
	/** One attempt only, never retried (progress events: the next one, or the final one, will come). @default false */
	bestEffort?: boolean;
	/** What the run was doing, for a progress event's body. */
	note?: ProgressNote | null;
	/**
	 * How the body is made: a Standard Webhooks event, or an integration's own message, by the name
	 * it registered (`delivery/formats.ts`). Opaque here. @default "standard"
	 */
	format?: string;
	/** When an attempt first got a 2xx (ms), in any series: the end of the push lag. @default null */
	deliveredAt?: number | null;
	/** When the last series was given up (ms): dead-lettered, or dropped. @default null */
	deadLetteredAt?: number | null;
}

/** A subscription an event fans out to. */
export interface HookTarget {
	id: string;
	url: string;
}

/** Why an attempt failed; `unavailable`: not sent, the result could not be read back from KV. */
export type DeliveryErrorClass =
	| "timeout"
	| "dns"
	| "connect"
	| "tls"
	| "redirect"
	| "network"
	| "blocked"
	| "unavailable";

/** One entry of the attempt log (`GET …/deliveries`). */
export interface AttemptLogEntry {
	attempt: number;
	series: number;
	webhook_id: string;
	event: EventType;
	at: string;
	host: string;
	status_code: number | null;
	error: DeliveryErrorClass | null;
	/** What went wrong, in words ("connection refused", "HTTP 503 Service Unavailable"); null when delivered. */
	error_message?: string | null;
	duration_ms: number;
	response_body: string | null;
}

export interface AttemptResult {
	ok: boolean;
	statusCode: number | null;
	error: DeliveryErrorClass | null;
	/** What went wrong, in words; null or absent when delivered. */
	message?: string | null;
	durationMs: number;
	retryAfterMs: number | null;
	responseBody: string | null;
}

/** A receiver's Retry-After is honoured up to this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
/** The attempt log keeps this many entries. */
export const MAX_LOG_ENTRIES = 50;
/** Delivery delays vary by ±20 %, so that receivers recovering from an outage are not hit in lockstep. */
export const JITTER = 0.2;

/** ±JITTER around `delayMs`; `random` is in [0, 1). */
export function jittered(delayMs: number, random: number): number {
	return Math.round(delayMs * (1 - JITTER + 2 * JITTER * random));
}

/**
 * Delay before the next delivery attempt, or null when the schedule is used up.
 * `attempts` is the number already made.
 *
 * @example
 * nextDeliveryDelay(1, null, [0, 5_000, 300_000], 0.5) // 5000
 */
export function nextDeliveryDelay(
	attempts: number,
	retryAfterMs: number | null,
	schedule: readonly number[],
	random: number,
): number | null {
	const planned = schedule[attempts];
	if (planned === undefined) return null;
	return Math.max(jittered(planned, random), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

/**
 * A delivery's id: its event's `webhook-id` and its URL, which together name it (one event goes
 * once to each URL). Deterministic, so a delivery stored before ids had one gets the same.
 *
 * @example
 * deliveryId("msg_job1_completed", "https://hooks.example.com/in") // "msg_job1_completed@https://hooks.example.com/in"
 */
export function deliveryId(webhookId: string, url: string): string {
	return `${webhookId}@${url}`;
}

/**
 * A new pending delivery, due at `at`: the one place the outbox entry's defaults live.
 *
 * @example
 * newDelivery({ webhookId, type: "async_chat_completion.completed", url, eventAt: now }, now)
 */
export function newDelivery(
	fields: Pick<Delivery, "webhookId" | "type" | "url" | "eventAt"> & Partial<Delivery>,
	at: number,
): Delivery {
	return {
		id: deliveryId(fields.webhookId, fields.url),
		attempts: 0,
		series: 1,
		status: "pending",
		nextAt: at,
		snapshot: null,
		lastError: null,
		hookId: null,
		...fields,
	};
}

/** Deliveries stored before each had an id, with theirs. */
export function withIds(deliveries: readonly Delivery[]): Delivery[] {
	return deliveries.map((d) => (d.id ? d : { ...d, id: deliveryId(d.webhookId, d.url) }));
}

/** Whether a delivery carries a job's final event (not `started` or a progress event). */
export function isFinalEvent(delivery: Pick<Delivery, "type">): boolean {
	return !INTERIM_EVENTS.has(delivery.type);
}

/**
 * The deliveries that may be attempted: per URL, only the oldest unsettled one (events stay in order).
 *
 * @example
 * heads(deliveries).filter((d) => d.nextAt <= now) // what is due
 */
export function heads(deliveries: readonly Delivery[]): Delivery[] {
	const seen = new Set<string>();
	const found: Delivery[] = [];
	for (const delivery of deliveries) {
		if (delivery.status !== "pending" || seen.has(delivery.url)) continue;
		seen.add(delivery.url);
		found.push(delivery);
	}
	return found;
}

/** The delivery with this id. */
export function findDelivery(deliveries: readonly Delivery[], id: string): Delivery | undefined {
	return deliveries.find((d) => d.id === id);
}

/** Adds a delivery unless one with its id is already there. */
export function addOnce(deliveries: Delivery[], delivery: Delivery): Delivery[] {
	return deliveries.some((d) => d.id === delivery.id) ? deliveries : [...deliveries, delivery];
}

/** The outbox after an attempt or a drop: `finalChanged` when a final event's status moved. */
export interface OutboxChange {
	deliveries: Delivery[];
	/** The attempt, for the job's attempt log; null for a drop. */
	entry: AttemptLogEntry | null;
	finalChanged: boolean;
}

/**
 * Records one attempt of the pending delivery `id`: delivered on a 2xx; else retried on the schedule,
 * or dead-lettered (410 Gone, a best-effort event, the schedule used up). Null when `id` is not pending.
 *
 * @example
 * const change = recordAttempt(deliveries, id, result, now, policy.deliveryScheduleMs, Math.random());
 */
export function recordAttempt(
	deliveries: readonly Delivery[],
	id: string,
	result: AttemptResult,
	now: number,
	schedule: readonly number[],
	random: number,
): OutboxChange | null {
	const delivery = findDelivery(deliveries, id);
	if (delivery?.status !== "pending") return null;
	const attempts = delivery.attempts + 1;
	const gone = result.statusCode === 410;
	const delay =
		result.ok || gone || delivery.bestEffort
			? null
			: nextDeliveryDelay(attempts, result.retryAfterMs, schedule, random);
	const status: DeliveryStatus = result.ok ? "delivered" : delay === null ? "failed" : "pending";
	const updated: Delivery = {
		...delivery,
		attempts,
		status,
		nextAt: delay === null ? delivery.nextAt : now + delay,
		lastError: result.ok ? null : describeAttempt(result),
		// The first success only: a redelivery later does not shorten or lengthen the push lag.
		deliveredAt: result.ok ? (delivery.deliveredAt ?? now) : (delivery.deliveredAt ?? null),
		deadLetteredAt: status === "failed" ? now : (delivery.deadLetteredAt ?? null),
	};
	const entry: AttemptLogEntry = {
		attempt: attempts,
		series: delivery.series,
		webhook_id: delivery.webhookId,
		event: delivery.type,
		at: new Date(now).toISOString(),
		host: hostOf(delivery.url),
		status_code: result.statusCode,
		error: result.error,
		error_message: result.ok ? null : describeAttempt(result),
		duration_ms: result.durationMs,
		response_body: result.responseBody,
	};
	return {
		deliveries: deliveries.map((d) => (d.id === id ? updated : d)),
		entry,
		finalChanged: status !== "pending" && isFinalEvent(delivery),
	};
}

/**
 * Gives up the pending delivery `id` without an attempt (its REST-hook subscription was deleted):
 * it fails with the reason, and is not retried. Null when `id` is not pending.
 */
export function dropDelivery(
	deliveries: readonly Delivery[],
	id: string,
	reason: string,
	now: number,
): OutboxChange | null {
	const delivery = findDelivery(deliveries, id);
	if (delivery?.status !== "pending") return null;
	const updated: Delivery = { ...delivery, status: "failed", lastError: reason, deadLetteredAt: now };
	return {
		deliveries: deliveries.map((d) => (d.id === id ? updated : d)),
		entry: null,
		finalChanged: isFinalEvent(delivery) && delivery.hookId === null,
	};
}

/**
 * The final events to `url` sent again, now, with the same `webhook-id`: a delivered or dead-lettered
 * one starts a new series on the full schedule; one waiting out its back-off goes now instead, in the
 * same series. Null when `url` has no final event.
 */
export function restartFinals(deliveries: readonly Delivery[], url: string, now: number): Delivery[] | null {
	if (!deliveries.some((d) => d.url === url && isFinalEvent(d))) return null;
	return deliveries.map((d) => {
		if (d.url !== url || !isFinalEvent(d)) return d;
		// Waiting for its next attempt: that attempt is now.
		if (d.status === "pending") return { ...d, nextAt: Math.min(d.nextAt, now) };
		return { ...d, status: "pending" as const, attempts: 0, series: d.series + 1, nextAt: now, lastError: null };
	});
}

/**
 * The REST-hook subscription an attempt's answer removes: a 410 Gone from a subscription's target
 * unsubscribes it, as REST hooks expect. Null for any other answer, or a delivery to `callback_url`.
 *
 * @example
 * unsubscribes(hookDelivery, { ...result, statusCode: 410 }) // "hook_123"
 */
export function unsubscribes(
	delivery: Pick<Delivery, "hookId">,
	result: Pick<AttemptResult, "statusCode">,
): string | null {
	return result.statusCode === 410 && delivery.hookId ? delivery.hookId : null;
}

/**
 * Whether a delivery must first ask the index that its subscription still exists: a retry to a
 * REST-hook subscription (deleted meanwhile, it is dropped). A first attempt follows the fan-out at
 * once, and a delivery to `callback_url` has no subscription.
 */
export function asksWhetherHookExists(delivery: Pick<Delivery, "hookId" | "attempts">): boolean {
	return delivery.hookId !== null && delivery.attempts > 0;
}

/** A failed attempt in words: the deliverer's own sentence, or one made from its class and status. */
export function describeAttempt(result: Pick<AttemptResult, "error" | "message" | "statusCode">): string {
	if (result.message) return result.message;
	if (result.error) return result.statusCode ? `${result.error} (${result.statusCode})` : result.error;
	return `HTTP ${result.statusCode ?? "?"}`;
}

/** The host of a URL (logs and reports name a receiver by its host only); "" when it is not a URL. */
export function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return "";
	}
}
