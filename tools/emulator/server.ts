/**
 * Serves the Perplexity emulator on Node (`@hono/node-server`), on loopback by
 * default. Used by the CLI (`main.ts`), test global setups and the benchmarks.
 * The Node request and response reach the app as its bindings, so a dropped
 * event stream can cut the socket itself.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createEmulator, type Emulator, type EmulatorOptions } from "./app.ts";

export type StartEmulatorOptions = EmulatorOptions & {
	/** 0 picks a free port. @default 0 */
	port?: number;
	/** @default "127.0.0.1" */
	host?: string;
	/** No per-request log lines. @default false */
	quiet?: boolean;
	/** Where log lines go. @default console.log */
	log?: (line: string) => void;
};

export interface RunningEmulator {
	/** The base URL, e.g. `http://127.0.0.1:8788`, to use as `PERPLEXITY_BASE_URL`. */
	url: string;
	port: number;
	emulator: Emulator;
	/** Stops listening and drops open connections (hanging calls included). */
	close(): Promise<void>;
}

/**
 * Starts an emulator and resolves once it is listening.
 *
 * @example
 * const upstream = await startEmulator({ apiKey: "k", port: 0, quiet: true });
 * await fetch(`${upstream.url}/v1/responses/resp_…`, { headers: { authorization: "Bearer k" } });
 * await upstream.close();
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
	const emulator = createEmulator(options);
	const host = options.host ?? "127.0.0.1";
	const log = options.log ?? ((line: string) => console.log(line));

	const fetch = async (request: Request, env: unknown): Promise<Response> => {
		const started = performance.now();
		const response = await emulator.app.fetch(request, env);
		if (!options.quiet) {
			// Method, path and status only: never the headers, which carry the API key.
			const { pathname, search } = new URL(request.url);
			const ms = Math.round(performance.now() - started);
			log(`${new Date().toISOString()} ${request.method} ${pathname}${search} ${response.status} ${ms}ms`);
		}
		return response;
	};

	const server = await new Promise<Server>((resolve, reject) => {
		const listening = serve({ fetch, port: options.port ?? 0, hostname: host }, () => resolve(listening as Server));
		listening.once("error", reject);
	});

	// Node closes an idle keep-alive connection after 5 s by default. A client that picks that
	// connection from its pool just then gets a reset, which the relay rightly reads as a network
	// failure (and as pushback). The real API sits behind load balancers that keep idle connections
	// for a minute or more; so does the emulator.
	server.keepAliveTimeout = 65_000;
	server.headersTimeout = 66_000;

	const { port } = server.address() as AddressInfo;
	const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
	let closing: Promise<void> | undefined;
	return {
		url,
		port,
		emulator,
		close() {
			closing ??= new Promise<void>((resolve, reject) => {
				server.close((error) => (error ? reject(error) : resolve()));
				// Keep-alive sockets and hanging calls would hold close() open; their requests' signals abort.
				server.closeAllConnections();
			});
			return closing;
		},
	};
}
