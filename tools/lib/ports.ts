/** Loopback ports for the Node-side harnesses: is one free, and a free one picked by the OS. */
import { createServer } from "node:net";

/** Resolves true when nothing listens on `host:port` (by listening on it for a moment). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
	return new Promise((resolve) => {
		const server = createServer();
		server.once("error", () => resolve(false));
		server.listen(port, host, () => server.close(() => resolve(true)));
	});
}

/** A port nothing listens on right now, picked by the OS. */
export function freePort(host = "127.0.0.1"): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, host, () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}
