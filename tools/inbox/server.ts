/**
 * Serves the webhook inbox on Node (loopback by default), for `npm start`, the demo
 * and the end-to-end tests.
 */
import type { AddressInfo } from "node:net";
import type { ServerType } from "@hono/node-server";
import { serve } from "@hono/node-server";
import type { Inbox, InboxOptions } from "./app.ts";
import { createInbox } from "./app.ts";

export interface StartInboxOptions extends InboxOptions {
	/**
	 * Port to listen on; 0 picks a free one.
	 * @default 0
	 */
	port?: number;
	/**
	 * Address to listen on.
	 * @default "127.0.0.1"
	 */
	host?: string;
}

export interface RunningInbox {
	/** Base URL, e.g. `http://127.0.0.1:8789`; callbacks go to `${url}/hooks/<name>`. */
	url: string;
	port: number;
	inbox: Inbox;
	/** Stops listening, drops open connections and ends pending `hang_ms` waits. */
	close(): Promise<void>;
}

/**
 * Starts an inbox server.
 *
 * @example
 * const { url, inbox, close } = await startInbox({ secrets: [secret] });
 * // …callback_url: `${url}/hooks/my-test`…
 * inbox.events("my-test");
 * await close();
 */
export async function startInbox(options: StartInboxOptions = {}): Promise<RunningInbox> {
	const host = options.host ?? "127.0.0.1";
	const inbox = createInbox(options);
	const server = await new Promise<ServerType>((resolve, reject) => {
		const started = serve(
			// Keep Node's own Request/Response: the inbox may share a process with tests and other servers.
			{ fetch: inbox.app.fetch, port: options.port ?? 0, hostname: host, overrideGlobalObjects: false },
			() => resolve(started),
		);
		started.once("error", reject);
	});
	const { port } = server.address() as AddressInfo;
	let closing: Promise<void> | undefined;
	return {
		url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
		port,
		inbox,
		close() {
			closing ??= new Promise<void>((resolve) => {
				inbox.releaseHangs();
				server.close(() => resolve());
				if ("closeAllConnections" in server) server.closeAllConnections();
			});
			return closing;
		},
	};
}
