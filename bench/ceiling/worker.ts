/**
 * The ingest ceiling: a bare Worker that does the least a Worker must do to
 * create the same upstream job as the relay: it reads the trivial Sonar-shaped
 * body (`{request: {model, messages}}`), turns it into the Agent API background
 * run the relay would start for it, POSTs that to the upstream's (the
 * emulator's) `/v1/agent` and returns the answer. No auth, no validation, no
 * Durable Object, no KV: what a Worker on this machine can ingest at best, to
 * compare the relay's submit throughput against.
 */

interface CeilingEnv {
	/** The emulator's base URL. */
	UPSTREAM_URL: string;
	/** The emulator's API key. */
	UPSTREAM_API_KEY: string;
}

interface SonarBody {
	request?: { model?: string; messages?: { role: string; content: unknown }[] };
}

/** The model a Sonar `sonar` job runs as on the Agent API, searching the web (spec/agent-api.md). */
const AGENT_MODEL = "perplexity/sonar";

export default {
	async fetch(request: Request, env: CeilingEnv): Promise<Response> {
		const { pathname } = new URL(request.url);
		if (request.method === "GET" && pathname === "/healthz") return Response.json({ ok: true });
		if (request.method !== "POST") return new Response(null, { status: 405 });
		let body: SonarBody;
		try {
			body = (await request.json()) as SonarBody;
		} catch {
			return Response.json({ detail: "Malformed JSON body" }, { status: 400 });
		}
		const messages = body.request?.messages ?? [];
		return fetch(`${env.UPSTREAM_URL}/v1/agent`, {
			method: "POST",
			headers: { authorization: `Bearer ${env.UPSTREAM_API_KEY}`, "content-type": "application/json" },
			body: JSON.stringify({
				model: AGENT_MODEL,
				input: messages.map((m) => ({ type: "message", role: m.role, content: m.content })),
				tools: [{ type: "web_search" }],
				background: true,
			}),
		});
	},
};
