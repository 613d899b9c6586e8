// @ts-check
/**
 * Puts the three files `/docs` serves from the pinned `swagger-ui-dist` package into
 * `src/public/swagger-ui/`, the Workers static assets folder (wrangler.toml `[assets]`), which
 * also holds the dashboard's own files. The copy is gitignored; it is refreshed by npm
 * (`postinstall`, so `npm ci` leaves a fresh clone ready for `npm test` and `npm start`) and
 * by wrangler before every `wrangler dev` and `wrangler deploy` (`[build] command`), the
 * Deploy to Cloudflare button's build included, so it always matches the installed package.
 *
 * A file already identical is left alone, and each write goes through a temporary file and a
 * rename, so several `wrangler dev` starting at once never see half a file.
 *
 * Plain JavaScript that Node 20 runs as is (npm may run `postinstall` on the host's Node).
 *
 * @example
 * node src/docs/copy-swagger-ui.js // "swagger-ui-dist 5.35.0: 3 files in src/public/swagger-ui (1 copied)"
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The only files of the package the relay hands out (src/docs/index.ts lists them too). */
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const packageJson = createRequire(join(root, "package.json")).resolve("swagger-ui-dist/package.json");
const source = dirname(packageJson);
const target = join(root, "src", "public", "swagger-ui");
const { version } = JSON.parse(readFileSync(packageJson, "utf8"));

/**
 * The file's bytes, or null when it does not exist yet.
 *
 * @param {string} path
 * @returns {Buffer | null}
 */
function readOrNull(path) {
	try {
		return readFileSync(path);
	} catch {
		return null;
	}
}

mkdirSync(target, { recursive: true });
let copied = 0;
for (const file of FILES) {
	const bytes = readFileSync(join(source, file));
	const existing = readOrNull(join(target, file));
	if (existing?.equals(bytes)) continue;
	const temporary = join(target, `.${file}.${process.pid}.tmp`);
	writeFileSync(temporary, bytes);
	renameSync(temporary, join(target, file));
	copied++;
}
console.log(`swagger-ui-dist ${version}: ${FILES.length} files in src/public/swagger-ui (${copied} copied)`);
