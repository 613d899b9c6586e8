/**
 * A job records who ran it upstream while it runs: here the emulator, which marks its answers, so
 * GET shows `upstream: "emulator"` on both surfaces, before and after the result moves to KV.
 */

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readResult } from "../../src/cache.ts";
import { RelayJob } from "../../src/schemas/relay.ts";
import { TENANT_A } from "./constants.ts";
import { createJob, driveUntil, jobStub, relay, unique } from "./helpers.ts";

describe("the upstream a job ran on", () => {
	it("is the emulator for a Sonar job, from its first answer to its cached result", async () => {
		const job = await createJob({ markers: ["steps=2"] });
		const polling = RelayJob.parse(await (await relay(`/async/chat/completions/${job.id}`)).json());
		expect(polling.upstream).toBe("emulator");
		await driveUntil(job.id, (view) => view.status === "COMPLETED");
		// Settled: the result (the view GET serves from now on) is in KV, with the label.
		let stored = await readResult(env.RESULTS, job.id);
		for (let round = 0; round < 50 && !stored; round++) {
			await runDurableObjectAlarm(jobStub(job.id));
			stored = await readResult(env.RESULTS, job.id);
		}
		expect(JSON.parse(stored?.text ?? "{}")).toMatchObject({ status: "COMPLETED", upstream: "emulator" });
		const done = RelayJob.parse(await (await relay(`/async/chat/completions/${job.id}`)).json());
		expect(done).toMatchObject({ status: "COMPLETED", upstream: "emulator" });
	});

	it("is the emulator for an Agent API run", async () => {
		const res = await relay("/v1/responses", {
			method: "POST",
			body: JSON.stringify({ preset: "fast", input: `${unique("q")} [[emu:steps=1]]` }),
		});
		const { id } = (await res.json()) as { id: string };
		const stub = jobStub(id);
		let run = (await stub.response(TENANT_A.tenant)) as { status: string; upstream?: string } | null;
		for (let round = 0; round < 100 && run?.status !== "completed"; round++) {
			await runDurableObjectAlarm(stub);
			run = (await stub.response(TENANT_A.tenant)) as { status: string; upstream?: string } | null;
		}
		const answer = (await (await relay(`/v1/responses/${id}`)).json()) as { status: string; upstream: string };
		expect(answer).toMatchObject({ status: "completed", upstream: "emulator" });
	});
});
