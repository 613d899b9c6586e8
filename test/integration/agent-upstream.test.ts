/**
 * The relay on the Agent API, inside workerd against the emulator: a
 * Sonar-shaped job runs as a background run and comes back Sonar-shaped;
 * what the Agent API cannot express is refused at submit; failed, cancelled,
 * incomplete, drifting and unusable runs end as the README says; a create
 * whose answer is lost is retried a bounded number of times and counted; a job
 * that times out cancels its run.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/job/job.ts";
import type { JobState } from "../../src/job/state.ts";
import { CompletionResponse, HTTPValidationError } from "../../src/schemas/perplexity.ts";
import { type RelayJob, WebhookEvent } from "../../src/schemas/relay.ts";
import { TENANT_A } from "./constants.ts";
import {
	createJob,
	driveUntil,
	inboxUrl,
	jobStub,
	makeCreateBody,
	relay,
	unique,
	upstreamRunsFor,
	waitForEvents,
} from "./helpers.ts";

const settled = (job: RelayJob) => job.status === "COMPLETED" || job.status === "FAILED";
const delivered = (job: RelayJob) => settled(job) && job.delivery_status !== "pending";

async function post(body: unknown): Promise<Response> {
	return relay("/async/chat/completions", { method: "POST", body: JSON.stringify(body) });
}

describe("a Sonar-shaped job on the Agent API", () => {
	it("runs with the request translated, and pushes the run's text, citations, search results and usage", async () => {
		const name = unique("agent");
		const question = unique("q");
		const created = await createJob({
			question,
			callback: inboxUrl(name),
			request: {
				messages: [
					{ role: "system", content: "Answer in two sentences." },
					{ role: "user", content: `${question} [[emu:steps=2]]` },
				],
				max_tokens: 800,
				search_domain_filter: ["developers.cloudflare.com", "-reddit.com"],
				search_recency_filter: "month",
				web_search_options: { search_context_size: "high" },
			},
		});
		expect(created.status).toBe("CREATED");

		const [run, ...others] = await upstreamRunsFor(question);
		expect(others).toHaveLength(0);
		expect(run?.api).toBe("agent");
		expect(run?.body).toEqual({
			background: true,
			model: "perplexity/sonar",
			instructions: "Answer in two sentences.",
			input: [{ type: "message", role: "user", content: `${question} [[emu:steps=2]]` }],
			max_output_tokens: 800,
			tools: [
				{
					type: "web_search",
					filters: {
						search_domain_filter: ["developers.cloudflare.com", "-reddit.com"],
						search_recency_filter: "month",
					},
					search_context_size: "high",
				},
			],
		});

		const job = await driveUntil(created.id, delivered);
		expect(job).toMatchObject({ status: "COMPLETED", delivery_status: "delivered", model: "sonar" });
		const [event] = await waitForEvents(name, 1);
		const body = WebhookEvent.parse(JSON.parse(event?.body ?? "{}"));
		expect(body.type).toBe("async_chat_completion.completed");
		const response = CompletionResponse.parse(body.data.response);
		expect(response.model).toBe("sonar");
		expect(response.choices[0]?.message.content).toEqual(expect.stringContaining(" "));
		expect(response.choices[0]?.finish_reason).toBe("stop");
		expect(response.citations?.length).toBeGreaterThan(0);
		expect(response.search_results?.map((r) => r.url)).toEqual(response.citations);
		expect(response.usage).toMatchObject({
			prompt_tokens: expect.any(Number),
			completion_tokens: expect.any(Number),
			total_tokens: expect.any(Number),
			cost: { total_cost: expect.any(Number) },
		});
		expect(response.usage?.total_tokens).toBe(
			(response.usage?.prompt_tokens ?? 0) + (response.usage?.completion_tokens ?? 0),
		);
	});

	it("runs the retired models as presets", async () => {
		const question = unique("q");
		await createJob({ question, model: "sonar-deep-research" });
		expect((await upstreamRunsFor(question))[0]?.body).toMatchObject({ preset: "medium" });
	});
});

describe("what the Agent API cannot express is refused at submit", () => {
	it.each([
		["return_images", true],
		["stop", ["\n"]],
		["n", 2],
		["search_mode", "academic"],
		["frequency_penalty", 0.5],
		["return_related_questions", true],
	])("refuses %s with a 422 naming it, before anything is stored or sent", async (field, value) => {
		const question = unique("q");
		const res = await post(makeCreateBody({ question, request: { [field]: value } }));
		expect(res.status).toBe(422);
		const body = HTTPValidationError.parse(await res.json());
		expect(body.detail?.[0]?.loc).toEqual(["body", "request", field]);
		expect(body.detail?.[0]?.msg).toContain(field);
		expect(await upstreamRunsFor(question)).toHaveLength(0);
	});

	it("refuses file parts, naming where they are", async () => {
		const res = await post({
			request: {
				model: "sonar",
				messages: [
					{
						role: "user",
						content: [
							{ type: "text", text: "Summarise" },
							{ type: "pdf_url", pdf_url: "https://example.com/a.pdf" },
						],
					},
				],
			},
		});
		expect(res.status).toBe(422);
		const body = HTTPValidationError.parse(await res.json());
		expect(body.detail?.[0]?.loc).toEqual(["body", "request", "messages", 0, "content", 1, "type"]);
	});

	it("accepts the same fields at their neutral values", async () => {
		const created = await createJob({
			request: { return_images: false, stop: null, n: 1, stream: false, search_mode: "web", num_search_results: 10 },
		});
		expect(created.status).toBe("CREATED");
	});

	it("refuses an unknown model, saying what would work", async () => {
		const res = await post(makeCreateBody({ model: "gpt-4o" }));
		expect(res.status).toBe(422);
		const body = HTTPValidationError.parse(await res.json());
		expect(body.detail?.[0]?.loc).toEqual(["body", "request", "model"]);
		expect(body.detail?.[0]?.msg).toContain("sonar-deep-research");
	});

	it("refuses it on /v1/ask and the second path family too", async () => {
		const ask = await relay("/v1/ask", { method: "POST", body: JSON.stringify({ query: "Hi", model: "gpt-4o" }) });
		expect(ask.status).toBe(422);
		// Named where the ask's caller put it.
		expect(HTTPValidationError.parse(await ask.json()).detail?.[0]?.loc).toEqual(["body", "model"]);
		const sonar = await relay("/v1/async/sonar", {
			method: "POST",
			body: JSON.stringify(makeCreateBody({ request: { return_images: true } })),
		});
		expect(sonar.status).toBe(422);
	});
});

describe("runs that end other ways", () => {
	it("fails a run that failed upstream (an HTTP 200), with its message", async () => {
		const name = unique("failed");
		const created = await createJob({ markers: ["steps=1", "fail"], callback: inboxUrl(name) });
		const job = await driveUntil(created.id, delivered);
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toBeTruthy();
		const [event] = await waitForEvents(name, 1);
		expect(JSON.parse(event?.body ?? "{}")).toMatchObject({ type: "async_chat_completion.failed" });
	});

	it("fails a run cancelled upstream", async () => {
		const created = await createJob({ markers: ["steps=1", "cancelled"] });
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toMatch(/cancel/i);
	});

	it("completes an incomplete run with its text cut short (finish_reason length)", async () => {
		const created = await createJob({ markers: ["steps=1", "incomplete"] });
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("COMPLETED");
		expect(job.response?.choices[0]?.finish_reason).toBe("length");
		expect(job.response?.choices[0]?.message.content).toBeTruthy();
	});

	it("completes a run whose answers drift from the schema", async () => {
		const created = await createJob({ markers: ["steps=1", "drift"] });
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("COMPLETED");
		expect(CompletionResponse.safeParse(job.response).success).toBe(true);
		expect(job.response?.choices[0]?.message.content).toBeTruthy();
	});

	it("fails a run whose answer the relay cannot use at once, instead of polling it until the timeout", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["steps=1", "unusable"] });
		const job = await driveUntil(created.id, settled, { rounds: 20 });
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toContain("has no status the relay can read");
		const [run] = await upstreamRunsFor(question);
		expect(run?.gets).toBeLessThanOrEqual(2);
	});
});

describe("creates whose answer was lost", () => {
	it("retries a create answered 500, and counts the possible duplicate run", async () => {
		const created = await createJob({ markers: ["create=500x1", "steps=1"] });
		expect(created.status).toBe("CREATED");
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("COMPLETED");
		const report = await jobStub(created.id).deliveries(TENANT_A.tenant);
		expect(report?.stats).toMatchObject({ create_attempts: 2, possible_duplicate_runs: 1 });
	});

	it("gives up after UPSTREAM_AMBIGUOUS_CREATE_RETRIES, saying a run may have started", async () => {
		const created = await createJob({ markers: ["create=502x9", "steps=1"] });
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toContain("may have started a run upstream");
		const report = await jobStub(created.id).deliveries(TENANT_A.tenant);
		expect(report?.stats).toMatchObject({ create_attempts: 3, possible_duplicate_runs: 3 });
	});
});

describe("a relay that stops while a create is on its way", () => {
	it("counts the lost create as a possible duplicate run when it restarts, and creates again", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["steps=1"] });
		const stub = jobStub(created.id);
		await runInDurableObject(stub, async (instance: Job, state) => {
			const stored = (await state.storage.get<JobState>("state")) as JobState;
			// What a crash between the saved mark and the create's answer leaves behind: the run exists
			// upstream (the create went), the job does not know its id.
			const now = Date.now();
			const crashed: JobState = {
				...stored,
				// Not due before the eviction below: no alarm of this instance may handle it first.
				lifecycle: {
					phase: "submitting",
					owed: { admit: false, index: false, retryAt: null, failures: 0 },
					attempts: 0,
					nextAt: now + 60_000,
					lastError: null,
					callerWaiting: false,
					sentAt: now,
				},
			};
			await state.storage.put("state", crashed);
			(instance as unknown as { state: JobState }).state = crashed;
		});
		await evictDurableObject(stub);
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("COMPLETED");
		const report = await stub.deliveries(TENANT_A.tenant);
		expect(report?.stats.possible_duplicate_runs).toBe(1);
		// The relay's count matches what happened: two runs upstream for one job.
		expect(await upstreamRunsFor(question)).toHaveLength(2);
	});
});

describe("abandoned work", () => {
	it("cancels the upstream run of a job that reaches JOB_TIMEOUT_SECONDS", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["steps=50"] });
		const stub = jobStub(created.id);
		await driveUntil(created.id, (job) => job.status === "IN_PROGRESS");
		// Age the job past its deadline (the setting is an hour in tests too).
		await runInDurableObject(stub, async (instance: Job, state) => {
			const stored = (await state.storage.get<JobState>("state")) as JobState;
			const aged = { ...stored, spec: { ...stored.spec, createdAtMs: stored.spec.createdAtMs - 3_600_000 } };
			await state.storage.put("state", aged);
			// In memory too: an alarm may run before the eviction below and save what it holds.
			(instance as unknown as { state: JobState }).state = aged;
		});
		await evictDurableObject(stub);
		const job = await driveUntil(created.id, settled);
		expect(job.status).toBe("FAILED");
		expect(job.error_message).toContain("did not finish within");
		for (let round = 0; round < 50 && (await upstreamRunsFor(question))[0]?.cancels === 0; round++) {
			await runDurableObjectAlarm(stub);
			await scheduler.wait(5);
		}
		const [run] = await upstreamRunsFor(question);
		expect(run?.cancels).toBe(1);
		expect(run?.status).toBe("cancelled");
		const report = await stub.deliveries(TENANT_A.tenant);
		expect(report?.stats.upstream_cancels).toBe(1);
	});
});
