/**
 * Slack request signing: what the slash-command route accepts and refuses
 * before it creates a job. The clock is a parameter, so no test waits.
 */
import { describe, expect, it } from "vitest";
import { type SlackVerifyInput, signSlackRequest, verifySlackRequest } from "../../src/integrations/slack/verify.ts";

const SECRET = "test-slack-secret";
const NOW_MS = 1_700_000_000_000;
const NOW_SECONDS = NOW_MS / 1000;
const BODY =
	"token=test-verification-token&team_id=T0001&team_domain=example&channel_id=C2147483705&user_id=U2147483697" +
	"&command=%2Fask&text=why+is+the+sky+blue%3F&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678" +
	"&trigger_id=13345224609.738474920.8088930838d88f008e0";

/** A request as Slack would send it `ageSeconds` ago (negative: from the future), signed with `secret`. */
async function makeSignedRequest(
	options: { ageSeconds?: number; secret?: string; body?: string } = {},
): Promise<SlackVerifyInput> {
	const timestamp = String(NOW_SECONDS - (options.ageSeconds ?? 0));
	const rawBody = options.body ?? BODY;
	return {
		signingSecret: SECRET,
		timestamp,
		signature: await signSlackRequest(options.secret ?? SECRET, timestamp, rawBody),
		rawBody,
		nowMs: NOW_MS,
	};
}

describe("signSlackRequest", () => {
	it("reproduces the example from Slack's documentation", async () => {
		// https://api.slack.com/authentication/verifying-requests-from-slack (its example secret and body).
		const body =
			"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V" +
			"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=" +
			"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" +
			"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
		const signature = await signSlackRequest("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body);
		expect(signature).toBe("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
		const verdict = await verifySlackRequest({
			signingSecret: "8f742231b10e8888abcd99yyyzzz85a5",
			timestamp: "1531420618",
			signature,
			rawBody: body,
			nowMs: 1531420618_000 + 60_000,
		});
		expect(verdict).toEqual({ ok: true });
	});

	it("formats the signature as v0= and 64 lowercase hex digits", async () => {
		expect(await signSlackRequest(SECRET, "1700000000", BODY)).toMatch(/^v0=[0-9a-f]{64}$/);
	});
});

describe("verifySlackRequest", () => {
	it("accepts a request signed with the signing secret", async () => {
		expect(await verifySlackRequest(await makeSignedRequest())).toEqual({ ok: true });
	});

	it("accepts an empty body, as long as it is the one that was signed", async () => {
		expect(await verifySlackRequest(await makeSignedRequest({ body: "" }))).toEqual({ ok: true });
	});

	it("refuses a request signed with another secret", async () => {
		const request = await makeSignedRequest({ secret: "someone-elses-secret" });
		expect(await verifySlackRequest(request)).toEqual({ ok: false, reason: "bad_signature" });
	});

	it("refuses a request whose body was changed after signing", async () => {
		const request = await makeSignedRequest();
		const tampered = { ...request, rawBody: String(request.rawBody).replace("sky+blue", "sky+green") };
		expect(await verifySlackRequest(tampered)).toEqual({ ok: false, reason: "bad_signature" });
	});

	it("refuses a signature moved onto another timestamp", async () => {
		const request = await makeSignedRequest();
		const replayed = { ...request, timestamp: String(NOW_SECONDS - 1) };
		expect(await verifySlackRequest(replayed)).toEqual({ ok: false, reason: "bad_signature" });
	});

	it("refuses a correctly signed request that is 6 minutes old", async () => {
		const request = await makeSignedRequest({ ageSeconds: 6 * 60 });
		expect(await verifySlackRequest(request)).toEqual({ ok: false, reason: "stale" });
	});

	it("refuses a correctly signed request timestamped 6 minutes in the future", async () => {
		const request = await makeSignedRequest({ ageSeconds: -6 * 60 });
		expect(await verifySlackRequest(request)).toEqual({ ok: false, reason: "stale" });
	});

	it.each([
		["299 s old", 299],
		["exactly 5 minutes old", 300],
		["299 s ahead", -299],
	])("accepts a request %s", async (_, ageSeconds) => {
		expect(await verifySlackRequest(await makeSignedRequest({ ageSeconds }))).toEqual({ ok: true });
	});

	it("applies a custom tolerance", async () => {
		const request = await makeSignedRequest({ ageSeconds: 90 });
		expect(await verifySlackRequest({ ...request, toleranceSeconds: 60 })).toEqual({ ok: false, reason: "stale" });
		expect(await verifySlackRequest({ ...request, toleranceSeconds: 120 })).toEqual({ ok: true });
	});

	it.each([
		["no timestamp header", { timestamp: null }],
		["an undefined timestamp", { timestamp: undefined }],
		["an empty timestamp", { timestamp: "" }],
		["no signature header", { signature: null }],
		["an undefined signature", { signature: undefined }],
		["an empty signature", { signature: "" }],
	])("refuses a request with %s", async (_, override) => {
		const request = { ...(await makeSignedRequest()), ...override };
		expect(await verifySlackRequest(request)).toEqual({ ok: false, reason: "missing_headers" });
	});

	it.each([
		["without the version prefix", (valid: string) => valid.slice(3)],
		["with another version", (valid: string) => `v1=${valid.slice(3)}`],
		["that is too short", (valid: string) => valid.slice(0, -2)],
		["that is too long", (valid: string) => `${valid}00`],
		["that is not hex", () => `v0=${"z".repeat(64)}`],
		["with spaces around it", (valid: string) => ` ${valid} `],
		["with two signatures", (valid: string) => `${valid},${valid}`],
	])("refuses a signature %s", async (_, mangle) => {
		const request = await makeSignedRequest();
		const malformed = { ...request, signature: mangle(request.signature ?? "") };
		expect(await verifySlackRequest(malformed)).toEqual({ ok: false, reason: "bad_signature" });
	});

	it.each([["abc"], ["1.7e9"], ["-1700000000"], [" 1700000000"], ["0x6553f100"]])(
		"refuses the non-numeric timestamp %j",
		async (timestamp) => {
			const request = await makeSignedRequest();
			const signature = await signSlackRequest(SECRET, timestamp, request.rawBody);
			expect(await verifySlackRequest({ ...request, timestamp, signature })).toEqual({ ok: false, reason: "stale" });
		},
	);

	it("refuses everything when the signing secret is not configured", async () => {
		const request = await makeSignedRequest();
		expect(await verifySlackRequest({ ...request, signingSecret: "" })).toEqual({ ok: false, reason: "bad_signature" });
	});
});
