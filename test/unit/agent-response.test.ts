/**
 * Recorded-fixture tests of how Agent API answers are read: complete runs,
 * failures that arrive as HTTP 200, cancelled and incomplete runs, and answers
 * that drift from the schema (unknown fields, items and parts; missing
 * optional fields). The result must always be a valid seed
 * `CompletionResponse`; drift must never fail or stall a job, and is logged
 * once per kind; only an answer with no id or status is an error.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CompletionResponse } from "../../src/schemas/perplexity.ts";
import { readAgentRun } from "../../src/upstream/agent/response.ts";
import { resetDrift } from "../../src/upstream/drift.ts";
import { UpstreamError } from "../../src/upstream/errors.ts";
import { readSonarRun } from "../../src/upstream/sonar.ts";
import cancelled from "../fixtures/agent/cancelled.json";
import completed from "../fixtures/agent/completed.json";
import drift from "../fixtures/agent/drift.json";
import failed from "../fixtures/agent/failed.json";
import inProgress from "../fixtures/agent/in-progress.json";
import incomplete from "../fixtures/agent/incomplete.json";
import incompleteEmpty from "../fixtures/agent/incomplete-empty.json";
import requiresAction from "../fixtures/agent/requires-action.json";
import unknownStatus from "../fixtures/agent/unknown-status.json";
import unusable from "../fixtures/agent/unusable.json";

const CONTEXT = { model: "sonar", apiKey: "pplx-test-key-0000" };

let warnings: string[] = [];
beforeEach(() => {
	resetDrift();
	warnings = [];
	vi.spyOn(console, "warn").mockImplementation((line: string) => {
		warnings.push(line);
	});
});
afterEach(() => vi.restoreAllMocks());

const driftKinds = () => warnings.map((line) => (JSON.parse(line) as { kind: string }).kind);

describe("a completed run", () => {
	it("becomes a Sonar answer: text, citations, search results, usage with cost, the model asked for", () => {
		const run = readAgentRun(completed, CONTEXT);
		expect(run).toMatchObject({
			id: "resp_7f1c2a9b4e3d4c5a8b6f0e1d2c3b4a59",
			status: "completed",
			error: null,
			createdAt: 1796000000,
			finishedAt: 1796000184,
		});
		const result = CompletionResponse.parse(run.result);
		expect(result.model).toBe("sonar");
		expect(result.choices[0]?.message.content).toBe(
			"A Durable Object alarm wakes the object at a time you set [1]. A throwing handler is retried with back-off [2].",
		);
		expect(result.choices[0]?.finish_reason).toBe("stop");
		expect(result.citations).toEqual([
			"https://developers.cloudflare.com/durable-objects/api/alarms/",
			"https://blog.cloudflare.com/durable-objects-alarms/",
		]);
		expect(result.search_results?.[0]).toEqual({
			title: "Alarms · Cloudflare Durable Objects docs",
			url: "https://developers.cloudflare.com/durable-objects/api/alarms/",
			snippet:
				"Durable Objects alarms allow you to schedule the Durable Object to be woken up at a time in the future.",
			date: "2026-03-02",
			last_updated: "2026-10-11",
			source: "web",
		});
		expect(result.usage).toEqual({
			prompt_tokens: 412,
			completion_tokens: 96,
			total_tokens: 508,
			cost: {
				input_tokens_cost: 0.000412,
				output_tokens_cost: 0.000096,
				tool_calls_cost: 0.005,
				total_cost: 0.005508,
				currency: "USD",
			},
		});
		// A known item the relay has no use for (fetch_url_results) is not drift.
		expect(warnings).toEqual([]);
	});
});

describe("runs that did not complete", () => {
	it("reads a failed run (an HTTP 200) with upstream's message", () => {
		expect(readAgentRun(failed, CONTEXT)).toMatchObject({
			status: "failed",
			result: null,
			error: "The model could not complete the research: upstream provider overloaded",
		});
	});

	it("reads a cancelled run, with a message of its own when upstream gives none", () => {
		expect(readAgentRun(cancelled, CONTEXT)).toMatchObject({
			status: "cancelled",
			result: null,
			error: "the run was cancelled upstream",
		});
	});

	it("keeps an incomplete run's text, cut short (finish_reason length)", () => {
		const run = readAgentRun(incomplete, CONTEXT);
		expect(run.status).toBe("incomplete");
		expect(run.error).toBe("upstream ended the run incomplete (max_output_tokens)");
		const result = CompletionResponse.parse(run.result);
		expect(result.choices[0]).toMatchObject({
			finish_reason: "length",
			message: { content: "The answer began, and was cut" },
		});
	});

	it("reads an incomplete run without text as having no answer, and says why", () => {
		expect(readAgentRun(incompleteEmpty, CONTEXT)).toMatchObject({
			status: "incomplete",
			result: null,
			error: "upstream ended the run incomplete (max_steps) before it wrote any answer",
		});
	});

	it("reads a run in progress as one without an answer yet", () => {
		expect(readAgentRun(inProgress, CONTEXT)).toMatchObject({ status: "in_progress", result: null, error: null });
	});

	it("fails a run that stopped for a client-side tool call, which the relay cannot answer", () => {
		expect(readAgentRun(requiresAction, CONTEXT)).toMatchObject({ status: "failed", result: null });
		expect(readAgentRun(requiresAction, CONTEXT).error).toContain("requires_action");
	});
});

describe("drift", () => {
	it("never fails on unknown fields, items and parts, or missing optional fields, and logs each kind once", () => {
		const run = readAgentRun(drift, CONTEXT);
		readAgentRun(drift, CONTEXT);
		expect(run.status).toBe("completed");
		const result = CompletionResponse.parse(run.result);
		expect(result.choices[0]?.message.content).toBe("An answer that survived drift.");
		expect(result.search_results).toEqual([
			{ title: "A", url: "https://example.com/a", snippet: "" },
			{ title: "B", url: "https://example.com/b", snippet: "b" },
		]);
		expect(result.usage).toMatchObject({
			prompt_tokens: 10,
			completion_tokens: 7,
			cost: { total_cost: 0 },
			cost_reported: false,
		});
		expect(driftKinds().sort()).toEqual(
			[
				"agent:content_part:output_audio",
				"agent:field:safety",
				"agent:field:service_tier",
				"agent:missing:usage.cost",
				"agent:output_item:reasoning_trace",
			].sort(),
		);
	});

	it("reads an unknown status as still running (drift), or as failed when it carries an error", () => {
		expect(readAgentRun(unknownStatus, CONTEXT).status).toBe("in_progress");
		expect(readAgentRun({ ...unknownStatus, error: { message: "stopped by a moderator" } }, CONTEXT)).toMatchObject({
			status: "failed",
			error: "stopped by a moderator",
		});
		expect(driftKinds()).toContain("agent:status:paused_for_review");
	});

	it("refuses an answer with no status or id, at once and for good", () => {
		const error = (() => {
			try {
				readAgentRun(unusable, CONTEXT);
			} catch (caught) {
				return caught;
			}
		})();
		expect(error).toBeInstanceOf(UpstreamError);
		expect((error as UpstreamError).failure).toMatchObject({ kind: "invalid_response", retryable: false });
		expect((error as UpstreamError).message).toContain("no status");
	});

	it("retries an answer that is not JSON at all (a proxy's page, a body cut short)", () => {
		expect(() => readAgentRun(undefined, CONTEXT)).toThrow(UpstreamError);
		try {
			readAgentRun(undefined, CONTEXT);
		} catch (error) {
			expect((error as UpstreamError).failure.retryable).toBe(true);
		}
	});

	it("dedupes sources across search_results items and joins several messages' text", () => {
		const run = readAgentRun(
			{
				...completed,
				output: [...completed.output, ...completed.output.filter((item) => item.type !== "fetch_url_results")],
			},
			CONTEXT,
		);
		expect(run.result?.citations).toHaveLength(2);
		expect(run.result?.choices[0]?.message.content).toMatch(/back-off \[2\]\.A Durable/);
	});

	it("redacts the upstream key from a failure's message", () => {
		const run = readAgentRun({ ...failed, error: { message: `bad key ${CONTEXT.apiKey}` } }, CONTEXT);
		expect(run.error).toBe("bad key [redacted]");
	});
});

describe("the retired Sonar API, read leniently", () => {
	const sonarJob = (response: Record<string, unknown>) => ({
		id: "s1",
		model: "sonar",
		created_at: 1796000000,
		completed_at: 1796000003,
		status: "COMPLETED",
		response,
	});
	const answer = {
		id: "c1",
		model: "sonar",
		created: 1796000003,
		choices: [
			{
				index: 0,
				finish_reason: "stop",
				message: { role: "assistant", content: "Hi" },
				delta: { role: "assistant", content: "" },
			},
		],
		usage: {
			prompt_tokens: 1,
			completion_tokens: 1,
			total_tokens: 2,
			cost: { input_tokens_cost: 0, output_tokens_cost: 0, total_cost: 0.001 },
		},
	};

	it("keeps a valid answer as it is", () => {
		const run = readSonarRun(sonarJob(answer));
		expect(run).toMatchObject({ id: "s1", status: "completed", finishedAt: 1796000003 });
		expect(run.result).toEqual(answer);
	});

	it.each([
		["a new finish_reason", { choices: [{ ...answer.choices[0], finish_reason: "content_filter" }] }],
		["a choice without delta", { choices: [{ index: 0, message: { role: "assistant", content: "Hi" } }] }],
		["usage without cost", { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }],
		["a search result with a new source", { search_results: [{ title: "t", url: "https://x", source: "news" }] }],
		[
			"an image without a title",
			{ images: [{ image_url: "https://i", origin_url: "https://o", width: 1, height: 1 }] },
		],
	])("completes despite %s", (_name, change) => {
		const run = readSonarRun(sonarJob({ ...answer, ...change }));
		expect(run.status).toBe("completed");
		const result = CompletionResponse.parse(run.result);
		expect(result.choices[0]?.message.content).toBe("Hi");
	});

	it("refuses a job with no status, and fails a FAILED one with its message", () => {
		expect(() => readSonarRun({ id: "s1" })).toThrow(UpstreamError);
		expect(readSonarRun({ id: "s1", status: "FAILED", error_message: "boom", created_at: 1 })).toMatchObject({
			status: "failed",
			error: "boom",
		});
	});
});
