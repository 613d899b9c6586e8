/**
 * Completes package-lock.json for `npm ci` on this project's registry mirror.
 *
 * The mirror serves only the Linux builds of platform-specific optional packages
 * (Biome's CLI, workerd), so `npm install` leaves the other platforms out of the
 * lockfile, and `npm ci` then refuses the lockfile as out of sync. This adds the
 * missing entries as real npm would write them (version, os, cpu, libc,
 * optional), without download addresses: npm skips them on a platform they do
 * not match, before it would fetch anything.
 *
 * Run after changing dependencies: `npm install && node tools/complete-lockfile.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";

interface LockEntry {
	version?: string;
	dev?: boolean;
	optional?: boolean;
	optionalDependencies?: Record<string, string>;
	[key: string]: unknown;
}

const PLATFORMS: [RegExp, { os: string[]; cpu: string[]; libc?: string[] }][] = [
	[/-linux-(x64|64)-musl$/, { os: ["linux"], cpu: ["x64"], libc: ["musl"] }],
	[/-linux-arm64-musl$/, { os: ["linux"], cpu: ["arm64"], libc: ["musl"] }],
	[/-darwin-(x64|64)$/, { os: ["darwin"], cpu: ["x64"] }],
	[/-darwin-arm64$/, { os: ["darwin"], cpu: ["arm64"] }],
	[/-(win32|windows)-(x64|64)$/, { os: ["win32"], cpu: ["x64"] }],
	[/-(win32|windows)-arm64$/, { os: ["win32"], cpu: ["arm64"] }],
	[/-android-arm64$/, { os: ["android"], cpu: ["arm64"] }],
	[/-android-x64$/, { os: ["android"], cpu: ["x64"] }],
];

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, LockEntry> };
const added: string[] = [];

for (const [location, entry] of Object.entries(lock.packages)) {
	for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
		const key = `node_modules/${name}`;
		if (lock.packages[key] || lock.packages[`${location}/${key}`]) continue;
		const platform = PLATFORMS.find(([pattern]) => pattern.test(name))?.[1];
		if (!platform) throw new Error(`${name} is missing from the lockfile and is not a known platform package`);
		if (!/^\d+\.\d+\.\d+/.test(range)) throw new Error(`${name}@${range}: expected an exact version`);
		lock.packages[key] = {
			version: range,
			...(entry.dev ? { dev: true } : {}),
			optional: true,
			...platform,
		};
		added.push(`${name}@${range}`);
	}
}

lock.packages = Object.fromEntries(
	Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `added ${added.length} platform entries:\n  ${added.join("\n  ")}` : "lockfile complete");
