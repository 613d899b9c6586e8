/**
 * Deterministic answers for the Perplexity emulator, for either API.
 *
 * Everything an answer says (text, sources, dates) is drawn from a PRNG seeded
 * with a hash of a key (the model, or the preset) and the question, so the same
 * question always gets the same answer, whatever the order in which concurrent
 * tests ask. Each API wraps it in its own shape: `sonar/answer.ts` builds a
 * `CompletionResponse`, `agent/answer.ts` the Agent API's output items. The
 * PRNG helpers are shared with the benchmarks.
 */

/** A random number in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a tiny, fast 32-bit PRNG. Good enough for test data; not for secrets.
 *
 * @example
 * const rng = mulberry32(42);
 * rng(); // 0.6011037519201636, always
 */
export function mulberry32(seed: number): Random {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** FNV-1a, 32 bits: a stable hash of a string, for seeding. */
export function hashString(text: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return hash >>> 0;
}

/** An integer in [min, max], both inclusive. */
export function randomInt(rng: Random, min: number, max: number): number {
	return min + Math.floor(rng() * (max - min + 1));
}

/** A version 4 UUID whose bits come from `rng`, so a seeded emulator hands out the same ids. */
export function randomUuid(rng: Random): string {
	const bytes = Array.from({ length: 16 }, () => Math.floor(rng() * 256));
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `length` lowercase hex digits from `rng`: the random part of an Agent API id. */
export function randomHex(rng: Random, length: number): string {
	let out = "";
	for (let i = 0; i < length; i++) out += Math.floor(rng() * 16).toString(16);
	return out;
}

function pick<T>(rng: Random, items: readonly T[]): T {
	const item = items[Math.floor(rng() * items.length)];
	if (item === undefined) throw new Error("pick from an empty list");
	return item;
}

/** `count` distinct items, in random order. */
function pickDistinct<T>(rng: Random, items: readonly T[], count: number): T[] {
	const pool = [...items];
	const out: T[] = [];
	while (out.length < count && pool.length > 0) {
		out.push(...pool.splice(Math.floor(rng() * pool.length), 1));
	}
	return out;
}

// ── Content ──────────────────────────────────────────────────────────────────

const SITES = [
	{ host: "https://example.com", name: "Example Reference" },
	{ host: "https://docs.example.org", name: "Example Docs" },
	{ host: "https://news.example.net", name: "Example News" },
	{ host: "https://research.example.com", name: "Example Research" },
	{ host: "https://blog.example.org", name: "Example Blog" },
	{ host: "https://wiki.example.net", name: "Example Wiki" },
] as const;

const ASPECTS = [
	"Background",
	"Key facts",
	"Current state",
	"Trade-offs",
	"Practical tips",
	"Common pitfalls",
	"Outlook",
	"Costs",
	"Timeline",
	"Open questions",
] as const;

const LEADS = [
	"In short, {topic} is best understood by looking at a few well-documented facts",
	"Sources broadly agree on the essentials of {topic}, even where details differ",
	"The clearest picture of {topic} comes from combining reference material with recent reporting",
	"{Topic} has been covered extensively, and the main points are consistent across sources",
] as const;

const POINTS = [
	"the most cited sources describe it consistently",
	"recent reporting adds useful context to older references",
	"figures vary by source, so treat precise numbers with care",
	"the official documentation is the most reliable starting point",
	"practitioners recommend starting small and measuring results",
	"several misconceptions persist in informal discussions",
	"the topic has changed noticeably over the last few years",
	"experts expect gradual rather than sudden change",
	"costs depend heavily on scale and local conditions",
	"primary sources should be preferred over summaries",
] as const;

const CLOSINGS = [
	"For a fuller treatment",
	"For details and primary references",
	"To go further",
	"For the underlying data",
] as const;

const FILLER = [
	"Reference works tend to agree on definitions, while news coverage focuses on what changed recently.",
	"Where sources disagree, the difference usually comes from different dates or different scopes.",
	"Practitioners emphasise measuring before optimising and documenting the decisions that were made.",
	"Historical context helps explain why the current situation looks the way it does.",
	"Comparisons across regions or vendors should account for differences in methodology.",
	"Summaries are convenient, but the primary documents remain the authoritative record.",
	"A common mistake is to generalise from a single example without checking the wider evidence.",
	"Experts expect the main trends to continue, with incremental rather than dramatic changes.",
] as const;

function topicOf(question: string): string {
	const topic = question.replace(/[?!.]+$/, "").trim();
	if (topic === "") return "the question";
	return topic.length > 80 ? `${topic.slice(0, 77)}...` : topic;
}

function capitalize(text: string): string {
	return text.charAt(0).toUpperCase() + text.slice(1);
}

function slugOf(topic: string): string {
	const slug = topic
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, "-")
		.replace(/^-+|-+$/g, "")
		.slice(0, 48)
		.replace(/-+$/, "");
	return slug === "" ? "topic" : slug;
}

/** The number of characters a "long answer" reaches: enough to force message splitting in chat apps. */
export const LONG_ANSWER_CHARS = 12_000;

interface Source {
	name: string;
	url: string;
}

/** Citation markers like ` [2]`, for a run that did not search and so has nothing to cite. */
const CITATION = / ?\[\d+\]/g;

function markdownContent(rng: Random, topic: string, sources: readonly Source[], long: boolean, cite: boolean): string {
	const fill = (template: string) => template.replace("{topic}", topic).replace("{Topic}", capitalize(topic));
	const aspects = pickDistinct(rng, ASPECTS, randomInt(rng, 3, 4));
	const points = pickDistinct(rng, POINTS, aspects.length);
	// Drawn in this order since the first release: the same question keeps the same answer.
	const lead = fill(pick(rng, LEADS));
	const closing = pick(rng, CLOSINGS);
	const lines = [
		`## ${capitalize(topic)}`,
		"",
		`${lead} [1].`,
		"",
		...aspects.map((aspect, i) => `- **${aspect}**: ${points[i]} [${(i % 3) + 1}].`),
		...(cite ? ["", `${closing}, see [${sources[0]?.name}](${sources[0]?.url}) [2][3].`] : []),
	];
	let content = lines.join("\n");
	for (let part = 1; long && content.length < LONG_ANSWER_CHARS; part++) {
		const sentences = pickDistinct(rng, FILLER, 5).join(" ");
		content += `\n\n### Part ${part}: ${pick(rng, ASPECTS)}\n\n${sentences} [${(part % 3) + 1}]\n\n${sentences}`;
	}
	return cite ? content : content.replace(CITATION, "");
}

/** A small sample value for a JSON schema, so `response_format: json_schema` gets parseable JSON back. */
function sampleFromSchema(rng: Random, schema: unknown, topic: string, depth = 0): unknown {
	if (typeof schema !== "object" || schema === null || depth > 6) return null;
	const node = schema as Record<string, unknown>;
	if (Array.isArray(node.enum) && node.enum.length > 0) return pick(rng, node.enum);
	if ("const" in node) return node.const;
	const type = Array.isArray(node.type) ? node.type[0] : node.type;
	switch (type) {
		case "object": {
			const properties = (node.properties ?? {}) as Record<string, unknown>;
			return Object.fromEntries(
				Object.entries(properties).map(([key, sub]) => [key, sampleFromSchema(rng, sub, topic, depth + 1)]),
			);
		}
		case "array":
			return Array.from({ length: randomInt(rng, 1, 3) }, () => sampleFromSchema(rng, node.items, topic, depth + 1));
		case "string":
			return `${capitalize(topic)}: ${pick(rng, POINTS)}`;
		case "integer":
			return randomInt(rng, 1, 100);
		case "number":
			return Math.round(rng() * 10_000) / 100;
		case "boolean":
			return rng() < 0.5;
		case "null":
			return null;
		default:
			return node.properties ? sampleFromSchema(rng, { ...node, type: "object" }, topic, depth) : null;
	}
}

// ── The neutral answer ───────────────────────────────────────────────────────

/** One web source an answer cites, in the order of its `[n]` markers. */
export interface AnswerSource {
	title: string;
	url: string;
	/** `YYYY-MM-DD`. */
	date: string;
	/** `YYYY-MM-DD`, on or after `date`. */
	last_updated: string;
	snippet: string;
	siteName: string;
}

export interface ComposeInput {
	/** What, beside the question, the answer depends on: the model, or the Agent run's preset. */
	key: string;
	/** The question, markers stripped. */
	question: string;
	/** A `response_format` JSON schema: the text is then JSON following it. */
	jsonSchema?: Record<string, unknown> | null;
	/** Whether the text cites its sources with `[n]` markers. @default true */
	cite?: boolean;
	/** Pad (or cut) the text to about this many UTF-8 bytes (`[[emu:size]]`). */
	sizeBytes?: number;
}

export interface ComposedAnswer {
	topic: string;
	/** URL-safe form of the topic. */
	slug: string;
	/** 3 to 5 distinct sources; `[n]` in the text cites `sources[n - 1]`. */
	sources: AnswerSource[];
	/** Markdown (or JSON under a schema). */
	text: string;
	/** The answer's PRNG, where the text left it: callers draw their usage figures from it. */
	rng: Random;
}

function isoDate(rng: Random, after?: string): string {
	const base = after ? Date.parse(after) : Date.UTC(2024, 0, 1);
	const days = randomInt(rng, after ? 0 : 1, after ? 90 : 600);
	return new Date(base + days * 86_400_000).toISOString().slice(0, 10);
}

/** Appends filler parts until the text reaches `bytes` UTF-8 bytes, then cuts it there. */
function sizeTo(text: string, bytes: number, rng: Random, cite: boolean): string {
	const chunks = [text];
	let length = Buffer.byteLength(text);
	for (let part = 1; length < bytes; part++) {
		const sentences = pickDistinct(rng, FILLER, 5).join(" ");
		const chunk = `\n\n### Part ${part}: ${pick(rng, ASPECTS)}\n\n${sentences}${cite ? ` [${(part % 3) + 1}]` : ""}`;
		chunks.push(chunk);
		length += Buffer.byteLength(chunk);
	}
	const whole = chunks.join("");
	if (length <= bytes) return whole;
	// Cut by bytes, then drop a split multi-byte character at the end, if any.
	return Buffer.from(whole)
		.subarray(0, bytes)
		.toString("utf8")
		.replace(/\uFFFD$/, "");
}

/**
 * The answer to a question: sources, and a markdown text citing them (or JSON under a schema).
 *
 * @example
 * const answer = composeAnswer({ key: "sonar", question: "What is Hono?" });
 * answer.text; // "## What is Hono\n\n... [1].\n..."
 * answer.sources[0].url; // "https://docs.example.org/articles/what-is-hono-1"
 */
export function composeAnswer(input: ComposeInput): ComposedAnswer {
	const { key, question, jsonSchema, cite = true, sizeBytes } = input;
	const rng = mulberry32(hashString(`${key}\n${question}`));
	const topic = topicOf(question);
	const slug = slugOf(topic);

	const sites = pickDistinct(rng, SITES, randomInt(rng, 3, 5));
	const sources: AnswerSource[] = sites.map((site, i) => {
		const date = isoDate(rng);
		return {
			title: `${capitalize(topic)} | ${site.name}`,
			url: `${site.host}/articles/${slug}-${i + 1}`,
			date,
			last_updated: isoDate(rng, date),
			snippet: `${capitalize(topic)}: ${pick(rng, POINTS)}.`,
			siteName: site.name,
		};
	});

	let text = jsonSchema
		? JSON.stringify(sampleFromSchema(rng, { type: "object", ...jsonSchema }, topic))
		: markdownContent(
				rng,
				topic,
				sources.map((source) => ({ name: source.siteName, url: source.url })),
				/long answer/i.test(question),
				cite,
			);
	if (sizeBytes !== undefined) {
		// Its own PRNG: asking for a size must not change the figures drawn after the text.
		text = sizeTo(text, sizeBytes, mulberry32(hashString(`${key}\n${question}\nsize`)), cite && !jsonSchema);
	}
	return { topic, slug, sources, text, rng };
}

/** Tokens in a text, the usual rough way: a token is about four characters. */
export const tokensOf = (text: string): number => Math.ceil(text.length / 4);

/** Rounds to a millionth of a dollar, as the API's cost figures are. */
export const usd = (value: number): number => Math.round(value * 1e6) / 1e6;

export { capitalize, POINTS, pick, pickDistinct };
