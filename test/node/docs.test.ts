/**
 * The documentation stays usable: the README stays short and opens with the two commands a
 * newcomer needs, every relative link (and `#anchor`) in the README, docs/, examples/README.md and
 * the bench pages leads somewhere, docs/operations.md lists every setting the relay reads with
 * wrangler.toml's default, and docs/architecture.md's layout names every folder of src/.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** Every Markdown file under `dir` (relative to the root), recursively. */
function markdownUnder(dir: string): string[] {
	const found: string[] = [];
	for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) found.push(...markdownUnder(path));
		else if (entry.name.endsWith(".md")) found.push(path);
	}
	return found;
}

const CHECKED_PAGES = [
	"README.md",
	...markdownUnder("docs"),
	"examples/README.md",
	"bench/README.md",
	"bench/HISTORY.md",
].filter((page) => existsSync(join(ROOT, page)));

/** The text outside fenced code blocks, with inline code spans emptied: what GitHub renders as prose. */
function prose(markdown: string): string {
	let inFence = false;
	const lines: string[] = [];
	for (const line of markdown.split("\n")) {
		if (/^\s*(```|~~~)/.test(line)) {
			inFence = !inFence;
			lines.push("");
			continue;
		}
		lines.push(inFence ? "" : line.replace(/`[^`\n]*`/g, "``"));
	}
	return lines.join("\n");
}

/**
 * The targets of inline links and images (`[text](target)`, `![alt](target "title")`).
 *
 * @example
 * linkTargets("see [the docs](docs/a.md#b) and ![x](img.png)") // ["docs/a.md#b", "img.png"]
 */
function linkTargets(markdown: string): string[] {
	return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] as string);
}

/**
 * GitHub's anchor for a heading: lower case, Markdown and punctuation dropped, spaces to hyphens.
 *
 * @example
 * slug("Limits: `TENANT_LIMITS`") // "limits-tenant_limits"
 */
function slug(heading: string): string {
	return heading
		.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
		.toLowerCase()
		.replace(/[^\p{L}\p{N}\s_-]/gu, "")
		.trim()
		.replace(/\s/g, "-");
}

/** The anchors a Markdown page defines: one per heading outside code, `-1`, `-2`… for repeats. */
function anchorsOf(markdown: string): Set<string> {
	const anchors = new Set<string>();
	const seen = new Map<string, number>();
	let inFence = false;
	for (const line of markdown.split("\n")) {
		if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
		const heading = inFence ? null : line.match(/^#{1,6}\s+(.+?)\s*#*\s*$/);
		if (!heading) continue;
		const base = slug(heading[1] as string);
		const count = seen.get(base) ?? 0;
		seen.set(base, count + 1);
		anchors.add(count === 0 ? base : `${base}-${count}`);
	}
	return anchors;
}

describe("the README", () => {
	const readme = read("README.md");

	it("is under 15,000 bytes", () => {
		expect(Buffer.byteLength(readme, "utf8")).toBeLessThan(15_000);
	});

	it("shows how to start and how to test before its first section", () => {
		const top = readme.slice(0, readme.indexOf("\n## "));
		expect(top).toMatch(/^npm install && npm start\b/m);
		expect(top).toMatch(/^npm test\b/m);
	});

	it("keeps the note on EBADENGINE warnings under Node 20", () => {
		expect(readme).toMatch(/EBADENGINE/);
	});
});

describe("links between pages", () => {
	it("checks a page from each place the docs live", () => {
		expect(CHECKED_PAGES).toEqual(
			expect.arrayContaining(["README.md", "docs/architecture.md", "bench/README.md", "examples/README.md"]),
		);
	});

	it.each(CHECKED_PAGES)("every relative link in %s leads to a file, and every #anchor to a heading", (page) => {
		const broken: string[] = [];
		for (const target of linkTargets(read(page))) {
			if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
			const [pathPart = "", anchor] = target.split("#", 2);
			const path = pathPart === "" ? join(ROOT, page) : resolve(ROOT, dirname(page), decodeURI(pathPart));
			if (!path.startsWith(ROOT) || !existsSync(path)) {
				broken.push(`${target} (no such file: ${relative(ROOT, path)})`);
				continue;
			}
			if (anchor && path.endsWith(".md") && statSync(path).isFile()) {
				if (!anchorsOf(readFileSync(path, "utf8")).has(anchor)) broken.push(`${target} (no such heading)`);
			}
		}
		expect(broken).toEqual([]);
	});

	it("finds GitHub's anchors for headings with code, punctuation and repeats", () => {
		const anchors = anchorsOf("# A: `B_C` (d/e)\n## Same\n## Same\n```\n# not a heading\n```\n");
		expect([...anchors]).toEqual(["a-b_c-de", "same", "same-1"]);
	});

	it("sees a broken link for what it is", () => {
		expect(linkTargets("[a](nowhere.md) `[b](in-code.md)` ![c](img.png)")).toEqual(["nowhere.md", "img.png"]);
	});
});

describe("docs/operations.md", () => {
	const operations = read("docs/operations.md");
	/** `| \`NAME\` | default |` rows of the settings tables, by name. */
	const rows = new Map(
		[...operations.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|/gm)].map((m) => [
			m[1] as string,
			(m[2] as string).trim(),
		]),
	);

	it("lists every setting src/config.ts reads and every secret .dev.vars.example sets", () => {
		const names = new Set([
			...[...read("src/config.ts").matchAll(/\bs\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] as string),
			...[...read(".dev.vars.example").matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1] as string),
		]);
		expect(names.size).toBeGreaterThan(30);
		expect([...names].filter((name) => !rows.has(name))).toEqual([]);
	});

	it("gives every wrangler.toml [vars] entry its default from there", () => {
		const toml = read("wrangler.toml");
		const vars = toml.slice(toml.indexOf("[vars]"));
		const defaults = [...vars.matchAll(/^([A-Z][A-Z0-9_]+) = "([^"]*)"/gm)].map((m) => [
			m[1] as string,
			m[2] as string,
		]);
		expect(defaults.length).toBeGreaterThan(25);
		const wrong = defaults
			.filter(([name, value]) => {
				const documented = rows.get(name as string);
				return documented === undefined || (value === "" ? !/^\(/.test(documented) : documented !== `\`${value}\``);
			})
			.map(
				([name, value]) => `${name}: wrangler.toml says "${value}", docs say ${rows.get(name as string) ?? "nothing"}`,
			);
		expect(wrong).toEqual([]);
	});
});

describe("docs/architecture.md", () => {
	it("names every folder of src/ in its layout", () => {
		const architecture = read("docs/architecture.md");
		const layout = architecture.slice(architecture.indexOf("## The layout of `src/`"));
		const folders = readdirSync(join(ROOT, "src"), { withFileTypes: true })
			.filter((entry) => entry.isDirectory())
			.map((entry) => `${entry.name}/`);
		expect(folders.length).toBeGreaterThan(5);
		expect(folders.filter((folder) => !layout.includes(folder))).toEqual([]);
	});
});
