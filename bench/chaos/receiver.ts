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
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { hashString, mulberry32 } from "../../tools/emulator/answers.ts";

export type FaultPlan = "ok" | "fail_first" | "hang" | "reset" | "dead";

/** What the receiver did with one arrival. */
export type ArrivalOutcome = "2xx" | "500" | "hang" | "reset";

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

const FINAL_TYPES = new Set(["async_chat_completion.completed", "async_chat_completion.failed"]);

/**
 * Starts the receiver on 127.0.0.1; `secret` is the tenant's `whsec_` secret (signatures are checked, not enforced).
 *
 * @example
 * const receiver = await startChaosReceiver({ secret, faults });
 * // …callback_url: `${receiver.url}/hooks/chaos`…
 * await receiver.close();
 */
export async function startChaosReceiver(options: { secret: string; faults: ReceiverFaults }): Promise<ChaosReceiver> {
	const webhook = new Webhook(options.secret);
	const events = new Map<string, EventRecord>();
	const pushedJobs = new Set<string>();
	const hangs = new Set<NodeJS.Timeout>();

	const header = (headers: IncomingMessage["headers"], name: string) => {
		const value = headers[name];
		return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
	};

	const onBody = (req: IncomingMessage, res: ServerResponse, body: string) => {
		const webhookId = header(req.headers, "webhook-id");
		let verified = false;
		try {
			webhook.verify(body, {
				"webhook-id": webhookId,
				"webhook-timestamp": header(req.headers, "webhook-timestamp"),
				"webhook-signature": header(req.headers, "webhook-signature"),
			});
			verified = true;
		} catch {
			verified = false;
		}
		let record = events.get(webhookId);
		if (!record) {
			let jobId: string | null = null;
			let type: string | null = null;
			try {
				const event = JSON.parse(body) as { type?: unknown; data?: { id?: unknown } };
				type = typeof event.type === "string" ? event.type : null;
				jobId = typeof event.data?.id === "string" ? event.data.id : null;
			} catch {
				// Not JSON: recorded with no job, and the report shows it.
			}
			record = { webhookId, jobId, type, plan: planFor(options.faults, webhookId), arrivals: [] };
			events.set(webhookId, record);
		}
		const first = record.arrivals.length === 0;
		let outcome: ArrivalOutcome = "2xx";
		if (record.plan === "dead") outcome = "500";
		else if (first && record.plan === "fail_first") outcome = "500";
		else if (first && record.plan === "hang") outcome = "hang";
		else if (first && record.plan === "reset") outcome = "reset";
		record.arrivals.push({ atMs: Date.now(), outcome, verified });

		switch (outcome) {
			case "2xx":
				if (record.jobId && record.type && FINAL_TYPES.has(record.type)) pushedJobs.add(record.jobId);
				res.writeHead(204).end();
				return;
			case "500":
				res.writeHead(500, { "content-type": "text/plain" }).end("chaos: injected failure");
				return;
			case "reset":
				req.socket.destroy();
				return;
			case "hang": {
				const timer = setTimeout(() => {
					hangs.delete(timer);
					req.socket.destroy();
				}, options.faults.hangMs);
				hangs.add(timer);
				return;
			}
		}
	};

	const server = createServer((req, res) => {
		if (req.method !== "POST" || !req.url?.startsWith("/hooks/")) {
			req.resume();
			res.writeHead(404).end();
			return;
		}
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => onBody(req, res, Buffer.concat(chunks).toString("utf8")));
		req.on("error", () => res.destroy());
	});
	server.keepAliveTimeout = 10_000;
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => resolve());
	});
	const { port } = server.address() as AddressInfo;

	let closing: Promise<void> | undefined;
	return {
		url: `http://127.0.0.1:${port}`,
		events: () => events,
		finalPushed: (jobId) => pushedJobs.has(jobId),
		close() {
			closing ??= new Promise<void>((resolve) => {
				for (const timer of hangs) clearTimeout(timer);
				hangs.clear();
				server.close(() => resolve());
				server.closeAllConnections();
			});
			return closing;
		},
	};
}
