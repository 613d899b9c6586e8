/**
 * Fair share at the Upstream Gate, end to end: when the create rate binds, one
 * tenant's flood queues behind itself, and another tenant's job is created at
 * once; and a submission whose create slot would fall past its job timeout is
 * refused (429) instead of accepted to fail.
 *
 * A file of its own: the gate it slows down is this file's alone.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Admission, MAX_MODELS, OTHER_MODELS } from "../../src/upstream/gate.ts";
import { TENANT_A, TENANT_B } from "./constants.ts";
import { createJob, driveUntil, makeCreateBody, relay, unique, upstreamRunsFor } from "./helpers.ts";

const gate = () => env.GATES.get(env.GATES.idFromName("upstream"));

describe("fair share of the create rate", () => {
	it("creates B's job at once while A's burst of 25 queues behind itself, and B's job completes", async () => {
		// The account allows 5 creates a second (as upstream's headers would say).
		await gate().observeLimits({ limitPerSecond: 5, remaining: 290, remainingShare: 0.97, resetMs: null });
		const flood = Array.from({ length: 25 }, () => unique("a"));
		for (const question of flood) await createJob({ question, markers: ["steps=1"] }, TENANT_A.key);
		const question = unique("b");
		const b = await createJob({ question, markers: ["steps=1"] }, TENANT_B.key);
		// B's create went upstream inside its own submission: it did not wait behind A's queue (5 s long).
		expect(await upstreamRunsFor(question)).toHaveLength(1);
		let createdOfA = 0;
		for (const q of flood) createdOfA += (await upstreamRunsFor(q)).length;
		expect(createdOfA).toBeLessThan(flood.length);
		const done = await driveUntil(b.id, (job) => job.status === "COMPLETED", { tenant: TENANT_B.tenant });
		// (First come, first served, its create would have waited behind A's 25: about 5 s.)
		expect(done.status).toBe("COMPLETED");
	});

	it("refuses a submission whose create slot would fall past its job timeout: 429 with Retry-After, nothing kept", async () => {
		// The slowest the gate goes (0.05/s): an hour's timeout holds 180 slots; book them all for one tenant.
		await gate().observeLimits({ limitPerSecond: 0.05, remaining: 100, remainingShare: 0.5, resetMs: null });
		const tenant = "fuzzer";
		for (let i = 0; i < 181; i++) {
			await gate().admit("create", "sonar", undefined, undefined, { tenant });
		}
		const probe = (await gate().admit("create", "sonar", undefined, undefined, {
			tenant,
			deadline: Date.now() + 3_600_000,
		})) as Admission;
		expect(probe.refused?.retryAfterMs).toBeGreaterThan(0);

		const question = unique("q");
		const res = await relay(
			"/async/chat/completions",
			{ method: "POST", body: JSON.stringify(makeCreateBody({ question })) },
			"fuzzer-key",
		);
		expect(res.status).toBe(429);
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		expect(((await res.json()) as { detail: string }).detail).toContain("create queue");
		expect(await upstreamRunsFor(question)).toHaveLength(0);
		const index = env.TENANTS.get(env.TENANTS.idFromName(tenant));
		expect(((await index.usage()) as { in_flight: number }).in_flight).toBe(0);

		// Another tenant's queue is its own: it is not refused.
		const other = await relay(
			"/async/chat/completions",
			{ method: "POST", body: JSON.stringify(makeCreateBody()) },
			TENANT_B.key,
		);
		expect(other.status).toBe(200);
	});
});

describe("the gate's memory of models", () => {
	it("learns at most MAX_MODELS models apart, whatever names callers send, prototype names included", async () => {
		const models = env.GATES.get(env.GATES.idFromName("models"));
		const names = ["constructor", "__proto__", "toString", ...Array.from({ length: 80 }, (_, i) => `m-${i}`)];
		for (const name of names) {
			const admission = (await models.admit("create", name)) as Admission;
			expect(admission.plan?.length).toBeGreaterThan(0);
			await models.record(name, 1000);
		}
		const view = (await models.describe()) as { models: Record<string, { samples: number }> };
		const kept = Object.keys(view.models);
		expect(kept.length).toBeLessThanOrEqual(MAX_MODELS + 1);
		expect(kept).toContain("constructor");
		expect(kept).toContain("__proto__");
		// The names past the cap share one sketch, which learnt from all of them.
		expect(view.models[OTHER_MODELS]?.samples).toBe(names.length - MAX_MODELS);
	});
});
