/**
 * The dashboard's answer renderer, evaluated from the exact text the browser
 * gets (`src/public/dashboard/markdown.js`, the first part of `/dashboard/app.js`):
 * the Markdown subset it renders, and, for any input at all, that its output
 * holds only the tags and attributes it writes itself.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const MARKDOWN_JS = readFileSync(
	join(import.meta.dirname, "..", "..", "src", "public", "dashboard", "markdown.js"),
	"utf8",
);

type Render = (markdown: string, options?: { citations?: string[] }) => string;
const renderMarkdown = new Function(`${MARKDOWN_JS}\nreturn renderMarkdown;`)() as Render;

const ALLOWED_TAGS = new Set([
	"p",
	"h3",
	"h4",
	"h5",
	"h6",
	"strong",
	"em",
	"code",
	"pre",
	"ul",
	"ol",
	"li",
	"a",
	"sup",
	"blockquote",
	"hr",
	"div",
	"table",
	"thead",
	"tbody",
	"tr",
	"th",
	"td",
]);
const VOID_TAGS = new Set(["hr"]);
const ALLOWED_ATTRIBUTE =
	/^(href="https?:\/\/[^"<>\s]*"|rel="noopener noreferrer"|target="_blank"|class="(cite|table-wrap|align-right|align-center|language-[\w-]*)"|aria-label="Source \d+"|start="\d+")$/;
const TAG = /<(\/?)([a-z0-9]+)((?:\s+[a-z-]+="[^"]*")*)\s*>/g;

/** Every problem with `html`: unknown tags or attributes, stray markup characters, unbalanced tags. */
function markupProblems(html: string): string[] {
	const problems: string[] = [];
	const open: string[] = [];
	for (const [, closing, name = "", attributes = ""] of html.matchAll(TAG)) {
		if (!ALLOWED_TAGS.has(name)) problems.push(`tag <${name}>`);
		for (const attribute of attributes
			.trim()
			.split(/\s+(?=[a-z-]+=)/)
			.filter(Boolean)) {
			if (!ALLOWED_ATTRIBUTE.test(attribute)) problems.push(`attribute ${attribute} on <${name}>`);
		}
		if (VOID_TAGS.has(name)) continue;
		if (closing) {
			if (open.pop() !== name) problems.push(`unbalanced </${name}>`);
		} else {
			open.push(name);
		}
	}
	if (open.length > 0) problems.push(`unclosed ${open.join(", ")}`);
	const text = html.replace(TAG, "");
	if (/[<>"']/.test(text))
		problems.push(`unescaped markup in text: ${JSON.stringify(text.match(/.{0,20}[<>"'].{0,20}/)?.[0])}`);
	return problems;
}

describe("renderMarkdown", () => {
	it("renders the subset an answer uses: headings, emphasis, code, lists, links, tables", () => {
		const html = renderMarkdown(
			[
				"## Result",
				"",
				"**Yes**, *mostly* and _often_, see `fetch()` and [the docs](https://example.com/docs?a=1&b=2).",
				"",
				"- one",
				"  - nested",
				"- two",
				"",
				"3. third",
				"4. fourth",
				"",
				"| name | value |",
				"|:-----|------:|",
				"| a | 1 |",
				"",
				"```ts",
				"const x = 1 < 2;",
				"```",
			].join("\n"),
		);
		expect(html).toContain("<h3>Result</h3>");
		expect(html).toContain("<strong>Yes</strong>, <em>mostly</em> and <em>often</em>");
		expect(html).toContain("<code>fetch()</code>");
		expect(html).toContain(
			'<a href="https://example.com/docs?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">the docs</a>',
		);
		expect(html.replace(/\n/g, "")).toContain("<ul><li>one<ul><li>nested</li></ul></li><li>two</li></ul>");
		expect(html).toContain('<ol start="3"><li>');
		expect(html).toContain('<th class="align-right">value</th>');
		expect(html).toContain('<pre><code class="language-ts">const x = 1 &lt; 2;</code></pre>');
		expect(markupProblems(html)).toEqual([]);
	});

	it("shifts headings so the answer's top level is an h3", () => {
		expect(renderMarkdown("# Top\n\n## Next\n\n###### Deep")).toBe("<h3>Top</h3>\n<h4>Next</h4>\n<h6>Deep</h6>");
		expect(renderMarkdown("### Only\n\n#### Below")).toBe("<h3>Only</h3>\n<h4>Below</h4>");
	});

	it("shows raw HTML as text", () => {
		const html = renderMarkdown('<script>alert(1)</script><img src=x onerror="alert(1)"> & "quotes"');
		expect(html).toBe(
			"<p>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;quotes&quot;</p>",
		);
	});

	it("links only http and https URLs, and escapes what it links", () => {
		for (const href of [
			"javascript:alert(1)",
			"JAVASCRIPT:alert(1)",
			"data:text/html,<b>x</b>",
			"/relative",
			"//evil.example",
		]) {
			const html = renderMarkdown(`[click](${href})`);
			expect(html, href).not.toContain("<a");
			expect(html, href).toContain("click");
		}
		const quoted = renderMarkdown('[x](https://example.com/"onmouseover="alert(1))');
		expect(quoted).not.toMatch(/"\s*onmouseover=/);
		expect(markupProblems(quoted)).toEqual([]);
		expect(renderMarkdown("see https://example.com/a_b_c.")).toBe(
			'<p>see <a href="https://example.com/a_b_c" rel="noopener noreferrer" target="_blank">https://example.com/a_b_c</a>.</p>',
		);
	});

	it("links citation markers to http(s) citations only", () => {
		const html = renderMarkdown("Fact [1][2][3].", {
			citations: ["https://one.example/", "javascript:alert(1)"],
		});
		expect(html).toBe(
			'<p>Fact <sup class="cite"><a href="https://one.example/" rel="noopener noreferrer" target="_blank" aria-label="Source 1">[1]</a></sup>[2][3].</p>',
		);
	});

	it("keeps code literal: no emphasis or links inside", () => {
		expect(renderMarkdown("`**not bold** [x](https://a.example)`")).toBe(
			"<p><code>**not bold** [x](https://a.example)</code></p>",
		);
	});

	it("renders long text full of unclosed markers, each scanned a bounded distance", () => {
		const text = "**a __b *c [e](f ".repeat(5_000);
		expect(renderMarkdown(text)).toBe(`<p>${text.trim()}</p>`);
	});

	it("the markup check itself catches foreign tags, attributes, stray quotes and unbalanced tags", () => {
		expect(markupProblems("<p><script>x</script></p>")).toContain("tag <script>");
		expect(markupProblems('<a href="javascript:x">x</a>')).toHaveLength(1);
		expect(markupProblems('<p onclick="x">x</p>')).toHaveLength(1);
		expect(markupProblems('<p>a"b</p>')).toHaveLength(1);
		expect(markupProblems("<p><em>x</p></em>")).not.toEqual([]);
		expect(markupProblems("<p>x")).toEqual(["unclosed p"]);
	});

	it("writes only its own tags and attributes, balanced, whatever the input", () => {
		const pieces = fc.constantFrom(
			"*",
			"**",
			"_",
			"__",
			"`",
			"```",
			"[",
			"]",
			"(",
			")",
			"](",
			"<",
			">",
			'"',
			"'",
			"&",
			"\\",
			"|",
			"---",
			"- ",
			"1. ",
			"  ",
			"#",
			"## ",
			"> ",
			"\n",
			"\n\n",
			"javascript:alert(1)",
			"https://example.com/x?a=1&b=2",
			"http://a.example/'\"><svg onload=alert(1)>",
			"<script>",
			"<img src=x onerror=alert(1)>",
			"[1]",
			"[2]",
			"word",
			" ",
		);
		const markdown = fc.oneof(
			fc.array(pieces, { maxLength: 60 }).map((parts) => parts.join("")),
			fc.string(),
		);
		const citations = fc.array(fc.oneof(fc.webUrl(), fc.constant("javascript:alert(1)"), fc.string()), {
			maxLength: 3,
		});
		fc.assert(
			fc.property(markdown, citations, (text, cited) => {
				expect(markupProblems(renderMarkdown(text, { citations: cited }))).toEqual([]);
			}),
			{ numRuns: 1000 },
		);
	});
});
