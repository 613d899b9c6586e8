/**
 * The benchmark's record of webhook pushes, for runs of up to tens of thousands of them: one
 * small record per delivery (the `webhook-id`, the job, the event type, the arrival time and
 * whether the signature verifies), the body dropped, every push answered 204 at once. The
 * server is the harnesses' one receiver (tools/lib/receiver.ts); `tools/inbox` keeps whole
 * deliveries and scripts failures, which tests need and a 10k-job run does not.
 */
import { FINAL_TYPES, type Push, startWebhookReceiver } from "../../tools/lib/receiver.ts";

export type Arrival = Push;

export interface Receiver {
	/** Base URL: callbacks go to `${url}/hooks/<name>`. */
	url: string;
	/** Every delivery, in arrival order. */
	arrivals(): readonly Arrival[];
	/** The first final (`completed` or `failed`) delivery per job id. */
	finalByJob(): ReadonlyMap<string, Arrival>;
	/** Deliveries beyond the first, summed over webhook-ids. */
	duplicates(): number;
	/** Up to `limit` duplicated webhook-ids, each with its arrival times relative to the first. */
	duplicateSamples(limit: number): { webhook_id: string; arrivals: number; later_by_ms: number[] }[];
	/** Called on each final event that is a job's first. */
	onFinal(listener: (arrival: Arrival) => void): void;
	close(): Promise<void>;
}

/**
 * Starts a receiver on loopback.
 *
 * @example
 * const receiver = await startReceiver({ secret: "whsec_…" });
 * // …callback_url: `${receiver.url}/hooks/steady`…
 * receiver.finalByJob().size; await receiver.close();
 */
export async function startReceiver(options: { secret: string; host?: string }): Promise<Receiver> {
	const arrivals: Arrival[] = [];
	const finals = new Map<string, Arrival>();
	const seen = new Map<string, number>();
	const listeners: ((arrival: Arrival) => void)[] = [];

	const server = await startWebhookReceiver({
		secret: options.secret,
		host: options.host,
		keepAliveTimeoutMs: 30_000,
		onPush(arrival) {
			arrivals.push(arrival);
			seen.set(arrival.webhookId, (seen.get(arrival.webhookId) ?? 0) + 1);
			const { jobId, type } = arrival;
			if (jobId !== null && type !== null && FINAL_TYPES.has(type) && !finals.has(jobId)) {
				finals.set(jobId, arrival);
				for (const listener of listeners) listener(arrival);
			}
			return "2xx";
		},
	});

	return {
		url: server.url,
		arrivals: () => arrivals,
		finalByJob: () => finals,
		duplicates: () => [...seen.values()].reduce((sum, count) => sum + count - 1, 0),
		duplicateSamples(limit) {
			const samples: { webhook_id: string; arrivals: number; later_by_ms: number[] }[] = [];
			for (const [webhookId, count] of seen) {
				if (count < 2) continue;
				const times = arrivals.filter((a) => a.webhookId === webhookId).map((a) => a.arrivedAtMs);
				const first = times[0] ?? 0;
				samples.push({ webhook_id: webhookId, arrivals: count, later_by_ms: times.slice(1).map((t) => t - first) });
				if (samples.length >= limit) break;
			}
			return samples;
		},
		onFinal: (listener) => listeners.push(listener),
		close: () => server.close(),
	};
}
