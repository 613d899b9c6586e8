/**
 * A failed delivery attempt in words: what the attempt log, the dashboard and
 * the logs show. The failures a loopback test can make for real (a closed port,
 * a receiver that never answers, a redirect) are in
 * test/integration/delivery-errors.test.ts; these are the runtime's other
 * messages and Cloudflare's own status codes.
 */
import { describe, expect, it } from "vitest";
import { describeFetchError, describeStatus } from "../../src/delivery/deliver.ts";

const thrown = (message: string, name = "Error") => Object.assign(new Error(message), { name });

describe("describeFetchError", () => {
	it.each([
		[thrown("The operation was aborted due to timeout", "TimeoutError"), 15_000, "timeout", "timeout after 15 s"],
		[thrown("This operation was aborted", "AbortError"), 2_500, "timeout", "timeout after 2.5 s"],
		[thrown("connect ETIMEDOUT 10.0.0.1:443"), 500, "timeout", "timeout after 500 ms"],
		[thrown("getaddrinfo ENOTFOUND hooks.example.com"), 15_000, "dns", "DNS lookup failed"],
		[thrown("failed to lookup address information: Name or service not known"), 15_000, "dns", "DNS lookup failed"],
		[thrown("DNS resolution failed"), 15_000, "dns", "DNS lookup failed"],
		[thrown("TLS handshake failed: received corrupt message"), 15_000, "tls", "TLS error"],
		[thrown("SSL routines::wrong version number"), 15_000, "tls", "TLS error"],
		[
			thrown("TLS peer's certificate is not trusted; reason = Hostname mismatch"),
			15_000,
			"tls",
			"TLS error: the receiver's certificate was not accepted",
		],
		[thrown("connect ECONNREFUSED 127.0.0.1:9"), 15_000, "connect", "connection refused"],
		[thrown("read ECONNRESET"), 15_000, "connect", "connection reset"],
		[thrown("Network connection lost."), 15_000, "connect", "connection refused or lost before an answer"],
		[
			thrown("internal error; reference = 9hrciuj1s0k35cbvd8g3fc6a"),
			15_000,
			"network",
			"network error (DNS, TLS or connection; the runtime gave no detail)",
		],
	])("says %s in words", (error, timeoutMs, kind, message) => {
		expect(describeFetchError(error, timeoutMs)).toEqual({ error: kind, message });
	});

	it("keeps an unknown runtime message, without any URL in it (a query may hold a token)", () => {
		const described = describeFetchError(
			thrown("Fetch API cannot load: https://hooks.example.com/in?token=s3cret because of reasons"),
			15_000,
		);
		expect(described).toEqual({
			error: "network",
			message: "network error: Fetch API cannot load: <url> because of reasons",
		});
		expect(describeFetchError("weird", 15_000)).toEqual({ error: "network", message: "network error: weird" });
		expect(describeFetchError(thrown("", "TypeError"), 15_000)).toEqual({
			error: "network",
			message: "network error (TypeError)",
		});
	});
});

describe("describeStatus", () => {
	it("names a receiver's status with its reason", () => {
		expect(describeStatus(500, null)).toBe("HTTP 500 Internal Server Error");
		expect(describeStatus(413, "too big")).toBe("HTTP 413 Payload Too Large");
		expect(describeStatus(410, null)).toBe("HTTP 410 Gone");
		expect(describeStatus(418, null)).toBe("HTTP 418");
	});

	it("says what Cloudflare's own 52x and 530 answers mean", () => {
		expect(describeStatus(521, null)).toBe("connection refused by the receiver's origin (Cloudflare 521)");
		expect(describeStatus(522, null)).toBe("connection to the receiver's origin timed out (Cloudflare 522)");
		expect(describeStatus(525, null)).toBe("TLS handshake with the receiver's origin failed (Cloudflare 525)");
		expect(describeStatus(526, null)).toBe("TLS error: the receiver's certificate is invalid (Cloudflare 526)");
		expect(describeStatus(530, "error code: 1016")).toBe("DNS lookup failed (Cloudflare 530, error 1016)");
		expect(describeStatus(530, null)).toBe("Cloudflare could not reach the receiver (530)");
	});
});
