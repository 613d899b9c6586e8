/**
 * The Agent API's create body, validated as strictly as the real API: any
 * unknown or leftover field, at the top level or nested (in tools, filters,
 * input items, content parts, reasoning, response_format, …), is a 400 whose
 * `param` names it, e.g. `tools[0].filters.search_mode`.
 *
 * Written from the SDK's `ResponsesRequestInput` (and the types it refers to),
 * plus the two fields `spec/agent-api.md` lists and the SDK lacks: `metadata`
 * and `max_tool_calls`. A compile-time check below keeps the parsed body
 * assignable to the SDK's type, so this schema can never accept a shape the SDK
 * could not send. Every SDK tool kind is accepted, each with its own strict shape.
 */
import { z } from "zod";
import { MODELS, PRESETS, type PresetName, presetOf } from "./catalog.ts";
import type { ResponsesRequestInput } from "./types.ts";

// ── Schema ───────────────────────────────────────────────────────────────────

const US_DATE = /^(\d{2})\/(\d{2})\/(\d{4})$/;

/** `MM/DD/YYYY`, and a day that exists. */
function isUsDate(value: string): boolean {
	const match = value.match(US_DATE);
	if (!match) return false;
	const [month, day, year] = [Number(match[1]), Number(match[2]), Number(match[3])];
	const date = new Date(Date.UTC(year, month - 1, day));
	return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const DateFilter = z.string().refine(isUsDate, { message: "must be a date in MM/DD/YYYY format" });

const WebSearchFilters = z.strictObject({
	search_domain_filter: z.array(z.string()).max(20).optional(),
	search_recency_filter: z.enum(["hour", "day", "week", "month", "year"]).optional(),
	search_after_date_filter: DateFilter.optional(),
	search_before_date_filter: DateFilter.optional(),
	last_updated_after_filter: DateFilter.optional(),
	last_updated_before_filter: DateFilter.optional(),
});

const Tool = z.discriminatedUnion("type", [
	z.strictObject({
		type: z.literal("web_search"),
		filters: WebSearchFilters.optional(),
		search_context_size: z.enum(["low", "medium", "high"]).optional(),
		user_location: z
			.strictObject({
				city: z.string().optional(),
				country: z.string().optional(),
				latitude: z.number().optional(),
				longitude: z.number().optional(),
				region: z.string().optional(),
			})
			.optional(),
		max_tokens: z.int().min(1).optional(),
		max_tokens_per_page: z.int().min(1).optional(),
	}),
	z.strictObject({ type: z.literal("fetch_url"), max_urls: z.int().min(1).optional() }),
	z.strictObject({
		type: z.literal("function"),
		name: z.string().min(1),
		description: z.string().optional(),
		parameters: z.record(z.string(), z.unknown()).optional(),
		strict: z.boolean().optional(),
	}),
	z.strictObject({ type: z.literal("people_search") }),
	z.strictObject({ type: z.literal("finance_search") }),
	z.strictObject({ type: z.literal("sandbox") }),
	z.strictObject({
		type: z.literal("mcp"),
		server_label: z.string(),
		server_url: z.string(),
		allowed_tools: z.array(z.string()).optional(),
		authorization: z.string().optional(),
		defer_loading: z.boolean().optional(),
		headers: z.record(z.string(), z.string()).optional(),
	}),
	z.strictObject({
		type: z.literal("connector"),
		id: z.string(),
		server_label: z.string(),
		allowed_tools: z.array(z.string()).optional(),
		server_description: z.string().optional(),
	}),
]);

const InputText = z.strictObject({ type: z.literal("input_text"), text: z.string() });

const InputMessage = z.strictObject({
	type: z.literal("message"),
	role: z.enum(["user", "assistant", "system", "developer"]),
	content: z.union([
		z.string(),
		z.array(
			z.discriminatedUnion("type", [
				InputText,
				z.strictObject({ type: z.literal("input_image"), image_url: z.string() }),
			]),
		),
	]),
});

const InputItem = z.discriminatedUnion("type", [
	InputMessage,
	z.strictObject({
		type: z.literal("function_call"),
		arguments: z.string(),
		call_id: z.string(),
		name: z.string(),
		thought_signature: z.string().optional(),
	}),
	z.strictObject({
		type: z.literal("function_call_output"),
		call_id: z.string(),
		id: z.string().nullish(),
		name: z.string().optional(),
		output: z.union([
			z.string(),
			z.array(
				z.discriminatedUnion("type", [
					InputText,
					z.strictObject({
						type: z.literal("input_image"),
						image_url: z.string(),
						detail: z.enum(["low", "high", "auto"]).nullish(),
					}),
				]),
			),
		]),
		status: z.enum(["in_progress", "completed", "incomplete"]).nullish(),
		thought_signature: z.string().optional(),
	}),
	z.strictObject({
		type: z.literal("reasoning"),
		summary: z.array(z.strictObject({ type: z.literal("summary_text"), text: z.string() })),
		content: z.array(z.strictObject({ type: z.literal("reasoning_text"), text: z.string() })).nullish(),
		encrypted_content: z.string().nullish(),
		id: z.string().nullish(),
		status: z.enum(["in_progress", "completed", "incomplete"]).optional(),
	}),
]);

const Skill = z.discriminatedUnion("type", [
	z.strictObject({
		type: z.literal("builtin"),
		name: z.enum(["office", "office/docx", "office/pdf", "office/pptx", "office/xlsx"]),
	}),
	z.strictObject({ type: z.literal("inline"), name: z.string(), description: z.string(), instructions: z.string() }),
	z.strictObject({ type: z.literal("custom"), id: z.string(), version: z.string().optional() }),
]);

/** agent-api.md: at most 16 keys, keys of at most 64 characters, string values of at most 512. */
const Metadata = z
	.record(z.string().max(64, { message: "metadata keys are at most 64 characters" }), z.string().max(512))
	.refine((value) => Object.keys(value).length <= 16, { message: "metadata has at most 16 keys" });

export const AgentRequestSchema = z.strictObject({
	input: z.union([z.string(), z.array(InputItem)]),
	instructions: z.string().optional(),
	model: z.string().optional(),
	models: z.array(z.string()).max(5).optional(),
	preset: z.string().optional(),
	max_output_tokens: z.int().min(1).optional(),
	max_steps: z.int().min(1).max(100).optional(),
	max_tool_calls: z.int().min(1).optional(),
	temperature: z.number().min(0).max(2).optional(),
	top_p: z.number().min(0).max(1).optional(),
	reasoning: z.strictObject({ effort: z.enum(["minimal", "low", "medium", "high", "xhigh"]).optional() }).optional(),
	response_format: z
		.strictObject({
			type: z.literal("json_schema"),
			json_schema: z
				.strictObject({
					name: z.string(),
					schema: z.record(z.string(), z.unknown()),
					description: z.string().optional(),
					strict: z.boolean().optional(),
				})
				.optional(),
		})
		.optional(),
	tools: z.array(Tool).optional(),
	language_preference: z.string().optional(),
	background: z.boolean().nullish(),
	store: z.boolean().optional(),
	stream: z.boolean().optional(),
	previous_response_id: z.string().optional(),
	profile: z.strictObject({ type: z.literal("custom"), id: z.string(), version: z.string().optional() }).optional(),
	skills: z.array(Skill).optional(),
	metadata: Metadata.optional(),
});

export type AgentRequest = z.infer<typeof AgentRequestSchema>;
export type AgentInputItem = z.infer<typeof InputItem>;

// Fails to compile if the schema ever accepts a body the SDK's type could not describe.
const acceptsOnlySdkShapes = (body: AgentRequest): ResponsesRequestInput => body;
void acceptsOnlySdkShapes;

// ── Validation ───────────────────────────────────────────────────────────────

/** A refused body: what the 400's `message` and `param` say. */
export interface RequestProblem {
	message: string;
	param?: string;
}

export type Validated =
	| { ok: true; request: AgentRequest; preset: PresetName | null; model: string }
	| { ok: false; problem: RequestProblem };

/** `["tools", 0, "filters", "x"]` → `tools[0].filters.x`, the way the API's `param` names a field. */
export function paramOf(path: readonly PropertyKey[]): string {
	let out = "";
	for (const segment of path) {
		if (typeof segment === "number") out += `[${segment}]`;
		else out += out === "" ? String(segment) : `.${String(segment)}`;
	}
	return out;
}

type Issue = z.core.$ZodIssue;

/**
 * Issues with the unions opened up: where a value has the right base type for one
 * branch of a union (`input` is a list, not a string), that branch's issues are
 * the real ones, and they name the precise field.
 */
function flatten(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): Issue[] {
	return issues.flatMap((issue): Issue[] => {
		const path = [...prefix, ...issue.path];
		if (issue.code === "invalid_union" && issue.errors.length > 0) {
			const matched = issue.errors.filter(
				(branch) => !branch.some((inner) => inner.path.length === 0 && inner.code === "invalid_type"),
			);
			if (matched.length === 1) return flatten(matched[0] ?? [], path);
		}
		return [{ ...issue, path } as Issue];
	});
}

function problemOf(error: z.ZodError): RequestProblem {
	const issues = flatten(error.issues);
	// The real API names the first field it does not know before anything else it dislikes.
	const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
	if (!issue) return { message: "Invalid request" };
	if (issue.code === "unrecognized_keys") {
		const param = paramOf([...issue.path, issue.keys[0] ?? ""]);
		return { message: `Unrecognized request argument supplied: ${param}`, param };
	}
	const param = paramOf(issue.path);
	if (issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
		return { message: `Missing required parameter: '${param}'`, param };
	}
	return { message: `Invalid value for '${param}': ${issue.message}`, param };
}

function isEmptyInput(input: AgentRequest["input"]): boolean {
	return typeof input === "string" ? input.trim() === "" : input.length === 0;
}

/**
 * Validates a create body: the schema first, then what a schema cannot say (a
 * model is named, slugs exist, presets exist, anthropic models get a token cap,
 * the input is not empty).
 *
 * @example
 * validateAgentRequest({ input: "Hi", model: "perplexity/sonar", stop: "x" });
 * // { ok: false, problem: { message: "Unrecognized request argument supplied: stop", param: "stop" } }
 */
export function validateAgentRequest(body: unknown): Validated {
	const parsed = AgentRequestSchema.safeParse(body, { reportInput: true });
	if (!parsed.success) return { ok: false, problem: problemOf(parsed.error) };
	const request = parsed.data;
	const fail = (message: string, param: string): Validated => ({ ok: false, problem: { message, param } });

	if (request.model === undefined && !request.models?.length && request.preset === undefined) {
		return fail("One of 'model', 'models' or 'preset' is required", "model");
	}
	if (request.model !== undefined && !MODELS.has(request.model)) {
		return fail(`Invalid model '${request.model}'. See GET /v1/models for the models available`, "model");
	}
	for (const [i, slug] of (request.models ?? []).entries()) {
		if (!MODELS.has(slug))
			return fail(`Invalid model '${slug}'. See GET /v1/models for the models available`, `models[${i}]`);
	}
	let preset: PresetName | null = null;
	if (request.preset !== undefined) {
		preset = presetOf(request.preset) ?? null;
		if (preset === null) {
			return fail(
				`Invalid preset '${request.preset}'. Use fast, low, medium, high or xhigh (or fast-search, pro-search, deep-research, advanced-deep-research)`,
				"preset",
			);
		}
	}
	const named = [request.model, ...(request.models ?? [])].filter((slug) => slug !== undefined);
	const anthropic = named.find((slug) => slug.startsWith("anthropic/"));
	if (anthropic !== undefined && request.max_output_tokens === undefined) {
		return fail(`'max_output_tokens' is required for ${anthropic}`, "max_output_tokens");
	}
	if (isEmptyInput(request.input)) return fail("'input' must not be empty", "input");

	// A preset run reports its preset's model, unless the caller named one.
	const model = named[0] ?? (preset ? PRESETS[preset].model : "perplexity/sonar");
	return { ok: true, request, preset, model };
}

// ── Reading the input ────────────────────────────────────────────────────────

/** The text of a message's content: the string, or its `input_text` parts joined by newlines. */
function contentText(content: z.infer<typeof InputMessage>["content"]): string {
	if (typeof content === "string") return content;
	return content
		.flatMap((part) => (part.type === "input_text" ? [part.text] : []))
		.filter((text) => text !== "")
		.join("\n");
}

/** The last user text of `input`, markers included: where the emulator reads its markers. */
export function lastUserText(input: AgentRequest["input"]): string {
	if (typeof input === "string") return input;
	for (let i = input.length - 1; i >= 0; i--) {
		const item = input[i];
		if (item?.type === "message" && item.role === "user") return contentText(item.content);
	}
	return "";
}

/** Every message text of the request (instructions included): what `usage.input_tokens` counts. */
export function inputTexts(request: AgentRequest): string[] {
	const texts = request.instructions === undefined ? [] : [request.instructions];
	if (typeof request.input === "string") return [...texts, request.input];
	for (const item of request.input) {
		if (item.type === "message") texts.push(contentText(item.content));
		else if (item.type === "function_call_output" && typeof item.output === "string") texts.push(item.output);
	}
	return texts;
}
