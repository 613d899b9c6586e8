/**
 * A lean webhook receiver for benchmark runs of up to tens of thousands of
 * pushes: it keeps one small record per delivery (the `webhook-id`, the job,
 * the event type, the arrival time and whether the Standard Webhooks signature
 * verifies), drops the body, and answers 204 at once. `tools/inbox` keeps whole
 * deliveries and scripts failures, which tests need and a 10k-job run does not.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Arrival {
	webhookId: string;
	/** `data.id` of the event: the relay's job id. */
	jobId: string | null;
	/** `async_chat_completion.completed`, `.failed` or `.started`. */
	type: string | null;
	/** `Date.now()` when the whole body had arrived. */
	arrivedAtMs: number;
	verified: boolean;
}

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

const FINAL_TYPES = new Set(["async_chat_completion.completed", "async_chat_completion.failed"]);

/**
 * Starts a receiver on loopback.
 *
 * @example
 * const receiver = await startReceiver({ secret: "whsec_…" });
 * // …callback_url: `${receiver.url}/hooks/steady`…
 * receiver.finalByJob().size; await receiver.close();
 */
export async function startReceiver(options: { secret: string; host?: string }): Promise<Receiver> {
	const webhook = new Webhook(options.secret);
	const arrivals: Arrival[] = [];
	const finals = new Map<string, Arrival>();
	const seen = new Map<string, number>();
	const listeners: ((arrival: Arrival) => void)[] = [];

	const record = (headers: IncomingMessage["headers"], body: string) => {
		const header = (name: string) => {
			const value = headers[name];
			return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
		};
		const webhookId = header("webhook-id");
		let verified = false;
		try {
			webhook.verify(body, {
				"webhook-id": webhookId,
				"webhook-timestamp": header("webhook-timestamp"),
				"webhook-signature": header("webhook-signature"),
			});
			verified = true;
		} catch {
			verified = false;
		}
		let jobId: string | null = null;
		let type: string | null = null;
		try {
			const event = JSON.parse(body) as { type?: unknown; data?: { id?: unknown } };
			type = typeof event.type === "string" ? event.type : null;
			jobId = typeof event.data?.id === "string" ? event.data.id : null;
		} catch {
			// Counted, with no job: a body that is not JSON is a relay bug the report shows as unjoined.
		}
		const arrival: Arrival = { webhookId, jobId, type, arrivedAtMs: Date.now(), verified };
		arrivals.push(arrival);
		seen.set(webhookId, (seen.get(webhookId) ?? 0) + 1);
		if (jobId !== null && type !== null && FINAL_TYPES.has(type) && !finals.has(jobId)) {
			finals.set(jobId, arrival);
			for (const listener of listeners) listener(arrival);
		}
	};

	const server = createServer((req: IncomingMessage, res: ServerResponse) => {
		if (req.method !== "POST" || !req.url?.startsWith("/hooks/")) {
			res.writeHead(404).end();
			req.resume();
			return;
		}
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => {
			record(req.headers, Buffer.concat(chunks).toString("utf8"));
			res.writeHead(204).end();
		});
		req.on("error", () => res.destroy());
	});
	server.keepAliveTimeout = 30_000;

	const host = options.host ?? "127.0.0.1";
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, host, () => resolve());
	});
	const { port } = server.address() as AddressInfo;

	let closing: Promise<void> | undefined;
	return {
		url: `http://${host}:${port}`,
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
		close() {
			closing ??= new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			});
			return closing;
		},
	};
}
