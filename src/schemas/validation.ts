/**
 * Turns zod issues into the spec's `HTTPValidationError`, the FastAPI shape the
 * upstream itself answers with: `{detail: [{loc, msg, type}]}`, where `loc`
 * starts with where the value came from (`body`, `query`, `path`).
 *
 * Shared by the relay and the emulator so both speak the same 422.
 */
import type { z } from "@hono/zod-openapi";
import type { HTTPValidationError, ValidationError } from "./perplexity.ts";

export type ValidationSource = "body" | "query" | "path" | "header";

/**
 * @example
 * const parsed = Schema.safeParse(input);
 * if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
 */
export function toValidationError(error: z.ZodError, source: ValidationSource): HTTPValidationError {
	const detail = error.issues.slice(0, MAX_VALIDATION_ERRORS).map((issue) => toDetail(issue, source));
	const more = error.issues.length - MAX_VALIDATION_ERRORS;
	if (more > 0) detail.push({ loc: [source], msg: `…and ${more} more errors`, type: "too_many_errors" });
	return { detail };
}

/** A 422 lists at most this many errors (and says how many more): a huge bad body gets a small answer. */
export const MAX_VALIDATION_ERRORS = 50;

/** A single validation error, for checks that are not zod's (the SSRF guard, say). */
export function validationError(loc: (string | number)[], msg: string, type = "value_error"): HTTPValidationError {
	return { detail: [{ loc, msg, type }] };
}

function toDetail(issue: z.core.$ZodIssue, source: ValidationSource): ValidationError {
	const loc = [source, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
	switch (issue.code) {
		case "invalid_type":
			if (issue.input === undefined) return { loc, msg: "Field required", type: "missing" };
			return { loc, msg: issue.message, type: `${issue.expected}_type` };
		case "too_small":
			return {
				loc,
				msg: issue.message,
				type: issue.origin === "number" ? (issue.inclusive ? "greater_than_equal" : "greater_than") : "too_short",
			};
		case "too_big":
			return {
				loc,
				msg: issue.message,
				type: issue.origin === "number" ? (issue.inclusive ? "less_than_equal" : "less_than") : "too_long",
			};
		case "invalid_value":
			return { loc, msg: issue.message, type: issue.values.length > 1 ? "enum" : "literal_error" };
		case "invalid_union":
			return { loc, msg: issue.message, type: "union_error" };
		case "unrecognized_keys":
			return { loc, msg: issue.message, type: "extra_forbidden" };
		default: {
			// A custom issue may name its type (`params.type`: "extra_forbidden" for an unknown field).
			const type =
				issue.code === "custom" && typeof issue.params?.type === "string" ? issue.params.type : "value_error";
			return { loc, msg: issue.message, type };
		}
	}
}
