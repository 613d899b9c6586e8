/**
 * Typed HTTP errors. Every error the API answers with goes through one
 * `onError` in app.ts, which renders `ApiError` as `{"detail": "<message>"}` and
 * `RequestValidationError` as the spec's 422 `HTTPValidationError`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HTTPValidationError } from "./schemas/perplexity.ts";

/** A client or upstream error with a status and a human-readable `detail`. */
export class ApiError extends HTTPException {
	override readonly name = "ApiError";
	readonly headers: Record<string, string>;
	constructor(status: ContentfulStatusCode, detail: string, headers: Record<string, string> = {}) {
		super(status, { message: detail });
		this.headers = headers;
	}
}

/** A 422 whose body is already in the `HTTPValidationError` shape. */
export class RequestValidationError extends Error {
	override readonly name = "RequestValidationError";
	readonly status = 422;
	readonly body: HTTPValidationError;
	constructor(body: HTTPValidationError) {
		super(body.detail?.[0]?.msg ?? "Validation error");
		this.body = body;
	}
}
