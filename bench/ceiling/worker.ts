/**
 * The ingest ceiling: a bare Worker that only forwards a create POST to the
 * upstream (the emulator) and returns its answer. No auth, no validation, no
 * Durable Object, no KV: what a Worker on this machine can ingest at best, to
 * compare the relay's submit throughput against.
 */

interface CeilingEnv {
	/** The emulator's base URL. */
	UPSTREAM_URL: string;
	/** The emulator's API key. */
	UPSTREAM_API_KEY: string;
}

export default {
	async fetch(request: Request, env: CeilingEnv): Promise<Response> {
		const { pathname } = new URL(request.url);
		if (request.method === "GET" && pathname === "/healthz") return Response.json({ ok: true });
		if (request.method !== "POST") return new Response(null, { status: 405 });
		return fetch(`${env.UPSTREAM_URL}/async/chat/completions`, {
			method: "POST",
			headers: { authorization: `Bearer ${env.UPSTREAM_API_KEY}`, "content-type": "application/json" },
			body: request.body,
		});
	},
};
