/**
 * The one Node-side webhook receiver of the harnesses (the benchmark and the chaos run): a small
 * `node:http` server on loopback that reads each push, checks its Standard Webhooks signature,
 * reads its `webhook-id`, job id and event type, and answers as its caller says: a 204 at once,
 * a 500, a connection held open (then dropped), or a connection reset. It keeps nothing: the
 * caller records what it needs, so a 10k-job run stays lean. `tools/inbox` is the other kind: it
 * keeps whole deliveries for `npm start` and the end-to-end tests.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** One push as it arrived. */
export interface Push {
	webhookId: string;
	/** `data.id` of the event: the relay's job id (null when the body is not such JSON). */
	jobId: string | null;
	/** `async_chat_completion.completed`, `.failed` or `.started` (null when the body is not such JSON). */
	type: string | null;
	/** `Date.now()` when the whole body had arrived. */
	arrivedAtMs: number;
	/** Whether the Standard Webhooks signature verifies under the receiver's secret (checked, not enforced). */
	verified: boolean;
}

/**
 * How the receiver answers a push:
 * - `2xx`: a 204 at once;
 * - `500`: a 500 with a short text body;
 * - `hang`: no answer, and the connection dropped after `hangMs`;
 * - `reset`: the connection destroyed at once.
 */
export type Reply = "2xx" | "500" | "hang" | "reset";

export interface WebhookReceiverOptions {
	/** The tenant's `whsec_` secret. */
	secret: string;
	/** @default "127.0.0.1" */
	host?: string;
	/** How long an idle keep-alive connection stays open. @default 30000 */
	keepAliveTimeoutMs?: number;
	/** How long a `hang` holds the connection before dropping it. @default 30000 */
	hangMs?: number;
	/** The body of a `500` reply. @default "receiver: injected failure" */
	failureText?: string;
	/** Told of every push; its answer is how the receiver replies. @default a 204 */
	onPush?: (push: Push) => Reply | undefined;
}

export interface WebhookReceiver {
	/** Base URL: callbacks go to `${url}/hooks/<name>`; any other path or method is a 404. */
	url: string;
	/** Stops listening, drops every connection (held ones included); resolves once closed. */
	close(): Promise<void>;
}

/** The event types that end a job. */
export const FINAL_TYPES: ReadonlySet<string> = new Set([
	"async_chat_completion.completed",
	"async_chat_completion.failed",
]);

/**
 * Starts a receiver on loopback.
 *
 * @example
 * const receiver = await startWebhookReceiver({ secret, onPush: (push) => (push.verified ? "2xx" : "500") });
 * // …callback_url: `${receiver.url}/hooks/steady`…
 * await receiver.close();
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
	const webhook = new Webhook(options.secret);
	const hangs = new Set<NodeJS.Timeout>();

	const read = (headers: IncomingMessage["headers"], body: string): Push => {
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
			// Recorded with no job: a body that is not JSON is a relay bug the reports show as unjoined.
		}
		return { webhookId, jobId, type, arrivedAtMs: Date.now(), verified };
	};

	const server = createServer((req, res) => {
		if (req.method !== "POST" || !req.url?.startsWith("/hooks/")) {
			req.resume();
			res.writeHead(404).end();
			return;
		}
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => {
			const reply = options.onPush?.(read(req.headers, Buffer.concat(chunks).toString("utf8"))) ?? "2xx";
			switch (reply) {
				case "2xx":
					res.writeHead(204).end();
					return;
				case "500":
					res.writeHead(500, { "content-type": "text/plain" }).end(options.failureText ?? "receiver: injected failure");
					return;
				case "reset":
					req.socket.destroy();
					return;
				case "hang": {
					const timer = setTimeout(() => {
						hangs.delete(timer);
						req.socket.destroy();
					}, options.hangMs ?? 30_000);
					hangs.add(timer);
					return;
				}
			}
		});
		req.on("error", () => res.destroy());
	});
	server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 30_000;

	const host = options.host ?? "127.0.0.1";
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, host, () => resolve());
	});
	const { port } = server.address() as AddressInfo;

	let closing: Promise<void> | undefined;
	return {
		url: `http://${host}:${port}`,
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
