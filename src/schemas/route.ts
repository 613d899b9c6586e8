/**
 * What the route declarations share (`createRoute` in src/routes/): a JSON response, the usual
 * errors, the job id parameter and the list query. Each route is declared beside its handler; these
 * keep the declarations short and the document's wording one.
 */
import { z } from "@hono/zod-openapi";
import { AgentErrorBody } from "./agent.ts";
import { HTTPValidationError } from "./perplexity.ts";
import { ErrorDetail, ListQuery } from "./relay.ts";

/**
 * A JSON response (or body) of `schema`, with an example.
 *
 * @example
 * responses: { 200: json(RelayJob, "The job") }
 */
export const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
	description,
	content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});

/** A required JSON request body of `schema`, with an example. */
export const jsonRequest = <T extends z.ZodType>(schema: T, example: unknown) => ({
	body: { required: true, content: { "application/json": { schema, example } } },
});

/** An API key in `Authorization: Bearer <key>` (the `bearerAuth` scheme app.ts registers). */
export const security = [{ bearerAuth: [] }];

export const errors = {
	401: json(ErrorDetail, "Missing or wrong API key", { detail: "Invalid or missing API key" }),
	422: json(HTTPValidationError, "Validation error", {
		detail: [
			{ loc: ["body", "request", "max_tokens"], msg: "Too small: expected number to be >0", type: "greater_than" },
		],
	}),
} as const;

export const malformed = json(ErrorDetail, "Malformed JSON", { detail: "Malformed JSON in request body" });

/** A submission over a tenant limit (`TENANT_LIMITS`), or behind a create queue past the job timeout. */
export const overLimit = {
	...json(ErrorDetail, "A tenant limit, or an upstream create queue past JOB_TIMEOUT_SECONDS; Retry-After says when", {
		detail: "tenant limit max_in_flight (20) reached: 20 jobs are accepted and not yet settled",
	}),
	headers: {
		"Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer" as const } },
	},
};

/** A submission with a callback while the relay cannot sign events. */
export const unsigned = json(
	ErrorDetail,
	"The relay has no WEBHOOK_SIGNING_KEY: it pushes no events, so a callback is refused",
);

export const notFound = { 404: json(ErrorDetail, "No such job for this tenant", { detail: "Job not found" }) };

/**
 * The list endpoints' query as documented and validated: `limit`, `next_token`, and the metadata
 * search, `metadata[key]=value` (a deepObject parameter; several are ANDed). The search itself is
 * read by `metadataFilters`, which answers its own 422s (`metadata=…` without a key, say), so the
 * parameter is documented here and accepts anything.
 */
export const ListQueryWithSearch = ListQuery.extend({
	metadata: z
		.unknown()
		.optional()
		.openapi({
			param: { name: "metadata", in: "query", style: "deepObject", explode: true },
			type: "object",
			additionalProperties: { type: "string" },
			description:
				"Only jobs whose metadata has these top-level entries: `metadata[ticket]=T-42` (up to 5, all must match). " +
				"A number or boolean entry matches its JSON text (`metadata[retries]=3`). Jobs indexed before the search " +
				"existed are not found.",
			example: { ticket: "T-42" },
		}),
});

/** The `{id}` of a job (or run): any string; a malformed or foreign one is a 404 from the handler. */
export const JobId = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		example: "3f2a9c1e0b7d4e5f8a6b2c9d1e0f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
		description: "The job id the create returned.",
	}),
});

/** An error in the Agent API's envelope, with an example. */
export const agentErrorResponse = (
	description: string,
	example: { message: string; type: string; code: number; param?: string },
) => json(AgentErrorBody, description, { error: example });
