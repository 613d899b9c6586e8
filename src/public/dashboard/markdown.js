// @ts-check
/**
 * The dashboard's answer renderer: a small Markdown subset to HTML, safe by
 * construction. It runs in the browser, so it ships as the source of a script
 * (`MARKDOWN_JS`, defining `renderMarkdown`), prepended to the dashboard's client.
 *
 * Every piece of the answer's text goes through `escapeHtml`; the only markup in
 * the output is what the renderer writes itself: paragraphs, headings, bold,
 * italics, inline and fenced code, lists, block quotes, rules, GFM tables, and
 * links. A link keeps its `href` only for an `http:`/`https:` URL (parsed and
 * normalised), always with `rel="noopener noreferrer"`; anything else (`javascript:`,
 * `data:`, relative URLs) is shown as its text. Citation markers `[n]` link to the
 * n-th citation under the same rule. No attribute ever carries the answer's text
 * except such an `href`. Raw HTML in the answer is shown as text.
 *
 * Headings are shifted so the answer's top heading is an `<h3>` (the page has its
 * `<h1>` and the answer's section an `<h2>`), keeping the document outline sound.
 *
 * A real file under the Workers static assets (`src/public/`): the Worker serves it as
 * the first part of `/dashboard/app.js`, and the Node tests evaluate this same text.
 */
// biome-ignore lint/correctness/noUnusedVariables: a global of this classic script, called by app.js
var renderMarkdown = (function () {
	"use strict";

	/** @type {Record<string, string>} */
	var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

	/** @param {string} text */
	function escapeHtml(text) {
		return String(text).replace(/[&<>"']/g, function (ch) {
			return ESCAPES[ch];
		});
	}

	/**
	 * The URL normalised, if it is absolute http(s); null for every other scheme or a malformed URL.
	 *
	 * @param {string} raw
	 * @returns {string | null}
	 */
	function safeUrl(raw) {
		var text = String(raw).trim();
		if (text.charAt(0) === "<" && text.charAt(text.length - 1) === ">") text = text.slice(1, -1);
		if (!/^https?:\/\//i.test(text)) return null;
		var url;
		try {
			url = new URL(text);
		} catch (_error) {
			return null;
		}
		return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
	}

	/**
	 * @param {string} href
	 * @param {string} innerHtml
	 * @param {string} [extra]
	 */
	function anchor(href, innerHtml, extra) {
		return (
			'<a href="' +
			escapeHtml(href) +
			'" rel="noopener noreferrer" target="_blank"' +
			(extra || "") +
			">" +
			innerHtml +
			"</a>"
		);
	}

	// One alternative per inline construct; the leftmost match wins, then the earliest alternative.
	// Spans are bounded in length so that an unclosed marker costs a bounded scan, not the rest of the text.
	var INLINE = [
		/\\([!-/:-@[-\u0060{-~])/.source, // 1: a backslash escape
		/(\u0060+)([\s\S]{0,2000}?[^\u0060])\2(?!\u0060)/.source, // 2, 3: a code span
		/\[((?:[^[\]\n]|\[[^[\]\n]*\])+)\]\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+"[^"\n]*")?\s*\)/.source, // 4, 5: a link
		/\[(\d{1,3})\]/.source, // 6: a citation marker
		/(https?:\/\/[^\s<>"'\u0060]+)/.source, // 7: a bare URL
		/\*\*(?=\S)([\s\S]{0,1000}?\S)\*\*/.source, // 8: bold
		/__(?=\S)([\s\S]{0,1000}?\S)__(?!\w)/.source, // 9: bold
		/\*(?=[^\s*])([^*]{0,1000}?[^\s*])\*/.source, // 10: italics
		/(?<![\w\\])_(?=[^\s_])([^_]{0,1000}?[^\s_])_(?!\w)/.source, // 11: italics
	].join("|");

	/**
	 * @param {string} text
	 * @param {{ citations: ReadonlyArray<unknown> }} ctx
	 * @param {boolean} inLink
	 * @returns {string}
	 */
	function inline(text, ctx, inLink) {
		var re = new RegExp(INLINE, "g");
		var out = "";
		var last = 0;
		var m;
		while ((m = re.exec(text)) !== null) {
			out += escapeHtml(text.slice(last, m.index));
			last = re.lastIndex;
			if (m[1] !== undefined) {
				out += escapeHtml(m[1]);
			} else if (m[3] !== undefined) {
				out += "<code>" + escapeHtml(m[3].replace(/^ ([\s\S]*[^ ][\s\S]*) $/, "$1")) + "</code>";
			} else if (m[4] !== undefined) {
				var label = inline(m[4], ctx, true);
				var href = inLink ? null : safeUrl(m[5]);
				out += href ? anchor(href, label) : label;
			} else if (m[6] !== undefined) {
				var n = Number(m[6]);
				var cited = !inLink && n >= 1 ? ctx.citations[n - 1] : undefined;
				var citeUrl = typeof cited === "string" ? safeUrl(cited) : null;
				out += citeUrl
					? '<sup class="cite">' + anchor(citeUrl, "[" + n + "]", ' aria-label="Source ' + n + '"') + "</sup>"
					: escapeHtml(m[0]);
			} else if (m[7] !== undefined) {
				// Trailing punctuation ends a sentence, not the URL.
				var core = m[7].replace(/[.,;:!?)\]]+$/, "");
				var bare = inLink ? null : safeUrl(core);
				out += bare ? anchor(bare, escapeHtml(core)) + escapeHtml(m[7].slice(core.length)) : escapeHtml(m[7]);
			} else if (m[8] !== undefined || m[9] !== undefined) {
				out += "<strong>" + inline(m[8] !== undefined ? m[8] : m[9], ctx, inLink) + "</strong>";
			} else if (m[10] !== undefined || m[11] !== undefined) {
				out += "<em>" + inline(m[10] !== undefined ? m[10] : m[11], ctx, inLink) + "</em>";
			}
		}
		return out + escapeHtml(text.slice(last));
	}

	var FENCE = /^ {0,3}(\u0060{3,}|~{3,})\s*([\w+#.-]*)/;
	var HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
	var RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
	var ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
	var QUOTE = /^ {0,3}>[ ]?(.*)$/;
	var TABLE_RULE = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;

	/** @param {string} row */
	function cellsOf(row) {
		var text = row
			.trim()
			.replace(/^\|/, "")
			.replace(/(?:^|[^\\])\|$/, function (end) {
				return end.slice(0, -1);
			});
		return text.split(/(?<!\\)\|/).map(function (cell) {
			return cell.trim();
		});
	}

	/** @param {string} rule */
	function alignClass(rule) {
		var left = rule.charAt(0) === ":";
		var right = rule.charAt(rule.length - 1) === ":";
		return left && right ? ' class="align-center"' : right ? ' class="align-right"' : "";
	}

	/** @param {string} whitespace */
	function indentOf(whitespace) {
		return whitespace.replace(/\t/g, "    ").length;
	}

	/**
	 * Renders Markdown as sanitised HTML.
	 * options.citations: the answer's citation URLs, for [n] markers.
	 *
	 * @param {string | null | undefined} markdown
	 * @param {{ citations?: ReadonlyArray<unknown> }} [options]
	 * @returns {string}
	 */
	function renderMarkdown(markdown, options) {
		var ctx = { citations: (options && options.citations) || [] };
		var lines = String(markdown == null ? "" : markdown)
			.replace(/\r\n?/g, "\n")
			.split("\n");

		var top = 7;
		/** @type {string | null} */
		var inFence = null;
		lines.forEach(function (line) {
			var fence = FENCE.exec(line);
			if (fence && (!inFence || fence[1].charAt(0) === inFence.charAt(0))) inFence = inFence ? null : fence[1];
			var heading = !inFence && HEADING.exec(line);
			if (heading) top = Math.min(top, heading[1].length);
		});
		var shift = top <= 6 ? 3 - top : 0;

		/** @type {string[]} */
		var html = [];
		/** @type {string[]} */
		var para = [];
		/** @type {string[]} */
		var quote = [];
		/** @type {Array<{ indent: number, tag: string }>} */
		var lists = []; // open lists, innermost last: { indent, tag }
		/** @type {string | null} */
		var item = null; // the text of the open list item, not yet written
		var blank = false;

		function flushPara() {
			if (para.length > 0) html.push("<p>" + inline(para.join("\n").trim(), ctx, false) + "</p>");
			para = [];
		}
		function flushQuote() {
			if (quote.length > 0)
				html.push("<blockquote><p>" + inline(quote.join("\n").trim(), ctx, false) + "</p></blockquote>");
			quote = [];
		}
		function flushItem() {
			if (item !== null) html.push(inline(item.trim(), ctx, false));
			item = null;
		}
		/** @param {number} deeperThan */
		function closeLists(deeperThan) {
			flushItem();
			while (lists.length > 0 && lists[lists.length - 1].indent > deeperThan) {
				html.push("</li></" + /** @type {{ tag: string }} */ (lists.pop()).tag + ">");
			}
		}
		function closeBlocks() {
			flushPara();
			flushQuote();
			closeLists(-1);
		}

		for (var i = 0; i < lines.length; i++) {
			var line = lines[i];
			var m;

			if ((m = FENCE.exec(line))) {
				closeBlocks();
				var marker = m[1];
				var code = [];
				for (i++; i < lines.length; i++) {
					var close = FENCE.exec(lines[i]);
					if (close && close[1].charAt(0) === marker.charAt(0) && close[1].length >= marker.length && close[2] === "")
						break;
					code.push(lines[i]);
				}
				var language = m[2] ? ' class="language-' + escapeHtml(m[2].replace(/[^\w-]/g, "")) + '"' : "";
				html.push("<pre><code" + language + ">" + escapeHtml(code.join("\n")) + "</code></pre>");
				blank = false;
				continue;
			}

			if (/^\s*$/.test(line)) {
				flushPara();
				flushQuote();
				flushItem();
				blank = true;
				continue;
			}

			if ((m = HEADING.exec(line))) {
				closeBlocks();
				var level = Math.min(6, Math.max(1, m[1].length + shift));
				html.push("<h" + level + ">" + inline(m[2], ctx, false) + "</h" + level + ">");
				blank = false;
				continue;
			}

			if (RULE.test(line)) {
				closeBlocks();
				html.push("<hr>");
				blank = false;
				continue;
			}

			if (
				line.indexOf("|") !== -1 &&
				i + 1 < lines.length &&
				lines[i + 1].indexOf("|") !== -1 &&
				TABLE_RULE.test(lines[i + 1])
			) {
				closeBlocks();
				var head = cellsOf(line);
				var rules = cellsOf(lines[i + 1]);
				var aligns = rules.map(alignClass);
				var table = ['<div class="table-wrap"><table><thead><tr>'];
				head.forEach(function (cell, c) {
					table.push("<th" + (aligns[c] || "") + ">" + inline(cell, ctx, false) + "</th>");
				});
				table.push("</tr></thead><tbody>");
				for (i += 2; i < lines.length && lines[i].indexOf("|") !== -1 && !/^\s*$/.test(lines[i]); i++) {
					var cells = cellsOf(lines[i]);
					table.push("<tr>");
					for (var c = 0; c < head.length; c++) {
						table.push("<td" + (aligns[c] || "") + ">" + inline(cells[c] || "", ctx, false) + "</td>");
					}
					table.push("</tr>");
				}
				i--;
				table.push("</tbody></table></div>");
				html.push(table.join(""));
				blank = false;
				continue;
			}

			if ((m = ITEM.exec(line))) {
				flushPara();
				flushQuote();
				var indent = indentOf(m[1]);
				var ordered = /\d/.test(m[2].charAt(0));
				var tag = ordered ? "ol" : "ul";
				closeLists(indent);
				var open = lists[lists.length - 1];
				if (open && open.indent === indent && open.tag !== tag) {
					html.push("</li></" + /** @type {{ tag: string }} */ (lists.pop()).tag + ">");
					open = lists[lists.length - 1];
				}
				if (open && open.indent === indent) {
					html.push("</li><li>");
				} else {
					var start = ordered ? parseInt(m[2], 10) : 1;
					html.push("<" + tag + (start !== 1 ? ' start="' + start + '"' : "") + "><li>");
					lists.push({ indent: indent, tag: tag });
				}
				item = m[3];
				blank = false;
				continue;
			}

			if (lists.length > 0 && (!blank || /^\s{2,}/.test(line))) {
				// A continuation of the open item: a wrapped line, or an indented paragraph after a blank.
				item = (item === null ? "" : item + "\n") + line.trim();
				blank = false;
				continue;
			}

			if ((m = QUOTE.exec(line))) {
				closeLists(-1);
				flushPara();
				quote.push(m[1]);
				blank = false;
				continue;
			}

			closeLists(-1);
			flushQuote();
			para.push(line);
			blank = false;
		}
		closeBlocks();
		return html.join("\n");
	}

	return renderMarkdown;
})();
