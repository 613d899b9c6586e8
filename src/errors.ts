/**
 * Typed HTTP errors, both `HTTPException`s that carry their own response: `ApiError` answers
 * `{"detail": "<message>"}` (with any headers it names), `RequestValidationError` the spec's 422
 * `HTTPValidationError`. The one `onError` in app.ts answers any `HTTPException` with its response.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HTTPValidationError } from "./schemas/perplexity.ts";

/**
 * A client or upstream error with a status and a human-readable `detail`.
 *
 * @example
 * throw new ApiError(404, "Job not found");
 */
export class ApiError extends HTTPException {
	override readonly name = "ApiError";
	override readonly status: ContentfulStatusCode;
	readonly headers: Record<string, string>;
	constructor(status: ContentfulStatusCode, detail: string, headers: Record<string, string> = {}) {
		super(status, { message: detail, res: Response.json({ detail }, { status, headers }) });
		this.status = status;
		this.headers = headers;
	}
}

/**
 * A 422 whose body is already in the `HTTPValidationError` shape.
 *
 * @example
 * throw new RequestValidationError(validationError(["query", "next_token"], "next_token is not valid"));
 */
export class RequestValidationError extends HTTPException {
	override readonly name = "RequestValidationError";
	override readonly status = 422;
	readonly body: HTTPValidationError;
	constructor(body: HTTPValidationError) {
		super(422, { message: body.detail?.[0]?.msg ?? "Validation error", res: Response.json(body, { status: 422 }) });
		this.body = body;
	}
}
