/**
 * The chaos run's webhook receiver: a small `node:http` server on loopback that
 * records every delivery by `webhook-id` and misbehaves on purpose. Which events
 * misbehave is decided per `webhook-id` by a seeded hash, so a run is replayable:
 *
 * - `fail_first` (40 %): the first attempt gets a 500, later ones a 204;
 * - `hang` (5 %): the first attempt is held past the relay's `DELIVERY_TIMEOUT_MS`
 *   (bounded: `hangMs`), then the connection is dropped without an answer;
 * - `reset` (2 %): the first attempt's connection is destroyed once its body is in;
 * - `dead` (0 % unless asked): every attempt gets a 500, so the event must be dead-lettered;
 * - `ok`: a 204 at once.
 *
 * A "2xx" below is a 204 the receiver wrote: that is what the relay may count as delivered.
 * The server is the harnesses' one receiver (tools/lib/receiver.ts); this module decides its
 * replies and keeps the chaos run's record.
 */
import { hashString, mulberry32 } from "../../tools/emulator/answers.ts";
import { FINAL_TYPES, type Reply, startWebhookReceiver } from "../../tools/lib/receiver.ts";

export type FaultPlan = "ok" | "fail_first" | "hang" | "reset" | "dead";

/** What the receiver did with one arrival. */
export type ArrivalOutcome = Reply;

export interface ReceiverFaults {
	seed: number;
	failFirstRate: number;
	hangRate: number;
	resetRate: number;
	deadRate: number;
	hangMs: number;
}

export interface Arrival {
	/** `Date.now()` when the body was in. */
	atMs: number;
	outcome: ArrivalOutcome;
	verified: boolean;
}

export interface EventRecord {
	webhookId: string;
	/** `data.id`: the relay's job id. */
	jobId: string | null;
	type: string | null;
	plan: FaultPlan;
	arrivals: Arrival[];
}

export interface ChaosReceiver {
	/** Callbacks go to `${url}/hooks/chaos`. */
	url: string;
	/** Every event seen, by `webhook-id`. */
	events(): ReadonlyMap<string, EventRecord>;
	/** Arrivals answered with a 2xx, per job id (final events only). */
	finalPushed(jobId: string): boolean;
	close(): Promise<void>;
}

/**
 * The fault plan of one event: a pure function of the seed and the `webhook-id`.
 *
 * @example
 * planFor({ seed: 1, failFirstRate: 0.4, hangRate: 0.05, resetRate: 0.02, deadRate: 0, hangMs: 5000 }, "msg_x_completed")
 */
export function planFor(faults: Omit<ReceiverFaults, "hangMs">, webhookId: string): FaultPlan {
	const roll = mulberry32(hashString(`${faults.seed}:${webhookId}`))();
	if (roll >= 1 - faults.deadRate) return "dead";
	let edge = faults.resetRate;
	if (roll < edge) return "reset";
	edge += faults.hangRate;
	if (roll < edge) return "hang";
	edge += faults.failFirstRate;
	if (roll < edge) return "fail_first";
	return "ok";
}

/**
 * Starts the receiver on 127.0.0.1; `secret` is the tenant's `whsec_` secret (signatures are checked, not enforced).
 *
 * @example
 * const receiver = await startChaosReceiver({ secret, faults });
 * // …callback_url: `${receiver.url}/hooks/chaos`…
 * await receiver.close();
 */
export async function startChaosReceiver(options: { secret: string; faults: ReceiverFaults }): Promise<ChaosReceiver> {
	const events = new Map<string, EventRecord>();
	const pushedJobs = new Set<string>();

	const server = await startWebhookReceiver({
		secret: options.secret,
		keepAliveTimeoutMs: 10_000,
		hangMs: options.faults.hangMs,
		failureText: "chaos: injected failure",
		onPush({ webhookId, jobId, type, arrivedAtMs, verified }) {
			let record = events.get(webhookId);
			if (!record) {
				record = { webhookId, jobId, type, plan: planFor(options.faults, webhookId), arrivals: [] };
				events.set(webhookId, record);
			}
			const first = record.arrivals.length === 0;
			let outcome: ArrivalOutcome = "2xx";
			if (record.plan === "dead") outcome = "500";
			else if (first && record.plan === "fail_first") outcome = "500";
			else if (first && record.plan === "hang") outcome = "hang";
			else if (first && record.plan === "reset") outcome = "reset";
			record.arrivals.push({ atMs: arrivedAtMs, outcome, verified });
			if (outcome === "2xx" && record.jobId && record.type && FINAL_TYPES.has(record.type))
				pushedJobs.add(record.jobId);
			return outcome;
		},
	});

	return {
		url: server.url,
		events: () => events,
		finalPushed: (jobId) => pushedJobs.has(jobId),
		close: () => server.close(),
	};
}
