/**
 * Block Kit messages for the Slack command: the answer (sections, chunking,
 * sources, the 50-block cut), the acknowledgement, usage and failure messages.
 * Every message is also checked against Slack's limits, since Slack refuses a
 * whole message when one block breaks one.
 */
import { describe, expect, it } from "vitest";
import {
	type AnswerInput,
	acknowledgement,
	answerMessage,
	type Block,
	type ContextBlock,
	errorMessage,
	MAX_BLOCKS,
	MAX_CONTEXT_ELEMENTS,
	MAX_HEADER_TEXT,
	MAX_SECTION_TEXT,
	type SlackMessage,
	splitMrkdwn,
	usageMessage,
} from "../../src/integrations/slack/blocks.ts";
import { markdownToMrkdwn } from "../../src/integrations/slack/mrkdwn.ts";

const RESULT_URL = "https://relay.example.com/v1/async/chat/completions/job_123";

function makeAnswer(overrides: Partial<AnswerInput> = {}): AnswerInput {
	return {
		question: "Why is the sky blue?",
		answerMarkdown: "The sky is blue because of **Rayleigh scattering** [1].",
		sources: makeSources(2),
		resultUrl: RESULT_URL,
		responseType: "in_channel",
		model: "sonar-deep-research",
		...overrides,
	};
}

function makeSources(count: number): AnswerInput["sources"] {
	return Array.from({ length: count }, (_, i) => ({ title: `Source ${i + 1}`, url: `https://example.com/s/${i + 1}` }));
}

/**
 * A Markdown answer of at least `chars` characters with what real answers
 * contain: headings, paragraphs with links and citations, lists, code, and one
 * paragraph of a single line longer than a section.
 */
function makeLongAnswer(chars: number): string {
	const filler = "Scattering grows with the fourth power of frequency, so blue light dominates the sky. ";
	const parts: string[] = [];
	for (let i = 1; parts.join("\n\n").length < chars; i++) {
		parts.push(`## Part ${i}`);
		parts.push(
			`Part ${i} explains **why** the *result* holds, per [a study with a long title ${i}](https://example.com/${i}?a=1&b=2) [${(i % 9) + 1}]. ${filler.repeat(8)}`,
		);
		parts.push(`- point ${i} with \`code_${i} < limit\`\n- another point\n  - a nested detail`);
		parts.push(`1. first step of ${i}\n2. second step`);
		parts.push(`\`\`\`js\nconst value${i} = compute(a < b);\nconsole.log(value${i});\n\`\`\``);
		if (i === 3) parts.push(`One very long line: ${`${filler}[see](https://example.com/long) `.repeat(50)}`);
	}
	return parts.join("\n\n");
}

const withoutWhitespace = (text: string) => text.replace(/\s+/g, "");

/** The sections that carry the answer: between the divider and the first context block. */
function answerSections(message: SlackMessage): string[] {
	const start = message.blocks.findIndex((block) => block.type === "divider") + 1;
	const texts: string[] = [];
	for (const block of message.blocks.slice(start)) {
		if (block.type !== "section") break;
		texts.push(block.text.text);
	}
	return texts;
}

function contextBlocks(message: SlackMessage): ContextBlock[] {
	return message.blocks.filter((block): block is ContextBlock => block.type === "context");
}

function blockTexts(block: Block): string[] {
	if (block.type === "section" || block.type === "header") return [block.text.text];
	if (block.type === "context") return block.elements.map((element) => element.text);
	return [];
}

/** Slack's limits, all of them, on any message. */
function expectWithinSlackLimits(message: SlackMessage): void {
	expect(message.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
	expect(message.text.length).toBeGreaterThan(0);
	expect(message.text.length).toBeLessThanOrEqual(3000);
	for (const block of message.blocks) {
		if (block.type === "header") {
			expect(block.text.type).toBe("plain_text");
			expect(block.text.text.length).toBeLessThanOrEqual(MAX_HEADER_TEXT);
		}
		if (block.type === "context") {
			expect(block.elements.length).toBeGreaterThan(0);
			expect(block.elements.length).toBeLessThanOrEqual(MAX_CONTEXT_ELEMENTS);
		}
		for (const text of blockTexts(block)) {
			expect(text.trim().length).toBeGreaterThan(0);
			expect(text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
		}
	}
}

describe("answerMessage", () => {
	it("shows the question, a divider, the converted answer, the sources and a footer", () => {
		const message = answerMessage(makeAnswer());
		expect(message).toEqual({
			response_type: "in_channel",
			replace_original: false,
			text: "Why is the sky blue?\n\nThe sky is blue because of *Rayleigh scattering* [1].",
			blocks: [
				{ type: "header", text: { type: "plain_text", text: "Why is the sky blue?", emoji: true } },
				{ type: "divider" },
				{ type: "section", text: { type: "mrkdwn", text: "The sky is blue because of *Rayleigh scattering* [1]." } },
				{
					type: "context",
					elements: [
						{ type: "mrkdwn", text: "1. <https://example.com/s/1|Source 1>" },
						{ type: "mrkdwn", text: "2. <https://example.com/s/2|Source 2>" },
					],
				},
				{
					type: "context",
					elements: [
						{ type: "mrkdwn", text: "Answered by sonar-deep-research" },
						{ type: "mrkdwn", text: `<${RESULT_URL}|Full result>` },
					],
				},
			],
		});
	});

	it("passes the response type through", () => {
		expect(answerMessage(makeAnswer({ responseType: "ephemeral" })).response_type).toBe("ephemeral");
	});

	it("cuts a long question for the header and repeats it in full below", () => {
		const question = `What ${"really ".repeat(40)}happened?`;
		const message = answerMessage(makeAnswer({ question }));
		expectWithinSlackLimits(message);
		const [header, full] = message.blocks;
		expect(header?.type === "header" && header.text.text.endsWith("…")).toBe(true);
		expect(full).toEqual({ type: "section", text: { type: "mrkdwn", text: question } });
	});

	it("leaves out the reasoning that reasoning models put before the answer", () => {
		const message = answerMessage(makeAnswer({ answerMarkdown: "<think>\nLet me search.\n</think>\n\n**Yes.**" }));
		expect(answerSections(message)).toEqual(["*Yes.*"]);
	});

	it("says so when the answer is empty", () => {
		const message = answerMessage(makeAnswer({ answerMarkdown: "  " }));
		expectWithinSlackLimits(message);
		expect(answerSections(message)).toEqual(["_The answer was empty._"]);
	});

	describe("a 20,000-character answer", () => {
		const markdown = makeLongAnswer(20_000);
		const message = answerMessage(makeAnswer({ answerMarkdown: markdown }));
		const sections = answerSections(message);

		it("fits Slack's limits: no section over 3000 characters, at most 50 blocks", () => {
			expect(markdown.length).toBeGreaterThanOrEqual(20_000);
			expectWithinSlackLimits(message);
			expect(sections.length).toBeGreaterThan(6);
		});

		it("loses no text: the sections joined are the converted answer, up to the whitespace at the cuts", () => {
			expect(withoutWhitespace(sections.join(""))).toBe(withoutWhitespace(markdownToMrkdwn(markdown)));
		});

		it("cuts neither inside a link nor inside a code block", () => {
			for (const text of sections) {
				// Text is escaped, so the only < and > left are the links' own.
				expect(text.split("<").length).toBe(text.split(">").length);
				expect(text.split("```").length % 2).toBe(1);
			}
		});

		it("cuts at paragraph boundaries where it can", () => {
			const converted = markdownToMrkdwn(markdown);
			// Apart from the one over-long line, every section ends where a paragraph ends.
			const endsAtParagraph = sections.filter((text) => converted.includes(`${text}\n\n`) || converted.endsWith(text));
			expect(endsAtParagraph.length).toBeGreaterThanOrEqual(sections.length - 2);
		});
	});

	describe("a 200,000-character answer", () => {
		const message = answerMessage(makeAnswer({ answerMarkdown: makeLongAnswer(200_000), sources: makeSources(14) }));
		const sections = answerSections(message);

		it("is cut to 50 blocks, sources and footer included", () => {
			expectWithinSlackLimits(message);
			expect(message.blocks).toHaveLength(MAX_BLOCKS);
			expect(contextBlocks(message)).toHaveLength(3);
		});

		it("ends the answer with a note that links to the full result", () => {
			expect(sections.at(-1)).toBe(
				`_The answer is too long for Slack and was cut here._ <${RESULT_URL}|Read the full answer>`,
			);
		});

		it("says where to get the full answer when there is no result URL to link", () => {
			const unlinked = answerMessage(makeAnswer({ answerMarkdown: makeLongAnswer(200_000), resultUrl: undefined }));
			expectWithinSlackLimits(unlinked);
			expect(answerSections(unlinked).at(-1)).toBe(
				"_The answer is too long for Slack and was cut here._ The full answer can be fetched from the API.",
			);
		});

		it("keeps a fallback text of at most 3000 characters", () => {
			expect(message.text.startsWith("Why is the sky blue?\n\n")).toBe(true);
			expect(message.text.length).toBeLessThanOrEqual(3000);
		});
	});

	describe("sources", () => {
		it("numbers 14 sources 1..14 in context blocks of at most 10 links", () => {
			const message = answerMessage(makeAnswer({ sources: makeSources(14), resultUrl: undefined, model: undefined }));
			expectWithinSlackLimits(message);
			const blocks = contextBlocks(message);
			expect(blocks.map((block) => block.elements.length)).toEqual([10, 4]);
			expect(blocks.flatMap((block) => block.elements.map((element) => element.text))).toEqual(
				Array.from({ length: 14 }, (_, i) => `${i + 1}. <https://example.com/s/${i + 1}|Source ${i + 1}>`),
			);
		});

		it("keeps the given order and duplicates, so that numbers match the [n] markers", () => {
			const sources = [{ url: "https://b.example/x" }, { url: "https://a.example/y" }, { url: "https://b.example/x" }];
			const message = answerMessage(makeAnswer({ sources, model: undefined, resultUrl: undefined }));
			expect(contextBlocks(message)[0]?.elements.map((element) => element.text)).toEqual([
				"1. <https://b.example/x|b.example>",
				"2. <https://a.example/y|a.example>",
				"3. <https://b.example/x|b.example>",
			]);
		});

		it("escapes titles and falls back to the host name, then to plain text for a URL Slack cannot open", () => {
			const sources = [
				{ title: "Q&A <live>", url: "https://www.example.com/qa" },
				{ title: "  ", url: "https://www.example.org/" },
				{ title: "Local", url: "file:///etc/hosts" },
			];
			const message = answerMessage(makeAnswer({ sources, model: undefined, resultUrl: undefined }));
			expect(contextBlocks(message)[0]?.elements.map((element) => element.text)).toEqual([
				"1. <https://www.example.com/qa|Q&amp;A &lt;live&gt;>",
				"2. <https://www.example.org/|example.org>",
				"3. Local",
			]);
		});

		it("shows at most 50 sources and counts the rest", () => {
			const message = answerMessage(makeAnswer({ sources: makeSources(60), model: undefined, resultUrl: undefined }));
			expectWithinSlackLimits(message);
			const elements = contextBlocks(message).flatMap((block) => block.elements);
			expect(elements).toHaveLength(50);
			expect(elements.at(-1)?.text).toBe("…and 11 more");
		});

		it("adds no context block for no sources", () => {
			const message = answerMessage(makeAnswer({ sources: [], model: undefined, resultUrl: undefined }));
			expect(contextBlocks(message)).toEqual([]);
		});
	});
});

describe("splitMrkdwn", () => {
	it("returns text that fits as it is", () => {
		expect(splitMrkdwn("short\n\ntext")).toEqual(["short\n\ntext"]);
	});

	it("closes and reopens a code block that must be cut", () => {
		const code = Array.from({ length: 600 }, (_, i) => `line ${i} = compute(${i});`).join("\n");
		const pieces = splitMrkdwn(`Intro.\n\n\`\`\`\n${code}\n\`\`\``);
		expect(pieces.length).toBeGreaterThan(1);
		expect(pieces[0]?.startsWith("Intro.\n\n```\n")).toBe(true);
		for (const piece of pieces) {
			expect(piece.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
			expect(piece.endsWith("\n```")).toBe(true);
			expect(piece.split("```")).toHaveLength(3);
		}
		for (const piece of pieces.slice(1)) expect(piece.startsWith("```\n")).toBe(true);
		const lines = pieces.flatMap((piece) => piece.split("\n")).filter((line) => line.startsWith("line "));
		expect(lines.join("\n")).toBe(code);
	});

	it("cuts a word longer than a section without splitting an entity", () => {
		const pieces = splitMrkdwn("&amp;".repeat(1500));
		expect(pieces.join("")).toBe("&amp;".repeat(1500));
		for (const piece of pieces) {
			expect(piece.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
			expect(piece).toMatch(/^(&amp;)+$/);
		}
	});

	it("keeps a link whole when cutting between words", () => {
		const line = `${"word ".repeat(595)}<https://example.com/a|a link with spaces> end`;
		const pieces = splitMrkdwn(line);
		expect(pieces.length).toBe(2);
		expect(pieces[1]).toBe("<https://example.com/a|a link with spaces> end");
	});
});

describe("acknowledgement", () => {
	it("tells the user, privately, that the research started", () => {
		const message = acknowledgement("Why is the sky blue?", { model: "sonar-pro" });
		expectWithinSlackLimits(message);
		expect(message).toEqual({
			response_type: "ephemeral",
			text: "Researching: Why is the sky blue?…",
			blocks: [
				{ type: "section", text: { type: "mrkdwn", text: "Researching: Why is the sky blue?…" } },
				{
					type: "context",
					elements: [{ type: "mrkdwn", text: "sonar-pro · the answer will be posted here when it is ready." }],
				},
			],
		});
	});

	it("warns about Slack's 30-minute window for a long-running model", () => {
		const message = acknowledgement("Survey the literature", { model: "sonar-deep-research", longRunning: true });
		expectWithinSlackLimits(message);
		expect(message.response_type).toBe("ephemeral");
		expect(message.blocks).toHaveLength(3);
		const note = message.blocks.at(-1);
		expect(note?.type).toBe("section");
		const text = note?.type === "section" ? note.text.text : "";
		expect(text).toContain("5 posts");
		expect(text).toContain("30 minutes");
		expect(text).toContain("API");
	});

	it("shortens a long question at a word and escapes it", () => {
		const message = acknowledgement(`Is 1 < 2 & ${"very ".repeat(100)}sure?`, { model: "sonar" });
		expectWithinSlackLimits(message);
		expect(message.text).toMatch(/^Researching: Is 1 &lt; 2 &amp; (very )+very…$/);
		expect(message.text.length).toBeLessThan(250);
	});
});

describe("usageMessage", () => {
	it("explains the command privately", () => {
		const message = usageMessage("/ask");
		expectWithinSlackLimits(message);
		expect(message.response_type).toBe("ephemeral");
		expect(message.text).toBe("Usage: /ask [preset:fast|low|medium|high|xhigh] &lt;question&gt;");
		expect(message.blocks.flatMap(blockTexts).join("\n")).toContain("`/ask What changed");
		expect(message.blocks.flatMap(blockTexts).join("\n")).toContain("`/ask preset:medium What changed");
	});

	it("says what was wrong first, when something was", () => {
		const message = usageMessage("/ask", 'Unknown preset "deepest".');
		expectWithinSlackLimits(message);
		expect(message.text).toMatch(/^Unknown preset "deepest"\. Usage:/);
		expect(blockTexts(message.blocks[0] ?? { type: "divider" })[0]).toBe('Unknown preset "deepest".');
	});
});

describe("errorMessage", () => {
	it("reports the failure privately, as a new message", () => {
		const message = errorMessage("Why is the sky blue?", "Upstream <timeout> after 3600 s");
		expectWithinSlackLimits(message);
		expect(message).toMatchObject({ response_type: "ephemeral", replace_original: false });
		expect(message.blocks).toEqual([
			{
				type: "section",
				text: { type: "mrkdwn", text: ":warning: Sorry, the research failed for *Why is the sky blue?*" },
			},
			{ type: "section", text: { type: "mrkdwn", text: "Upstream &lt;timeout&gt; after 3600 s" } },
		]);
	});

	it("shortens a very long error", () => {
		const message = errorMessage("q", "x ".repeat(5000));
		expectWithinSlackLimits(message);
		expect(blockTexts(message.blocks[1] ?? { type: "divider" })[0]?.length).toBeLessThanOrEqual(500);
	});
});
