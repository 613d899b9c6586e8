/**
 * Failed delivery attempts, in words, against real failures on loopback: a
 * closed port, a receiver that never answers, a plain-HTTP server spoken to
 * over TLS, a redirect. What the runtime says is turned into a sentence for the
 * attempt log (`error_message`, and `last_error` of the event), the dashboard
 * and the logs (`detail`). The other messages and Cloudflare's 52x codes are in
 * test/unit/delivery-errors.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverEvent } from "../../src/delivery/deliver.ts";
import type { DeliveryReport } from "../../src/job/job.ts";
import { createJob, driveUntil, inboxUrl, relay, unique } from "./helpers.ts";

/** Nothing listens on port 1 on loopback: a connection there is refused at once. */
const CLOSED_PORT_URL = "http://127.0.0.1:1/hooks/nobody";

const attempt = (url: string, timeoutMs = 2000) =>
	deliverEvent({
		url,
		webhookId: "msg_errors_completed",
		body: JSON.stringify({ type: "async_chat_completion.completed", data: {} }),
		secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
		timeoutMs,
		allowPrivate: true,
	});

afterEach(() => vi.restoreAllMocks());

describe("a failed attempt in words", () => {
	it("says a closed port refused the connection", async () => {
		const result = await attempt(CLOSED_PORT_URL);
		expect(result).toMatchObject({
			ok: false,
			statusCode: null,
			error: "connect",
			message: "connection refused or lost before an answer",
		});
	});

	it("says how long it waited for a receiver that never answers", async () => {
		const result = await attempt(inboxUrl(unique("never"), "hang_ms=5000"), 300);
		expect(result).toMatchObject({ ok: false, statusCode: null, error: "timeout", message: "timeout after 300 ms" });
		expect(result.durationMs).toBeGreaterThanOrEqual(300);
	});

	it("says the TLS handshake failed with a server that speaks plain HTTP", async () => {
		const plain = new URL(inboxUrl(unique("tls")));
		const result = await attempt(`https://${plain.host}${plain.pathname}`);
		expect(result.ok).toBe(false);
		expect(result.statusCode).toBeNull();
		// Local workerd reports a failed handshake with no detail ("internal error; reference = …").
		expect(result.message).toMatch(/^TLS error|DNS, TLS or connection; the runtime gave no detail/);
	});

	it("says a redirect was not followed, and keeps where it pointed", async () => {
		const target = inboxUrl(unique("elsewhere"));
		const result = await attempt(inboxUrl(unique("moved"), `status=302&location=${encodeURIComponent(target)}`));
		expect(result).toMatchObject({
			ok: false,
			statusCode: 302,
			error: "redirect",
			message: "redirect not followed (302)",
			responseBody: `Location: ${target}`,
		});
	});

	it("names a receiver's error status with its reason, and says nothing went wrong when it was delivered", async () => {
		expect(await attempt(inboxUrl(unique("down"), "status=503"))).toMatchObject({
			ok: false,
			statusCode: 503,
			error: null,
			message: "HTTP 503 Service Unavailable",
		});
		expect(await attempt(inboxUrl(unique("up")))).toMatchObject({ ok: true, statusCode: 200, message: null });
	});

	it("shows the words in the attempt log, the event's last_error and the log line of a job's attempt", async () => {
		const lines: string[] = [];
		for (const level of ["log", "warn", "error"] as const) {
			vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
				lines.push(args.map(String).join(" "));
			});
		}
		const created = await createJob({ callback: CLOSED_PORT_URL });
		await driveUntil(created.id, (job) => job.delivery_status === "failed");
		const res = await relay(`/async/chat/completions/${created.id}/deliveries`);
		const report = (await res.json()) as DeliveryReport;
		const words = "connection refused or lost before an answer";
		expect(report.attempts[0]).toMatchObject({ status_code: null, error: "connect", error_message: words });
		expect(report.events[0]).toMatchObject({ status: "failed", last_error: words });
		const logged = lines
			.map((line) => {
				try {
					return JSON.parse(line) as Record<string, unknown>;
				} catch {
					return null;
				}
			})
			.filter((r) => r?.job === created.id && String(r.event).startsWith("delivery."));
		expect(logged.length).toBeGreaterThan(0);
		for (const record of logged) expect(record).toMatchObject({ error: "connect", detail: words });
	});
});
