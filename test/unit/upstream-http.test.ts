/**
 * How the upstream client sorts what went wrong: the Job DO's retry and the
 * gate's pacing both depend on the kind, so a timeout must never read as a
 * dropped connection, nor the other way round.
 */
import { describe, expect, it } from "vitest";
import { type Fetcher, upstreamClient } from "../../src/upstream/client.ts";
import { UpstreamError, type UpstreamFailure } from "../../src/upstream/errors.ts";

const SETTINGS = { upstreamBaseUrl: "https://upstream.invalid", upstreamApiKey: "k", upstreamTimeoutMs: 1_000 };

async function failureOf(fetcher: Fetcher): Promise<UpstreamFailure> {
	const error = await upstreamClient(SETTINGS, fetcher)
		.get("00000000-0000-0000-0000-000000000000")
		.then(
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
});
