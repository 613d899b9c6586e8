/**
 * A webhook receiver for sonar-relay's pushes, with Node's standard library only (node:http,
 * node:crypto): it verifies the Standard Webhooks signature, answers 204 when it holds and 401 when
 * it does not, and prints the event type, the job id and the start of the answer.
 *
 * Run it beside `npm start`, then submit a job with `"callback_url": "http://127.0.0.1:8790/hooks"`:
 *
 *   npm run example:receiver
 *   npm run example:receiver -- --port 8790 --secret whsec_…
 *
 * Outside this repo it is one file with no dependencies: `node receiver.ts` (Node ≥ 22.18).
 *
 *   --port, PORT              where to listen (default 8790), on 127.0.0.1 (HOST to change it)
 *   --secret, WEBHOOK_SECRET  your `whsec_…` signing secret; several (space-separated, or --secret
 *                             again) during a key rotation. Without one, the receiver asks the relay:
 *                             GET $RELAY_URL/v1/webhook-secret with RELAY_API_KEY (default: the "dev"
 *                             key in ./.dev.vars, npm start's). The dashboard shows it too.
 *
 * How a push is verified (https://www.standardwebhooks.com/):
 *   key       = base64-decode(secret without its "whsec_" prefix)
 *   signature = "v1," + base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + raw body))
 * `webhook-signature` may hold several space-separated signatures; one match is enough. A timestamp
 * more than 5 minutes from now is refused (a replay), and signatures are compared in constant time.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { parseArgs } from "node:util";

/** How far `webhook-timestamp` may be from now, either way. */
const TOLERANCE_SECONDS = 5 * 60;
/** Bodies above this are refused (413): the relay pushes at most 1 MiB, with a `result_url` beyond that. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

const { values: flags } = parseArgs({
	options: { port: { type: "string" }, secret: { type: "string", multiple: true } },
});
const port = Number(flags.port ?? process.env.PORT ?? 8790);
const host = process.env.HOST || "127.0.0.1";
const secrets = flags.secret?.length
	? flags.secret
	: (process.env.WEBHOOK_SECRET ?? "").split(/[\s,]+/).filter(Boolean);
if (secrets.length === 0) secrets.push(...(await secretsFromRelay()));
if (secrets.some((secret) => !/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(secret))) {
	fail("a secret is not whsec_ followed by base64");
}

type Verdict = { ok: true } | { ok: false; reason: string };

/** Checks one delivery's Standard Webhooks headers against the raw body, as received. */
function verify(headers: IncomingMessage["headers"], body: Buffer): Verdict {
	const id = headers["webhook-id"];
	const timestamp = headers["webhook-timestamp"];
	const signatures = headers["webhook-signature"];
	if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") {
		return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
	}
	if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not Unix seconds" };
	if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
		return { ok: false, reason: "webhook-timestamp is more than 5 minutes from now" };
	}
	const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
	const expected = secrets.map((secret) =>
		createHmac("sha256", Buffer.from(secret.replace(/^whsec_/, ""), "base64"))
			.update(signed)
			.digest(),
	);
	for (const entry of signatures.split(" ")) {
		const [version, value] = entry.split(",", 2);
		if (version !== "v1" || !value) continue;
		const given = Buffer.from(value, "base64");
		// timingSafeEqual needs equal lengths; a SHA-256 MAC's length is no secret.
		if (expected.some((mac) => mac.length === given.length && timingSafeEqual(mac, given))) return { ok: true };
	}
	return { ok: false, reason: "no signature matches" };
}

/** One line about an event: what happened to which job, and the start of its answer (or its error). */
function describe(body: string): string {
	let event: { type?: string; data?: Record<string, unknown> };
	try {
		event = JSON.parse(body);
	} catch {
		return "(the body is not JSON)";
	}
	const data = (event.data ?? {}) as EventData;
	const answer = answerOf(data);
	const detail = answer
		? answer.replace(/\s+/g, " ").slice(0, 160)
		: (data.error_message ?? data.error?.message ?? (data.result_url ? `too large to push: ${data.result_url}` : ""));
	return `${event.type ?? "(no type)"}  job ${data.id ?? "?"}${detail ? `\n  ${detail}` : ""}`;
}

/** The parts of an event's `data` this receiver reads: a Sonar job, or an Agent API Response. */
interface EventData {
	id?: string;
	error_message?: string | null;
	error?: { message?: string } | null;
	result_url?: string;
	/** Sonar surface: a chat completion. */
	response?: { choices?: { message?: { content?: unknown } }[] } | null;
	/** Agent surface: output items; the answer is in the `message` items. */
	output?: { type?: string; content?: { type?: string; text?: string }[] }[];
}

function answerOf(data: EventData): string {
	const content = data.response?.choices?.[0]?.message?.content;
	if (typeof content === "string") return content;
	const items = [...(Array.isArray(content) ? [{ type: "message", content }] : []), ...(data.output ?? [])];
	return items
		.filter((item) => item.type === "message")
		.flatMap((item) => item.content ?? [])
		.map((part) => (typeof part.text === "string" ? part.text : ""))
		.join("");
}

/** The webhook-ids handled so far (a real receiver keeps them in its database, with the work they did). */
const seen = new Set<string>();

const server = createServer((req, res) => {
	const answer = (status: number, body?: object) => {
		res.writeHead(status, body ? { "content-type": "application/json" } : {}).end(body && JSON.stringify(body));
	};
	if (req.method !== "POST") return answer(405, { error: "POST only" });
	const chunks: Buffer[] = [];
	let size = 0;
	req.on("data", (chunk: Buffer) => {
		size += chunk.length;
		if (size <= MAX_BODY_BYTES) chunks.push(chunk);
	});
	req.on("end", () => {
		if (size > MAX_BODY_BYTES) return answer(413, { error: "body too large" });
		// Verify the bytes exactly as received: parsing and re-serialising the JSON would change them.
		const body = Buffer.concat(chunks);
		const verdict = verify(req.headers, body);
		if (!verdict.ok) {
			console.log(`✗ rejected (401): ${verdict.reason}`);
			return answer(401, { error: verdict.reason });
		}
		// Verified: now the body can be trusted. An event may come more than once (a retry after a
		// lost answer, a redelivery), always with the same webhook-id: act on it once.
		const id = String(req.headers["webhook-id"]);
		const again = seen.has(id) ? "  (again: a retry or a redelivery)" : "";
		seen.add(id);
		console.log(`✓ verified ${describe(body.toString("utf8"))}${again}`);
		answer(204);
	});
});
server.listen(port, host, () => {
	console.log(`receiver listening on http://${host}:${port} (POST to any path), ${secrets.length} secret(s)`);
});

/** The tenant's secrets from the relay (the current one, and the next during a rotation). */
async function secretsFromRelay(): Promise<string[]> {
	const relayUrl = process.env.RELAY_URL || "http://127.0.0.1:8787";
	const apiKey = process.env.RELAY_API_KEY || localApiKey();
	if (!apiKey) fail("Give --secret or WEBHOOK_SECRET, or RELAY_API_KEY to fetch it from the relay.");
	const res = await fetch(`${relayUrl}/v1/webhook-secret`, { headers: { authorization: `Bearer ${apiKey}` } }).catch(
		(error: Error) => fail(`cannot reach ${relayUrl} for the signing secret: ${error.message}`),
	);
	if (!res.ok) fail(`GET ${relayUrl}/v1/webhook-secret answered ${res.status}`);
	const { secret, next_secret } = (await res.json()) as { secret: string; next_secret?: string };
	console.log(`signing secret: from ${relayUrl}/v1/webhook-secret${next_secret ? " (and the next one)" : ""}`);
	return next_secret ? [secret, next_secret] : [secret];
}

function fail(message: string): never {
	console.error(`receiver: ${message}`);
	process.exit(1);
}

/** The local default: the "dev" tenant's key in ./.dev.vars (`API_KEYS="tenant:key,…"`), as npm start reads it. */
function localApiKey(): string | undefined {
	let text: string;
	try {
		text = readFileSync(".dev.vars", "utf8");
	} catch {
		return undefined;
	}
	const value = /^\s*API_KEYS\s*=\s*(?:"([^"]*)"|'([^']*)'|([^#\n]*))/m.exec(text);
	const pairs = (value?.[1] ?? value?.[2] ?? value?.[3] ?? "").split(",").map((pair) => pair.trim());
	const pair = pairs.find((p) => p.startsWith("dev:")) ?? pairs.find((p) => p.includes(":"));
	return pair?.slice(pair.indexOf(":") + 1);
}
