/**
 * Factories and drivers for the workerd integration tests. Jobs are driven
 * with `runDurableObjectAlarm` and the emulator's `[[emu:steps=N]]` marker, so
 * progress depends on how many polls happened, never on how long anything took.
 * Every wait is a bounded number of rounds.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { inject } from "vitest";
import { signSlackRequest } from "../../src/integrations/slack/verify.ts";
import { objectIdOf } from "../../src/job/id.ts";
import type { Job } from "../../src/job/job.ts";
import type { RelayJob } from "../../src/schemas/relay.ts";
import { TENANT_A, TEST_SLACK_SECRET } from "./constants.ts";

export interface InboxDelivery {
	name: string;
	headers: Record<string, string>;
	body: string;
	seq: number;
	verified: boolean | null;
}

let counter = 0;
/** A name no other test uses (inbox paths, idempotency keys, questions). */
export function unique(prefix = "t"): string {
	counter += 1;
	return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function inboxUrl(name: string, query = ""): string {
	return `${inject("inboxUrl")}/hooks/${name}${query ? `?${query}` : ""}`;
}

export async function inboxEvents(name: string): Promise<InboxDelivery[]> {
	const res = await fetch(`${inject("inboxUrl")}/__inbox/events?name=${encodeURIComponent(name)}`);
	return ((await res.json()) as { events: InboxDelivery[] }).events;
}

/** One upstream run as the emulator counts it. */
export interface EmulatedRun {
	api: "agent" | "sonar";
	gets: number;
	cancels: number;
	/** Event-stream connections to the run. */
	streams: number;
	status: string;
	/** The last user text, markers stripped: tests find a job's runs by their unique question. */
	question: string;
	/** The create body exactly as the relay sent it. */
	body: Record<string, unknown>;
	idempotencyKey?: string | null;
	creates?: number;
}

export async function emulatorStats(): Promise<{
	creates: number;
	cancels: number;
	jobs: Record<string, EmulatedRun>;
}> {
	return (await fetch(`${inject("emulatorUrl")}/__emulator/stats`)).json();
}

/** The upstream runs started for a question (unique per test), with their upstream ids. */
export async function upstreamRunsFor(question: string): Promise<(EmulatedRun & { id: string })[]> {
	const stats = await emulatorStats();
	return Object.entries(stats.jobs)
		.filter(([, run]) => run.question.includes(question))
		.map(([id, run]) => ({ id, ...run }));
}

/** A call to the relay, through the Worker's real fetch handler. */
export function relay(path: string, init: RequestInit = {}, key: string | null = TENANT_A.key): Promise<Response> {
	const headers = new Headers(init.headers);
	if (key !== null) headers.set("authorization", `Bearer ${key}`);
	if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return exports.default.fetch(new Request(`https://relay.test${path}`, { ...init, headers }));
}

export interface JobOptions {
	question?: string;
	/** Emulator markers, e.g. `steps=2`, `fail`, `create=503x1`. */
	markers?: string[];
	model?: string;
	callback?: string | null;
	events?: string[];
	metadata?: Record<string, unknown>;
	idempotencyKey?: string;
	request?: Record<string, unknown>;
}

/** A create body: by default one poll away from COMPLETED, no callback. */
export function makeCreateBody(options: JobOptions = {}): Record<string, unknown> {
	const markers = (options.markers ?? ["steps=1"]).map((m) => `[[emu:${m}]]`).join(" ");
	const body: Record<string, unknown> = {
		request: {
			model: options.model ?? "sonar",
			messages: [{ role: "user", content: `${options.question ?? unique("q")} ${markers}` }],
			...options.request,
		},
	};
	if (options.callback) body.callback_url = options.callback;
	if (options.events) body.callback_events = options.events;
	if (options.metadata) body.metadata = options.metadata;
	if (options.idempotencyKey) body.idempotency_key = options.idempotencyKey;
	return body;
}

export async function createJob(
	options: JobOptions = {},
	key: string = TENANT_A.key,
	path = "/async/chat/completions",
): Promise<RelayJob> {
	const res = await relay(path, { method: "POST", body: JSON.stringify(makeCreateBody(options)) }, key);
	if (res.status !== 200) throw new Error(`create answered ${res.status}: ${await res.text()}`);
	return res.json();
}

export function jobStub(id: string): DurableObjectStub<Job> {
	return env.JOBS.get(env.JOBS.idFromString(objectIdOf(id) ?? id)) as DurableObjectStub<Job>;
}

/**
 * Runs the job's alarm until `done(job)` holds; bounded to `rounds` runs.
 * The runtime may also fire the alarm itself; the Job DO never runs two at once.
 */
export async function driveUntil(
	id: string,
	done: (job: RelayJob) => boolean,
	{ tenant = TENANT_A.tenant, rounds = 200 } = {},
): Promise<RelayJob> {
	const stub = jobStub(id);
	let job: RelayJob | null = null;
	for (let round = 0; round < rounds; round++) {
		job = (await stub.view(tenant)) as RelayJob | null;
		if (job && done(job)) return job;
		await runDurableObjectAlarm(stub);
		await scheduler.wait(5);
	}
	throw new Error(`job ${id} did not reach the expected state: ${JSON.stringify(job)}`);
}

/** Waits (bounded) for `count` deliveries to reach the inbox under `name`. */
export async function waitForEvents(name: string, count: number, rounds = 200): Promise<InboxDelivery[]> {
	for (let round = 0; round < rounds; round++) {
		const events = await inboxEvents(name);
		if (events.length >= count) return events;
		await scheduler.wait(10);
	}
	throw new Error(`inbox ${name} got fewer than ${count} events`);
}

/** A Slack slash command, signed with the test secret (or `secret`); `tamper` changes the body after signing. */
export async function slackCommand(
	fields: Record<string, string>,
	{ secret = TEST_SLACK_SECRET, timestamp = String(Math.floor(Date.now() / 1000)), tamper = false } = {},
): Promise<Response> {
	const body = new URLSearchParams(fields).toString();
	const signature = await signSlackRequest(secret, timestamp, body);
	return relay(
		"/integrations/slack/commands",
		{
			method: "POST",
			headers: {
				"content-type": "application/x-www-form-urlencoded",
				"x-slack-request-timestamp": timestamp,
				"x-slack-signature": signature,
			},
			body: tamper ? `${body}&extra=1` : body,
		},
		null,
	);
}
