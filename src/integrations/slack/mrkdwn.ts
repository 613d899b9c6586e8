/**
 * Markdown → Slack mrkdwn (https://api.slack.com/reference/surfaces/formatting).
 *
 * Perplexity answers are CommonMark-ish Markdown; Slack renders its own dialect,
 * where `**bold**`, `[text](url)` and `# Heading` show up as literal punctuation.
 * This is a line-oriented converter for the Markdown that answers actually
 * contain (headings, emphasis, links, lists, quotes, code, tables, rules), not a
 * full CommonMark parser: what it does not recognise passes through as text.
 *
 * Two rules hold everywhere:
 * - `&`, `<` and `>` in the answer are always sent as `&amp;`, `&lt;`, `&gt;`,
 *   inside code too. They are Slack's control characters, and Slack decodes the
 *   entities on display, so code still reads exactly as written. It also means
 *   an answer can never smuggle in `<!channel>` or `<@U…>` mentions.
 * - Nothing inside code (spans or fences) is converted.
 */

/** Wrap a piece of output that later passes must not touch; see `convertInline`. */
const SLOT_OPEN = "\uE000";
const SLOT_CLOSE = "\uE001";
/** Stand-ins for the emphasis markers while the other patterns still run. */
const BOLD = "\uE002";
const ITALIC = "\uE003";
const STRIKE = "\uE004";
const SENTINELS = /[\uE000-\uE004]/g;
const SLOT = /\uE000(\d+)\uE001/g;

/** What a horizontal rule becomes: Slack has no rule in mrkdwn. */
export const RULE = "———";
/** Indentation per nesting level of a list. */
const LIST_INDENT = "    ";

/**
 * Converts a Markdown answer to Slack mrkdwn.
 *
 * @example
 * markdownToMrkdwn("## Result\n**Yes**, see [the docs](https://example.com) [1].\n- one\n  - two");
 * // "*Result*\n*Yes*, see <https://example.com|the docs> [1].\n• one\n    • two"
 */
export function markdownToMrkdwn(markdown: string): string {
	const lines = markdown.replace(/\r\n?/g, "\n").replace(SENTINELS, "").split("\n");
	const out: string[] = [];
	const lists = new ListNesting();
	// The previous line when it was paragraph text, which a setext underline (=== or ---) turns into a heading.
	let paragraph: string | null = null;

	for (let i = 0; i < lines.length; i++) {
		const line = lines[i] ?? "";

		const fence = openingFence(line);
		if (fence) {
			const body: string[] = [];
			for (i++; i < lines.length && !closesFence(lines[i] ?? "", fence.marker); i++) {
				body.push(dedent(lines[i] ?? "", fence.indent));
			}
			// The language tag is dropped: Slack does not highlight, and would print it as code.
			if (body.length > 0) out.push("```", ...body.map(escapeEntities), "```");
			paragraph = null;
			continue;
		}

		if (line.trim() === "") {
			out.push("");
			paragraph = null;
			continue;
		}

		const next = lines[i + 1];
		if (line.includes("|") && next !== undefined && isTableDelimiter(next)) {
			const rows = [line];
			for (i += 2; i < lines.length && (lines[i] ?? "").includes("|") && (lines[i] ?? "").trim() !== ""; i++) {
				rows.push(lines[i] ?? "");
			}
			i--;
			out.push(...convertTable(rows));
			lists.reset();
			paragraph = null;
			continue;
		}

		const setext = /^ {0,3}(=+|-+)[ \t]*$/.exec(line);
		if (setext && paragraph !== null) {
			out.pop();
			out.push(`*${convertInline(paragraph.trim(), { strong: "strip" })}*`);
			paragraph = null;
			continue;
		}

		const converted = convertLine(line, lists);
		out.push(converted.text);
		paragraph = converted.kind === "paragraph" ? line : null;
	}

	return out
		.map((line) => line.replace(/[ \t]+$/, ""))
		.join("\n")
		.replace(/\n{3,}/g, "\n\n")
		.replace(/^\n+|\n+$/g, "");
}

type LineKind = "paragraph" | "other";

/** One line outside code and tables: a rule, heading, quote, list item or paragraph text. */
function convertLine(line: string, lists: ListNesting): { text: string; kind: LineKind } {
	if (/^ {0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$/.test(line)) {
		lists.reset();
		return { text: RULE, kind: "other" };
	}

	const heading = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
	if (heading) {
		lists.reset();
		// Bold inside a heading would close Slack's bold early, so it is dropped.
		const text = convertInline(heading[1] ?? "", { strong: "strip" });
		return { text: text === "" ? "" : `*${text}*`, kind: "other" };
	}

	const quote = /^[ \t]*>/.exec(line);
	if (quote) {
		// Slack quotes have one level, so nested markers collapse into one.
		const inner = line.replace(/^([ \t]*>[ \t]?)+/, "");
		const text = inner.trim() === "" ? "" : convertLine(inner, new ListNesting()).text;
		return { text: text === "" ? ">" : `> ${text}`, kind: "other" };
	}

	const bullet = /^([ \t]*)[-*+][ \t]+(\S.*)$/.exec(line);
	if (bullet) {
		const level = lists.levelOf(width(bullet[1] ?? ""));
		const item = (bullet[2] ?? "").replace(/^\[( |x|X)\][ \t]+/, (_, mark: string) => (mark === " " ? "☐ " : "☑ "));
		return { text: `${LIST_INDENT.repeat(level)}• ${convertInline(item)}`, kind: "other" };
	}

	const numbered = /^([ \t]*)(\d{1,9})[.)][ \t]+(\S.*)$/.exec(line);
	if (numbered) {
		const level = lists.levelOf(width(numbered[1] ?? ""));
		return { text: `${LIST_INDENT.repeat(level)}${numbered[2]}. ${convertInline(numbered[3] ?? "")}`, kind: "other" };
	}

	const indent = width(/^[ \t]*/.exec(line)?.[0] ?? "");
	if (indent === 0) lists.reset();
	// Text indented under a list item continues that item, so it keeps the item's indentation.
	const level = indent > 0 ? lists.continuationLevel(indent) : 0;
	return { text: LIST_INDENT.repeat(level) + convertInline(line.trim()), kind: "paragraph" };
}

/**
 * Maps the source indentation of list items to nesting levels. Markdown nests
 * by 2, 3 or 4 spaces depending on the author, so levels come from the stack
 * of indentations seen so far rather than from a fixed width.
 */
class ListNesting {
	private indents: number[] = [];

	levelOf(indent: number): number {
		while (this.indents.length > 0 && (this.indents.at(-1) ?? 0) > indent) this.indents.pop();
		if (this.indents.length === 0 || (this.indents.at(-1) ?? 0) < indent) this.indents.push(indent);
		return this.indents.length - 1;
	}

	continuationLevel(indent: number): number {
		return this.indents.filter((i) => i < indent).length;
	}

	reset(): void {
		this.indents = [];
	}
}

function width(whitespace: string): number {
	return whitespace.replace(/\t/g, "    ").length;
}

/** An opening code fence: ``` or ~~~ (three or more), with an optional language tag. */
function openingFence(line: string): { indent: number; marker: string } | null {
	const match = /^([ \t]*)(`{3,}|~{3,})(.*)$/.exec(line);
	if (!match) return null;
	const marker = match[2] ?? "```";
	// "```a``` b" is inline code, not a fence: a backtick fence's info string has no backticks.
	if (marker.startsWith("`") && (match[3] ?? "").includes("`")) return null;
	return { indent: width(match[1] ?? ""), marker };
}

function closesFence(line: string, marker: string): boolean {
	const match = /^[ \t]*(`{3,}|~{3,})[ \t]*$/.exec(line);
	return !!match?.[1] && match[1][0] === marker[0] && match[1].length >= marker.length;
}

/** Removes the fence's own indentation from a code line, and no more. */
function dedent(line: string, indent: number): string {
	let removed = 0;
	let i = 0;
	while (i < line.length && removed < indent && (line[i] === " " || line[i] === "\t")) {
		removed += line[i] === "\t" ? 4 : 1;
		i++;
	}
	return line.slice(i);
}

function isTableDelimiter(line: string): boolean {
	return /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/.test(line) && line.includes("|");
}

/**
 * Slack has no tables. Each row becomes one line with its cells separated by
 * ` | `, the header row in bold; links and emphasis in cells keep working,
 * which they would not inside a code block.
 */
function convertTable(rows: string[]): string[] {
	return rows.map((row, index) => {
		const cells = splitCells(row).map((cell) => convertInline(cell, { strong: index === 0 ? "strip" : "bold" }));
		return cells.map((cell) => (index === 0 && cell !== "" ? `*${cell}*` : cell)).join(" | ");
	});
}

/** Splits a table row at its pipes, except escaped ones (`\|`) and those inside code spans. */
function splitCells(row: string): string[] {
	const cells: string[] = [];
	let cell = "";
	let ticks = 0;
	const text = row.trim();
	for (let i = 0; i < text.length; i++) {
		const char = text[i] ?? "";
		if (char === "\\" && text[i + 1] === "|") {
			// GFM: an escaped pipe is a pipe, in code spans too.
			cell += "|";
			i++;
		} else if (char === "`") {
			const run = /^`+/.exec(text.slice(i))?.[0] ?? "`";
			if (ticks === 0) ticks = run.length;
			else if (ticks === run.length) ticks = 0;
			cell += run;
			i += run.length - 1;
		} else if (char === "|" && ticks === 0) {
			cells.push(cell);
			cell = "";
		} else {
			cell += char;
		}
	}
	cells.push(cell);
	// The outer pipes of "| a | b |" delimit nothing.
	if (text.startsWith("|")) cells.shift();
	if (text.endsWith("|") && !text.endsWith("\\|") && cells.length > 1) cells.pop();
	return cells.map((c) => c.trim());
}

/**
 * Slack's three control characters, as the entities it expects. For any text
 * that goes into mrkdwn without passing through `markdownToMrkdwn`.
 *
 * @example
 * escapeEntities("AT&T <3") // "AT&amp;T &lt;3"
 */
export function escapeEntities(text: string): string {
	return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Entities an author may have typed in Markdown text, which Markdown shows as characters. */
const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeEntities(text: string): string {
	return text.replace(/&(amp|lt|gt|quot|apos|nbsp|#\d{1,6}|#x[0-9a-fA-F]{1,6});/g, (entity, name: string) => {
		if (name.startsWith("#")) {
			const code = name[1] === "x" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
			// The converter's own sentinels stay encoded: decoded, they would forge slots.
			const usable = code > 0 && code <= 0x10ffff && !(code >= 0xe000 && code <= 0xe004);
			return usable ? String.fromCodePoint(code) : entity;
		}
		return NAMED_ENTITIES[name] ?? entity;
	});
}

interface InlineOptions {
	/** `strip` drops `**`/`__` where the whole line is already bold (headings, table headers). @default "bold" */
	strong?: "bold" | "strip";
}

/**
 * Converts the inline Markdown of one line. Code spans, escapes, links and
 * URLs are converted first and parked in numbered slots, so that the emphasis
 * patterns that run afterwards cannot reach inside them; the slots are filled
 * back in at the end.
 */
function convertInline(text: string, options: InlineOptions = {}): string {
	const slots: string[] = [];
	const hold = (output: string): string => `${SLOT_OPEN}${slots.push(output) - 1}${SLOT_CLOSE}`;

	let s = holdCodeAndEscapes(text, hold);
	s = s.replace(/<((?:https?:\/\/|mailto:)[^\s<>]+)>/gi, (_, url: string) => hold(slackLink(url, "")));
	s = s.replace(MARKDOWN_LINK, (_, bang: string, label: string, url: string) =>
		hold(slackLink(url, bang ? escapeEntities(decodeEntities(label)) : emphasis(escapeText(label), options))),
	);
	s = s.replace(/\bhttps?:\/\/[^\s<>\uE000\uE001]+/gi, (url: string) => {
		const [bare, rest] = splitTrailingPunctuation(url);
		return hold(escapeEntities(bare)) + rest;
	});
	s = emphasis(escapeText(s), options);

	// A link label can hold slots of its own (code, escapes), so slots nest two deep, never more.
	for (let depth = 0; depth < 3 && s.includes(SLOT_OPEN); depth++) {
		s = s.replace(SLOT, (_, index: string) => slots[Number(index)] ?? "");
	}
	return s;
}

const LINK_LABEL = String.raw`((?:[^\[\]\n]|\[[^\[\]\n]*\])*)`;
const LINK_DESTINATION = String.raw`\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`;
/** `[label](url "title")` and `![alt](url)`; one level of brackets in the label, of parentheses in the URL. */
const MARKDOWN_LINK = new RegExp(String.raw`(!?)\[${LINK_LABEL}\]${LINK_DESTINATION}`, "g");

/**
 * Scans for backslash escapes and code spans, which Markdown resolves before
 * anything else: an escaped backtick opens no span, and inside a span a
 * backslash is just a backslash.
 */
function holdCodeAndEscapes(text: string, hold: (output: string) => string): string {
	let out = "";
	let i = 0;
	while (i < text.length) {
		const char = text[i] ?? "";
		if (char === "\\" && /[!-/:-@[-`{-~]/.test(text[i + 1] ?? "")) {
			out += hold(escapeEntities(text[i + 1] ?? ""));
			i += 2;
			continue;
		}
		if (char === "`") {
			const run = /^`+/.exec(text.slice(i))?.[0] ?? "`";
			const close = findClosingRun(text, i + run.length, run.length);
			if (close === -1) {
				// An unmatched run is literal text, all of it.
				out += run;
				i += run.length;
				continue;
			}
			out += hold(codeSpan(text.slice(i + run.length, close), run));
			i = close + run.length;
			continue;
		}
		out += char;
		i++;
	}
	return out;
}

/** The start of the next backtick run of exactly `length`, or -1. */
function findClosingRun(text: string, from: number, length: number): number {
	const runs = /`+/g;
	runs.lastIndex = from;
	for (let match = runs.exec(text); match; match = runs.exec(text)) {
		if (match[0].length === length) return match.index;
	}
	return -1;
}

function codeSpan(body: string, run: string): string {
	// CommonMark strips one space on each side, which exists so that a span can start or end with a backtick.
	const content = /^ .*[^ ].* $/.test(body) ? body.slice(1, -1) : body;
	// Slack only knows single backticks; code that contains one keeps its original delimiters.
	const ticks = content.includes("`") ? run : "`";
	return `${ticks}${escapeEntities(content)}${ticks}`;
}

/**
 * A Slack link `<url|label>`, or just the label when the URL is not one Slack
 * can open (relative, `javascript:`…). The label must already be mrkdwn, with
 * its entities escaped.
 *
 * @example
 * slackLink("https://example.com/?a=1&b=2", "Example") // "<https://example.com/?a=1&amp;b=2|Example>"
 * slackLink("/relative", "Example")                     // "Example"
 */
export function slackLink(url: string, label: string): string {
	if (!/^(?:https?:\/\/|mailto:)/i.test(url)) return label;
	// `|` and `>` would end the URL early; `&` is escaped like everywhere else and Slack decodes it.
	const href = url.replace(/&/g, "&amp;").replace(/</g, "%3C").replace(/>/g, "%3E").replace(/\|/g, "%7C");
	const text = label.replace(/\s+/g, " ").trim();
	return text === "" ? `<${href}>` : `<${href}|${text}>`;
}

/**
 * Separates sentence punctuation from the end of a bare URL, and a closing
 * parenthesis that has no opening one inside the URL: "(see https://x.y/a)."
 */
function splitTrailingPunctuation(url: string): [string, string] {
	const opening = url.split("(").length - 1;
	let closing = url.split(")").length - 1;
	// Only `]` and punctuation are ever stripped, so whether a `[` remains never changes.
	const bracketed = url.includes("[");
	let end = url.length;
	while (end > 0) {
		const last = url[end - 1] ?? "";
		if (/[.,;:!?'"*_~]/.test(last)) end--;
		else if (last === ")" && closing > opening) {
			end--;
			closing--;
		} else if (last === "]" && !bracketed) end--;
		else break;
	}
	return [url.slice(0, end), url.slice(end)];
}

function escapeText(text: string): string {
	return escapeEntities(decodeEntities(text));
}

/**
 * Markdown emphasis → Slack's: strong (`**`, `__`) → `*`, emphasis (`*`, `_`) →
 * `_`, strikethrough (`~~`) → `~`. Underscores inside words (snake_case) and
 * asterisks with spaces around them (`2 * 3`) are not emphasis.
 *
 * A span is at most 1000 characters: an unclosed marker then scans that far
 * and no further, so a pathological line (thousands of unclosed `**`) costs
 * time proportional to its length, not to its square.
 */
function emphasis(text: string, options: InlineOptions): string {
	const bold = options.strong === "strip" ? "" : BOLD;
	return text
		.replace(/\*\*\*(?=\S)([^\n]{0,1000}?\S)\*\*\*/g, `${bold}${ITALIC}$1${ITALIC}${bold}`)
		.replace(/\*\*(?=\S)([^\n]{0,1000}?\S)\*\*/g, `${bold}$1${bold}`)
		.replace(/(?<!\w)__(?=\S)([^\n]{0,1000}?\S)__(?!\w)/g, `${bold}$1${bold}`)
		.replace(/~~(?=\S)([^\n]{0,1000}?\S)~~/g, `${STRIKE}$1${STRIKE}`)
		.replace(/(?<![\w*])\*(?=[^\s*])([^\n]{0,1000}?[^\s*])\*(?![\w*])/g, `${ITALIC}$1${ITALIC}`)
		.replace(/(?<!\w)_(?=[^\s_])([^\n]{0,1000}?[^\s_])_(?!\w)/g, `${ITALIC}$1${ITALIC}`)
		.replace(new RegExp(BOLD, "g"), "*")
		.replace(new RegExp(ITALIC, "g"), "_")
		.replace(new RegExp(STRIKE, "g"), "~");
}
