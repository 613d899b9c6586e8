/**
 * The comparisons of secrets behave as constant-time ones must: near misses of
 * every kind are refused, the API key is compared through fixed-length SHA-256
 * digests, and Slack's MAC through `crypto.subtle.timingSafeEqual`.
 */
import { describe, expect, it, vi } from "vitest";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import { TENANT_A, TENANT_B, TEST_SLACK_SECRET } from "./constants.ts";
import { relay } from "./helpers.ts";
import { slackFields } from "./security-fixtures.ts";

describe("comparisons of secrets", () => {
	const key = TENANT_A.key;
	const flip = (c: string) => (c === "a" ? "b" : "a");

	it.each([
		["the last character changed", `${key.slice(0, -1)}${flip(key.slice(-1))}`],
		["the first character changed", `${flip(key[0] as string)}${key.slice(1)}`],
		["one character short (a prefix)", key.slice(0, -1)],
		["one character more", `${key}a`],
		["the key twice", `${key}${key}`],
		["another case", key.toUpperCase()],
		["the tenant's name", TENANT_A.tenant],
		["the tenant:key pair", `${TENANT_A.tenant}:${key}`],
		["a 10,000-character key", "k".repeat(10_000)],
		["one character", "k"],
		["another tenant's key, one character changed", `${TENANT_B.key.slice(0, -1)}${flip(TENANT_B.key.slice(-1))}`],
	])("refuses a key with %s", async (_name, presented) => {
		for (const path of ["/v1/webhook-secret", "/async/chat/completions", "/v1/hooks"]) {
			const res = await relay(path, {}, presented);
			expect(res.status).toBe(401);
			expect(await res.json()).toEqual({ detail: "Invalid or missing API key" });
		}
	});

	it("refuses a key's SHA-256 digest in place of the key", async () => {
		const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
		const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
		expect((await relay("/v1/webhook-secret", {}, hex)).status).toBe(401);
		expect((await relay("/v1/webhook-secret", {}, btoa(String.fromCharCode(...digest)))).status).toBe(401);
	});

	it("accepts the exact key whatever the case of Bearer and the spaces around it", async () => {
		for (const authorization of [`Bearer ${key}`, `bearer ${key}`, `BEARER   ${key}  `]) {
			const res = await relay("/v1/webhook-secret", { headers: { authorization } }, null);
			expect(res.status, authorization).toBe(200);
		}
		for (const authorization of [`Basic ${btoa(`${TENANT_A.tenant}:${key}`)}`, key, `Bearer ${key} ${key}`, "Bearer"]) {
			expect((await relay("/v1/webhook-secret", { headers: { authorization } }, null)).status, authorization).toBe(401);
		}
	});

	it("compares API keys through SHA-256 digests: every presented key is hashed, whatever its length", async () => {
		const digest = vi.spyOn(crypto.subtle, "digest");
		try {
			for (const presented of ["k", key, "k".repeat(10_000)]) {
				digest.mockClear();
				await relay("/v1/webhook-secret", {}, presented);
				const hashed = digest.mock.calls.map(([algorithm, data]) => [
					typeof algorithm === "string" ? algorithm : (algorithm as { name: string }).name,
					new TextDecoder().decode(data as ArrayBuffer),
				]);
				expect(hashed).toContainEqual(["SHA-256", presented]);
			}
		} finally {
			digest.mockRestore();
		}
	});

	describe("Slack signatures", () => {
		const body = new URLSearchParams(slackFields("TCMP")).toString();
		const send = (timestamp: string, signature: string) =>
			relay(
				"/integrations/slack/commands",
				{
					method: "POST",
					headers: {
						"content-type": "application/x-www-form-urlencoded",
						"x-slack-request-timestamp": timestamp,
						"x-slack-signature": signature,
					},
					body,
				},
				null,
			);

		it("refuses near misses of the right signature", async () => {
			const timestamp = String(Math.floor(Date.now() / 1000));
			const right = await signSlackRequest(TEST_SLACK_SECRET, timestamp, body);
			const hex = right.slice("v0=".length);
			const flipHex = (c: string) => (c === "0" ? "1" : "0");
			for (const signature of [
				`v0=${hex.slice(0, -1)}${flipHex(hex.slice(-1))}`,
				`v0=${flipHex(hex[0] as string)}${hex.slice(1)}`,
				`v0=${hex.slice(0, -1)}`,
				`v0=${hex}0`,
				`v1=${hex}`,
				hex,
				`v0=${"0".repeat(64)}`,
				await signSlackRequest(TEST_SLACK_SECRET, String(Number(timestamp) - 1), body),
				await signSlackRequest(`${TEST_SLACK_SECRET}x`, timestamp, body),
			]) {
				expect((await send(timestamp, signature)).status, signature).toBe(401);
			}
		});

		it("checks the MAC over the body's bytes exactly as received (a BOM, a byte that is not UTF-8)", async () => {
			// Found by the fuzz tests: the body is decoded to text before the MAC is computed, and
			// decoding drops a leading BOM and turns invalid bytes into U+FFFD, so the MAC no longer
			// covers what the sender signed. Slack's own bodies are ASCII; any other signer's may not be.
			const timestamp = String(Math.floor(Date.now() / 1000));
			const form = new TextEncoder().encode(new URLSearchParams(slackFields("TBYTES", { text: "" })).toString());
			for (const bytes of [
				new Uint8Array([0xef, 0xbb, 0xbf, ...form]),
				new Uint8Array([...form, 0x26, 0x78, 0x3d, 0xe9]),
			]) {
				const key = await crypto.subtle.importKey(
					"raw",
					new TextEncoder().encode(TEST_SLACK_SECRET),
					{ name: "HMAC", hash: "SHA-256" },
					false,
					["sign"],
				);
				const message = new Uint8Array([...new TextEncoder().encode(`v0:${timestamp}:`), ...bytes]);
				const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
				const signature = `v0=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
				const res = await relay(
					"/integrations/slack/commands",
					{
						method: "POST",
						headers: {
							"content-type": "application/x-www-form-urlencoded",
							"x-slack-request-timestamp": timestamp,
							"x-slack-signature": signature,
						},
						body: bytes,
					},
					null,
				);
				expect(res.status, `${bytes.slice(0, 3)}…${bytes.slice(-3)}: ${await res.clone().text()}`).not.toBe(401);
			}
		});

		it("compares the MAC with crypto.subtle.timingSafeEqual, in workerd", async () => {
			const subtle = crypto.subtle as SubtleCrypto & {
				timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean;
			};
			expect(typeof subtle.timingSafeEqual).toBe("function");
			const compare = vi.spyOn(subtle as Required<typeof subtle>, "timingSafeEqual");
			try {
				const timestamp = String(Math.floor(Date.now() / 1000));
				const right = await signSlackRequest(TEST_SLACK_SECRET, timestamp, body);
				const wrong = `v0=${"0".repeat(64)}`;
				expect((await send(timestamp, wrong)).status).toBe(401);
				expect((await send(timestamp, right)).status).toBe(200);
				expect(compare).toHaveBeenCalledTimes(2);
			} finally {
				compare.mockRestore();
			}
		});
	});
});
