/**
 * The relay on the retired Sonar async API (`UPSTREAM_API=sonar`), for
 * gateways that still serve it: the request goes as the caller sent it, with
 * an idempotency key derived from the job id, so a retried create never makes
 * a second upstream job, and nothing is refused that the Agent API could not
 * run (the gateway decides).
 */
import { describe, expect, it } from "vitest";
import { TENANT_A } from "../integration/constants.ts";
import {
	createJob,
	driveUntil,
	inboxUrl,
	jobStub,
	relay,
	unique,
	upstreamRunsFor,
	waitForEvents,
} from "../integration/helpers.ts";

describe("the sonar adapter", () => {
	it("runs a job on /async/chat/completions with the request as sent and an idempotency key", async () => {
		const name = unique("sonar");
		const question = unique("q");
		const created = await createJob({
			question,
			callback: inboxUrl(name),
			request: { search_mode: "academic", return_related_questions: true },
		});
		const [run, ...others] = await upstreamRunsFor(question);
		expect(others).toHaveLength(0);
		expect(run).toMatchObject({ api: "sonar", idempotencyKey: `sonar-relay-${created.id}` });
		expect(run?.body).toMatchObject({
			request: { model: "sonar", search_mode: "academic", return_related_questions: true },
			idempotency_key: `sonar-relay-${created.id}`,
		});
		const job = await driveUntil(created.id, (j) => j.status === "COMPLETED" && j.delivery_status === "delivered");
		expect(job.response?.choices[0]?.message.content).toBeTruthy();
		const [event] = await waitForEvents(name, 1);
		expect(JSON.parse(event?.body ?? "{}")).toMatchObject({ type: "async_chat_completion.completed" });
	});

	it("retries a create whose answer was lost without a second upstream job, and counts no duplicate", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["create=500x1", "steps=1"] });
		await driveUntil(created.id, (j) => j.status === "COMPLETED");
		expect(await upstreamRunsFor(question)).toHaveLength(1);
		const report = await jobStub(created.id).deliveries(TENANT_A.tenant);
		expect(report?.stats).toMatchObject({ create_attempts: 2, possible_duplicate_runs: 0 });
	});

	it("names its upstream API in /healthz", async () => {
		expect(await (await relay("/healthz", {}, null)).json()).toMatchObject({ upstream_api: "sonar" });
	});
});
