/**
 * Watching runs through their event streams (`WATCH_MODE=stream`), inside
 * workerd against the emulator's clock: a job learns its run ended from the
 * stream itself (one create, one stream, no polls), resumes from its cursor
 * after a drop or when its alarm's time budget runs out, falls back to polling
 * when the cursor has expired, is stopped by a cancel, and sends opt-in
 * progress events. The emulator's durations here are real milliseconds.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SlackMessage } from "../../src/integrations/slack/blocks.ts";
import { type RelayJob, WebhookEvent } from "../../src/schemas/relay.ts";
import { TENANT_A } from "../integration/constants.ts";
import {
	createJob,
	inboxUrl,
	jobStub,
	relay,
	slackCommand,
	unique,
	upstreamRunsFor,
	waitForEvents,
} from "../integration/helpers.ts";

const settled = (job: RelayJob) =>
	(job.status === "COMPLETED" || job.status === "FAILED") && job.delivery_status !== "pending";

/**
 * Runs the job's alarm until `done`; bounded (about 10 s). An alarm run follows the stream as long as it
 * may; one that comes while the runtime's own alarm is following it returns at once, hence the waits.
 */
async function driveWatch(
	id: string,
	done: (job: RelayJob) => boolean,
	{ rounds = 100, tenant = TENANT_A.tenant } = {},
): Promise<RelayJob> {
	const stub = jobStub(id);
	let job: RelayJob | null = null;
	for (let round = 0; round < rounds; round++) {
		job = (await stub.view(tenant)) as RelayJob | null;
		if (job && done(job)) return job;
		await runDurableObjectAlarm(stub);
		await scheduler.wait(100);
	}
	throw new Error(`job ${id} did not get there: ${JSON.stringify(job)}`);
}

async function statsOf(id: string) {
	const report = await jobStub(id).deliveries(TENANT_A.tenant);
	if (!report) throw new Error("no report");
	return report.stats;
}

describe("following a run's event stream", () => {
	it("learns the run ended from the stream: one create, one stream, no poll, and the push", async () => {
		const name = unique("stream");
		const question = unique("q");
		const created = await createJob({ question, markers: ["duration=600"], callback: inboxUrl(name) });
		const job = await driveWatch(created.id, settled);
		expect(job).toMatchObject({ status: "COMPLETED", delivery_status: "delivered" });
		expect(job.response?.choices[0]?.message.content).toBeTruthy();
		const [run] = await upstreamRunsFor(question);
		expect(run).toMatchObject({ creates: 1, gets: 0, streams: 1 });
		expect(await statsOf(created.id)).toMatchObject({ upstream_polls: 0, upstream_streams: 1, create_attempts: 1 });
		expect((await statsOf(created.id)).stream_ms).toBeGreaterThan(0);
		const [event] = await waitForEvents(name, 1);
		expect(JSON.parse(event?.body ?? "{}")).toMatchObject({ type: "async_chat_completion.completed" });
	});

	it("resumes from its cursor after a dropped connection", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["duration=800", "stream-drop=3"] });
		const job = await driveWatch(created.id, (j) => j.status === "COMPLETED");
		expect(job.response).toBeTruthy();
		const [run] = await upstreamRunsFor(question);
		expect(run?.streams).toBe(2);
		expect(run?.gets).toBe(0);
		expect(await statsOf(created.id)).toMatchObject({ upstream_streams: 2, upstream_polls: 0 });
	});

	it("hands over to the next alarm run when its time budget runs out, and resumes there", async () => {
		// WATCH_BUDGET_MS is 2 s in this project: a 5-second run takes at least three alarm runs.
		const question = unique("q");
		const created = await createJob({ question, markers: ["duration=5000"] });
		const job = await driveWatch(created.id, (j) => j.status === "COMPLETED");
		expect(job.response).toBeTruthy();
		const [run] = await upstreamRunsFor(question);
		expect(run?.streams).toBeGreaterThanOrEqual(3);
		expect(run?.gets).toBe(0);
	});

	it("falls back to polling when its cursor has expired, and says so in the logs", async () => {
		const question = unique("q");
		const lines: string[] = [];
		const warn = console.warn;
		console.warn = (line: string) => void lines.push(line);
		try {
			// Cut after two events; the reconnect comes 500 ms later, past the 100 ms a cursor lives here.
			const created = await createJob({ question, markers: ["duration=1500", "stream-drop=2", "cursor-ttl=100"] });
			const job = await driveWatch(created.id, (j) => j.status === "COMPLETED");
			expect(job.response).toBeTruthy();
			const [run] = await upstreamRunsFor(question);
			// The second connection was refused (the cursor had expired), so upstream served one stream.
			expect(run?.streams).toBe(1);
			expect(run?.gets).toBeGreaterThan(0);
			expect(await statsOf(created.id)).toMatchObject({ upstream_streams: 2 });
			expect(lines.some((line) => line.includes("upstream.watch_fallback") && line.includes(created.id))).toBe(true);
		} finally {
			console.warn = warn;
		}
	});

	it("is stopped by a cancel, which cancels the run upstream", async () => {
		const question = unique("q");
		const created = await createJob({ question, markers: ["duration=60000"] });
		const stub = jobStub(created.id);
		// Follow in the background: the alarm holds the stream until it is stopped.
		const following = runDurableObjectAlarm(stub);
		await scheduler.wait(300);
		const res = await relay(`/async/chat/completions/${created.id}/cancel`, { method: "POST" });
		expect(res.status).toBe(200);
		await following;
		expect(((await stub.view(TENANT_A.tenant)) as RelayJob | null)?.status).toBe("FAILED");
		const [run] = await upstreamRunsFor(question);
		expect(run).toMatchObject({ cancels: 1, status: "cancelled" });
	});

	it("sends progress events when asked, spaced out, and the final one after them", async () => {
		const name = unique("progress");
		const created = await createJob({
			markers: ["duration=800"],
			callback: inboxUrl(name),
			events: ["progress", "completed", "failed"],
		});
		await driveWatch(created.id, settled);
		const events = (await waitForEvents(name, 2)).map((e) => JSON.parse(e.body));
		const types = events.map((e) => e.type);
		expect(types.at(-1)).toBe("async_chat_completion.completed");
		const progress = events.filter((e) => e.type === "async_chat_completion.progress");
		// At most one every 5 s: an 0.8 s run gets one.
		expect(progress).toHaveLength(1);
		expect(progress[0].data).toMatchObject({ id: created.id, progress: { stage: "searching" } });
		// The documented shape (OpenAPI's WebhookEvent): the job as GET shows it, plus the progress note.
		expect(WebhookEvent.parse(progress[0]).data.progress?.items).toEqual(progress[0].data.progress.items);
		expect(progress[0].data.progress.items.length).toBeGreaterThan(0);
	});

	it("tells a Slack user what the run is searching, once, before the answer", async () => {
		const team = `TS${Date.now().toString(36).toUpperCase()}`;
		const name = unique("slack-searching");
		const question = `What is a Durable Object? ${unique("q")} [[emu:duration=800]]`;
		const res = await slackCommand({
			command: "/ask",
			text: question,
			team_id: team,
			channel_id: "C123",
			user_id: "U123",
			response_url: inboxUrl(name),
			trigger_id: unique("trigger"),
		});
		expect(res.status).toBe(200);
		const { job_id } = (await res.json()) as { job_id: string };
		const job = await driveWatch(job_id, settled, { tenant: `slack:${team}` });
		expect(job).toMatchObject({ status: "COMPLETED", delivery_status: "delivered" });

		const posts = (await waitForEvents(name, 2)).map((post) => JSON.parse(post.body) as SlackMessage);
		expect(posts).toHaveLength(2);
		const [searching, answer] = posts;
		// It replaces the "Researching …" acknowledgement, names the searches, and comes first.
		expect(searching).toMatchObject({ response_type: "ephemeral", replace_original: true });
		expect(searching?.text).toMatch(/^:mag: Researching \*What is a Durable Object\?.*Searching: _.+_/);
		expect(answer?.replace_original).not.toBe(true);
		expect(JSON.stringify(answer?.blocks)).toContain("Durable Object");
	});
});
