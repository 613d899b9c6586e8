/**
 * The public example secrets of `.dev.vars.example` (all ending in `change-me`) on a public host: the
 * Deploy to Cloudflare button pre-fills them as production secrets, so a relay served anywhere but
 * loopback takes them for unset. An example API key authenticates no one, an example signing key signs
 * nothing (a push is refused at submit with a 503, as with no key), and the same values keep working
 * under `wrangler dev` on 127.0.0.1.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app.ts";
import { isLoopbackHost, withoutExampleSecrets } from "../../src/public-secrets.ts";
import { TENANT_A } from "./constants.ts";

const EXAMPLE_KEY = "dev-key-change-me";
const exampleEnv = {
	...env,
	API_KEYS: `dev:${EXAMPLE_KEY},${TENANT_A.tenant}:${TENANT_A.key}`,
	WEBHOOK_SIGNING_KEY: "dev-signing-key-change-me",
	SLACK_SIGNING_SECRET: "dev-slack-signing-secret-change-me",
};
const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;

function call(origin: string, path: string, key: string, init: RequestInit = {}): Promise<Response> {
	const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers };
	return Promise.resolve(app.request(`${origin}${path}`, { ...init, headers }, exampleEnv, ctx));
}

const submission = JSON.stringify({
	request: { model: "sonar", messages: [{ role: "user", content: "hi" }] },
	callback_url: "https://hooks.example.com/in",
});

describe("the example secrets on a public host", () => {
	it("refuse the example API key and keep the real ones", async () => {
		const origin = "https://sonar-relay.acme.workers.dev";
		expect((await call(origin, "/v1/webhook-secret", EXAMPLE_KEY)).status).toBe(401);
		expect((await call(origin, "/v1/usage", TENANT_A.key)).status).toBe(200);
	});

	it("take the example signing key for unset: a push is refused at submit, with the reason", async () => {
		const res = await call("https://relay.acme.com", "/async/chat/completions", TENANT_A.key, {
			method: "POST",
			body: submission,
		});
		expect(res.status).toBe(503);
		expect(((await res.json()) as { detail: string }).detail).toMatch(/sign/i);
	});

	it("still work on loopback, as npm start runs them", async () => {
		for (const origin of ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"]) {
			expect((await call(origin, "/v1/webhook-secret", EXAMPLE_KEY)).status).toBe(200);
		}
	});
});

describe("isLoopbackHost and withoutExampleSecrets", () => {
	it("know loopback names and addresses from public ones", () => {
		for (const host of ["localhost", "relay.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]) {
			expect(isLoopbackHost(host), host).toBe(true);
		}
		for (const host of ["relay.acme.com", "localhost.acme.com", "128.0.0.1", "10.0.0.1", "::2", "1270.0.0.1"]) {
			expect(isLoopbackHost(host), host).toBe(false);
		}
	});

	it("return the same env object when nothing is an example, and one stable copy when something is", () => {
		const clean = { API_KEYS: "acme:k1", WEBHOOK_SIGNING_KEY: "real" };
		expect(withoutExampleSecrets(clean)).toEqual({ env: clean, refused: [] });
		expect(withoutExampleSecrets(clean).env).toBe(clean);
		const first = withoutExampleSecrets(exampleEnv);
		expect(first.refused).toEqual(["API_KEYS", "WEBHOOK_SIGNING_KEY", "SLACK_SIGNING_SECRET"]);
		expect((first.env as typeof exampleEnv).API_KEYS).toBe(`${TENANT_A.tenant}:${TENANT_A.key}`);
		expect((first.env as typeof exampleEnv).WEBHOOK_SIGNING_KEY).toBe("");
		expect(withoutExampleSecrets(exampleEnv).env).toBe(first.env);
		// Bindings survive the copy.
		expect((first.env as typeof exampleEnv).JOBS).toBe(env.JOBS);
	});
});
