/**
 * The delivery format registry: the job core renders an integration's messages by the name they
 * carry, through what the integration registered; Slack registers its three formats when its
 * module loads. Without a registered format (or an integration), a delivery is a Standard Webhooks event.
 */
import { describe, expect, it } from "vitest";
import { formatOf, registerFormat } from "../../src/delivery/formats.ts";
import "../../src/integrations/slack/message.ts";
import { newDelivery } from "../../src/delivery/outbox.ts";
import { newJob } from "../../src/job/machine.ts";
import { allowedHostsOf, carriesResult, eventBody, isStandard, linksResult } from "../../src/job/render.ts";
import type { JobState } from "../../src/job/state.ts";
import { makeSpec, T0 } from "./job-fixtures.ts";

const delivery = (format?: string) =>
	newDelivery(
		{
			webhookId: "msg_job1_x",
			type: "async_chat_completion.completed",
			url: "https://hooks.slack.com/x",
			eventAt: T0,
			format,
		},
		T0,
	);

describe("the delivery format registry", () => {
	it("holds Slack's formats once its module is loaded, with what each needs", () => {
		expect(formatOf("slack")).toMatchObject({
			carriesResult: true,
			linksResult: true,
			allowedHosts: ["hooks.slack.com"],
		});
		expect(formatOf("slack-progress")).toMatchObject({ linksResult: true });
		expect(formatOf("slack-searching")).toBeDefined();
		expect(formatOf("standard")).toBeUndefined();
		expect(formatOf(undefined)).toBeUndefined();
	});

	it("tells the shell what a delivery needs by its format", () => {
		expect([carriesResult(delivery("slack")), linksResult(delivery("slack")), isStandard(delivery("slack"))]).toEqual([
			true,
			true,
			false,
		]);
		expect([carriesResult(delivery("slack-progress")), linksResult(delivery("slack-progress"))]).toEqual([false, true]);
		expect(allowedHostsOf(delivery("slack"))).toEqual(["hooks.slack.com"]);
		expect(allowedHostsOf(delivery("slack-progress"))).toBeUndefined();
		// A final Standard Webhooks event carries the result; an interim one does not.
		expect([carriesResult(delivery()), isStandard(delivery()), allowedHostsOf(delivery())]).toEqual([
			true,
			true,
			undefined,
		]);
	});

	it("renders a registered format with the job's view and the integration's settings", () => {
		registerFormat("test-echo", {
			render: ({ job, integration, resultUrl }) => ({ id: job.id, integration, resultUrl }),
		});
		const integration = {
			kind: "slack",
			responseUrl: "https://hooks.slack.com/x",
			responseType: "ephemeral",
			question: "q",
			resultBaseUrl: null,
		};
		const state: JobState = newJob(makeSpec({ integration } as never), T0);
		const body = JSON.parse(eventBody(state, delivery("test-echo"), { maxBytes: 1_000, resultUrl: "https://r" }));
		expect(body).toEqual({ id: "job1", integration, resultUrl: "https://r" });
		// Without an integration in the job's spec, the event is a Standard Webhooks one.
		const plain = JSON.parse(eventBody(newJob(makeSpec(), T0), delivery("test-echo")));
		expect(plain).toMatchObject({ type: "async_chat_completion.completed", data: { id: "job1" } });
	});
});
