/**
 * Block Kit messages for the Slack slash command: the acknowledgement returned
 * within Slack's 3 s, and what is later POSTed to the command's `response_url`
 * (the answer, a usage hint, a failure).
 *
 * Pure functions of their input. Slack refuses a whole message when one block
 * breaks a limit, so every limit is enforced here and exported as a constant:
 * an over-long answer is cut, never rejected.
 * (https://api.slack.com/reference/block-kit/blocks)
 */
import { escapeEntities, markdownToMrkdwn, slackLink } from "./mrkdwn.ts";

/** Blocks in one message. */
export const MAX_BLOCKS = 50;
/** Characters in the text of a section block (and of any text object). */
export const MAX_SECTION_TEXT = 3000;
/** Characters in the plain text of a header block. */
export const MAX_HEADER_TEXT = 150;
/** Elements in one context block. */
export const MAX_CONTEXT_ELEMENTS = 10;
/** Characters in a message's top-level `text`, the fallback for notifications and screen readers. */
export const MAX_FALLBACK_TEXT = 3000;
/**
 * Context blocks given to sources: up to 50 numbered links. Beyond that the
 * answer's sections matter more, and the last element says how many are left out.
 */
export const MAX_SOURCE_BLOCKS = 5;
/** How much of the question the acknowledgement and the error message repeat. */
const SHORT_QUESTION = 200;
/** How much of an error message is shown; the rest is in the job's result. */
const SHORT_ERROR = 500;

export interface PlainTextObject {
	type: "plain_text";
	text: string;
	emoji?: boolean;
}

export interface MrkdwnTextObject {
	type: "mrkdwn";
	text: string;
}

export type TextObject = PlainTextObject | MrkdwnTextObject;

export interface HeaderBlock {
	type: "header";
	text: PlainTextObject;
}

export interface SectionBlock {
	type: "section";
	text: TextObject;
}

export interface DividerBlock {
	type: "divider";
}

export interface ContextBlock {
	type: "context";
	elements: TextObject[];
}

/** The blocks these messages use; a subset of Block Kit. */
export type Block = HeaderBlock | SectionBlock | DividerBlock | ContextBlock;

/** A message as Slack accepts it in a slash command's response body or a POST to `response_url`. */
export interface SlackMessage {
	/** `in_channel` shows the message to everyone in the channel; `ephemeral` only to the user who ran the command. */
	response_type: "in_channel" | "ephemeral";
	/** Whether a `response_url` POST replaces the message the command showed before. Always false here: each post adds one. */
	replace_original?: boolean;
	/** The fallback: notifications and screen readers read it; clients that render blocks do not show it. */
	text: string;
	blocks: Block[];
}

export interface Source {
	title?: string;
	url: string;
}

export interface AnswerInput {
	/** The question as the user typed it, as plain text (Slack's `&amp;`-style entities already decoded). */
	question: string;
	/** The answer's content, Markdown as Perplexity returns it. */
	answerMarkdown: string;
	/** Numbered in this order, so that `[n]` in the answer points at the n-th: `search_results`, else `citations`. */
	sources: Source[];
	/** Where the full result can be fetched; linked when the answer is cut, and in the footer. */
	resultUrl?: string;
	responseType: "in_channel" | "ephemeral";
	/** The model that answered, shown in the footer. */
	model?: string;
}

const mrkdwn = (text: string): MrkdwnTextObject => ({ type: "mrkdwn", text });
const section = (text: string): SectionBlock => ({ type: "section", text: mrkdwn(text) });

/**
 * The answer to a question, for the command's `response_url`.
 *
 * Layout: the question as a header (and in full below it when it is longer
 * than a header takes), a divider, the answer in sections of at most 3000
 * characters, the sources as numbered links, and a footer with the model and
 * a link to the full result. When it all exceeds 50 blocks, the answer is cut
 * at a section boundary and its last section says so.
 *
 * A leading `<think>…</think>` (the reasoning that reasoning models put first
 * in their content) is not part of the answer and is left out.
 *
 * @example
 * const message = answerMessage({
 *   question: "Why is the sky blue?",
 *   answerMarkdown: "**Rayleigh scattering** [1].",
 *   sources: [{ title: "Rayleigh scattering", url: "https://en.wikipedia.org/wiki/Rayleigh_scattering" }],
 *   resultUrl: "https://relay.example.com/v1/async/chat/completions/job_123",
 *   responseType: "in_channel",
 *   model: "sonar-deep-research",
 * });
 * await fetch(responseUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
 */
export function answerMessage(input: AnswerInput): SlackMessage {
	const question = oneLine(input.question) || "(no question)";
	// Only what can be shown is converted: a 5 MB answer costs no more than one that just overflows.
	const { text: markdown, cut } = answerPrefix(input.answerMarkdown.replace(/^\s*<think>[\s\S]*?<\/think>\s*/i, ""));
	const answer = markdownToMrkdwn(markdown);

	const head: Block[] = [
		{ type: "header", text: { type: "plain_text", text: shorten(question, MAX_HEADER_TEXT), emoji: true } },
	];
	if (question.length > MAX_HEADER_TEXT) head.push(section(clip(escapeEntities(question), MAX_SECTION_TEXT)));
	head.push({ type: "divider" });

	const tail = [...sourceBlocks(input.sources), ...footer(input.model, input.resultUrl)];

	const sections = answer === "" ? ["_The answer was empty._"] : splitMrkdwn(answer, MAX_SECTION_TEXT);
	const room = MAX_BLOCKS - head.length - tail.length;
	const body =
		sections.length <= room && !cut
			? sections.map(section)
			: [...sections.slice(0, room - 1).map(section), section(truncationNote(input.resultUrl))];

	return {
		response_type: input.responseType,
		replace_original: false,
		text: fallbackText(question, answer),
		blocks: [...head, ...body, ...tail],
	};
}

/**
 * The most of an answer a message can show, with room to spare for Markdown that shrinks as mrkdwn
 * (`**bold**` → `*bold*`, `[t](url)` → `<url|t>`). Past it nothing is converted or split.
 */
export const MAX_ANSWER_INPUT = 2 * MAX_BLOCKS * MAX_SECTION_TEXT;

/** The start of the answer a message can show, cut at a paragraph or a line when there is one near the end. */
export function answerPrefix(markdown: string): { text: string; cut: boolean } {
	if (markdown.length <= MAX_ANSWER_INPUT) return { text: markdown, cut: false };
	const head = markdown.slice(0, MAX_ANSWER_INPUT);
	const breakAt = Math.max(head.lastIndexOf("\n\n"), head.lastIndexOf("\n"));
	return { text: breakAt > MAX_ANSWER_INPUT / 2 ? head.slice(0, breakAt) : head, cut: true };
}

function truncationNote(resultUrl: string | undefined): string {
	const note = "_The answer is too long for Slack and was cut here._";
	const link = resultUrl ? slackLink(resultUrl, "Read the full answer") : "";
	// slackLink returns only the label for a URL Slack cannot open; then there is nothing to link to.
	return link.startsWith("<") ? `${note} ${link}` : `${note} The full answer can be fetched from the API.`;
}

/** The question, then as much of the answer as fits, cut where a section would be. */
function fallbackText(question: string, answer: string): string {
	const head = escapeEntities(shorten(question, MAX_HEADER_TEXT));
	if (answer === "") return head;
	const room = MAX_FALLBACK_TEXT - head.length - 3;
	const parts = splitMrkdwn(answer, room);
	return `${head}\n\n${parts[0] ?? ""}${parts.length > 1 ? "…" : ""}`;
}

/**
 * Sources as numbered links, `1. <url|title>`, ten to a context block. The
 * numbers are positions in the given list, never renumbered or deduplicated,
 * so that they match the `[n]` markers in the answer.
 */
function sourceBlocks(sources: Source[]): ContextBlock[] {
	const capacity = MAX_SOURCE_BLOCKS * MAX_CONTEXT_ELEMENTS;
	const shown = sources.length > capacity ? sources.slice(0, capacity - 1) : sources;
	const elements = shown.map((source, index) => mrkdwn(`${index + 1}. ${sourceLink(source)}`));
	if (shown.length < sources.length) elements.push(mrkdwn(`…and ${sources.length - shown.length} more`));

	const blocks: ContextBlock[] = [];
	for (let i = 0; i < elements.length; i += MAX_CONTEXT_ELEMENTS) {
		blocks.push({ type: "context", elements: elements.slice(i, i + MAX_CONTEXT_ELEMENTS) });
	}
	return blocks;
}

function sourceLink(source: Source): string {
	const title = oneLine(source.title ?? "") || hostname(source.url) || source.url;
	const label = escapeEntities(shorten(title, 200));
	const link = slackLink(source.url.trim(), label);
	// A URL too long for a text object is not worth a broken element: the title alone stands.
	return link.length <= MAX_SECTION_TEXT - 10 ? link : label;
}

function hostname(url: string): string {
	try {
		return new URL(url).hostname.replace(/^www\./, "");
	} catch {
		return "";
	}
}

function footer(model: string | undefined, resultUrl: string | undefined): ContextBlock[] {
	const elements: MrkdwnTextObject[] = [];
	if (model) elements.push(mrkdwn(`Answered by ${escapeEntities(shorten(oneLine(model), 100))}`));
	if (resultUrl) {
		const link = slackLink(resultUrl, "Full result");
		if (link.startsWith("<")) elements.push(mrkdwn(link));
	}
	return elements.length > 0 ? [{ type: "context", elements }] : [];
}

/**
 * The immediate, ephemeral reply to the slash command, which Slack needs
 * within 3 seconds. With `longRunning` (a model such as `sonar-deep-research`
 * that may outlive the window) it warns that Slack stops accepting posts to
 * the command's `response_url` after 30 minutes (and after 5 posts), so a late
 * answer may only be available from the API.
 *
 * @example
 * return c.json(acknowledgement(question, { model: "sonar-deep-research", longRunning: true }));
 */
export function acknowledgement(question: string, opts: { longRunning?: boolean; model: string }): SlackMessage {
	const text = `Researching: ${escapeEntities(shorten(oneLine(question), SHORT_QUESTION, ""))}…`;
	const blocks: Block[] = [
		section(text),
		{
			type: "context",
			elements: [mrkdwn(`${escapeEntities(oneLine(opts.model))} · the answer will be posted here when it is ready.`)],
		},
	];
	if (opts.longRunning) {
		blocks.push(
			section(
				":hourglass_flowing_sand: This model can take a long time. Slack accepts at most 5 posts to this command's " +
					"`response_url` within 30 minutes, so an answer that takes longer than 30 minutes may not reach Slack; " +
					"it can still be fetched from the API.",
			),
		);
	}
	return { response_type: "ephemeral", text, blocks };
}

/**
 * The ephemeral reply to a command with no question.
 *
 * @example
 * if (text.trim() === "") return c.json(usageMessage(form.command)); // "/ask"
 */
export function usageMessage(command: string, problem?: string): SlackMessage {
	const name = escapeEntities(oneLine(command) || "/ask");
	return {
		response_type: "ephemeral",
		text: `${problem ? `${escapeEntities(problem)} ` : ""}Usage: ${name} [preset:fast|low|medium|high|xhigh] &lt;question&gt;`,
		blocks: [
			...(problem ? [section(escapeEntities(problem))] : []),
			section(`*Usage:* \`${name} [preset:NAME] &lt;question&gt;\``),
			section(
				`Ask a question; I research it on the web and post the answer here with its sources.\n` +
					`For example: \`${name} What changed in the EU AI Act in 2025?\`\n` +
					`A preset picks how deep the research goes: \`fast\`, \`low\`, \`medium\` (deep research, minutes), \`high\`, \`xhigh\`. ` +
					`For example: \`${name} preset:medium What changed in the EU AI Act in 2025?\``,
			),
		],
	};
}

/**
 * An ephemeral refusal, answered to the command itself (no job was made): a workspace not on
 * `SLACK_TEAMS`, or a tenant limit reached.
 *
 * @example
 * refusalMessage("This relay is at its limit for this workspace. Try again in 40 s.")
 */
export function refusalMessage(text: string): SlackMessage {
	const escaped = `:no_entry: ${escapeEntities(text)}`;
	return { response_type: "ephemeral", text: escaped, blocks: [section(escaped)] };
}

/**
 * The ephemeral message posted to `response_url` when a job fails.
 *
 * @example
 * await postToSlack(responseUrl, errorMessage(question, "The upstream model timed out."));
 */
export function errorMessage(question: string, error: string): SlackMessage {
	const q = escapeEntities(shorten(oneLine(question), SHORT_QUESTION));
	const reason = escapeEntities(shorten(error.trim() || "Unknown error", SHORT_ERROR));
	return {
		response_type: "ephemeral",
		replace_original: false,
		text: `Sorry, the research failed: ${q}`,
		blocks: [section(`:warning: Sorry, the research failed for *${q}*`), section(reason)],
	};
}

/**
 * Splits mrkdwn into pieces of at most `limit` characters, for section blocks.
 * It cuts between paragraphs first, then between lines, then between words,
 * and only as a last resort inside a word. `<url|text>` links count as one
 * word. A code block that must be cut is closed and reopened, so that every
 * piece renders on its own. Joining the pieces gives the input back, up to the
 * whitespace at the cuts (and the fences added around cut code).
 *
 * @example
 * splitMrkdwn(longAnswer, MAX_SECTION_TEXT).map((text) => ({ type: "section", text: { type: "mrkdwn", text } }));
 */
export function splitMrkdwn(text: string, limit: number = MAX_SECTION_TEXT): string[] {
	const chunks: string[] = [];
	let current = "";
	for (const piece of pieces(text, limit)) {
		if (current === "") current = piece.text;
		else if (current.length + piece.separator.length + piece.text.length <= limit)
			current += piece.separator + piece.text;
		else {
			chunks.push(current);
			current = piece.text;
		}
	}
	if (current !== "") chunks.push(current);
	return chunks;
}

/** A piece that fits a chunk, and the whitespace that joins it to the previous piece when both share one. */
interface Piece {
	text: string;
	separator: string;
}

const FENCE = "```";

function* pieces(text: string, limit: number): Generator<Piece> {
	for (const unit of units(text)) {
		if (unit.text.length <= limit) yield { text: unit.text, separator: "\n\n" };
		else if (unit.code) yield* codePieces(unit.text, limit);
		else yield* linePieces(unit.text, limit);
	}
}

/** Paragraphs (runs of non-blank lines) and code blocks, which may contain blank lines. */
function units(text: string): { text: string; code: boolean }[] {
	const result: { text: string; code: boolean }[] = [];
	let lines: string[] = [];
	let inCode = false;
	const flush = (code: boolean) => {
		if (lines.length > 0) result.push({ text: lines.join("\n"), code });
		lines = [];
	};
	for (const line of text.split("\n")) {
		if (inCode) {
			lines.push(line);
			if (line === FENCE) {
				flush(true);
				inCode = false;
			}
		} else if (line === FENCE) {
			flush(false);
			lines.push(line);
			inCode = true;
		} else if (line.trim() === "") {
			flush(false);
		} else {
			lines.push(line);
		}
	}
	flush(inCode);
	return result;
}

function* linePieces(paragraph: string, limit: number): Generator<Piece> {
	let separator = "\n\n";
	for (const line of paragraph.split("\n")) {
		if (line.length <= limit) yield { text: line, separator };
		else yield* wordPieces(line, limit, separator);
		separator = "\n";
	}
}

function* wordPieces(line: string, limit: number, lineSeparator: string): Generator<Piece> {
	// A word is a run of non-space characters, where a whole `<url|some text>` counts as one.
	const words = /(\s*)((?:<[^<>\n]*>|\S)+)/g;
	let first = true;
	for (const match of line.matchAll(words)) {
		const separator = first ? lineSeparator + (match[1] ?? "") : (match[1] ?? "");
		const word = match[2] ?? "";
		first = false;
		if (word.length <= limit) yield { text: word, separator };
		else yield* hardPieces(word, limit, separator);
	}
}

/** The last resort: cuts every `limit` characters, but not inside an entity such as `&amp;` or a surrogate pair. */
function* hardPieces(word: string, limit: number, separator: string): Generator<Piece> {
	let rest = word;
	let joiner = separator;
	while (rest.length > limit) {
		const cut = safeCut(rest, limit);
		yield { text: rest.slice(0, cut), separator: joiner };
		rest = rest.slice(cut);
		joiner = "";
	}
	if (rest !== "") yield { text: rest, separator: joiner };
}

function safeCut(text: string, at: number): number {
	let cut = at;
	// An entity that starts in the last few characters and ends after the cut moves whole to the next piece.
	for (let start = Math.max(1, at - 4); start < at; start++) {
		const entity = /^&(?:amp|lt|gt);/.exec(text.slice(start, start + 5))?.[0];
		if (entity && start + entity.length > at) {
			cut = start;
			break;
		}
	}
	const code = text.charCodeAt(cut);
	if (code >= 0xdc00 && code <= 0xdfff && cut > 1) cut--;
	return cut;
}

/** Mrkdwn cut to at most `max` characters, where `splitMrkdwn` would cut, with an ellipsis. */
function clip(text: string, max: number): string {
	return text.length <= max ? text : `${splitMrkdwn(text, max - 1)[0] ?? ""}…`;
}

/** A code block too long for one section: several, each closed and reopened. */
function* codePieces(block: string, limit: number): Generator<Piece> {
	const lines = block.split("\n");
	// Strip this block's own fences; each piece gets its own.
	if (lines[0] === FENCE) lines.shift();
	if (lines.at(-1) === FENCE) lines.pop();
	const room = limit - 2 * (FENCE.length + 1);
	const bodyLines = lines.flatMap((line) =>
		line.length <= room ? [line] : [...hardPieces(line, room, "")].map((piece) => piece.text),
	);

	let body: string[] = [];
	let length = 0;
	let separator = "\n\n";
	const wrap = (): Piece => ({ text: `${FENCE}\n${body.join("\n")}\n${FENCE}`, separator });
	for (const line of bodyLines) {
		if (body.length > 0 && length + 1 + line.length > room) {
			yield wrap();
			separator = "\n";
			body = [];
			length = 0;
		}
		length += (body.length > 0 ? 1 : 0) + line.length;
		body.push(line);
	}
	if (body.length > 0) yield wrap();
}

/** Collapses whitespace, newlines included: questions and titles go on one line. */
function oneLine(text: string): string {
	return text.replace(/\s+/g, " ").trim();
}

/**
 * Shortens plain text to `max` characters, at a word boundary when one is
 * near, ending with `ellipsis`.
 */
function shorten(text: string, max: number, ellipsis = "…"): string {
	if (text.length <= max) return text;
	let cut = max - ellipsis.length;
	const space = text.lastIndexOf(" ", cut);
	if (space > max / 2) cut = space;
	const code = text.charCodeAt(cut);
	if (code >= 0xdc00 && code <= 0xdfff) cut--;
	return text.slice(0, cut).trimEnd() + ellipsis;
}
