/**
 * `npm run demo [question…]`: one round trip through a running `npm start`.
 * Submits a question with a callback to the local inbox, shows the job's progress,
 * waits for the push, checks its signature itself and prints the answer and sources.
 *
 *   RELAY_URL (http://127.0.0.1:8787), INBOX_URL (http://127.0.0.1:8789)
 *   --model sonar   --timeout 180 (seconds)
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { devTenant, localVars } from "./dev-vars.ts";
import { answerText, type Delivery, formatAnswer, parseEvent } from "./inbox/app.ts";

const DEFAULT_QUESTION = "What is a Cloudflare Durable Object alarm?";
const root = join(import.meta.dirname, "..");

const { values: flags, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		model: { type: "string", default: "sonar" },
		timeout: { type: "string", default: "180" },
	},
});
const question = positionals.join(" ").trim() || DEFAULT_QUESTION;
const timeoutMs = Math.max(1, Number(flags.timeout) || 180) * 1000;
const relayUrl = (process.env.RELAY_URL ?? `http://127.0.0.1:${process.env.RELAY_PORT || 8787}`).replace(/\/$/, "");
const inboxUrl = (process.env.INBOX_URL ?? `http://127.0.0.1:${process.env.INBOX_PORT || 8789}`).replace(/\/$/, "");

function die(message: string): never {
	console.error(`\n${message}`);
	process.exit(1);
}

async function call(url: string, init: RequestInit = {}): Promise<Response> {
	return fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
}

async function json<T>(response: Response): Promise<T> {
	const text = await response.text();
	try {
		return JSON.parse(text) as T;
	} catch {
		throw new Error(`${response.status} ${text.slice(0, 200)}`);
	}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ── Preflight: is npm start running? ────────────────────────────────────────

for (const [what, url] of [
	["relay", `${relayUrl}/healthz`],
	["inbox", `${inboxUrl}/__inbox/events?name=__demo_probe`],
] as const) {
	const reachable = await call(url).then(
		(r) => r.ok,
		() => false,
	);
	if (!reachable) {
		die(
			`The ${what} is not reachable at ${new URL(url).origin}.\n` +
				"Start it in another terminal with `npm start`, then run `npm run demo` again.",
		);
	}
}

const tenant = devTenant(localVars(root));
if (!tenant) die("No API key: .dev.vars has no API_KEYS (tenant:key pairs). Run `npm start` once to create it.");
const auth = { authorization: `Bearer ${tenant.key}` };

// ── Submit ──────────────────────────────────────────────────────────────────

const name = `demo-${randomBytes(4).toString("hex")}`;
const callbackUrl = `${inboxUrl}/hooks/${name}`;
console.log(`Question  ${question}`);
const submitted = await call(`${relayUrl}/async/chat/completions`, {
	method: "POST",
	headers: { ...auth, "content-type": "application/json" },
	body: JSON.stringify({
		request: { model: flags.model, messages: [{ role: "user", content: question }] },
		callback_url: callbackUrl,
		metadata: { source: "npm run demo" },
	}),
});
const job = await json<{ id?: string; status?: string; detail?: unknown }>(submitted);
if (!submitted.ok || !job.id)
	die(`The relay refused the job (${submitted.status}): ${JSON.stringify(job.detail ?? job)}`);
console.log(`Job       ${job.id}`);
console.log(`Callback  ${callbackUrl}`);

const secretAnswer = await call(`${relayUrl}/v1/webhook-secret`, { headers: auth });
const { secret } = secretAnswer.ok ? await json<{ secret?: string }>(secretAnswer) : { secret: undefined };

// ── Wait for the push, showing the job's status ─────────────────────────────

const started = Date.now();
const interactive = process.stdout.isTTY === true;
const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
let status = job.status ?? "CREATED";
let lastPrinted = "";
let lastStatusCheck = 0;
let event: Delivery | undefined;

for (let tick = 0; Date.now() - started < timeoutMs; tick++) {
	const events = await call(`${inboxUrl}/__inbox/events?name=${name}`)
		.then((r) => json<{ events: Delivery[] }>(r))
		.catch(() => ({ events: [] as Delivery[] }));
	event = events.events.find((e) => /\.(completed|failed)$/.test(parseEvent(e.body)?.type ?? ""));
	if (event) break;

	if (Date.now() - lastStatusCheck >= 1000) {
		lastStatusCheck = Date.now();
		const current = await call(`${relayUrl}/async/chat/completions/${job.id}`, { headers: auth })
			.then((r) => json<{ status?: string }>(r))
			.catch(() => undefined);
		if (current?.status) status = current.status;
	}
	const seconds = ((Date.now() - started) / 1000).toFixed(1);
	const waiting = status === "COMPLETED" || status === "FAILED" ? `${status}, waiting for the webhook` : status;
	if (interactive) {
		process.stdout.write(`\r${spinner[tick % spinner.length]} ${waiting} · ${seconds} s   `);
	} else if (waiting !== lastPrinted) {
		console.log(`… ${waiting} (${seconds} s)`);
	}
	lastPrinted = waiting;
	await sleep(250);
}
if (interactive) process.stdout.write("\r\x1b[2K");

if (!event) {
	die(
		`No webhook arrived within ${timeoutMs / 1000} s (the job is ${status}). Look at the npm start terminal,\n` +
			`or at ${relayUrl}/async/chat/completions/${job.id}/deliveries.`,
	);
}

// ── Verify it ourselves and print it ────────────────────────────────────────

const elapsed = ((event.receivedAt - started) / 1000).toFixed(1);
let verified = false;
if (secret) {
	try {
		new Webhook(secret).verify(event.body, event.headers);
		verified = true;
	} catch {
		verified = false;
	}
}
const payload = parseEvent(event.body);
console.log(`Pushed    ${payload?.type} after ${elapsed} s`);
console.log(
	secret
		? `Signature ${verified ? "✓ verified" : "✗ does NOT verify"} (Standard Webhooks; secret: GET /v1/webhook-secret)`
		: `Signature not checked: GET /v1/webhook-secret answered ${secretAnswer.status}`,
);
console.log("");
if (payload?.type?.endsWith(".failed")) {
	die(`The job failed: ${payload.data?.error_message ?? "(no error_message)"}`);
}
if (answerText(payload?.data) === undefined) console.log("  (the event carries no answer text)");
console.log(formatAnswer(payload?.data, Number.POSITIVE_INFINITY));
console.log("");
process.exit(verified ? 0 : 1);
