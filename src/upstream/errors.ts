/**
 * How an upstream call can fail. An adapter never retries by itself: it sorts
 * each failure into retryable (network, timeout, 408, 429, 5xx, an answer cut
 * short) or terminal (any other 4xx, an answer the relay cannot use), says
 * whether the call may have started a run anyway (`ambiguous`), and the Job
 * Durable Object decides when to try again, through its alarm.
 */

export type UpstreamFailureKind = "network" | "timeout" | "http" | "invalid_response";

/** A failure as plain data, so it can be stored in a job's state. */
export interface UpstreamFailure {
	kind: UpstreamFailureKind;
	/** The HTTP status, when there was an answer. */
	status: number | null;
	retryable: boolean;
	/** From a `Retry-After` header, in ms. */
	retryAfterMs: number | null;
	message: string;
	/**
	 * A create that failed this way may still have started a run upstream (the request went out and
	 * the answer was lost: a timeout, a dropped connection, a 500, a 200 the relay could not read).
	 * Retrying it may start a second, billed run. Always false where upstream dedupes creates
	 * (the retired Sonar API's `idempotency_key`). @default false
	 */
	ambiguous?: boolean;
}

export class UpstreamError extends Error {
	override readonly name = "UpstreamError";
	readonly failure: UpstreamFailure;
	constructor(failure: UpstreamFailure) {
		super(failure.message);
		this.failure = failure;
	}
	get status(): number | null {
		return this.failure.status;
	}
	get retryable(): boolean {
		return this.failure.retryable;
	}
}

/** Network trouble, timeouts, 408, 429 and 5xx are worth another try; other 4xx are not. */
export function isRetryableStatus(status: number): boolean {
	return status === 408 || status === 429 || status >= 500;
}

/**
 * `Retry-After` as ms: delta-seconds or an HTTP date; null when absent or unreadable.
 *
 * @example
 * parseRetryAfter("7", Date.now()) // 7000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
	if (!value) return null;
	const trimmed = value.trim();
	if (/^\d+$/.test(trimmed)) return Number.parseInt(trimmed, 10) * 1000;
	const date = Date.parse(trimmed);
	return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/**
 * Upstream saying "slow down": a 429 or a 503. Polls then slow down for every job, through the gate.
 *
 * A timeout or a dropped connection is not pushback: it says nothing about the rate, and it is
 * as often the caller's own overload (a saturated runtime reads its answers late) as upstream's.
 * Met with a global slowdown, it would make every poll a gate call at the worst moment, which
 * loads the runtime further and times out more. Each job backs off its own polls on any
 * retryable failure instead.
 */
export function isPushback(failure: UpstreamFailure): boolean {
	return failure.status === 429 || failure.status === 503;
}

/** A failure as data, whatever was thrown: anything but an `UpstreamError` is a network failure. */
export function asFailure(error: unknown): UpstreamFailure {
	if (error instanceof UpstreamError) return error.failure;
	return {
		kind: "network",
		status: null,
		retryable: true,
		retryAfterMs: null,
		message: error instanceof Error ? error.message : String(error),
	};
}
