/**
 * `npm run slack -- "question"`: plays Slack for one `/ask` slash command, against `npm start`.
 *
 * It signs the command the way Slack does (`X-Slack-Signature: v0=` + hex HMAC-SHA256 of
 * `v0:<timestamp>:<body>` under the app's signing secret), posts it to the relay's
 * `/integrations/slack/commands`, prints the immediate reply, and plays the command's `response_url`
 * with a small local listener that prints every message the relay posts there (a "Searching: …"
 * progress note, the answer) until the final one arrives.
 *
 *   npm run slack -- "What is a Durable Object alarm?"
 *   npm run slack -- "preset:fast What is a Durable Object alarm?"   (seconds, not minutes)
 *
 * The relay's Slack model is `SLACK_MODEL` (default sonar-deep-research: minutes, even against
 * the emulator); a leading `preset:NAME` picks another depth. A loopback `response_url` is accepted
 * only with `ALLOW_PRIVATE_CALLBACKS=true`, which `npm start`'s .dev.vars sets.
 *
 *   RELAY_URL             the relay (default http://127.0.0.1:8787, npm start's)
 *   SLACK_SIGNING_SECRET  the relay's Slack signing secret (default: the one in ./.dev.vars)
 *   --team T0LOCAL        the Slack workspace id: the relay's tenant is `slack:<team>`
 *   --port 0              the response_url listener's port (0: any free one)
 *   --timeout 900         seconds to wait for the final message
 */
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

/** The parts of a Slack message (Block Kit) this script prints. */
interface SlackMessage {
	response_type?: string;
	text?: string;
	blocks?: { type: string; text?: { text: string }; elements?: { text?: string }[] }[];
	/** The relay's extension on its reply to the command: the job it started. */
	job_id?: string;
}

const { values: flags, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		team: { type: "string", default: "T0LOCAL" },
		port: { type: "string", default: "0" },
		timeout: { type: "string", default: "900" },
	},
});
const question = positionals.join(" ").trim();
if (!question) fail('Ask something: npm run slack -- "What is a Durable Object alarm?"');
const relayUrl = process.env.RELAY_URL || "http://127.0.0.1:8787";
const signingSecret = process.env.SLACK_SIGNING_SECRET || devVar("SLACK_SIGNING_SECRET");
if (!signingSecret)
	fail("Set SLACK_SIGNING_SECRET (or run from the repo root after `npm start` has created .dev.vars).");
const timeoutMs = (Number(flags.timeout) || 900) * 1000;

// 1. The response_url: Slack's would be https://hooks.slack.com/commands/…; here, a listener that prints.
let onFinal: () => void = () => {};
const finalArrived = new Promise<void>((resolve) => {
	onFinal = resolve;
});
const listener = createServer((req, res) => {
	let body = "";
	req.setEncoding("utf8");
	req.on("data", (chunk: string) => {
		body += chunk;
	});
	req.on("end", () => {
		res.writeHead(200, { "content-type": "text/plain" }).end("ok");
		let message: SlackMessage;
		try {
			message = JSON.parse(body);
		} catch {
			console.log(`\n[response_url] (not JSON) ${body.slice(0, 200)}`);
			return;
		}
		const final = isFinal(message);
		console.log(`\n[response_url] ${final ? "final message" : "message"} (${message.response_type ?? "?"}):`);
		console.log(render(message));
		if (final) onFinal();
	});
});
await new Promise<void>((resolve) => listener.listen(Number(flags.port), "127.0.0.1", resolve));
const responseUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/commands/response`;

// 2. The slash command, form-encoded and signed as Slack sends it.
const body = new URLSearchParams({
	token: "legacy-verification-token-unused",
	team_id: flags.team,
	team_domain: "local",
	channel_id: "C0LOCAL",
	channel_name: "general",
	user_id: "U0LOCAL",
	user_name: "you",
	command: "/ask",
	text: question,
	api_app_id: "A0LOCAL",
	response_url: responseUrl,
	trigger_id: `${Date.now()}.${randomBytes(6).toString("hex")}`,
}).toString();
const timestamp = String(Math.floor(Date.now() / 1000));
const signature = `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;

console.log(`/ask ${question}`);
const res = await fetch(`${relayUrl}/integrations/slack/commands`, {
	method: "POST",
	headers: {
		"content-type": "application/x-www-form-urlencoded",
		"x-slack-request-timestamp": timestamp,
		"x-slack-signature": signature,
	},
	body,
}).catch((error: Error) => fail(`cannot reach ${relayUrl}: ${error.message}. Is \`npm start\` running?`));
const text = await res.text();
if (!res.ok) {
	const hint =
		res.status === 401
			? " (is SLACK_SIGNING_SECRET the relay's?)"
			: res.status === 400 && text.includes("response_url")
				? " (a loopback response_url needs ALLOW_PRIVATE_CALLBACKS=true on the relay)"
				: "";
	fail(`the relay answered ${res.status}: ${text.slice(0, 300)}${hint}`);
}
const reply = JSON.parse(text) as SlackMessage;
console.log(`\n[reply] ${res.status} (${reply.response_type ?? "?"}):`);
console.log(render(reply));
if (!reply.job_id) {
	// A usage hint or a refusal: no job was started, so nothing will be posted.
	listener.close();
	process.exit(0);
}
console.log(`\njob ${reply.job_id}; waiting for posts to ${responseUrl} …`);

// 3. Wait (bounded) for the final message.
const timer = setTimeout(() => fail(`no final message within ${timeoutMs / 1000} s`), timeoutMs);
await finalArrived;
clearTimeout(timer);
listener.close();
process.exit(0);

/**
 * Whether a posted message is the last one: the answer opens with the question as a header block,
 * and a failure says so. The interim ones ("Searching: …", "Still researching …") have neither.
 */
function isFinal(message: SlackMessage): boolean {
	return (message.blocks ?? []).some((block) => block.type === "header") || /research failed/i.test(message.text ?? "");
}

/** A Block Kit message as terminal text: headers, sections, one line per context element; long answers cut. */
function render(message: SlackMessage): string {
	const lines: string[] = [];
	for (const block of message.blocks ?? []) {
		if (block.type === "header") lines.push(`# ${block.text?.text ?? ""}`);
		else if (block.type === "section") lines.push(block.text?.text ?? "");
		else if (block.type === "context") lines.push(...(block.elements ?? []).map((e) => e.text ?? ""));
		else if (block.type === "divider") lines.push("───");
	}
	const out = (lines.length > 0 ? lines.join("\n") : (message.text ?? "")).trim();
	const cut = out.length > 4000 ? `${out.slice(0, 4000)} […]` : out;
	return cut.replace(/^/gm, "  ");
}

function fail(message: string): never {
	console.error(`slack: ${message}`);
	process.exit(1);
}

/** The local default: a value from ./.dev.vars, the file npm start reads. */
function devVar(name: string): string | undefined {
	let text: string;
	try {
		text = readFileSync(".dev.vars", "utf8");
	} catch {
		return undefined;
	}
	const value = new RegExp(`^\\s*${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^#\\n]*))`, "m").exec(text);
	return (value?.[1] ?? value?.[2] ?? value?.[3] ?? "").trim() || undefined;
}
