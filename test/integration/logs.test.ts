/**
 * Structured logs: one JSON line per transition and per delivery attempt, with
 * the documented fields and levels, and nothing secret in them.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { TENANT_A, TEST_SIGNING_KEY } from "./constants.ts";
import { createJob, driveUntil, inboxUrl, unique, waitForEvents } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

function capture() {
	const lines: { level: string; text: string }[] = [];
	for (const level of ["log", "info", "warn", "error"] as const) {
		vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
			lines.push({ level, text: args.map(String).join(" ") });
		});
	}
	return lines;
}

function records(lines: { text: string }[], job: string): Record<string, unknown>[] {
	return lines
		.map((l) => {
			try {
				return JSON.parse(l.text) as Record<string, unknown>;
			} catch {
				return null;
			}
		})
		.filter((r): r is Record<string, unknown> => r !== null && r.job === job);
}

describe("structured logs", () => {
	it("writes a JSON line per transition and per delivery attempt, at the documented levels", async () => {
		const lines = capture();
		const name = unique("logs");
		const created = await createJob({
			markers: ["steps=2"],
			callback: inboxUrl(name, "fail=1&status=503&x=secret-query"),
		});
		await driveUntil(created.id, (job) => job.status === "COMPLETED" && job.delivery_status === "delivered");
		await waitForEvents(name, 2);
		const mine = records(lines, created.id);

		const transitions = mine.filter((r) => r.event === "job.transition");
		expect(transitions.map((r) => r.to)).toEqual(expect.arrayContaining(["IN_PROGRESS/polling", "COMPLETED/settled"]));
		for (const r of transitions) {
			expect(r).toMatchObject({ level: "info", job: created.id, tenant: TENANT_A.tenant });
			expect(typeof r.from).toBe("string");
			expect(r).toHaveProperty("upstream_status");
		}

		const attempts = mine.filter((r) => r.event === "delivery.attempt");
		expect(attempts).toHaveLength(2);
		expect(attempts[0]).toMatchObject({
			level: "warn",
			attempt: 1,
			status_code: 503,
			detail: "HTTP 503 Service Unavailable",
			outcome: "pending",
		});
		expect(attempts[1]).toMatchObject({
			level: "info",
			attempt: 2,
			status_code: 200,
			detail: null,
			outcome: "delivered",
		});
		for (const r of attempts) {
			expect(r.host).toBe(new URL(inboxUrl(name)).host);
			expect(typeof r.duration_ms).toBe("number");
		}

		// No bodies, no query strings, no keys.
		const all = lines.map((l) => l.text).join("\n");
		expect(all).not.toContain("secret-query");
		expect(all).not.toContain(TEST_SIGNING_KEY);
		expect(all).not.toContain("whsec_");
		expect(all).not.toContain("emulator-key");
		expect(all).not.toContain(TENANT_A.key);
	});

	it("logs a dead letter at error level", async () => {
		const lines = capture();
		const created = await createJob({ callback: inboxUrl(unique("logs-dead"), "status=410") });
		await driveUntil(created.id, (job) => job.delivery_status === "failed");
		const dead = records(lines, created.id).filter((r) => r.event === "delivery.dead_letter");
		expect(dead).toEqual([expect.objectContaining({ level: "error", status_code: 410, outcome: "failed" })]);
	});
});
