/**
 * The decisions the Job DO used to make itself, now pure and tested here: the start of an alarm run
 * (the waiting caller gone, a create lost with the relay, the run counted), the answer to a rejected
 * submit, replays, ownership, signed links, the upstream id, re-arming a lost alarm, and counting
 * what an action cost.
 */
import { describe, expect, it } from "vitest";
import type { Action, Outcome } from "../../src/job/actions.ts";
import {
	advance,
	beginAlarmRun,
	checkAlarm,
	isReplay,
	linkedJob,
	ownedBy,
	rejection,
	upstreamIdOf,
} from "../../src/job/commands.ts";
import { apply, markCreateSent, newJob } from "../../src/job/machine.ts";
import type { JobState } from "../../src/job/state.ts";
import type { UpstreamRun } from "../../src/upstream/port.ts";
import { admitted, indexed, makeSpec, policy, T0 } from "./job-fixtures.ts";

const run: UpstreamRun = {
	id: "up-1",
	status: "queued",
	result: null,
	error: null,
	createdAt: null,
	startedAt: null,
	finishedAt: null,
};

/** A new job, admitted by the index; `callerWaiting` as the submit left it. */
const submitting = (callerWaiting = true): JobState => admitted(newJob(makeSpec(), T0, callerWaiting));
const polling = (): JobState => apply(submitting(), { type: "created", run }, T0, policy, 0.5);

describe("beginAlarmRun", () => {
	it("takes the job from a caller who no longer waits: a terminal create error then fails it, never rejects it", () => {
		const { state } = beginAlarmRun(submitting(), { restored: false, scheduledFor: null }, T0, policy, 0.5);
		expect(state.lifecycle).toMatchObject({ phase: "submitting", callerWaiting: false });
		const refused: Outcome = {
			type: "create_failed",
			failure: { kind: "http", status: 400, retryable: false, retryAfterMs: null, message: "bad" },
		};
		expect(apply(state, refused, T0, policy, 0.5).lifecycle.phase).toBe("settled");
	});

	it("after a restart, counts a create found on its way as lost (a possible duplicate) and logs the retry", () => {
		const sent = markCreateSent(submitting(false), T0);
		const { state, logs } = beginAlarmRun(sent, { restored: true, scheduledFor: T0 }, T0 + 500, policy, 0.5);
		expect(state.lifecycle).toMatchObject({ phase: "submitting", attempts: 1, ambiguous: 1 });
		expect(state.stats).toMatchObject({ createAttempts: 1, possibleDuplicates: 1 });
		expect(logs).toContainEqual(expect.objectContaining({ event: "upstream.retry", possible_duplicate: true }));
		// Without a restart, a create this instance sent is still awaiting its answer.
		expect(beginAlarmRun(sent, { restored: false, scheduledFor: T0 }, T0, policy, 0.5).state.lifecycle).toMatchObject({
			attempts: 0,
		});
	});

	it("counts the run and how late it ran", () => {
		const { state, logs } = beginAlarmRun(
			polling(),
			{ restored: false, scheduledFor: T0 + 1_000 },
			T0 + 1_250,
			policy,
			0.5,
		);
		expect(state.stats).toMatchObject({ alarmRuns: 1, alarmLatenessMs: [250] });
		expect(logs).toEqual([]);
		expect(beginAlarmRun(state, { restored: false, scheduledFor: null }, T0, policy, 0.5).state.stats).toMatchObject({
			alarmRuns: 2,
			alarmLatenessMs: [250],
		});
	});
});

describe("rejection", () => {
	const rejected = (status: number, admitted = true): JobState => ({
		...submitting(),
		lifecycle: { phase: "rejected", status, detail: "no", retryAfterMs: status === 429 ? 3_000 : null, admitted },
	});

	it("answers upstream's 400 and 422 as they are, a limit's 429 with its Retry-After, anything else 502", () => {
		expect(rejection(rejected(400))).toMatchObject({ status: 400, detail: "no", retryAfterMs: null });
		expect(rejection(rejected(422))?.status).toBe(422);
		expect(rejection(rejected(429))).toMatchObject({ status: 429, retryAfterMs: 3_000 });
		expect(rejection(rejected(404))?.status).toBe(502);
		expect(rejection(polling())).toBeNull();
	});

	it("has a job the index admitted leave it, and one it refused leave nothing to remove", () => {
		expect(rejection(rejected(502))?.leaveIndex).toBe(true);
		expect(rejection(rejected(429, false))?.leaveIndex).toBe(false);
	});
});

describe("who may see a job", () => {
	it("is a replay only for the same tenant and body", () => {
		expect(isReplay(polling(), "acme", "hash")).toBe(true);
		expect(isReplay(polling(), "acme", "other")).toBe(false);
		expect(isReplay(polling(), "globex", "hash")).toBe(false);
	});

	it("shows a job only to its tenant, on its surface, under its own id", () => {
		const state = polling();
		expect(ownedBy(state, "acme", "sonar")).toBe(state);
		expect(ownedBy(state, "acme", "sonar", "job1")).toBe(state);
		expect(ownedBy(state, "acme", "sonar", "job2")).toBeNull();
		expect(ownedBy(state, "globex", "sonar")).toBeNull();
		expect(ownedBy(state, "acme", "agent")).toBeNull();
		expect(ownedBy(null, "acme", "sonar")).toBeNull();
	});

	it("opens a signed link only to the job it names, never to a rejected one", () => {
		const state = polling();
		expect(linkedJob(state, "job1")).toBe(state);
		expect(linkedJob(state, "job2")).toBeNull();
		expect(
			linkedJob({ ...state, lifecycle: { phase: "rejected", status: 400, detail: "no", admitted: true } }),
		).toBeNull();
	});

	it("knows the upstream id once the run was created", () => {
		expect(upstreamIdOf(submitting())).toBeNull();
		expect(upstreamIdOf(polling())).toBe("up-1");
		expect(upstreamIdOf(null)).toBeNull();
	});
});

describe("checkAlarm", () => {
	const overdueMs = 300_000;

	it("leaves an alarm that is set and not overdue, and a job with nothing left to do", () => {
		const state = polling();
		expect(checkAlarm(state, T0 + 1_000, T0, overdueMs, policy)).toEqual({
			action: "armed",
			reason: null,
			at: T0 + 1_000,
		});
		const idle = { ...state, lifecycle: { phase: "rejected" as const, status: 400, detail: "no", admitted: true } };
		expect(checkAlarm(idle, null, T0, overdueMs, policy)).toEqual({ action: "idle", reason: null, at: null });
	});

	it("sets a missing or overdue alarm again, never at the time of the lost one", () => {
		const state = indexed(polling());
		const due = state.lifecycle.phase === "polling" ? state.lifecycle.nextAt : 0;
		const later = due + overdueMs + 1;
		expect(checkAlarm(state, null, later, overdueMs, policy)).toEqual({
			action: "rearmed",
			reason: "missing",
			at: later + 1,
		});
		expect(checkAlarm(state, due, later, overdueMs, policy)).toMatchObject({ action: "rearmed", reason: "overdue" });
		expect(checkAlarm(state, null, T0, overdueMs, policy)).toEqual({ action: "rearmed", reason: "missing", at: due });
		// The lost alarm's own time would be a no-op for the runtime: a millisecond later instead.
		expect(checkAlarm(state, due, due + overdueMs + 1, 0, policy).at).not.toBe(due);
	});
});

describe("advance", () => {
	it("applies an outcome and counts what its action cost; a stream's end counts the connection and its time", () => {
		const create: Action = { type: "create", slot: null };
		const created = advance(submitting(), create, { type: "created", run }, T0, policy, 0.5);
		expect(created.lifecycle.phase).toBe("polling");
		expect(created.stats).toMatchObject({ createAttempts: 1, gateCalls: 1 });
		const watch: Action = { type: "watch", upstreamId: "up-1", cursor: null };
		const watched = advance(
			created,
			watch,
			{ type: "watched", end: { ended: "stopped", cursor: 3 } },
			T0,
			policy,
			0.5,
			1_200,
		);
		expect(watched.stats).toMatchObject({ streams: 1, streamMs: 1_200, createAttempts: 1 });
	});
});
