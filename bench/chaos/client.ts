/**
 * The chaos run's caller: submits jobs and retries each with the same
 * `idempotency_key` until the relay accepts it (a 200), whatever happens in
 * between (the relay killed, 503s); then reads every job back.
 */
import { delay } from "../../tools/lib/wrangler.ts";

/** Runs `task(0..count-1)` with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		for (let index = next++; index < count; index = next++) await task(index);
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
}

export interface SubmitResult {
	index: number;
	jobId: string | null;
	/** POSTs it took, the accepted one included. */
	tries: number;
	/** ms since the run started, when the 200 came. */
	acceptedAtMs: number | null;
	/** Answers that were not a 200, by status ("network" for no answer). */
	refusals: Record<string, number>;
	/** A 4xx other than 429: retrying cannot help, so the job is given up (a relay or harness bug). */
	gaveUp: string | null;
}

/**
 * POSTs one job until a 200, or a 4xx that retrying cannot change, or `deadlineAt`.
 * Back-off: 250 ms doubling to 2 s.
 */
export async function submitUntilAccepted(options: {
	relayUrl: string;
	apiKey: string;
	index: number;
	body: unknown;
	runStartedAtMs: number;
	deadlineAt: number;
}): Promise<SubmitResult> {
	const result: SubmitResult = {
		index: options.index,
		jobId: null,
		tries: 0,
		acceptedAtMs: null,
		refusals: {},
		gaveUp: null,
	};
	const body = JSON.stringify(options.body);
	let backoff = 250;
	while (Date.now() < options.deadlineAt) {
		result.tries++;
		let status = "network";
		try {
			const response = await fetch(`${options.relayUrl}/async/chat/completions`, {
				method: "POST",
				headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
				body,
				signal: AbortSignal.timeout(30_000),
			});
			const text = await response.text();
			status = String(response.status);
			if (response.ok) {
				const id = (JSON.parse(text) as { id?: unknown }).id;
				if (typeof id === "string") {
					result.jobId = id;
					result.acceptedAtMs = Date.now() - options.runStartedAtMs;
					return result;
				}
				status = "200-without-id";
			} else if (response.status >= 400 && response.status < 500 && response.status !== 429) {
				result.refusals[status] = (result.refusals[status] ?? 0) + 1;
				result.gaveUp = `${response.status} ${text.slice(0, 300)}`;
				return result;
			}
		} catch {
			status = "network";
		}
		result.refusals[status] = (result.refusals[status] ?? 0) + 1;
		await delay(Math.min(backoff, Math.max(0, options.deadlineAt - Date.now())));
		backoff = Math.min(backoff * 2, 2000);
	}
	return result;
}

/** What GET /async/chat/completions/{id} answered (it reads KV first). */
export interface JobView {
	httpStatus: number;
	status: string | null;
	deliveryStatus: string | null;
	hasResponse: boolean;
	errorMessage: string | null;
}

/** What GET …/{id}/deliveries answered: the Job DO's own state. */
export interface DeliveriesView {
	httpStatus: number;
	deliveryStatus: string | null;
	events: {
		webhook_id: string;
		event: string;
		status: string;
		series: number;
		attempts: number;
		last_error: string | null;
		next_attempt_at: string | null;
	}[];
	attempts: {
		attempt: number;
		series: number;
		webhook_id: string;
		at: string;
		status_code: number | null;
		error: string | null;
		duration_ms: number;
	}[];
	stats: Record<string, number | number[]> | null;
}

async function getJson(url: string, apiKey: string): Promise<{ status: number; body: unknown }> {
	// A few tries: a 503 (a Durable Object briefly unavailable) or a dropped connection is not an answer.
	let last = { status: 0, body: null as unknown };
	for (let attempt = 0; attempt < 3; attempt++) {
		try {
			const response = await fetch(url, {
				headers: { authorization: `Bearer ${apiKey}` },
				signal: AbortSignal.timeout(10_000),
			});
			const text = await response.text();
			let body: unknown = text;
			try {
				body = JSON.parse(text);
			} catch {
				// Keep the text.
			}
			last = { status: response.status, body };
			if (response.status !== 503 && response.status !== 500) return last;
		} catch (error) {
			last = { status: 0, body: String(error) };
		}
		await delay(500);
	}
	return last;
}

export async function readJob(relayUrl: string, apiKey: string, id: string): Promise<JobView> {
	const { status, body } = await getJson(`${relayUrl}/async/chat/completions/${id}`, apiKey);
	const job = (status === 200 ? body : null) as {
		status?: string;
		delivery_status?: string | null;
		response?: unknown;
		error_message?: string | null;
	} | null;
	return {
		httpStatus: status,
		status: job?.status ?? null,
		deliveryStatus: job?.delivery_status ?? null,
		hasResponse: job?.response !== null && job?.response !== undefined,
		errorMessage: job?.error_message ?? null,
	};
}

export async function readDeliveries(relayUrl: string, apiKey: string, id: string): Promise<DeliveriesView> {
	const { status, body } = await getJson(`${relayUrl}/async/chat/completions/${id}/deliveries`, apiKey);
	const report = (status === 200 ? body : null) as Partial<DeliveriesView> & { delivery_status?: string | null };
	return {
		httpStatus: status,
		deliveryStatus: report?.delivery_status ?? null,
		events: report?.events ?? [],
		attempts: report?.attempts ?? [],
		stats: (report?.stats as DeliveriesView["stats"]) ?? null,
	};
}

/** Settled, as the caller sees it: a final status, and the final event delivered or dead-lettered. */
export function isSettled(view: JobView): boolean {
	return (
		(view.status === "COMPLETED" || view.status === "FAILED") &&
		(view.deliveryStatus === "delivered" || view.deliveryStatus === "failed")
	);
}
