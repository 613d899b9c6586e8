/**
 * The deploy tools against the real local stack (wrangler dev + emulator + inbox, test/node/stack.ts),
 * run as a user runs them:
 * - `npm run smoke -- <url>` passes end to end: with its own verifying receiver on a loopback relay,
 *   and with `--callback`; with a wrong key it fails with exit 1 and says why;
 * - `npm run keys -- create <tenant> --local` makes a key that `wrangler dev` accepts as that
 *   tenant's at once; `list` shows it without the key; `revoke` removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { runTool } from "./run-tool.ts";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;

beforeAll(async () => {
	stack = await startStack();
}, 90_000);

afterAll(async () => {
	await stack?.stop();
});

describe("npm run smoke against a local relay", () => {
	it("passes: health, auth, a job to COMPLETED, and a verified push to its own receiver", async () => {
		const run = await runTool("tools/deploy/smoke.ts", [stack.relayUrl, "--key", stack.apiKey, "--timeout", "60"]);
		expect(run.code, run.stdout + run.stderr).toBe(0);
		expect(run.stdout).toContain("✔ healthz: 200");
		expect(run.stdout).toContain("✔ no key is refused: 401");
		expect(run.stdout).toContain("✔ the API key is accepted");
		expect(run.stdout).toMatch(/✔ the job completes: COMPLETED in/);
		expect(run.stdout).toMatch(/#1 async_chat_completion\.completed → 127\.0\.0\.1:\d+: 200/);
		expect(run.stdout).toContain("✔ the push is delivered: 200");
		expect(run.stdout).toContain("✔ the push is signed for this tenant: verified");
		expect(run.stdout).toContain("smoke: PASS");
		expect(run.stdout).not.toContain(stack.apiKey);
	}, 90_000);

	it("reports the delivery attempt to a --callback receiver", async () => {
		const callback = `${stack.inbox.url}/hooks/smoke-callback`;
		const run = await runTool("tools/deploy/smoke.ts", [
			stack.relayUrl,
			"--key",
			stack.apiKey,
			"--callback",
			callback,
			"--timeout",
			"60",
		]);
		expect(run.code, run.stdout + run.stderr).toBe(0);
		expect(run.stdout).toContain("✔ the push is delivered: 200");
		expect(run.stdout).not.toContain("signed for this tenant");
		const pushes = stack.inbox.inbox.events("smoke-callback");
		expect(pushes).toHaveLength(1);
		expect(pushes[0]?.verified).toBe(true);
	}, 90_000);

	it("fails with exit 1 and says why when the key is wrong", async () => {
		const run = await runTool("tools/deploy/smoke.ts", [stack.relayUrl, "--key", "sr_wrong", "--timeout", "60"]);
		expect(run.code).toBe(1);
		expect(run.stdout).toContain("✘ the API key is accepted: 401: the API key was refused");
		expect(run.stdout).toMatch(/smoke: FAIL at "the API key is accepted" \(2 checks passed before it\)/);
	}, 60_000);

	it("fails with exit 1 when nothing answers at the URL", async () => {
		const run = await runTool("tools/deploy/smoke.ts", ["http://127.0.0.1:9", "--key", stack.apiKey]);
		expect(run.code).toBe(1);
		expect(run.stdout).toContain("✘ healthz: unreachable");
	}, 60_000);
});

describe("npm run keys against local state", () => {
	it("creates a key wrangler dev accepts as its tenant, lists it without the key, and revokes it", async () => {
		const local = ["--local", "--persist-to", stack.persistTo];
		const created = await runTool("tools/deploy/keys.ts", ["create", "kv-tenant", "--label", "e2e", ...local]);
		expect(created.code, created.stdout + created.stderr).toBe(0);
		const key = /\b(sr_[A-Za-z0-9_-]{43})\b/.exec(created.stdout)?.[1];
		expect(key).toBeDefined();

		const secret = await fetch(`${stack.relayUrl}/v1/webhook-secret`, { headers: { authorization: `Bearer ${key}` } });
		expect(secret.status).toBe(200);
		expect(((await secret.json()) as { secret: string }).secret).toBe(
			await tenantSecret(stack.vars.WEBHOOK_SIGNING_KEY as string, "kv-tenant"),
		);

		const listed = await runTool("tools/deploy/keys.ts", ["list", ...local]);
		expect(listed.code, listed.stdout + listed.stderr).toBe(0);
		expect(listed.stdout).toMatch(/kv-tenant\s+e2e\s+\d{4}-\d\d-\d\dT/);
		expect(listed.stdout).not.toContain(key);
		const prefix = /kv-tenant\s+e2e\s+\S+\s+([0-9a-f]{12})…/.exec(listed.stdout)?.[1] as string;

		const revoked = await runTool("tools/deploy/keys.ts", ["revoke", prefix, ...local]);
		expect(revoked.code, revoked.stdout + revoked.stderr).toBe(0);
		expect(revoked.stdout).toContain(`Revoked the key with digest ${prefix}`);
		const after = await runTool("tools/deploy/keys.ts", ["list", ...local]);
		expect(after.stdout).not.toContain("kv-tenant");
	}, 120_000);
});
