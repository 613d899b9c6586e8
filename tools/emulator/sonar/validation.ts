/**
 * The Sonar API's 422: zod issues turned into FastAPI's `HTTPValidationError`,
 * `{detail: [{loc, msg, type}]}`, where `loc` starts with where the value came
 * from (`body`, `query`). The `type` names are pydantic's, so a caller that
 * branches on them sees what the real upstream said.
 */
import type { z } from "zod";
import type { HTTPValidationError, ValidationError } from "./schemas.ts";

export type ValidationSource = "body" | "query";

/** A 422 lists at most this many errors (and says how many more): a huge bad body gets a small answer. */
const MAX_VALIDATION_ERRORS = 50;

/**
 * zod 4 leaves `input` out of issues unless asked; `toValidationError` needs it to tell
 * a missing field ("Field required") from a wrongly typed one. Pass it to `safeParse`.
 */
export const PARSE = { reportInput: true } as const;

/**
 * @example
 * const parsed = Schema.safeParse(input, PARSE);
 * if (!parsed.success) return c.json(toValidationError(parsed.error, "body"), 422);
 */
export function toValidationError(error: z.ZodError, source: ValidationSource): HTTPValidationError {
	const detail = error.issues.slice(0, MAX_VALIDATION_ERRORS).map((issue) => toDetail(issue, source));
	const more = error.issues.length - MAX_VALIDATION_ERRORS;
	if (more > 0) detail.push({ loc: [source], msg: `…and ${more} more errors`, type: "too_many_errors" });
	return { detail };
}

/** A single validation error, for checks that are not zod's. */
export function validationError(loc: (string | number)[], msg: string, type = "value_error"): HTTPValidationError {
	return { detail: [{ loc, msg, type }] };
}

function toDetail(issue: z.core.$ZodIssue, source: ValidationSource): ValidationError {
	const loc = [source, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
	// A required field that is absent is "missing", whatever shape it should have had (a union too).
	if (issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
		return { loc, msg: "Field required", type: "missing" };
	}
	switch (issue.code) {
		case "invalid_type":
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
		default:
			return { loc, msg: issue.message, type: "value_error" };
	}
}
