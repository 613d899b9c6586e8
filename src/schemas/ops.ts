/**
 * The operations endpoints' shapes: the stats the dashboard's Operations tab draws
 * (`GET /v1/stats`), "redeliver everything that failed since …" (`POST /v1/deliveries/recover`),
 * and a REST hook's test send (`POST /v1/hooks/{id}/test`).
 */
import { z } from "@hono/zod-openapi";
import { DeliveryStatus, EventType } from "./relay.ts";

export const StatsWindow = z.enum(["1h", "24h", "7d"]).openapi("StatsWindow");
export type StatsWindow = z.infer<typeof StatsWindow>;

export const StatsQuery = z.object({
	window: StatsWindow.default("24h").openapi({ description: "The window of the counts and the push lag." }),
});

const Millis = z.number().int().nullable();

export const OpsStats = z
	.object({
		window: StatsWindow,
		from: z.string().openapi({ description: "The window's start (ISO 8601, UTC)." }),
		to: z.string().openapi({ description: "Now (ISO 8601, UTC)." }),
		counts: z.object({
			accepted: z.number().int().openapi({ description: "Jobs accepted (created) in the window." }),
			completed: z.number().int().openapi({ description: "Jobs that ended COMPLETED in the window." }),
			failed: z.number().int().openapi({ description: "Jobs that ended FAILED in the window, cancelled ones aside." }),
			cancelled: z
				.number()
				.int()
				.openapi({ description: "Jobs cancelled (by their caller, or upstream) in the window." }),
			dead_lettered: z
				.number()
				.int()
				.openapi({
					description:
						"Jobs whose final event to callback_url exhausted its retries in the window and is still undelivered " +
						"(`delivery_status: failed`).",
				}),
		}),
		jobs_per_hour: z
			.array(
				z.object({
					hour: z.string().openapi({ description: "The hour's start (ISO 8601, UTC)." }),
					accepted: z.number().int(),
					completed: z.number().int(),
					failed: z.number().int().openapi({ description: "Ended FAILED, cancelled ones included." }),
				}),
			)
			.openapi({ description: "The last 24 hours, whatever the window: the current UTC hour last." }),
		push_lag: z.object({
			p50_ms: Millis,
			p99_ms: Millis,
			samples: z.number().int(),
			hourly: z
				.array(
					z.object({
						hour: z.string(),
						p50_ms: Millis,
						p99_ms: Millis,
						samples: z.number().int(),
					}),
				)
				.openapi({ description: "Per UTC hour of the window, by when the job ended; the current hour last." }),
		}),
		scan: z.object({
			max_rows: z.number().int().openapi({ description: "Rows each of the three queries reads at most." }),
			truncated: z
				.boolean()
				.openapi({ description: "A query reached max_rows: its numbers are of the newest rows of the window only." }),
		}),
	})
	.openapi("OpsStats", {
		description:
			"Push lag: from the end of a job's run as the relay learnt it (completed_at / failed_at, whole seconds) to " +
			"the first 2xx of its final event to callback_url. Jobs without a callback have none. Percentiles are " +
			"nearest-rank; null without samples.",
	});
export type OpsStats = z.infer<typeof OpsStats>;

/** Unix seconds beyond this are taken for milliseconds, a likely mistake. */
const MAX_UNIX_SECONDS = 100_000_000_000;

export const RecoverBody = z
	.strictObject({
		since: z
			.union([
				z.number().int().min(0).max(MAX_UNIX_SECONDS, { message: "since is in Unix seconds, not milliseconds" }),
				z.iso.datetime({ offset: true, message: "since must be Unix seconds or an ISO 8601 date-time" }),
			])
			.openapi({
				description: "Unix seconds, or an ISO 8601 date-time with its offset (`2026-11-30T09:00:00Z`).",
				example: "2026-11-30T09:00:00Z",
			}),
		next_token: z.string().min(1).max(512).optional().openapi({
			description: "The `next_token` of the previous answer: carries on where it stopped.",
		}),
	})
	.openapi("RecoverDeliveries");
export type RecoverBody = z.infer<typeof RecoverBody>;

export const RecoverReport = z
	.object({
		since: z.string().openapi({ description: "The start, as understood (ISO 8601, UTC)." }),
		redelivered: z.number().int().openapi({ description: "Jobs whose final event was sent again in this call." }),
		delivered: z
			.number()
			.int()
			.openapi({ description: "Of those, the ones whose receiver took it now (2xx); the others retry on schedule." }),
		failed: z.number().int().openapi({ description: "Jobs that could not be redelivered in this call (see jobs)." }),
		remaining: z.number().int().openapi({ description: "Dead-lettered jobs left after this call's last one." }),
		next_token: z
			.string()
			.nullable()
			.openapi({ description: "Send it back as next_token for the next batch; null when none remain." }),
		jobs: z.array(
			z.object({
				id: z.string(),
				surface: z.enum(["sonar", "agent"]),
				redelivered: z.boolean(),
				delivery_status: DeliveryStatus.nullable(),
				status_code: z.number().int().nullable().openapi({ description: "The new attempt's answer, if it got one." }),
				detail: z
					.string()
					.nullable()
					.openapi({ description: "Why it was not redelivered, or why the attempt failed." }),
			}),
		),
	})
	.openapi("RecoverReport");
export type RecoverReport = z.infer<typeof RecoverReport>;

export const HookTestReport = z
	.object({
		hook_id: z.string(),
		event: EventType.openapi({ description: "The sample event sent: the hook's event (a `*` sends its completed)." }),
		webhook_id: z.string(),
		target_host: z.string(),
		delivered: z.boolean().openapi({ description: "The target answered 2xx within DELIVERY_TIMEOUT_MS." }),
		status_code: z.number().int().nullable(),
		duration_ms: z.number(),
		error: z
			.string()
			.nullable()
			.openapi({ description: "The class of a failure without an answer (timeout, dns, …)." }),
		error_message: z.string().nullable(),
		response_body: z.string().nullable().openapi({ description: "The first 512 bytes of the answer." }),
	})
	.openapi("HookTestReport");
export type HookTestReport = z.infer<typeof HookTestReport>;
