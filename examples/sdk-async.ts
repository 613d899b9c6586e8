/**
 * The official Perplexity SDK, pointed at sonar-relay: submit an async chat completion, wait for it
 * (polling, bounded), then list your jobs. The relay also pushes the result to `callback_url`, so a
 * caller that can receive webhooks never has to poll; this example polls to show the SDK's calls.
 *
 * Run it against `npm start` (in another terminal):
 *
 *   npm run example:sdk -- "What is a Durable Object alarm?"
 *
 * Outside this repo: `npm i @perplexity-ai/perplexity_ai`, then `node sdk-async.ts` (Node ≥ 22.18).
 *
 *   RELAY_URL      the relay (default http://127.0.0.1:8787, npm start's)
 *   RELAY_API_KEY  your relay API key (default: the "dev" key in ./.dev.vars, npm start's)
 *   CALLBACK_URL   where the relay pushes the result (default: npm start's inbox,
 *                  http://127.0.0.1:8789/hooks/sdk-async; empty: no push)
 *   --model sonar  --timeout 120 (seconds to wait for the job)
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import Perplexity from "@perplexity-ai/perplexity_ai";

const { values: flags, positionals } = parseArgs({
	allowPositionals: true,
	options: { model: { type: "string", default: "sonar" }, timeout: { type: "string", default: "120" } },
});
const question = positionals.join(" ").trim() || "What is a Cloudflare Durable Object alarm?";
const timeoutMs = (Number(flags.timeout) || 120) * 1000;
const relayUrl = process.env.RELAY_URL || "http://127.0.0.1:8787";
const apiKey = process.env.RELAY_API_KEY || localApiKey();
const callbackUrl = process.env.CALLBACK_URL ?? "http://127.0.0.1:8789/hooks/sdk-async";
if (!apiKey) fail("Set RELAY_API_KEY (or run from the repo root after `npm start` has created .dev.vars).");

// The relay speaks the Perplexity API: only the base URL and the key change.
const client = new Perplexity({ baseURL: relayUrl, apiKey, timeout: 10_000 });

// 1. Submit. `callback_url` and `metadata` are the relay's push fields, beside `request`; the
//    SDK's types do not know them, but it sends the body as given.
const created = await client.async.chat.completions.create({
	request: { model: flags.model, messages: [{ role: "user", content: question }] },
	...(callbackUrl ? { callback_url: callbackUrl, metadata: { example: "sdk-async" } } : {}),
});
console.log(`created   ${created.id}  ${created.status}  (${created.model})`);
if (callbackUrl) console.log(`push to   ${callbackUrl}`);

// 2. Poll until the job ends, for at most `timeoutMs`.
const deadline = Date.now() + timeoutMs;
let job = created;
while (job.status !== "COMPLETED" && job.status !== "FAILED") {
	if (Date.now() > deadline) fail(`job ${job.id} is still ${job.status} after ${timeoutMs / 1000} s`);
	await new Promise((resolve) => setTimeout(resolve, 1000));
	const previous = job.status;
	job = await client.async.chat.completions.get(created.id);
	if (job.status !== previous) console.log(`status    ${job.status}`);
}
if (job.status === "FAILED") fail(`job ${job.id} failed: ${job.error_message ?? "(no error_message)"}`);

const content = job.response?.choices[0]?.message.content;
const answer = typeof content === "string" ? content : (content ?? []).map((c) => ("text" in c ? c.text : "")).join("");
console.log(`\nanswer    ${answer.slice(0, 300).replaceAll("\n", " ")}${answer.length > 300 ? " […]" : ""}`);
for (const [i, source] of (job.response?.search_results ?? []).slice(0, 5).entries()) {
	console.log(`  [${i + 1}] ${source.title} — ${source.url}`);
}

// 3. List your jobs, newest first (`limit` and `next_token` page through them).
const page = await client.async.chat.completions.list({ query: { limit: 5 } });
console.log("\nyour latest jobs:");
for (const item of page.requests) {
	console.log(`  ${item.id}  ${item.status.padEnd(11)} ${item.model}${item.id === job.id ? "   ← this one" : ""}`);
}
if (!page.requests.some((item) => item.id === job.id)) fail(`job ${job.id} is not in the list`);

function fail(message: string): never {
	console.error(`sdk-async: ${message}`);
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
