/**
 * The Agent API surface through the official Perplexity SDK's `responses` resource, pointed at
 * sonar-relay: start a background run with a `callback_url`, retrieve it until it ends, then start
 * a second, slower run and cancel it. The relay pushes `response.completed` and `response.cancelled`
 * to the callback (see docs/agent-surface.md).
 *
 * Run it against `npm start` (in another terminal):
 *
 *   npm run example:agent -- "What is a Durable Object alarm?"
 *
 * Outside this repo: `npm i @perplexity-ai/perplexity_ai`, then `node agent-responses.ts` (Node ≥ 22.18).
 *
 *   RELAY_URL      the relay (default http://127.0.0.1:8787, npm start's)
 *   RELAY_API_KEY  your relay API key (default: the "dev" key in ./.dev.vars, npm start's)
 *   CALLBACK_URL   where the relay pushes the runs' events (default: npm start's inbox,
 *                  http://127.0.0.1:8789/hooks/agent-responses; empty: no push)
 *   --preset fast       the first run's preset (fast, low, medium, high, xhigh)
 *   --slow-preset high  the run that gets cancelled (deep research: minutes)
 *   --timeout 120       seconds to wait for the first run
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import Perplexity, { ConflictError } from "@perplexity-ai/perplexity_ai";

/** A non-streaming create's parameters, so that `create` resolves to a Response, not a stream. */
type RunParams = Omit<Parameters<Perplexity["responses"]["create"]>[0], "stream"> & { stream?: false };
/** The relay's push field, and the Agent API's `metadata`: the relay takes both, the SDK's type has neither. */
interface RelayFields {
	callback_url?: string;
	metadata?: Record<string, string>;
}

const { values: flags, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		preset: { type: "string", default: "fast" },
		"slow-preset": { type: "string", default: "high" },
		timeout: { type: "string", default: "120" },
	},
});
const question = positionals.join(" ").trim() || "What is a Cloudflare Durable Object alarm?";
const timeoutMs = (Number(flags.timeout) || 120) * 1000;
const relayUrl = process.env.RELAY_URL || "http://127.0.0.1:8787";
const apiKey = process.env.RELAY_API_KEY || localApiKey();
const callbackUrl = process.env.CALLBACK_URL ?? "http://127.0.0.1:8789/hooks/agent-responses";
if (!apiKey) fail("Set RELAY_API_KEY (or run from the repo root after `npm start` has created .dev.vars).");

const client = new Perplexity({ baseURL: relayUrl, apiKey, timeout: 10_000 });
// The SDK sends the body as given, so the relay's push field rides beside the Agent API's own.
const startRun = (params: RunParams & RelayFields) => client.responses.create(params);
const push = callbackUrl ? { callback_url: callbackUrl } : {};

// 1. A background run. The relay answers at once with the Response object, status "queued".
const run = await startRun({
	preset: flags.preset,
	input: question,
	background: true,
	metadata: { example: "agent-responses" },
	...push,
});
console.log(`created   ${run.id}  ${run.status}  (preset ${flags.preset})`);
if (callbackUrl) console.log(`push to   ${callbackUrl}`);

// 2. Retrieve it until it ends (a webhook receiver would just wait for response.completed).
const ended = new Set(["completed", "failed", "cancelled", "incomplete"]);
const deadline = Date.now() + timeoutMs;
let current = run;
while (!ended.has(current.status)) {
	if (Date.now() > deadline) fail(`run ${run.id} is still ${current.status} after ${timeoutMs / 1000} s`);
	await new Promise((resolve) => setTimeout(resolve, 1000));
	const previous = current.status;
	current = await client.responses.retrieve(run.id);
	if (current.status !== previous) console.log(`status    ${current.status}`);
}
if (current.status !== "completed") fail(`run ${run.id} ended ${current.status}: ${current.error?.message ?? ""}`);
// `output_text` is the SDK's join of the message items' text; `output` has every item (search results too).
const text = current.output_text;
console.log(`retrieved ${current.id}  ${current.status}  (${current.model})`);
console.log(`answer    ${text.slice(0, 300).replaceAll("\n", " ")}${text.length > 300 ? " […]" : ""}`);

// 3. A slower run, cancelled right away: upstream's run is cancelled too, and response.cancelled is pushed.
const slow = await startRun({ preset: flags["slow-preset"], input: question, background: true, ...push });
console.log(`\ncreated   ${slow.id}  ${slow.status}  (preset ${flags["slow-preset"]})`);
try {
	const cancelled = await client.responses.cancel(slow.id);
	console.log(`cancel    ${cancelled.response_id}  ${cancelled.status}`);
} catch (error) {
	// 409: the run ended before the cancel arrived; there is nothing left to cancel, and nothing to undo.
	if (!(error instanceof ConflictError)) throw error;
	console.log(`cancel    a no-op: ${error.message}`);
}
const after = await client.responses.retrieve(slow.id);
console.log(`retrieved ${after.id}  ${after.status}`);

function fail(message: string): never {
	console.error(`agent-responses: ${message}`);
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
