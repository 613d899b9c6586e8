/**
 * How an upstream call sorts what went wrong: the Job DO's retry and the
 * gate's pacing both depend on the kind, so a timeout must never read as a
 * dropped connection, nor the other way round; and which upstream answers
 * carry rate-limit hints.
 */
import { describe, expect, it } from "vitest";
import { UpstreamError, type UpstreamFailure } from "../../src/upstream/errors.ts";
import { callUpstream, type Fetcher, parseReset, readRateLimit } from "../../src/upstream/http.ts";

const SETTINGS = { upstreamBaseUrl: "https://upstream.invalid", upstreamApiKey: "k", upstreamTimeoutMs: 1_000 };

async function failureOf(fetcher: Fetcher): Promise<UpstreamFailure> {
	const error = await callUpstream(SETTINGS, "/v1/responses/resp_1", { method: "GET" }, { fetcher }).then(
		() => null,
		(caught: unknown) => caught,
	);
	expect(error).toBeInstanceOf(UpstreamError);
	return (error as UpstreamError).failure;
}

function named(name: string, message = name): Error {
	const error = new Error(message);
	error.name = name;
	return error;
}

/** A 200 whose body fails with `error` after the first chunk. */
function bodyFailingWith(error: Error): Response {
	const body = new ReadableStream<Uint8Array>({
		start(controller) {
			controller.enqueue(new TextEncoder().encode('{"id":'));
			controller.error(error);
		},
	});
	return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

describe("upstream client failure kinds", () => {
	it("a timeout before the answer is a timeout", async () => {
		const failure = await failureOf(async () => {
			throw named("TimeoutError", "The operation was aborted due to timeout");
		});
		expect(failure).toMatchObject({ kind: "timeout", status: null, retryable: true });
	});

	it("a refused or reset connection is a network failure, with the runtime's reason", async () => {
		const failure = await failureOf(async () => {
			throw new TypeError("Network connection lost.");
		});
		expect(failure).toMatchObject({ kind: "network", status: null, retryable: true });
		expect(failure.message).toContain("Network connection lost.");
	});

	it("a timeout that fires while the body is still arriving is a timeout, not a dropped connection", async () => {
		const failure = await failureOf(async () => bodyFailingWith(named("TimeoutError")));
		expect(failure).toMatchObject({ kind: "timeout", status: 200, retryable: true });
	});

	it("a connection that drops mid-body is a network failure", async () => {
		const failure = await failureOf(async () => bodyFailingWith(new TypeError("Network connection lost.")));
		expect(failure).toMatchObject({ kind: "network", status: 200, retryable: true });
	});

	it("a 429 carries its Retry-After; a 404 is terminal", async () => {
		const limited = await failureOf(
			async () => new Response('{"detail":"slow down"}', { status: 429, headers: { "retry-after": "3" } }),
		);
		expect(limited).toMatchObject({ kind: "http", status: 429, retryable: true, retryAfterMs: 3000 });
		const missing = await failureOf(async () => new Response('{"detail":"Not Found"}', { status: 404 }));
		expect(missing).toMatchObject({ kind: "http", status: 404, retryable: false });
	});

	it("quotes the Agent API's error envelope, with the parameter it names", async () => {
		const refused = await failureOf(
			async () =>
				new Response(
					JSON.stringify({
						error: { message: "Unknown field", type: "invalid_request_error", code: 400, param: "tools[0].x" },
					}),
					{ status: 400 },
				),
		);
		expect(refused).toMatchObject({ kind: "http", status: 400, retryable: false });
		expect(refused.message).toBe("upstream answered 400: Unknown field (param: tools[0].x)");
	});
});

describe("rate-limit headers", () => {
	const NOW = Date.UTC(2030, 0, 1);

	it("reads OpenAI-style per-minute limits as a rate per second, with the share left", () => {
		const hint = readRateLimit(
			new Headers({
				"x-ratelimit-limit-requests": "600",
				"x-ratelimit-remaining-requests": "30",
				"x-ratelimit-reset-requests": "1.5s",
			}),
			NOW,
		);
		expect(hint).toEqual({ limitPerSecond: 10, remaining: 30, remainingShare: 0.05, resetMs: 1500 });
	});

	it("reads the plain and IETF names, and a window from the policy", () => {
		expect(readRateLimit(new Headers({ "x-ratelimit-limit": "50", "x-ratelimit-remaining": "49" }), NOW)).toMatchObject(
			{ limitPerSecond: 50 / 60, remaining: 49 },
		);
		expect(
			readRateLimit(
				new Headers({ "ratelimit-limit": "10", "ratelimit-policy": "10;w=1", "ratelimit-reset": "1" }),
				NOW,
			),
		).toMatchObject({ limitPerSecond: 10, resetMs: 1000 });
	});

	it("answers null for an answer without rate-limit headers, and ignores junk", () => {
		expect(readRateLimit(new Headers({ "content-type": "application/json" }), NOW)).toBeNull();
		expect(readRateLimit(new Headers({ "x-ratelimit-limit": "lots" }), NOW)).toBeNull();
	});

	it("reads resets as seconds, durations or epoch seconds", () => {
		expect(parseReset("12", NOW)).toBe(12_000);
		expect(parseReset("6m0s", NOW)).toBe(360_000);
		expect(parseReset("250ms", NOW)).toBe(250);
		expect(parseReset(String(NOW / 1000 + 30), NOW)).toBe(30_000);
		expect(parseReset("soon", NOW)).toBeNull();
	});

	it("tells an observer of every answer's limits, 429s included", async () => {
		const seen: unknown[] = [];
		await callUpstream(
			SETTINGS,
			"/x",
			{ method: "GET" },
			{
				fetcher: async () =>
					new Response("{}", {
						status: 429,
						headers: { "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0" },
					}),
				onLimits: (hint) => seen.push(hint),
			},
		).catch(() => {});
		expect(seen).toEqual([{ limitPerSecond: 1, remaining: 0, remainingShare: 0, resetMs: null }]);
	});
});
