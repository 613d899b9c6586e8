/**
 * Upstream rate limits: a 429's Retry-After is honoured by the job that got it
 * and, through the Upstream Gate DO, by every job of the same upstream key.
 * (Its own file: the gate it slows down is shared by the file's jobs.)
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/job/job.ts";
import type { JobState } from "../../src/job/state.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import type { Admission } from "../../src/upstream/gate.ts";
import { TENANT_A } from "./constants.ts";
import { createJob, emulatorStats, jobStub, unique, upstreamRunsFor } from "./helpers.ts";

async function stateOf(id: string): Promise<JobState> {
	return runInDurableObject(
		jobStub(id),
		async (_i: Job, state) => (await state.storage.get<JobState>("state")) as JobState,
	);
}

describe("upstream 429s", () => {
	it("does not poll sooner than a 429's Retry-After", async () => {
		const created = await createJob({ markers: ["get=429x1", "retry-after=7", "steps=1"] });
		const stub = jobStub(created.id);
		const lifecycle = (await stateOf(created.id)).lifecycle;
		if (lifecycle.phase !== "polling") throw new Error(`expected polling, got ${lifecycle.phase}`);
		const { upstreamId } = lifecycle;
		// Bounded: run the alarm until the one 429 has been answered.
		for (let round = 0; round < 200 && ((await emulatorStats()).jobs[upstreamId]?.gets ?? 0) < 1; round++) {
			await runDurableObjectAlarm(stub);
			await scheduler.wait(5);
		}
		const before = Date.now();
		const alarm = await runInDurableObject(stub, (_i: Job, state) => state.storage.getAlarm());
		expect(alarm).not.toBeNull();
		expect(alarm as number).toBeGreaterThanOrEqual(before + 7000 - 1000);
		// Running the alarm early does nothing: the poll is not due.
		await runDurableObjectAlarm(stub);
		expect((await emulatorStats()).jobs[upstreamId]?.gets).toBe(1);
		expect(((await stub.view(TENANT_A.tenant)) as RelayJob | null)?.status).toBe("CREATED");
		// The gate holds every job's polls back for the Retry-After too.
		const gate = env.GATES.get(env.GATES.idFromName("upstream"));
		const admission = (await gate.admit("get")) as Admission;
		expect(admission.at).toBeGreaterThanOrEqual(before + 7000 - 1000);
		// Polls went straight out until that 429; from now on they queue at the gate, this job's and new jobs'.
		expect(admission.getsPaced).toBe(true);
		expect((await stateOf(created.id)).lifecycle).toMatchObject({ phase: "polling", pacing: { paced: true } });
		const next = await createJob({ markers: ["steps=1"] });
		expect((await stateOf(next.id)).lifecycle).toMatchObject({ phase: "polling", pacing: { paced: true } });
	});

	it("makes the next job wait for a create slot on its own alarm after a create 429, without a retry storm", async () => {
		const first = await createJob({ markers: ["create=429x1", "retry-after=3", "steps=1"] });
		expect(first.status).toBe("CREATED");
		const before = Date.now();
		const question = unique("q");
		const second = await createJob({ question, markers: ["steps=1"] });
		expect(second.status).toBe("CREATED");
		const lifecycle = (await stateOf(second.id)).lifecycle;
		expect(lifecycle).toMatchObject({ phase: "submitting", slot: { epoch: expect.any(Number) }, attempts: 0 });
		if (lifecycle.phase !== "submitting") throw new Error("not submitting");
		expect(lifecycle.nextAt).toBeGreaterThanOrEqual(before + 3000 - 1000);
		// The second job never reached upstream: it waits for its reserved slot.
		expect(await upstreamRunsFor(question)).toHaveLength(0);
		const alarm = await runInDurableObject(jobStub(second.id), (_i: Job, state) => state.storage.getAlarm());
		expect(alarm).toBe(lifecycle.nextAt);
	});

	it("lets a slot's holder go when its epoch is current, and queues it again after a cut", async () => {
		const gate = env.GATES.get(env.GATES.idFromName("rate-epochs"));
		const first = (await gate.admit("get")) as Admission;
		const kept = (await gate.admit("get", undefined, first.epoch)) as Admission;
		expect(kept.epoch).toBe(first.epoch);
		expect(kept.at).toBeLessThanOrEqual(Date.now());
		await gate.report429("get", 2000);
		const before = Date.now();
		const voided = (await gate.admit("get", undefined, first.epoch)) as Admission;
		expect(voided.epoch).toBe(first.epoch + 1);
		expect(voided.at).toBeGreaterThanOrEqual(before + 2000 - 50);
	});
});
