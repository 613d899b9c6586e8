/**
 * Stored state from earlier versions loads: deliveries without an id get theirs, a request kept
 * under `upstreamRequest` moves to `request`, a Slack command gets the schedule the core kept for it, side-effect flags move into the phase's `owed`, the
 * pacer's `plan`/`paced` into one `pacing`, and a state already current comes back equal.
 */
import { describe, expect, it } from "vitest";
import { deliveryId } from "../../src/delivery/outbox.ts";
import { slackIntegration } from "../../src/integrations/slack/integration.ts";
import { apply, dueActions, newJob } from "../../src/job/machine.ts";
import { migrateState } from "../../src/job/migrate.ts";
import { type JobState, statusOf } from "../../src/job/state.ts";
import { admitted, failedJob, makeRun, makeSpec, policy, T0 } from "./job-fixtures.ts";

describe("migrateState", () => {
	it("gives a delivery stored before ids its id, from its webhook-id and URL", () => {
		const current = failedJob();
		const legacy = {
			...current,
			deliveries: current.deliveries.map(({ id: _id, ...rest }) => rest),
		} as unknown as JobState;
		const migrated = migrateState(legacy);
		expect(migrated.deliveries).toHaveLength(1);
		expect(migrated.deliveries[0]?.id).toBe(deliveryId("msg_job1_failed", "https://hooks.example.com/in"));
		expect(migrated.deliveries).toEqual(current.deliveries);
	});

	it("moves a request kept as upstreamRequest.request to request", () => {
		const current = failedJob();
		const { request, ...spec } = current.spec;
		const legacy = { ...current, spec: { ...spec, upstreamRequest: { request } } } as unknown as JobState;
		expect(migrateState(legacy).spec).toMatchObject({ surface: "sonar", request });
		expect(migrateState(legacy).spec).not.toHaveProperty("upstreamRequest");
	});

	it("keeps a gate slot stored as reservedEpoch and reservedSend as one slot", () => {
		const queued = makeRun({ createdAt: null });
		const current = apply(admitted(newJob(makeSpec(), T0)), { type: "created", run: queued }, T0, policy, 0.5);
		const lifecycle = { ...current.lifecycle, reservedEpoch: 4, reservedSend: true };
		const migrated = migrateState({ ...current, lifecycle } as unknown as JobState);
		expect(migrated.lifecycle).toMatchObject({ phase: "polling", slot: { epoch: 4, send: true } });
		expect(migrated.lifecycle).not.toHaveProperty("reservedEpoch");
		const none = migrateState({
			...current,
			lifecycle: { ...current.lifecycle, reservedEpoch: null },
		} as unknown as JobState);
		expect(none.lifecycle).toMatchObject({ slot: null });
	});

	it("keeps a poll plan and GET pacing stored as plan and paced as one pacing, polling as before", () => {
		const queued = makeRun({ createdAt: null });
		const pacing = { plan: [2000, 3000], paced: true };
		const current = apply(admitted(newJob(makeSpec(), T0)), { type: "created", run: queued, pacing }, T0, policy, 0.5);
		if (current.lifecycle.phase !== "polling") throw new Error("not polling");
		const { pacing: _pacing, ...lifecycle } = current.lifecycle;
		const legacy = { ...current, lifecycle: { ...lifecycle, plan: [2000, 3000], paced: true } } as unknown as JobState;
		const migrated = migrateState(legacy);
		expect(migrated).toEqual(current);
		expect(migrated.lifecycle).not.toHaveProperty("plan");
		expect(migrated.lifecycle).not.toHaveProperty("paced");
		expect(dueActions(migrated, T0 + 2000, policy)).toContainEqual(
			expect.objectContaining({ type: "poll", pacing: { plan: [2000, 3000], paced: true } }),
		);
		// A job waiting for its create slot kept only a plan; one stored before `paced` was polled unpaced.
		const fresh = admitted(newJob(makeSpec(), T0));
		const submitting = { ...fresh, lifecycle: { ...fresh.lifecycle, plan: [1500] } } as unknown as JobState;
		expect(migrateState(submitting).lifecycle).toEqual({ ...fresh.lifecycle, pacing: { plan: [1500], paced: false } });
		const unpaced = { ...current, lifecycle: { ...lifecycle, plan: null } } as unknown as JobState;
		expect(migrateState(unpaced).lifecycle).toMatchObject({ pacing: { plan: null, paced: false } });
	});

	it("moves the side-effect flags kept beside the lifecycle into what its phase owes", () => {
		const current = failedJob();
		if (current.lifecycle.phase !== "settled") throw new Error("not settled");
		const { owed, ...lifecycle } = current.lifecycle;
		const flags = {
			cached: true,
			indexed: false,
			admitted: true,
			fannedOut: true,
			learned: false,
			sideEffectRetryAt: T0 + 5_000,
			sideEffectFailures: 2,
		};
		const migrated = migrateState({ ...current, ...flags, lifecycle } as unknown as JobState);
		expect(migrated.lifecycle).toEqual({
			...lifecycle,
			owed: { cache: false, index: true, fanout: false, learn: true, retryAt: T0 + 5_000, failures: 2 },
		});
		for (const flag of Object.keys(flags)) expect(migrated).not.toHaveProperty(flag);
		const fresh = newJob(makeSpec(), T0);
		const { owed: _owed, ...submitting } = fresh.lifecycle as typeof fresh.lifecycle & { owed: unknown };
		const legacy = { ...fresh, lifecycle: submitting, indexed: false, admitted: false, sideEffectRetryAt: null };
		expect(migrateState(legacy as unknown as JobState)).toEqual(fresh);
		const rejected = { ...fresh, admitted: false, lifecycle: { phase: "rejected", status: 429, detail: "limit" } };
		expect(migrateState(rejected as unknown as JobState).lifecycle).toEqual({
			phase: "rejected",
			status: 429,
			detail: "limit",
			admitted: false,
		});
	});

	it("moves a status kept beside the lifecycle into its phase, and drops it", () => {
		const settled = failedJob();
		if (settled.lifecycle.phase !== "settled") throw new Error("not settled");
		const { ended: _ended, ...lifecycle } = settled.lifecycle;
		const failed = migrateState({ ...settled, status: "FAILED", lifecycle } as unknown as JobState);
		expect(failed).toEqual(settled);
		expect(failed).not.toHaveProperty("status");
		const completed = migrateState({ ...settled, status: "COMPLETED", lifecycle } as unknown as JobState);
		expect(statusOf(completed)).toBe("COMPLETED");
		const queued = makeRun({ createdAt: null });
		const polling = apply(admitted(newJob(makeSpec(), T0)), { type: "created", run: queued }, T0, policy, 0.5);
		if (polling.lifecycle.phase !== "polling") throw new Error("not polling");
		const { started: _started, ...running } = polling.lifecycle;
		const legacy = { ...polling, status: "IN_PROGRESS", lifecycle: running } as unknown as JobState;
		expect(migrateState(legacy).lifecycle).toEqual({ ...running, started: true });
		expect(statusOf(migrateState(legacy))).toBe("IN_PROGRESS");
		expect(statusOf(migrateState({ ...legacy, status: "CREATED" } as JobState))).toBe("CREATED");
	});

	it("gives a Slack job stored before an integration's schedule was data the schedule Slack had then", () => {
		const fields = {
			responseUrl: "https://hooks.slack.com/commands/T1/2/3",
			responseType: "ephemeral" as const,
			question: "What is KV?",
			resultBaseUrl: null,
		};
		const current = newJob(makeSpec({ callbackUrl: null, integration: slackIntegration(fields) }), T0);
		const legacy = { ...current, spec: { ...current.spec, integration: { kind: "slack", ...fields } } } as JobState;
		expect(migrateState(legacy)).toEqual(current);
		// Another kind, with no schedule, is left alone.
		const other = { ...legacy, spec: { ...legacy.spec, integration: { kind: "other", responseUrl: "https://x" } } };
		expect(migrateState(other as JobState).spec.integration).toEqual({ kind: "other", responseUrl: "https://x" });
	});

	it("fills counters added since the state was stored, and leaves a current state as it was", () => {
		const current = failedJob();
		const legacy = { ...current, stats: { alarmRuns: 3 } } as unknown as JobState;
		expect(migrateState(legacy).stats).toMatchObject({ alarmRuns: 3, polls: 0, gateCalls: 0, alarmLatenessMs: [] });
		expect(migrateState(current)).toEqual(current);
	});
});
