/**
 * The Agent API's HTTP error envelope, `{"error": {message, type, code, param?}}`,
 * whose `code` is the HTTP status. Used for every error on the Agent paths, and
 * for paths the emulator does not serve.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorEnvelope } from "./types.ts";

/** The envelope's `type` for a status, as agent-api.md lists them. */
export function errorTypeOf(status: number): string {
	switch (status) {
		case 400:
		case 422:
			return "invalid_request_error";
		case 401:
			return "authentication_error";
		case 403:
			return "permission_error";
		case 404:
			return "not_found_error";
		case 413:
			return "request_too_large";
		case 429:
			return "request_rate_limit_exceeded";
		case 502:
			return "bad_gateway";
		case 503:
			return "service_unavailable";
		case 504:
			return "gateway_timeout";
		default:
			return status >= 500 ? "internal_error" : "invalid_request_error";
	}
}

export function errorEnvelope(status: number, message: string, param?: string): ErrorEnvelope {
	return { error: { message, type: errorTypeOf(status), code: status, ...(param !== undefined && { param }) } };
}

/**
 * An error answer on an Agent path.
 *
 * @example
 * return agentError(c, 400, "Unrecognized request argument supplied: stop", { param: "stop" });
 */
export function agentError(
	c: Context,
	status: number,
	message: string,
	extra: { param?: string; headers?: Record<string, string> } = {},
): Response {
	return c.json(errorEnvelope(status, message, extra.param), status as ContentfulStatusCode, extra.headers);
}
