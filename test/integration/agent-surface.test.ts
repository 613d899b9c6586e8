/**
 * The Agent API surface inside workerd: `POST /v1/agent` and `/v1/responses`
 * start background runs that are pushed as `response.*` events with the
 * Response object as `data`; GET returns the Response with the relay's id;
 * cancel stops the run upstream too; another tenant finds nothing; a request
 * the Agent API would refuse is a 400 in its envelope before anything is stored.
 */

import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AgentErrorBody, RelayResponse, ResponseList, ResponseWebhookEvent } from "../../src/schemas/agent.ts";
import { TENANT_A, TENANT_B } from "./constants.ts";
import { inboxUrl, jobStub, relay, unique, upstreamRunsFor, waitForEvents } from "./helpers.ts";

function run(body: Record<string, unknown>, key = TENANT_A.key, path = "/v1/responses") {
	return relay(path, { method: "POST", body: JSON.stringify(body) }, key);
}

/** A run's body: `preset` low, one poll from done unless markers say otherwise. */
function runBody(question: string, extra: Record<string, unknown> = {}, markers = ["steps=1"]) {
	return { preset: "low", input: `${question} ${markers.map((m) => `[[emu:${m}]]`).join(" ")}`, ...extra };
}

async function created(res: Response): Promise<RelayResponse> {
	expect(res.status, await res.clone().text()).toBe(200);
	return RelayResponse.parse(await res.json());
}

/** Drives the job's alarm until its Response satisfies `done` (bounded). */
async function driveRun(id: string, done: (r: RelayResponse) => boolean, tenant = TENANT_A.tenant) {
	const stub = jobStub(id);
	let last: RelayResponse | null = null;
	for (let round = 0; round < 200; round++) {
		last = (await stub.response(tenant)) as RelayResponse | null;
		if (last && done(last)) return last;
		await runDurableObjectAlarm(stub);
		await scheduler.wait(5);
	}
	throw new Error(`run ${id} did not get there: ${JSON.stringify(last)}`);
}

const terminal = (r: RelayResponse) => r.status !== "queued" && r.status !== "in_progress";

describe("creating a run", () => {
	it("answers the Response object with the relay's id, sends the request upstream without the push fields", async () => {
		const question = unique("q");
		const response = await created(
			await run(
				runBody(question, {
					callback_url: inboxUrl(unique("agent")),
					callback_events: ["completed"],
					metadata: { ticket: "T-9" },
					max_output_tokens: 900,
					tools: [{ type: "web_search", filters: { search_recency_filter: "week" } }],
				}),
			),
		);
		expect(response).toMatchObject({
			object: "response",
			status: "queued",
			background: true,
			metadata: { ticket: "T-9" },
		});
		expect(response.id).toMatch(/^[0-9a-f]{64}$/);
		const [upstream] = await upstreamRunsFor(question);
		expect(upstream?.body).toEqual({
			preset: "low",
			input: `${question} [[emu:steps=1]]`,
			metadata: { ticket: "T-9" },
			max_output_tokens: 900,
			tools: [{ type: "web_search", filters: { search_recency_filter: "week" } }],
			background: true,
		});
	});

	it("takes the same body on /v1/agent", async () => {
		const response = await created(await run(runBody(unique("q")), TENANT_A.key, "/v1/agent"));
		expect(response.object).toBe("response");
	});

	it.each([
		["stream: true", { stream: true }, "stream"],
		["no input", { input: "" }, "input"],
		["an unknown field", { temperatur: 0.2 }, "temperatur"],
		["a misspelt push field", { callbackUrl: "https://example.com/hook" }, "callbackUrl"],
		["a nested unknown field", { tools: [{ type: "web_search", filters: { mode: "x" } }] }, "tools[0].filters.mode"],
		["store: false", { store: false }, "store"],
		[
			"too many metadata keys",
			{ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
			"metadata",
		],
		["a metadata value over 512", { metadata: { k: "v".repeat(513) } }, "metadata.k"],
		["callback_events without callback_url", { callback_events: ["completed"] }, "callback_events"],
	])("refuses %s with a 400 in the Agent API's envelope, storing nothing", async (_name, extra, param) => {
		const question = unique("q");
		const res = await run(runBody(question, extra));
		expect(res.status).toBe(400);
		const body = AgentErrorBody.parse(await res.json());
		expect(body.error).toMatchObject({ type: "invalid_request_error", code: 400, param });
		expect(await upstreamRunsFor(question)).toHaveLength(0);
	});

	it("refuses a run with neither model nor preset, and a bad callback URL", async () => {
		const noModel = await run({ input: "Hi" });
		expect(noModel.status).toBe(400);
		expect(AgentErrorBody.parse(await noModel.json()).error.param).toBe("model");
		const ftp = await run(runBody(unique("q"), { callback_url: "ftp://example.com/x" }));
		expect(ftp.status).toBe(400);
		expect(AgentErrorBody.parse(await ftp.json()).error.param).toBe("callback_url");
	});

	it("answers 401 in the envelope without a key", async () => {
		const res = await run(runBody(unique("q")), "wrong-key");
		expect(res.status).toBe(401);
		expect(AgentErrorBody.parse(await res.json()).error.type).toBe("authentication_error");
	});
});

describe("a run to its end", () => {
	it("pushes response.completed with the whole Response, and GET returns it too", async () => {
		const name = unique("agent-done");
		const question = unique("q");
		const { id } = await created(
			await run(runBody(question, { callback_url: inboxUrl(name), metadata: { ticket: "T-1" } })),
		);
		const done = await driveRun(id, (r) => terminal(r) && r.delivery_status !== "pending");
		expect(done).toMatchObject({ id, status: "completed", delivery_status: "delivered", metadata: { ticket: "T-1" } });
		expect(done.output.map((item) => item.type)).toEqual(expect.arrayContaining(["message"]));
		expect(done.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });

		const [event, ...others] = await waitForEvents(name, 1);
		expect(others).toHaveLength(0);
		expect(event?.headers["webhook-id"]).toBe(`msg_${id}_completed`);
		const body = ResponseWebhookEvent.parse(JSON.parse(event?.body ?? "{}"));
		expect(body.type).toBe("response.completed");
		expect(body.data).toMatchObject({ id, status: "completed", metadata: { ticket: "T-1" } });
		expect(body.data.output).toEqual(done.output);

		const fetched = RelayResponse.parse(await (await relay(`/v1/responses/${id}`)).json());
		expect(fetched.output).toEqual(done.output);
	});

	it.each([
		["failed", ["steps=1", "fail"], "response.failed", "failed"],
		["cancelled upstream", ["steps=1", "cancelled"], "response.cancelled", "cancelled"],
		["incomplete", ["steps=1", "incomplete"], "response.incomplete", "incomplete"],
	])("pushes the event of a run that ended %s", async (_name, markers, type, status) => {
		const name = unique("agent-end");
		const { id } = await created(await run(runBody(unique("q"), { callback_url: inboxUrl(name) }, markers)));
		const done = await driveRun(id, (r) => terminal(r) && r.delivery_status !== "pending");
		expect(done.status).toBe(status);
		const [event] = await waitForEvents(name, 1);
		const body = ResponseWebhookEvent.parse(JSON.parse(event?.body ?? "{}"));
		expect(body).toMatchObject({ type, data: { id, status } });
		if (status === "failed" || status === "cancelled") expect(body.data.error?.message).toBeTruthy();
	});

	it("tells a caller who asked that the run started (response.in_progress), then that it ended", async () => {
		const name = unique("agent-progress");
		const { id } = await created(
			await run(
				runBody(unique("q"), { callback_url: inboxUrl(name), callback_events: ["in_progress", "completed"] }, [
					"steps=2",
				]),
			),
		);
		await driveRun(id, (r) => terminal(r) && r.delivery_status !== "pending");
		const events = await waitForEvents(name, 2);
		expect(events.map((e) => JSON.parse(e.body).type)).toEqual(["response.in_progress", "response.completed"]);
		expect(JSON.parse(events[0]?.body ?? "{}").data).toMatchObject({ id, status: "in_progress", output: [] });
	});
});

describe("cancel", () => {
	it("cancels a long run upstream and pushes response.cancelled", async () => {
		const name = unique("agent-cancel");
		const question = unique("q");
		const { id } = await created(await run(runBody(question, { callback_url: inboxUrl(name) }, ["steps=50"])));
		await driveRun(id, (r) => r.status === "in_progress");
		const res = await relay(`/v1/responses/${id}/cancel`, { method: "POST" });
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ response_id: id, status: "cancelling" });

		const [event] = await waitForEvents(name, 1);
		expect(ResponseWebhookEvent.parse(JSON.parse(event?.body ?? "{}"))).toMatchObject({
			type: "response.cancelled",
			data: { id, status: "cancelled" },
		});
		const [upstream] = await upstreamRunsFor(question);
		expect(upstream).toMatchObject({ cancels: 1, status: "cancelled" });
		expect(RelayResponse.parse(await (await relay(`/v1/responses/${id}`)).json()).status).toBe("cancelled");

		const again = await relay(`/v1/responses/${id}/cancel`, { method: "POST" });
		expect(again.status).toBe(409);
		expect(AgentErrorBody.parse(await again.json()).error.message).toContain("already ended");
	});

	it("cancels a Sonar job too: FAILED with error_message cancelled, and its failed event", async () => {
		const name = unique("sonar-cancel");
		const res = await relay("/async/chat/completions", {
			method: "POST",
			body: JSON.stringify({
				request: { model: "sonar", messages: [{ role: "user", content: `${unique("q")} [[emu:steps=50]]` }] },
				callback_url: inboxUrl(name),
			}),
		});
		const { id } = (await res.json()) as { id: string };
		const cancelled = await relay(`/async/chat/completions/${id}/cancel`, { method: "POST" });
		expect(cancelled.status).toBe(200);
		expect(await cancelled.json()).toMatchObject({ id, status: "FAILED", error_message: "cancelled" });
		const [event] = await waitForEvents(name, 1);
		expect(JSON.parse(event?.body ?? "{}")).toMatchObject({
			type: "async_chat_completion.failed",
			data: { id, error_message: "cancelled" },
		});
	});
});

describe("tenants and surfaces", () => {
	it("hides a run from another tenant: GET, cancel and deliveries are 404s", async () => {
		const { id } = await created(await run(runBody(unique("q"))));
		for (const [path, method] of [
			[`/v1/responses/${id}`, "GET"],
			[`/v1/responses/${id}/cancel`, "POST"],
			[`/v1/responses/${id}/deliveries`, "GET"],
			[`/v1/responses/${id}/redeliver`, "POST"],
		] as const) {
			const res = await relay(path, { method }, TENANT_B.key);
			expect(res.status, path).toBe(404);
			expect(AgentErrorBody.parse(await res.json()).error.type).toBe("not_found_error");
		}
	});

	it("keeps runs and Sonar jobs apart: each surface 404s the other's ids and lists its own", async () => {
		const { id } = await created(await run(runBody(unique("q"))));
		expect((await relay(`/async/chat/completions/${id}`)).status).toBe(404);
		const sonar = (await (
			await relay("/async/chat/completions", {
				method: "POST",
				body: JSON.stringify({ request: { model: "sonar", messages: [{ role: "user", content: unique("q") }] } }),
			})
		).json()) as { id: string };
		expect((await relay(`/v1/responses/${sonar.id}`)).status).toBe(404);

		const list = ResponseList.parse(await (await relay("/v1/responses?limit=100")).json());
		expect(list.data.map((r) => r.id)).toContain(id);
		expect(list.data.map((r) => r.id)).not.toContain(sonar.id);
		const sonarList = (await (await relay("/async/chat/completions?limit=100")).json()) as {
			requests: { id: string }[];
		};
		expect(sonarList.requests.map((r) => r.id)).not.toContain(id);
	});

	it("lists a tenant's runs newest first, by pages", async () => {
		const key = TENANT_B.key;
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) ids.push((await created(await run(runBody(unique("q")), key))).id);
		const first = ResponseList.parse(await (await relay("/v1/responses?limit=3", {}, key)).json());
		expect(first.has_more).toBe(true);
		const second = ResponseList.parse(
			await (await relay(`/v1/responses?limit=3&next_token=${first.next_token}`, {}, key)).json(),
		);
		const seen = [...first.data, ...second.data].map((r) => r.id);
		expect(seen.slice(0, 5)).toEqual([...ids].reverse());
	});

	it("resolves previous_response_id from the relay's id to upstream's", async () => {
		const { id } = await created(await run(runBody(unique("q"))));
		await driveRun(id, terminal);
		const question = unique("q");
		await created(await run(runBody(question, { previous_response_id: id })));
		const [upstream] = await upstreamRunsFor(question);
		expect(upstream?.body.previous_response_id).toMatch(/^resp_/);
		const foreign = await run(runBody(unique("q"), { previous_response_id: id }), TENANT_B.key);
		expect(foreign.status).toBe(400);
	});

	it("dedupes on the Idempotency-Key header", async () => {
		const body = JSON.stringify(runBody(unique("q")));
		const headers = { "idempotency-key": unique("idem") };
		const a = await created(await relay("/v1/responses", { method: "POST", body, headers }));
		const b = await created(await relay("/v1/responses", { method: "POST", body, headers }));
		expect(b.id).toBe(a.id);
	});
});
