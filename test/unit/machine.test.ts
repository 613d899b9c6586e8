/**
 * The job state machine, as plain unit tests: every transition is a pure
 * function of (state, outcome, now), so no runtime, network or clock is needed.
 */
import { describe, expect, it } from "vitest";
import { registerFormat } from "../../src/delivery/formats.ts";
import { type AttemptResult, deliveryId, MAX_LOG_ENTRIES, nextDeliveryDelay } from "../../src/delivery/outbox.ts";
import { slackIntegration } from "../../src/integrations/slack/integration.ts";
import "../../src/integrations/slack/message.ts"; // registers Slack's delivery formats
import type { Outcome } from "../../src/job/actions.ts";
import { cancelJob } from "../../src/job/commands.ts";
import { apply, dueActions, lostCreate, markCreateSent, newJob, nextWake } from "../../src/job/machine.ts";
import { owe, owedOf } from "../../src/job/owed.ts";
import { eventBody } from "../../src/job/render.ts";
import {
	ALARM_MAX_RETRY_MS,
	ALARM_RETRY_MS,
	alarmRetryDelay,
	nextCreateDelay,
	retryBackoff,
	SIDE_EFFECT_MAX_RETRY_MS,
	SIDE_EFFECT_RETRY_MS,
	sideEffectRetryDelay,
} from "../../src/job/schedule.ts";
import { type JobSpec, type JobState, statusOf } from "../../src/job/state.ts";
import { deliveryStatus, toResponse, toView } from "../../src/job/views.ts";

import type { UpstreamFailure } from "../../src/upstream/errors.ts";
import type { UpstreamRun } from "../../src/upstream/port.ts";
import { admitted, indexed, makeRun, makeSpec, policy, T0 } from "./job-fixtures.ts";

const failure = (overrides: Partial<UpstreamFailure> = {}): UpstreamFailure => ({
	kind: "http",
	status: 503,
	retryable: true,
	retryAfterMs: null,
	message: "upstream answered 503",
	...overrides,
});

const attempt = (overrides: Partial<AttemptResult> = {}): AttemptResult => ({
	ok: true,
	statusCode: 200,
	error: null,
	durationMs: 12,
	retryAfterMs: null,
	responseBody: "ok",
	...overrides,
});

/** A job in the given phase, built by feeding the machine real outcomes. */
function makeJob(phase: "submitting" | "polling" | "completed" | "failed", spec: Partial<JobSpec> = {}): JobState {
	// Past the tenant's limits (the index admitted it): see "submitting" for the admission itself.
	let state: JobState = admitted(newJob(makeSpec(spec), T0));
	if (phase === "submitting") return state;
	state = apply(state, { type: "created", run: makeRun() }, T0, policy, 0.5);
	if (phase === "polling") return state;
	const upstream =
		phase === "completed"
			? makeRun({ status: "completed", finishedAt: T0 / 1000 + 5 })
			: makeRun({ status: "failed", error: "boom" });
	return apply(state, { type: "polled", run: upstream }, T0 + 1000, policy, 0.5);
}

const step = (state: JobState, outcome: Outcome, now: number) => apply(state, outcome, now, policy, 0.5);

/** The address of a job's first delivery, for a `delivery_attempted` outcome. */
function firstAttempt(state: JobState): { id: string } {
	const delivery = state.deliveries[0];
	if (!delivery) throw new Error("no delivery");
	return { id: deliveryId(delivery.webhookId, delivery.url) };
}

describe("submitting", () => {
	it("has the tenant index judge a new job against its limits first, then creates it upstream", () => {
		const fresh = newJob(makeSpec(), T0);
		expect(dueActions(fresh, T0, policy)).toEqual([{ type: "index", fanOut: null, admit: true }]);
		const state = step(fresh, { type: "indexed", hooks: [] }, T0);
		expect(state.lifecycle).toMatchObject({ owed: { admit: false, index: false } });
		// The caller waits on this create: a gate slot past the job's deadline refuses it instead.
		expect(dueActions(state, T0, policy)).toEqual([
			{ type: "create", slot: null, deadline: T0 + policy.jobTimeoutSeconds * 1000 },
		]);
	});

	it("is refused with a 429 and its Retry-After over a tenant limit, or behind a create queue past its deadline", () => {
		const refused = step(
			newJob(makeSpec(), T0),
			{ type: "index_refused", detail: "tenant limit max_in_flight (2) reached", retryAfterMs: 10_000 },
			T0,
		);
		expect(refused.lifecycle).toEqual({
			phase: "rejected",
			status: 429,
			detail: "tenant limit max_in_flight (2) reached",
			retryAfterMs: 10_000,
			admitted: false,
		});
		expect(dueActions(refused, T0, policy)).toEqual([]);
		const queued = step(makeJob("submitting"), { type: "create_refused", detail: "queue", retryAfterMs: 4000 }, T0);
		expect(queued.lifecycle).toMatchObject({ phase: "rejected", status: 429, retryAfterMs: 4000 });
	});

	it("lets a new job in when the index cannot judge it (limits protect, they must not block)", () => {
		const state = step(newJob(makeSpec(), T0), { type: "side_effect_failed" }, T0);
		expect(state.lifecycle).toMatchObject({ owed: { admit: false, index: true } });
		expect(dueActions(state, T0, policy).map((a) => a.type)).toEqual(["create"]);
	});

	it("moves to polling with the upstream id and the first poll about 1 s later", () => {
		const state = makeJob("polling");
		expect(state.lifecycle).toMatchObject({ phase: "polling", upstreamId: "up-1", nextAt: T0 + 1000 });
		expect(nextWake(indexed(state), T0, policy)).toBe(T0 + 1000);
	});

	it("is rejected, keeping nothing, when the first create gets a terminal 4xx", () => {
		const state = step(
			makeJob("submitting"),
			{ type: "create_failed", failure: failure({ status: 422, retryable: false }) },
			T0,
		);
		expect(state.lifecycle).toMatchObject({ phase: "rejected", status: 422 });
		expect(dueActions(state, T0, policy)).toEqual([]);
		expect(nextWake(state, T0, policy)).toBeNull();
	});

	it("keeps the job and retries the create with backoff when upstream is unavailable", () => {
		let state = step(makeJob("submitting"), { type: "create_failed", failure: failure() }, T0);
		expect(statusOf(state)).toBe("CREATED");
		expect(state.lifecycle).toMatchObject({ phase: "submitting", attempts: 1, nextAt: T0 + 1000 });
		state = step(state, { type: "create_failed", failure: failure() }, T0 + 1000);
		expect(state.lifecycle).toMatchObject({ attempts: 2, nextAt: T0 + 1000 + 2000 });
	});

	it("never retries a create sooner than Retry-After", () => {
		expect(nextCreateDelay(0, 30_000, 1000, 0.5)).toBe(30_000);
		expect(nextCreateDelay(0, null, 1000, 0.5)).toBe(1000);
	});

	it("fails an accepted job whose retried create gets a terminal error", () => {
		let state = step(makeJob("submitting"), { type: "create_failed", failure: failure() }, T0);
		state = step(state, { type: "create_failed", failure: failure({ status: 400, retryable: false }) }, T0 + 1000);
		expect(statusOf(state)).toBe("FAILED");
		expect(state.errorMessage).toContain("upstream rejected the job");
		expect(state.lifecycle.phase).toBe("settled");
	});
});

describe("creates whose answer was lost (no idempotency key upstream)", () => {
	const lost = (overrides: Partial<UpstreamFailure> = {}) =>
		failure({ kind: "timeout", status: null, ambiguous: true, message: "upstream did not answer", ...overrides });

	it("retries an ambiguous create a bounded number of times, counting each", () => {
		let state = step(makeJob("submitting"), { type: "create_failed", failure: lost() }, T0);
		expect(state.lifecycle).toMatchObject({ phase: "submitting", attempts: 1, ambiguous: 1 });
		state = step(state, { type: "create_failed", failure: lost() }, T0 + 1000);
		expect(state.lifecycle).toMatchObject({ phase: "submitting", attempts: 2, ambiguous: 2 });
		// The default allows two retries: a third lost answer fails the job instead of risking a fourth run.
		state = step(state, { type: "create_failed", failure: lost() }, T0 + 3000);
		expect(statusOf(state)).toBe("FAILED");
		expect(state.errorMessage).toContain("3 creates lost their answers");
		expect(state.errorMessage).toContain("may have started a run upstream");
	});

	it("retries safe failures (nothing was sent, or upstream said nothing started) without counting them", () => {
		let state = makeJob("submitting");
		for (let i = 0; i < 5; i++) {
			state = step(
				state,
				{ type: "create_failed", failure: failure({ status: 429, ambiguous: false }) },
				T0 + i * 1000,
			);
		}
		expect(state.lifecycle).toMatchObject({ phase: "submitting", attempts: 5, ambiguous: 0 });
	});

	it("takes a create found on its way after a restart for a lost answer, and only then", () => {
		const sent = markCreateSent(makeJob("submitting"), T0);
		const lost = lostCreate(sent);
		expect(lost).toMatchObject({ type: "create_failed", failure: { ambiguous: true, retryable: true } });
		const state = step(sent, lost as Outcome, T0 + 10);
		expect(state.lifecycle).toMatchObject({ phase: "submitting", ambiguous: 1, attempts: 1 });
		expect(lostCreate(state)).toBeNull();
		expect(lostCreate(makeJob("submitting"))).toBeNull();
		expect(lostCreate(makeJob("polling"))).toBeNull();
	});

	it("follows the ambiguousCreateRetries setting", () => {
		const strict = { ...policy, ambiguousCreateRetries: 0 };
		const state = apply(makeJob("submitting"), { type: "create_failed", failure: lost() }, T0, strict, 0.5);
		expect(statusOf(state)).toBe("FAILED");
	});
});

describe("upstream runs that end other ways", () => {
	it("completes an incomplete run that has text, with finish_reason length", () => {
		const run = makeRun({ status: "completed" });
		const cut = {
			...run,
			status: "incomplete" as const,
			error: "upstream ended the run incomplete (max_output_tokens)",
		};
		const state = step(makeJob("polling"), { type: "polled", run: cut }, T0 + 1000);
		expect(statusOf(state)).toBe("COMPLETED");
		expect(state.errorMessage).toBeNull();
		expect(state.response).not.toBeNull();
	});

	it("fails an incomplete run without text, and a cancelled one, with upstream's reason", () => {
		const empty = makeRun({
			status: "incomplete",
			error: "upstream ended the run incomplete (max_steps) before it wrote any answer",
		});
		const failedEmpty = step(makeJob("polling"), { type: "polled", run: empty }, T0 + 1000);
		expect(statusOf(failedEmpty)).toBe("FAILED");
		expect(failedEmpty.errorMessage).toContain("max_steps");
		const cancelled = step(
			makeJob("polling"),
			{ type: "polled", run: makeRun({ status: "cancelled", error: "the run was cancelled upstream" }) },
			T0 + 1000,
		);
		expect(statusOf(cancelled)).toBe("FAILED");
		expect(cancelled).toMatchObject({ errorMessage: "the run was cancelled upstream" });
	});

	it("fails a run reported completed without an answer at once", () => {
		const state = step(
			makeJob("polling"),
			{ type: "polled", run: makeRun({ status: "completed", result: null }) },
			T0 + 1000,
		);
		expect(statusOf(state)).toBe("FAILED");
		expect(state.errorMessage).toBe("upstream reported the run completed without an answer");
	});
});

describe("stopping abandoned runs", () => {
	const expiredJob = () => {
		const late = T0 + policy.jobTimeoutSeconds * 1000;
		return { state: step(makeJob("polling"), { type: "expired" }, late), late };
	};

	it("cancels the upstream run of a job that reached JOB_TIMEOUT_SECONDS", () => {
		const { state, late } = expiredJob();
		expect(state.lifecycle).toMatchObject({
			phase: "settled",
			upstreamId: "up-1",
			cancel: { attempts: 0, nextAt: late },
		});
		expect(dueActions(state, late, policy)).toContainEqual({ type: "cancel_upstream", upstreamId: "up-1" });
		const done = step(state, { type: "upstream_cancelled" }, late);
		expect(done.lifecycle).toMatchObject({ cancel: null });
		expect(dueActions(done, late, policy).map((a) => a.type)).not.toContain("cancel_upstream");
	});

	it("retries a cancel that failed on the way, a few times, and drops one upstream refused", () => {
		let { state, late } = expiredJob();
		state = step(state, { type: "cancel_failed", failure: failure() }, late);
		expect(state.lifecycle).toMatchObject({ cancel: { attempts: 1, nextAt: late + 5000 } });
		expect(nextWake(state, late, policy)).toBeLessThanOrEqual(late + 5000);
		state = step(state, { type: "cancel_failed", failure: failure() }, late + 5000);
		state = step(state, { type: "cancel_failed", failure: failure() }, late + 15_000);
		expect(state.lifecycle).toMatchObject({ cancel: null });
		const refused = step(
			expiredJob().state,
			{ type: "cancel_failed", failure: failure({ status: 400, retryable: false }) },
			late,
		);
		expect(refused.lifecycle).toMatchObject({ cancel: null });
	});

	it("cancels the run of a job whose polls upstream can no longer answer", () => {
		const state = step(
			makeJob("polling"),
			{ type: "poll_failed", failure: failure({ kind: "invalid_response", status: 200, retryable: false }) },
			T0 + 1000,
		);
		expect(state.lifecycle).toMatchObject({ phase: "settled", cancel: { attempts: 0 } });
	});

	it("does not cancel a run that finished by itself, nor one never created", () => {
		expect(makeJob("completed").lifecycle).toMatchObject({ cancel: null });
		const late = T0 + policy.jobTimeoutSeconds * 1000;
		expect(step(makeJob("submitting"), { type: "expired" }, late).lifecycle).toMatchObject({ cancel: null });
	});

	it("retires only once the cancel is done", () => {
		const { state } = expiredJob();
		const retireAt = (state.lifecycle as { retireAt: number }).retireAt;
		expect(dueActions(state, retireAt, policy).map((a) => a.type)).not.toContain("retire");
	});
});

describe("polling", () => {
	it("backs off ×1.5 up to POLL_MAX_INTERVAL_MS", () => {
		let state = indexed(makeJob("polling"));
		const gaps: number[] = [];
		let now = T0 + 1000;
		for (let i = 0; i < 8; i++) {
			state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, now);
			const next = nextWake(indexed(state), now, policy) as number;
			gaps.push(next - now);
			now = next;
			state = indexed(state);
		}
		expect(gaps).toEqual([1500, 2250, 3375, 5063, 7595, 10_000, 10_000, 10_000]);
	});

	it("waits at least Retry-After after a 429", () => {
		const state = step(
			makeJob("polling"),
			{ type: "poll_failed", failure: failure({ status: 429, retryAfterMs: 7000 }) },
			T0 + 1000,
		);
		expect(state.lifecycle).toMatchObject({ phase: "polling", nextAt: T0 + 1000 + 7000 });
	});

	it("polls without asking the upstream gate until upstream answers a GET with 429", () => {
		let state = makeJob("polling");
		const poll = () => dueActions(state, T0 + 60_000, policy).find((a) => a.type === "poll");
		expect(poll()).toMatchObject({ type: "poll", pacing: { paced: false } });
		state = step(state, { type: "poll_failed", failure: failure({ status: 429, retryAfterMs: 2000 }) }, T0 + 1000);
		expect(poll()).toMatchObject({ type: "poll", pacing: { paced: true } });
		// A paced poll that hears from the gate that GETs have recovered goes straight out again.
		state = step(state, { type: "polled", run: makeRun(), pacing: { paced: false } }, T0 + 3000);
		expect(poll()).toMatchObject({ type: "poll", pacing: { paced: false } });
		// A 503 is pushback too; a plain 500, a timeout or a dropped connection is not (the job backs off alone).
		const unavailable = step(makeJob("polling"), { type: "poll_failed", failure: failure({ status: 503 }) }, T0 + 1000);
		expect(unavailable.lifecycle).toMatchObject({ phase: "polling", pacing: { paced: true } });
		for (const notPushback of [
			failure({ status: 500 }),
			failure({ kind: "timeout", status: null }),
			failure({ kind: "network", status: null }),
		]) {
			const after = step(makeJob("polling"), { type: "poll_failed", failure: notPushback }, T0 + 1000);
			expect(after.lifecycle).toMatchObject({ phase: "polling", pacing: { paced: false } });
		}
		// A job created while the gate paces GETs starts paced.
		const paced = { type: "created", run: makeRun(), pacing: { paced: true } } as const;
		const created = apply(makeJob("submitting"), paced, T0, policy, 0.5);
		expect(created.lifecycle).toMatchObject({ phase: "polling", pacing: { paced: true } });
	});

	it("backs off polls that fail in a row, even inside a dense plan, and follows the plan again once one succeeds", () => {
		const plan = Array.from({ length: 40 }, (_, i) => 1000 + 100 * i);
		let state = apply(newJob(makeSpec(), T0), { type: "created", run: makeRun(), pacing: { plan } }, T0, policy, 0.5);
		let now = T0 + 1000;
		const waits: number[] = [];
		for (let i = 0; i < 8; i++) {
			state = step(state, { type: "poll_failed", failure: failure({ kind: "timeout", status: null }) }, now);
			const next = state.lifecycle.phase === "polling" ? state.lifecycle.nextAt : Number.NaN;
			waits.push(next - now);
			now = next;
		}
		for (let i = 1; i < waits.length; i++) {
			expect(waits[i]).toBeGreaterThanOrEqual(Math.min(1.5 * (waits[i - 1] as number), policy.pollMaxIntervalMs) - 1);
		}
		expect(waits.at(-1)).toBe(policy.pollMaxIntervalMs);
		// A success puts the job back on its plan (here used up: the back-off from the last gap).
		state = step(state, { type: "polled", run: makeRun() }, now);
		expect(state.lifecycle).toMatchObject({ phase: "polling", pacing: { paced: false } });
	});

	it("fails the job on a terminal poll error, with the reason", () => {
		const state = step(
			makeJob("polling"),
			{ type: "poll_failed", failure: failure({ status: 404, retryable: false, message: "gone" }) },
			T0 + 1000,
		);
		expect(statusOf(state)).toBe("FAILED");
		expect(state.errorMessage).toContain("gone");
	});

	it("fails the job at JOB_TIMEOUT_SECONDS", () => {
		const state = makeJob("polling");
		const late = T0 + policy.jobTimeoutSeconds * 1000;
		expect(dueActions(state, late, policy)[0]).toEqual({ type: "expire" });
		const expired = step(state, { type: "expired" }, late);
		expect(statusOf(expired)).toBe("FAILED");
		expect(expired.errorMessage).toContain("did not finish within 600 s");
	});

	it("queues the started event only when asked for, once", () => {
		const spec = { callbackEvents: ["started", "completed"] as JobSpec["callbackEvents"] };
		let state = makeJob("polling", spec);
		state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, T0 + 1000);
		state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, T0 + 2500);
		expect(state.deliveries.map((d) => d.type)).toEqual(["async_chat_completion.started"]);
		const plain = step(makeJob("polling"), { type: "polled", run: makeRun({ status: "in_progress" }) }, T0 + 1000);
		expect(plain.deliveries).toEqual([]);
	});
});

describe("learnt poll plans", () => {
	const plan = [2000, 3000, 3600, 4100];
	const planned = () =>
		apply(newJob(makeSpec(), T0), { type: "created", run: makeRun(), pacing: { plan } }, T0, policy, 0.5);

	it("polls at the planned times after the upstream create, then backs off from the last gap", () => {
		let state = planned();
		expect(state.lifecycle).toMatchObject({ phase: "polling", nextAt: T0 + 2000, acceptedAt: T0 });
		const seen: number[] = [];
		for (let i = 0; i < 6; i++) {
			const { lifecycle } = state;
			if (lifecycle.phase !== "polling") throw new Error("not polling");
			seen.push(lifecycle.nextAt - T0);
			state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, lifecycle.nextAt);
		}
		expect(seen).toEqual([2000, 3000, 3600, 4100, 4100 + 750, 4100 + 750 + 1125]);
	});

	it("waits for a reserved gate slot, then shows the slot's epoch when it comes due", () => {
		let state: JobState = admitted(newJob(makeSpec(), T0, false));
		state = step(
			state,
			{ type: "create_deferred", at: T0 + 5000, slot: { epoch: 3, send: false }, pacing: { plan } },
			T0,
		);
		expect(state.lifecycle).toMatchObject({
			phase: "submitting",
			nextAt: T0 + 5000,
			slot: { epoch: 3, send: false },
			attempts: 0,
		});
		expect(dueActions(state, T0 + 4999, policy).map((a) => a.type)).not.toContain("create");
		expect(dueActions(state, T0 + 5000, policy)[0]).toEqual({ type: "create", slot: { epoch: 3, send: false } });
		state = step(state, { type: "created", run: makeRun() }, T0 + 5000);
		expect(state.lifecycle).toMatchObject({ phase: "polling", nextAt: T0 + 5000 + 2000 });
	});

	it("shows a booked send as such when it comes due, and forgets it once the create went", () => {
		let state: JobState = admitted(newJob(makeSpec(), T0, false));
		state = step(
			state,
			{ type: "create_deferred", at: T0 + 300, slot: { epoch: 2, send: true }, pacing: { plan } },
			T0,
		);
		expect(dueActions(state, T0 + 300, policy)[0]).toEqual({ type: "create", slot: { epoch: 2, send: true } });
		state = step(state, { type: "create_failed", failure: failure() }, T0 + 300);
		expect(dueActions(state, T0 + 60_000, policy)[0]).toEqual({ type: "create", slot: null });
	});

	it("learns the duration bracketed by the last pending and the first done poll, once", () => {
		let state = planned();
		state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, T0 + 2000);
		state = step(state, { type: "polled", run: makeRun({ status: "completed" }) }, T0 + 3000);
		expect(state.durationMs).toBe(2500);
		const learn = dueActions(state, T0 + 3000, policy).find((a) => a.type === "learn");
		expect(learn).toEqual({ type: "learn", model: "sonar", durationMs: 2500 });
		state = step(state, { type: "learned" }, T0 + 3000);
		expect(dueActions(state, T0 + 3000, policy).some((a) => a.type === "learn")).toBe(false);
	});
});

describe("settling", () => {
	it("pushes the completed event first, then writes KV and the index once, with the attempt's delivery status", () => {
		const state = makeJob("completed");
		expect(statusOf(state)).toBe("COMPLETED");
		expect(dueActions(state, T0 + 1000, policy).map((a) => a.type)).toEqual(["deliver", "learn"]);
		expect(nextWake(state, T0 + 1000, policy)).toBe(T0 + 1000);
		const pushed = step(state, { type: "delivery_attempted", ...firstAttempt(state), result: attempt() }, T0 + 1010);
		expect(deliveryStatus(pushed)).toBe("delivered");
		expect(dueActions(pushed, T0 + 1010, policy).map((a) => a.type)).toEqual(["cache", "index", "learn"]);
		const written = step(step(pushed, { type: "cached" }, T0 + 1020), { type: "indexed", hooks: [] }, T0 + 1020);
		expect(dueActions(written, T0 + 1020, policy).filter((a) => a.type !== "learn")).toEqual([]);
	});

	it("still writes KV and the index when the first attempt fails, and retries the push after them", () => {
		const state = makeJob("completed");
		const failed = step(
			state,
			{ type: "delivery_attempted", ...firstAttempt(state), result: attempt({ ok: false, statusCode: 503 }) },
			T0 + 1010,
		);
		expect(deliveryStatus(failed)).toBe("pending");
		expect(dueActions(failed, T0 + 1010, policy).map((a) => a.type)).toEqual(["cache", "index", "learn"]);
	});

	it("pushes a failed event with the error message", () => {
		const state = makeJob("failed");
		expect(state.deliveries.map((d) => d.type)).toEqual(["async_chat_completion.failed"]);
		expect(toView(state)).toMatchObject({ status: "FAILED", error_message: "boom", response: null });
	});

	it("signs the same body on every attempt, with metadata echoed", () => {
		const state = makeJob("completed");
		const delivery = state.deliveries[0];
		if (!delivery) throw new Error("no delivery");
		const body = JSON.parse(eventBody(state, delivery));
		expect(body).toMatchObject({
			type: "async_chat_completion.completed",
			data: { id: "job1", status: "COMPLETED", metadata: { ticket: 7 } },
		});
		expect(eventBody(state, delivery)).toBe(eventBody(state, delivery));
	});

	it("queues no event without a callback_url", () => {
		expect(makeJob("completed", { callbackUrl: null }).deliveries).toEqual([]);
		expect(deliveryStatus(makeJob("completed", { callbackUrl: null }))).toBeNull();
	});
});

describe("delivering", () => {
	const ready = () => {
		const state = makeJob("completed");
		return step(step(state, { type: "cached" }, T0 + 1000), { type: "indexed", hooks: [] }, T0 + 1000);
	};
	const attempted = (state: JobState, result: AttemptResult, now: number) =>
		step(
			state,
			{ type: "delivery_attempted", id: deliveryId("msg_job1_completed", "https://hooks.example.com/in"), result },
			now,
		);

	it("is delivered on a 2xx, and the KV copy and index are refreshed", () => {
		const state = attempted(ready(), attempt(), T0 + 1000);
		expect(deliveryStatus(state)).toBe("delivered");
		expect(owedOf(state)?.cache).toBe(true);
		expect(state.log).toHaveLength(1);
		expect(state.log[0]).toMatchObject({ attempt: 1, status_code: 200, host: "hooks.example.com" });
	});

	it("retries on the schedule, then dead-letters", () => {
		let state = ready();
		state = attempted(state, attempt({ ok: false, statusCode: 500 }), T0 + 1000);
		expect(state.deliveries[0]).toMatchObject({ status: "pending", attempts: 1, nextAt: T0 + 1000 + 5000 });
		state = attempted(state, attempt({ ok: false, statusCode: 500 }), T0 + 6000);
		expect(state.deliveries[0]).toMatchObject({ attempts: 2, nextAt: T0 + 6000 + 300_000 });
		state = attempted(state, attempt({ ok: false, statusCode: 500 }), T0 + 306_000);
		expect(deliveryStatus(state)).toBe("failed");
		expect(state.deliveries[0]?.attempts).toBe(3);
	});

	it("stops at once on 410 Gone", () => {
		const state = attempted(ready(), attempt({ ok: false, statusCode: 410 }), T0 + 1000);
		expect(deliveryStatus(state)).toBe("failed");
	});

	it("honours Retry-After, capped at one hour", () => {
		expect(nextDeliveryDelay(1, 120_000, policy.deliveryScheduleMs, 0.5)).toBe(120_000);
		expect(nextDeliveryDelay(1, 86_400_000, policy.deliveryScheduleMs, 0.5)).toBe(3_600_000);
		expect(nextDeliveryDelay(3, null, policy.deliveryScheduleMs, 0.5)).toBeNull();
	});

	it("jitters scheduled delays by at most ±20 %", () => {
		expect(nextDeliveryDelay(1, null, policy.deliveryScheduleMs, 0)).toBe(4000);
		expect(nextDeliveryDelay(1, null, policy.deliveryScheduleMs, 0.999_999)).toBe(6000);
	});

	it("keeps at most the last 50 attempts in the log", () => {
		let state = ready();
		const many = Array.from({ length: 60 }, (_, i) => i);
		const longPolicy = { ...policy, deliveryScheduleMs: many.map(() => 0).concat(0) };
		for (const i of many) {
			state = apply(
				state,
				{
					type: "delivery_attempted",
					id: deliveryId("msg_job1_completed", "https://hooks.example.com/in"),
					result: attempt({ ok: false, statusCode: 500 + (i % 3) }),
				},
				T0 + i,
				longPolicy,
				0.5,
			);
		}
		expect(state.log).toHaveLength(MAX_LOG_ENTRIES);
	});

	it("delivers a job's events in order: started settles before completed is sent", () => {
		const spec = { callbackEvents: ["started", "completed"] as JobSpec["callbackEvents"] };
		let state = makeJob("polling", spec);
		state = step(state, { type: "polled", run: makeRun({ status: "in_progress" }) }, T0 + 1000);
		state = step(state, { type: "polled", run: makeRun({ status: "completed" }) }, T0 + 2500);
		state = step(step(state, { type: "cached" }, T0 + 2500), { type: "indexed", hooks: [] }, T0 + 2500);
		const delivers = dueActions(state, T0 + 2500, policy).filter((a) => a.type === "deliver");
		expect(delivers).toEqual([{ type: "deliver", id: deliveryId("msg_job1_started", "https://hooks.example.com/in") }]);
	});

	it("retires after the result TTL once nothing is pending", () => {
		const state = attempted(ready(), attempt(), T0 + 1000);
		const indexed = step(step(state, { type: "cached" }, T0 + 1000), { type: "indexed", hooks: [] }, T0 + 1000);
		const done = step(indexed, { type: "learned" }, T0 + 1000);
		const retireAt = T0 + 1000 + policy.resultTtlSeconds * 1000;
		expect(nextWake(done, T0 + 1000, policy)).toBe(retireAt);
		expect(dueActions(done, retireAt, policy)).toEqual([{ type: "retire" }]);
	});
});

describe("side effects that fail (KV, the index)", () => {
	/** A completed job whose push went out: KV and the index are due. */
	const pushed = () => {
		const state = makeJob("completed");
		return step(state, { type: "delivery_attempted", ...firstAttempt(state), result: attempt() }, T0 + 1000);
	};
	const sideEffects = (state: JobState, now: number) =>
		dueActions(state, now, policy)
			.map((a) => a.type)
			.filter((type) => type === "cache" || type === "index" || type === "retire");

	it("backs off from 5 s, doubling per failure in a row, up to 1 h", () => {
		let state = pushed();
		let now = T0 + 1000;
		const waits: number[] = [];
		for (let i = 0; i < 14; i++) {
			expect(sideEffects(state, now)).toContain("cache");
			state = step(state, { type: "side_effect_failed" }, now);
			const retryAt = owedOf(state)?.retryAt ?? 0;
			waits.push(retryAt - now);
			// Nothing is attempted again before then, and the alarm is set for it.
			expect(sideEffects(state, retryAt - 1)).toEqual([]);
			expect(nextWake(state, now, policy)).toBeLessThanOrEqual(retryAt);
			now = retryAt;
		}
		expect(waits.slice(0, 6)).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000]);
		expect(waits.slice(-3)).toEqual([3_600_000, 3_600_000, 3_600_000]);
		expect(owedOf(state)?.failures).toBe(14);
	});

	it("starts again from 5 s once a write succeeds", () => {
		let state = pushed();
		for (let i = 0; i < 5; i++) state = step(state, { type: "side_effect_failed" }, T0 + 1000);
		state = step(state, { type: "cached" }, T0 + 2000);
		expect(owedOf(state)?.failures).toBe(0);
		state = step(state, { type: "side_effect_failed" }, T0 + 3000);
		expect(owedOf(state)?.retryAt).toBe(T0 + 3000 + SIDE_EFFECT_RETRY_MS);
	});

	it("jitters each wait by at most ±20 %, and never past the cap", () => {
		expect(sideEffectRetryDelay(1, 0)).toBe(4_000);
		expect(sideEffectRetryDelay(1, 0.999_999)).toBe(6_000);
		expect(sideEffectRetryDelay(3, 0)).toBe(16_000);
		expect(sideEffectRetryDelay(50, 0)).toBe(0.8 * SIDE_EFFECT_MAX_RETRY_MS);
		expect(sideEffectRetryDelay(50, 0.999_999)).toBe(SIDE_EFFECT_MAX_RETRY_MS);
		// A day of failures costs about 30 writes, not one every 5 s (17,280).
		let elapsed = 0;
		let writes = 0;
		while (elapsed < 86_400_000) elapsed += sideEffectRetryDelay(++writes, 0.5);
		expect(writes).toBeLessThan(40);
	});

	it("backs off a failed retirement too, instead of retrying it in a loop", () => {
		let state = step(pushed(), { type: "cached" }, T0 + 1000);
		state = step(step(state, { type: "indexed", hooks: [] }, T0 + 1000), { type: "learned" }, T0 + 1000);
		const retireAt = T0 + 1000 + policy.resultTtlSeconds * 1000;
		expect(sideEffects(state, retireAt)).toEqual(["retire"]);
		state = step(state, { type: "side_effect_failed" }, retireAt);
		expect(sideEffects(state, retireAt)).toEqual([]);
		expect(nextWake(state, retireAt, policy)).toBe(retireAt + SIDE_EFFECT_RETRY_MS);
		expect(sideEffects(state, retireAt + SIDE_EFFECT_RETRY_MS)).toEqual(["retire"]);
	});
});

describe("the alarm guard's back-off", () => {
	it("grows from 5 s, doubling per failed alarm run in a row, up to 1 h", () => {
		expect([1, 2, 3, 4].map((n) => alarmRetryDelay(n, 0.5))).toEqual([5_000, 10_000, 20_000, 40_000]);
		expect(alarmRetryDelay(1, 0.5)).toBe(ALARM_RETRY_MS);
		expect(alarmRetryDelay(11, 0.5)).toBe(ALARM_MAX_RETRY_MS);
		expect(alarmRetryDelay(10_000, 0.999_999)).toBe(ALARM_MAX_RETRY_MS);
	});

	it("treats a count below 1 as the first retry", () => {
		expect(retryBackoff(0, 1_000, 60_000, 0.5)).toBe(1_000);
		expect(retryBackoff(-3, 1_000, 60_000, 0.5)).toBe(1_000);
	});
});

describe("integrations", () => {
	const slack = slackIntegration({
		responseUrl: "https://hooks.slack.com/commands/T1/2/3",
		responseType: "ephemeral",
		question: "What is KV?",
		resultBaseUrl: "https://relay.example.com/async/chat/completions/",
	});

	it("fans a settled job out to its tenant's subscriptions once, skipping the callback URL", () => {
		let state = makeJob("completed");
		state = step(state, { type: "delivery_attempted", ...firstAttempt(state), result: attempt() }, T0 + 1000);
		const index = dueActions(state, T0 + 1000, policy).find((a) => a.type === "index");
		expect(index).toEqual({ type: "index", fanOut: "async_chat_completion.completed" });
		state = step(state, { type: "cached" }, T0 + 1000);
		state = step(
			state,
			{
				type: "indexed",
				hooks: [
					{ id: "hook_1", url: "https://zapier.example.com/a" },
					{ id: "hook_2", url: "https://hooks.example.com/in" },
				],
			},
			T0 + 1000,
		);
		expect(owedOf(state)?.fanout).toBe(false);
		expect(state.deliveries.map((d) => [d.url, d.hookId])).toEqual([
			["https://hooks.example.com/in", null],
			["https://zapier.example.com/a", "hook_1"],
		]);
		const hook = state.deliveries[1];
		if (!hook) throw new Error("no subscription delivery");
		expect(dueActions(state, T0 + 1000, policy).map((a) => a.type)).toContain("deliver");
		state = step(
			state,
			{ type: "delivery_attempted", id: deliveryId(hook.webhookId, hook.url), result: attempt() },
			T0 + 1000,
		);
		expect(dueActions(owe(state, { index: true }), T0 + 1000, policy).find((a) => a.type === "index")).toEqual({
			type: "index",
			fanOut: null,
		});
	});

	it("posts a Slack job's answer to response_url, and drops the 25-minute notice when it settles first", () => {
		const state = makeJob("completed", { callbackUrl: null, integration: slack });
		expect(state.deliveries.map((d) => d.format)).toEqual(["slack"]);
		expect(deliveryStatus(state)).toBe("pending");
		const body = JSON.parse(eventBody(state, state.deliveries[0] as (typeof state.deliveries)[0]));
		expect(body.response_type).toBe("ephemeral");
		expect(JSON.stringify(body.blocks)).toContain("example.com");
	});

	it("sends the notice while the job still runs at 25 minutes", () => {
		const state = indexed(makeJob("polling", { callbackUrl: null, integration: slack }));
		const noticeAt = T0 + 25 * 60_000;
		expect(dueActions(state, noticeAt - 1, policy).some((a) => a.type === "deliver")).toBe(false);
		expect(dueActions(state, noticeAt, policy)).toContainEqual({
			type: "deliver",
			id: deliveryId("msg_job1_slack_notice", slack.responseUrl),
		});
		const notice = state.deliveries[0];
		if (!notice) throw new Error("no notice");
		expect(eventBody(state, notice)).toContain("30 minutes");
	});
});

describe("the Agent surface", () => {
	const agentSpec = (overrides: Partial<JobSpec> = {}) =>
		makeSpec({
			surface: "agent",
			model: "medium",
			request: { preset: "medium", input: "What changed in Durable Objects? [[emu:steps=1]]" },
			callbackEvents: ["in_progress", "completed", "failed", "cancelled", "incomplete"],
			metadata: { ticket: "T-7" },
			...overrides,
		} as Partial<JobSpec>);
	const native = (status: string, extra: Record<string, unknown> = {}) => ({
		id: "resp_1",
		object: "response",
		created_at: T0 / 1000,
		status,
		model: "openai/gpt-5.1",
		output: [{ type: "message", content: [{ type: "output_text", text: "An answer." }] }],
		usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
		tools: [{ type: "mcp", server_url: "https://mcp.example.com", authorization: "Bearer secret" }],
		...extra,
	});
	const agentRun = (status: UpstreamRun["status"], nativeBody: Record<string, unknown> | null = null): UpstreamRun =>
		makeRun({ status, result: null, native: nativeBody });

	function polledTo(status: UpstreamRun["status"], body: Record<string, unknown> | null) {
		let state = apply(newJob(agentSpec(), T0), { type: "created", run: agentRun("queued") }, T0, policy, 0.5);
		state = step(state, { type: "polled", run: agentRun("in_progress") }, T0 + 500);
		return step(state, { type: "polled", run: agentRun(status, body) }, T0 + 1000);
	}

	it("names its events response.*, with in_progress when asked for, and the final one by the run's status", () => {
		for (const status of ["completed", "failed", "cancelled", "incomplete"] as const) {
			const state = polledTo(status, native(status));
			expect(state.deliveries.map((d) => [d.type, d.webhookId])).toEqual([
				["response.in_progress", "msg_job1_in_progress"],
				[`response.${status}`, `msg_job1_${status}`],
			]);
		}
	});

	it("pushes the Response object: the job's id, upstream's output and usage, the caller's metadata, no tools", () => {
		const state = polledTo("completed", native("completed"));
		const final = state.deliveries[1];
		if (!final) throw new Error("no final event");
		const body = JSON.parse(eventBody(state, final));
		expect(body.type).toBe("response.completed");
		expect(body.data).toMatchObject({
			id: "job1",
			object: "response",
			status: "completed",
			model: "openai/gpt-5.1",
			output: [{ type: "message" }],
			usage: { total_tokens: 5 },
			metadata: { ticket: "T-7" },
			background: true,
		});
		// A caller's MCP credentials, echoed by upstream, never travel on.
		expect(body.data.tools).toBeUndefined();
		expect(JSON.stringify(body)).not.toContain("secret");
		// The in_progress event carries the run as it was then: no output yet.
		const started = JSON.parse(eventBody(state, state.deliveries[0] as (typeof state.deliveries)[0]));
		expect(started.data).toMatchObject({ id: "job1", status: "in_progress", output: [] });
	});

	it("shows a run that never started, or timed out, as failed with the relay's message", () => {
		const late = T0 + policy.jobTimeoutSeconds * 1000;
		const expired = step(newJob(agentSpec(), T0), { type: "expired" }, late);
		expect(toResponse(expired)).toMatchObject({ status: "failed", error: { type: "failed" } });
		expect(toResponse(expired).error?.message).toContain("did not accept the job");
	});
});

describe("cancelling", () => {
	it("ends a running Agent-surface job as cancelled, queues response.cancelled, and cancels the upstream run", () => {
		const spec = makeSpec({
			surface: "agent",
			model: "low",
			request: { preset: "low", input: "Hi" },
			callbackEvents: ["completed", "failed", "cancelled", "incomplete"],
		} as Partial<JobSpec>);
		const running = step(
			apply(newJob(spec, T0), { type: "created", run: makeRun({ result: null }) }, T0, policy, 0.5),
			{ type: "polled", run: makeRun({ status: "in_progress", result: null }) },
			T0 + 500,
		);
		const result = cancelJob(running, T0 + 1000, policy);
		if (!result.ok) throw new Error(result.reason);
		expect(toResponse(result.state)).toMatchObject({ status: "cancelled", error: { message: "cancelled" } });
		expect(result.state.lifecycle).toMatchObject({ phase: "settled", cancel: { attempts: 0 } });
		expect(result.state.deliveries.map((d) => d.type)).toEqual(["response.cancelled"]);
		expect(dueActions(result.state, T0 + 1000, policy)[0]).toEqual({
			type: "deliver",
			id: deliveryId("msg_job1_cancelled", "https://hooks.example.com/in"),
		});
		expect(dueActions(result.state, T0 + 1000, policy)).toContainEqual({ type: "cancel_upstream", upstreamId: "up-1" });
	});

	it("ends a Sonar job FAILED with error_message cancelled and its failed event", () => {
		const result = cancelJob(makeJob("polling"), T0 + 1000, policy);
		if (!result.ok) throw new Error(result.reason);
		expect(toView(result.state)).toMatchObject({ status: "FAILED", error_message: "cancelled" });
		expect(result.state.deliveries.map((d) => d.type)).toEqual(["async_chat_completion.failed"]);
	});

	it("cancels a job not yet created upstream without any upstream call", () => {
		const result = cancelJob(makeJob("submitting"), T0, policy);
		if (!result.ok) throw new Error(result.reason);
		expect(result.state.lifecycle).toMatchObject({ phase: "settled", cancel: null });
	});

	it("refuses to cancel a job that has ended", () => {
		const result = cancelJob(makeJob("completed"), T0 + 2000, policy);
		expect(result).toEqual({ ok: false, reason: "the job has already ended (COMPLETED): there is nothing to cancel" });
	});
});

describe("watching a run's event stream", () => {
	/** A job whose run was created to be watched (`WATCH_MODE` chose the stream). */
	function watchedJob(spec: Partial<JobSpec> = {}): JobState {
		const created = { type: "created", run: makeRun(), canWatch: true, estimate: null } as const;
		return apply(newJob(makeSpec(spec), T0), created, T0, { ...policy, watchMode: "stream" }, 0.5);
	}
	const watchOf = (state: JobState) => (state.lifecycle.phase === "polling" ? state.lifecycle.watch : undefined);

	it("chooses the stream or polling itself, from WATCH_MODE and the pacer's estimate of the model's runs", () => {
		const long = { expectedMs: 180_000, polls: 24, lagMs: 3500 };
		const created = (canWatch: boolean, estimate: typeof long | null, mode?: "auto" | "stream" | "poll") =>
			watchOf(
				apply(
					newJob(makeSpec(), T0),
					{ type: "created", run: makeRun(), canWatch, estimate },
					T0,
					mode ? { ...policy, watchMode: mode } : policy,
					0.5,
				),
			) ?? null;
		// auto (the default): the lag a stream saves is worth its cost, or it is not known and the run is polled.
		expect(created(true, long)).toEqual({ cursor: null, failures: 0, reconnects: 0 });
		expect(created(true, null)).toBeNull();
		expect(created(true, long, "poll")).toBeNull();
		expect(created(true, null, "stream")).not.toBeNull();
		// An upstream that cannot stream (the retired Sonar API) is always polled.
		expect(created(false, long, "stream")).toBeNull();
		// No lag worth paying for: polled.
		const worthless = { ...policy, watchLagValueUsdPerHour: 0 };
		const outcome = { type: "created", run: makeRun(), canWatch: true, estimate: long } as const;
		expect(watchOf(apply(newJob(makeSpec(), T0), outcome, T0, worthless, 0.5)) ?? null).toBeNull();
	});

	it("keeps the poll plan it holds when the pacer defers a create without a new one", () => {
		const slot = { epoch: 1, send: true };
		const deferred = { type: "create_deferred", at: T0 + 500, slot, pacing: { plan: [2000] } } as const;
		const withPlan = step(makeJob("submitting"), deferred, T0);
		const again = step(withPlan, { type: "create_deferred", at: T0 + 900, slot }, T0 + 500);
		expect(again.lifecycle).toMatchObject({ phase: "submitting", pacing: { plan: [2000] }, nextAt: T0 + 900 });
		const created = step(again, { type: "created", run: makeRun({ status: "queued" }) }, T0 + 900);
		expect(created.lifecycle).toMatchObject({ phase: "polling", pacing: { plan: [2000] }, nextAt: T0 + 2900 });
	});
	const dropped = (cursor: number) =>
		({
			type: "watched",
			end: { ended: "dropped", cursor, failure: failure({ kind: "network", status: null }) },
		}) as const;
	const searching = { stage: "searching" as const, items: ["durable objects alarms"] };

	it("opens the stream at once, from the start, and never polls while it watches", () => {
		const state = watchedJob();
		expect(watchOf(state)).toMatchObject({ cursor: null, failures: 0, reconnects: 0 });
		expect(dueActions(state, T0, policy)).toContainEqual({ type: "watch", upstreamId: "up-1", cursor: null });
		expect(dueActions(state, T0, policy).some((a) => a.type === "poll")).toBe(false);
	});

	it("keeps the cursor, and settles on the terminal event with no poll counted", () => {
		let state = watchedJob();
		state = step(state, { type: "watch_update", cursor: 7, status: "in_progress" }, T0 + 200);
		expect(watchOf(state)?.cursor).toBe(7);
		expect(toView(state).status).toBe("IN_PROGRESS");
		const run = makeRun({ status: "completed", finishedAt: T0 / 1000 + 90 });
		state = step(state, { type: "watched", end: { ended: "terminal", cursor: 42, run } }, T0 + 90_000);
		expect(toView(state).status).toBe("COMPLETED");
		expect(state.durationMs).toBe(90_000);
		expect(state.lifecycle.phase === "polling" && state.lifecycle.polls).toBeFalsy();
		expect(state.deliveries.map((d) => d.type)).toEqual(["async_chat_completion.completed"]);
	});

	it("reconnects from the cursor after a drop, backing off, and polls after five drops in a row", () => {
		let state = step(watchedJob(), { type: "watch_update", cursor: 3 }, T0 + 100);
		const waits: number[] = [];
		let now = T0 + 1000;
		for (let drop = 1; drop < 5; drop++) {
			state = step(state, dropped(3), now);
			const lifecycle = state.lifecycle;
			if (lifecycle.phase !== "polling") throw new Error("not polling");
			waits.push(lifecycle.nextAt - now);
			expect(dueActions(state, lifecycle.nextAt, policy)).toContainEqual({
				type: "watch",
				upstreamId: "up-1",
				cursor: 3,
			});
			now = lifecycle.nextAt;
		}
		expect(waits).toEqual([500, 1000, 2000, 4000]);
		expect(watchOf(state)).toMatchObject({ failures: 4, reconnects: 4 });
		state = step(state, dropped(3), now);
		expect(watchOf(state)).toBeNull();
		const lifecycle = state.lifecycle;
		if (lifecycle.phase !== "polling") throw new Error("not polling");
		expect(dueActions(state, lifecycle.nextAt, policy)).toContainEqual(
			expect.objectContaining({ type: "poll", upstreamId: "up-1" }),
		);
	});

	it("counts only drops in a row: an event between them starts the count again", () => {
		let state = watchedJob();
		state = step(state, dropped(1), T0 + 100);
		state = step(state, dropped(1), T0 + 700);
		expect(watchOf(state)?.failures).toBe(2);
		state = step(state, { type: "watch_update", cursor: 9 }, T0 + 2000);
		expect(watchOf(state)).toMatchObject({ failures: 0, cursor: 9, reconnects: 2 });
	});

	it("waits as long as upstream's Retry-After asks, when that is longer", () => {
		const end = { ended: "dropped", cursor: 2, failure: failure({ status: 429, retryAfterMs: 20_000 }) } as const;
		const state = step(watchedJob(), { type: "watched", end }, T0 + 100);
		expect(state.lifecycle).toMatchObject({ nextAt: T0 + 100 + 20_000, pacing: { paced: true } });
	});

	it("picks up again at once when its alarm's time budget ran out", () => {
		const state = step(watchedJob(), { type: "watched", end: { ended: "stopped", cursor: 11 } }, T0 + 5000);
		expect(watchOf(state)).toMatchObject({ cursor: 11, reconnects: 1, failures: 0 });
		expect(dueActions(state, T0 + 5000, policy)).toContainEqual({ type: "watch", upstreamId: "up-1", cursor: 11 });
	});

	it("polls instead when upstream will not stream from the cursor", () => {
		const end = { ended: "unsupported", cursor: 4, failure: failure({ status: 400, retryable: false }) } as const;
		const state = step(watchedJob(), { type: "watched", end }, T0 + 100);
		expect(watchOf(state)).toBeNull();
		expect(state.lifecycle).toMatchObject({ phase: "polling" });
	});

	it("fails the job on an error about the run itself", () => {
		const end = {
			ended: "failed",
			cursor: 4,
			failure: failure({ status: 404, retryable: false, message: "gone" }),
		} as const;
		const state = step(watchedJob(), { type: "watched", end }, T0 + 100);
		expect(toView(state)).toMatchObject({ status: "FAILED" });
		expect(toView(state).error_message).toContain("gone");
	});

	it("sends opt-in progress events at most one per 5 s, best effort: a failed one is not retried", () => {
		let state = watchedJob({ callbackEvents: ["progress", "completed", "failed"] });
		state = step(state, { type: "watch_update", cursor: 1, progress: searching }, T0 + 1000);
		state = step(state, { type: "watch_update", cursor: 2, progress: searching }, T0 + 3000);
		state = step(state, { type: "watch_update", cursor: 3, progress: searching }, T0 + 6000);
		const progress = state.deliveries.filter((d) => d.type === "async_chat_completion.progress");
		expect(progress.map((d) => [d.webhookId, d.eventAt])).toEqual([
			["msg_job1_progress_1", T0 + 1000],
			["msg_job1_progress_2", T0 + 6000],
		]);
		const first = progress[0];
		if (!first) throw new Error("no progress event");
		expect(JSON.parse(eventBody(state, first)).data).toMatchObject({ id: "job1", progress: searching });
		state = step(
			state,
			{
				type: "delivery_attempted",
				id: deliveryId(first.webhookId, first.url),
				result: attempt({ ok: false, statusCode: 500 }),
			},
			T0 + 6100,
		);
		expect(state.deliveries.find((d) => d.webhookId === first.webhookId)).toMatchObject({
			status: "failed",
			attempts: 1,
		});
	});

	it("names an Agent-surface run's progress event response.progress, with the Response object as its data", () => {
		const spec = {
			surface: "agent",
			model: "medium",
			request: { preset: "medium", input: "What changed?" },
			callbackEvents: ["progress", "completed"],
		} as Partial<JobSpec>;
		const state = step(watchedJob(spec), { type: "watch_update", cursor: 1, progress: searching }, T0 + 1000);
		const [event] = state.deliveries;
		if (!event) throw new Error("no progress event");
		expect(event.type).toBe("response.progress");
		const body = JSON.parse(eventBody(state, event));
		expect(body).toMatchObject({
			type: "response.progress",
			data: { id: "job1", object: "response", progress: searching },
		});
	});

	it("sends no progress event to a caller that did not ask for them", () => {
		const state = step(watchedJob(), { type: "watch_update", cursor: 1, progress: searching }, T0 + 1000);
		expect(state.deliveries).toEqual([]);
	});

	it("tells a Slack user what the run searches once, ahead of the 25-minute notice", () => {
		const slack = slackIntegration({
			responseUrl: "https://hooks.slack.com/commands/T1/2/3",
			responseType: "ephemeral",
			question: "What is KV?",
			resultBaseUrl: null,
		});
		let state = indexed(watchedJob({ callbackUrl: null, integration: slack }));
		state = step(state, { type: "watch_update", cursor: 1, progress: searching }, T0 + 1000);
		state = step(state, { type: "watch_update", cursor: 2, progress: searching }, T0 + 9000);
		expect(state.deliveries.map((d) => d.webhookId)).toEqual(["msg_job1_slack_searching", "msg_job1_slack_notice"]);
		const [message] = state.deliveries;
		if (!message) throw new Error("no message");
		const body = JSON.parse(eventBody(state, message));
		expect(body).toMatchObject({ replace_original: true, response_type: "ephemeral" });
		expect(body.text).toContain("Searching: _durable objects alarms_");
		expect(dueActions(state, T0 + 9000, policy)).toContainEqual({
			type: "deliver",
			id: deliveryId("msg_job1_slack_searching", slack.responseUrl),
		});
	});

	it("sends another integration's notice and progress message at its own time and stage, in its own formats", () => {
		const late = { stage: "reading" as const, items: ["https://example.com/a"] };

		registerFormat("chat-late", { render: () => ({ text: "still working" }) });
		registerFormat("chat-reading", { render: ({ note }) => ({ text: note?.items.join(", ") }) });
		const integration = {
			kind: "chat",
			responseUrl: "https://chat.example.com/reply/1",
			notice: { format: "chat-late", afterMs: 60_000 },
			progress: { format: "chat-reading", stage: "reading" as const },
		};
		let state = indexed(watchedJob({ callbackUrl: null, integration }));
		expect(state.deliveries.map((d) => [d.webhookId, d.format])).toEqual([["msg_job1_chat_notice", "chat-late"]]);
		expect(dueActions(state, T0 + 59_999, policy).some((a) => a.type === "deliver")).toBe(false);
		expect(dueActions(state, T0 + 60_000, policy)).toContainEqual({
			type: "deliver",
			id: deliveryId("msg_job1_chat_notice", integration.responseUrl),
		});
		// A stage other than its own sends nothing; its own, once, ahead of the unsent notice.
		state = step(state, { type: "watch_update", cursor: 1, progress: searching }, T0 + 1000);
		expect(state.deliveries).toHaveLength(1);
		state = step(state, { type: "watch_update", cursor: 2, progress: late }, T0 + 2000);
		state = step(state, { type: "watch_update", cursor: 3, progress: late }, T0 + 3000);
		expect(state.deliveries.map((d) => d.webhookId)).toEqual(["msg_job1_chat_reading", "msg_job1_chat_notice"]);
		expect(JSON.parse(eventBody(state, state.deliveries[0] as (typeof state.deliveries)[0]))).toEqual({
			text: "https://example.com/a",
		});
	});
});
