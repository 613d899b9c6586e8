/**
 * Markdown → Slack mrkdwn: a whole answer as Perplexity writes one, then each
 * construct on its own, including what must pass through untouched.
 */
import { describe, expect, it } from "vitest";
import { escapeEntities, markdownToMrkdwn, RULE, slackLink } from "../../src/integrations/slack/mrkdwn.ts";

/** Joins lines, so that fixtures read as the documents they are. */
const lines = (...parts: string[]) => parts.join("\n");

describe("markdownToMrkdwn", () => {
	it("converts a typical answer: heading, bold, italics, link, lists, inline code and a fenced block", () => {
		const answer = lines(
			"# Quarterly summary",
			"",
			"Revenue grew **12%** year over year, driven by *enterprise* demand [1][2].",
			"See the [annual report](https://example.com/report?year=2024&q=4) for details.",
			"",
			"## Highlights",
			"- New regions: _EU_ and __APAC__",
			"- Costs < budget & on track",
			"  - Build with `npm run build -- --minify`",
			"",
			"1. Ship the API",
			"2. Write the docs",
			"",
			"```ts",
			'const ok = a < b && "**not bold**";',
			"// [not a link](https://example.com)",
			"```",
		);
		expect(markdownToMrkdwn(answer)).toBe(
			lines(
				"*Quarterly summary*",
				"",
				"Revenue grew *12%* year over year, driven by _enterprise_ demand [1][2].",
				"See the <https://example.com/report?year=2024&amp;q=4|annual report> for details.",
				"",
				"*Highlights*",
				"• New regions: _EU_ and *APAC*",
				"• Costs &lt; budget &amp; on track",
				"    • Build with `npm run build -- --minify`",
				"",
				"1. Ship the API",
				"2. Write the docs",
				"",
				"```",
				'const ok = a &lt; b &amp;&amp; "**not bold**";',
				"// [not a link](https://example.com)",
				"```",
			),
		);
	});

	describe("emphasis", () => {
		it.each([
			["**bold**", "*bold*"],
			["__bold__", "*bold*"],
			["*italic*", "_italic_"],
			["_italic_", "_italic_"],
			["***both***", "*_both_*"],
			["~~gone~~", "~gone~"],
			["**bold with _italic_ inside**", "*bold with _italic_ inside*"],
			["a *b* and *c*", "a _b_ and _c_"],
		])("converts %j to %j", (markdown, mrkdwn) => {
			expect(markdownToMrkdwn(markdown)).toBe(mrkdwn);
		});

		it.each([
			["snake_case_name and file_name.py", "snake_case_name and file_name.py"],
			["2 * 3 * 4 = 24", "2 * 3 * 4 = 24"],
			["**unclosed bold", "**unclosed bold"],
			[String.raw`\*literal asterisks\*`, "*literal asterisks*"],
		])("leaves what is not emphasis alone: %j", (markdown, mrkdwn) => {
			expect(markdownToMrkdwn(markdown)).toBe(mrkdwn);
		});
	});

	describe("headings", () => {
		it.each([1, 2, 3, 4, 5, 6])("turns a level-%i heading into a bold line", (level) => {
			expect(markdownToMrkdwn(`${"#".repeat(level)} Title`)).toBe("*Title*");
		});

		it("drops bold inside a heading, which would end Slack's bold early, and keeps italics", () => {
			expect(markdownToMrkdwn("## The **key** _point_ ##")).toBe("*The key _point_*");
		});

		it("reads setext headings", () => {
			expect(markdownToMrkdwn(lines("Title", "=====", "Text"))).toBe(lines("*Title*", "Text"));
		});

		it("leaves a hashtag without a space as text", () => {
			expect(markdownToMrkdwn("#general is the channel")).toBe("#general is the channel");
		});
	});

	describe("links", () => {
		it.each([
			["[docs](https://example.com/a)", "<https://example.com/a|docs>"],
			['[docs](https://example.com/a "Title")', "<https://example.com/a|docs>"],
			["[wiki](https://en.wikipedia.org/wiki/Rust_(language))", "<https://en.wikipedia.org/wiki/Rust_(language)|wiki>"],
			["[**bold** label](https://example.com)", "<https://example.com|*bold* label>"],
			["[a & b](https://example.com/?x=1&y=2)", "<https://example.com/?x=1&amp;y=2|a &amp; b>"],
			["![a chart](https://example.com/chart.png)", "<https://example.com/chart.png|a chart>"],
			["<https://example.com/auto>", "<https://example.com/auto>"],
			["[relative](/docs/page)", "relative"],
			["[script](javascript:alert(1))", "script"],
		])("converts %j to %j", (markdown, mrkdwn) => {
			expect(markdownToMrkdwn(markdown)).toBe(mrkdwn);
		});

		it("keeps bare URLs as they are, underscores and trailing punctuation included", () => {
			expect(markdownToMrkdwn("See https://example.com/some_path_here. Or (https://example.com/a_b_c).")).toBe(
				"See https://example.com/some_path_here. Or (https://example.com/a_b_c).",
			);
		});

		it("keeps citation markers", () => {
			expect(markdownToMrkdwn("Water boils at 100 °C [1][3], at sea level [12].")).toBe(
				"Water boils at 100 °C [1][3], at sea level [12].",
			);
		});
	});

	describe("lists", () => {
		it("turns -, * and + items into bullets and indents nested ones by level", () => {
			expect(markdownToMrkdwn(lines("- one", "  * two", "    + three", "  - two again", "- one again"))).toBe(
				lines("• one", "    • two", "        • three", "    • two again", "• one again"),
			);
		});

		it("keeps the numbers of numbered lists", () => {
			expect(markdownToMrkdwn(lines("1. first", "2) second", "   1. nested"))).toBe(
				lines("1. first", "2. second", "    1. nested"),
			);
		});

		it("shows task list boxes", () => {
			expect(markdownToMrkdwn(lines("- [ ] to do", "- [x] done"))).toBe(lines("• ☐ to do", "• ☑ done"));
		});
	});

	describe("code", () => {
		it("converts nothing inside inline code", () => {
			expect(markdownToMrkdwn("Run `**x** _y_ [z](https://z.com)` now")).toBe("Run `**x** _y_ [z](https://z.com)` now");
		});

		it("drops the language tag of a fence and keeps blank lines and indentation inside it", () => {
			expect(markdownToMrkdwn(lines("~~~python", "def f():", "", "    return 1", "~~~"))).toBe(
				lines("```", "def f():", "", "    return 1", "```"),
			);
		});

		it("closes a fence the answer left open", () => {
			expect(markdownToMrkdwn(lines("```", "tail -f log"))).toBe(lines("```", "tail -f log", "```"));
		});

		it("takes a fence indented under a list item out of the list", () => {
			expect(markdownToMrkdwn(lines("- step:", "   ```bash", "   npm test", "   ```"))).toBe(
				lines("• step:", "```", "npm test", "```"),
			);
		});
	});

	describe("blocks", () => {
		it("keeps blockquotes, with one level of quoting", () => {
			expect(markdownToMrkdwn(lines("> **Note**: quoted", ">> deeper", ">"))).toBe(
				lines("> *Note*: quoted", "> deeper", ">"),
			);
		});

		it.each([["---"], ["***"], ["___"], ["- - -"]])("turns the rule %j into a line", (rule) => {
			expect(markdownToMrkdwn(lines("above", "", rule, "below"))).toBe(lines("above", "", RULE, "below"));
		});

		it("renders a table as one line per row, the header in bold", () => {
			const table = lines(
				"| Model | Context |",
				"|:------|--------:|",
				"| `sonar` | 128k |",
				"| [pro](https://x.ai) | 200k |",
			);
			expect(markdownToMrkdwn(table)).toBe(lines("*Model* | *Context*", "`sonar` | 128k", "<https://x.ai|pro> | 200k"));
		});

		it("collapses runs of blank lines and trims the ends", () => {
			expect(markdownToMrkdwn("\n\n  \nfirst\n\n\n\nsecond\n\n")).toBe("first\n\nsecond");
		});

		it("normalises Windows line endings", () => {
			expect(markdownToMrkdwn("# Title\r\n- item\r\n")).toBe("*Title*\n• item");
		});
	});

	describe("escaping", () => {
		it("escapes Slack's control characters in text", () => {
			expect(markdownToMrkdwn("AT&T says 1 < 2 > 0")).toBe("AT&amp;T says 1 &lt; 2 &gt; 0");
		});

		it("cannot be used to mention @channel or a user", () => {
			expect(markdownToMrkdwn("Ping <!channel> and <@U123>")).toBe("Ping &lt;!channel&gt; and &lt;@U123&gt;");
		});

		it("reads entities in the Markdown as the characters they stand for", () => {
			expect(markdownToMrkdwn("Tom &amp; Jerry &lt;3 &quot;ok&quot; &#8212;")).toBe('Tom &amp; Jerry &lt;3 "ok" —');
		});

		it("is not confused by entities for private-use characters", () => {
			expect(markdownToMrkdwn("[&#57344;0&#57345;](https://x.example) `a`")).toBe(
				"<https://x.example|&amp;#57344;0&amp;#57345;> `a`",
			);
		});
	});
});

describe("slackLink", () => {
	it("escapes what would end the link early", () => {
		expect(slackLink("https://example.com/a|b?c=<d>&e", "label")).toBe(
			"<https://example.com/a%7Cb?c=%3Cd%3E&amp;e|label>",
		);
	});

	it("returns the label alone for a URL Slack cannot open", () => {
		expect(slackLink("ftp://example.com", "label")).toBe("label");
	});
});

describe("escapeEntities", () => {
	it("escapes exactly &, < and >", () => {
		expect(escapeEntities(`<a href="x">'&'</a>`)).toBe(`&lt;a href="x"&gt;'&amp;'&lt;/a&gt;`);
	});
});
