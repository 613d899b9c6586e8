/**
 * The SSRF guard, table by table, inside workerd: its URL parser is the one whose
 * normalisation the guard relies on. Observed there (Node agrees, except where noted):
 * `2130706433`, `0x7f000001`, `0x7f.1`, `0177.0.0.1`, `127.1`, `%31%32%37.0.0.1`,
 * `127。0。0。1` and full-width digits all become `127.0.0.1`; `127.0.0.1.` loses its dot,
 * but `127.0.0.1..` and `0x7f.0.0.1..` stay host names; `[::ffff:127.0.0.1]` becomes
 * `[::ffff:7f00:1]`; `[fe80::1%25eth0]`, `09.0.0.1`, `256.1` and `example.123` throw.
 */
import { describe, expect, it } from "vitest";
import { checkCallbackUrl, isBlockedAddress, MAX_CALLBACK_URL_LENGTH } from "../../src/delivery/url-guard.ts";

type Case = { url: string; name?: string };
type RejectCase = Case & { reason: RegExp };

const named = <T extends Case>(cases: T[]) => cases.map((c) => ({ ...c, name: c.name ?? JSON.stringify(c.url) }));

/** A syntactically fine https URL of exactly `length` characters. */
function urlOfLength(length: number): string {
	const prefix = "https://hooks.example.com/";
	return prefix + "a".repeat(length - prefix.length);
}

const rangeIs = (label: string) => new RegExp(`private or reserved address \\(${label}[,)]`);
const LOCAL_NAME = /local or internal host name/;
const HTTPS = /must use https$/;
const CREDENTIALS = /must not contain credentials/;
const NOT_A_URL = /must be an absolute URL/;
const TOO_LONG = new RegExp(`at most ${MAX_CALLBACK_URL_LENGTH} characters`);

const PUBLIC = { allowPrivate: false };
const DEV = { allowPrivate: true };

const ACCEPTED_PUBLIC: Case[] = [
	{ url: "https://hooks.example.com/x" },
	{ url: "HTTPS://HOOKS.EXAMPLE.COM/x" },
	{ url: "https://example.com:8443/p?q=1" },
	{ url: "https://sub.domain.co.uk/" },
	{ url: "https://bücher.example/", name: "IDN bücher.example (becomes xn--bcher-kva.example)" },
	{ url: "https://example.com./", name: "a fully qualified name with its root dot" },
	{ url: "https://@hooks.example.com/", name: "an empty userinfo, which the parser drops" },
	{ url: "https://1.1.1.1/" },
	{ url: "https://8.8.8.8:443/hook" },
	{ url: "https://172.32.0.1/", name: "172.32.0.1, just past 172.16/12" },
	{ url: "https://100.128.0.1/", name: "100.128.0.1, just past 100.64/10" },
	{ url: "https://[2606:4700:4700::1111]/" },
	{ url: "https://[2606:4700::1111]/" },
	{ url: "https://[::ffff:1.1.1.1]/", name: "IPv4-mapped public 1.1.1.1" },
	{ url: "https://[64:ff9b::1.1.1.1]/", name: "NAT64 of public 1.1.1.1" },
	{ url: "https://[2002:101:101::1]/", name: "6to4 of public 1.1.1.1" },
	{ url: urlOfLength(MAX_CALLBACK_URL_LENGTH), name: `a URL of exactly ${MAX_CALLBACK_URL_LENGTH} characters` },
];

const REJECTED_PUBLIC: RejectCase[] = [
	// Scheme
	{ url: "http://hooks.example.com/x", reason: HTTPS },
	{ url: "javascript:alert(1)", reason: HTTPS },
	{ url: "file:///etc/passwd", reason: HTTPS },
	{ url: "ftp://example.com/x", reason: HTTPS },
	{ url: "wss://example.com/x", reason: HTTPS },
	{ url: "data:text/plain,hi", reason: HTTPS },
	// Not a URL at all
	{ url: "not a url", reason: NOT_A_URL },
	{ url: "", name: "the empty string", reason: NOT_A_URL },
	{ url: "//example.com/x", name: "a scheme-relative URL", reason: NOT_A_URL },
	{ url: "https://", reason: NOT_A_URL },
	{ url: "https://exa mple.com/", reason: NOT_A_URL },
	{ url: "https://[fe80::1%25eth0]/", name: "an IPv6 zone id (the parser refuses it)", reason: NOT_A_URL },
	{ url: "https://09.0.0.1/", name: "09.0.0.1, an invalid octal part", reason: NOT_A_URL },
	// Length
	{
		url: urlOfLength(MAX_CALLBACK_URL_LENGTH + 1),
		name: `a URL of ${MAX_CALLBACK_URL_LENGTH + 1} characters`,
		reason: TOO_LONG,
	},
	{ url: urlOfLength(3000), name: "a URL of 3000 characters", reason: TOO_LONG },
	// Credentials
	{ url: "https://user:pw@hooks.example.com/", reason: CREDENTIALS },
	{ url: "https://user@hooks.example.com/", reason: CREDENTIALS },
	{ url: "https://:pw@hooks.example.com/", reason: CREDENTIALS },
	{ url: "https://hooks.example.com@127.0.0.1/", name: "a trusted-looking name as userinfo", reason: CREDENTIALS },
	// Local and internal names
	{ url: "https://localhost/", reason: LOCAL_NAME },
	{ url: "https://LOCALHOST:8443/", reason: LOCAL_NAME },
	{ url: "https://localhost./", reason: LOCAL_NAME },
	{ url: "https://localhost%2e/", name: "localhost with a percent-encoded dot", reason: LOCAL_NAME },
	{ url: "https://ＬＯＣＡＬＨＯＳＴ/", name: "full-width LOCALHOST", reason: LOCAL_NAME },
	{ url: "https://app.localhost/", reason: LOCAL_NAME },
	{ url: "https://printer.local/", reason: LOCAL_NAME },
	{ url: "https://printer.local./", reason: LOCAL_NAME },
	{ url: "https://metadata.google.internal/", reason: LOCAL_NAME },
	{ url: "https://db.Internal/", reason: LOCAL_NAME },
	// Malformed or single-label names
	{ url: "https://metadata/", reason: /fully qualified domain name/ },
	{ url: "https://intranet./", reason: /fully qualified domain name/ },
	{ url: "https://foo..example.com/", reason: /empty label/ },
	{ url: "https://.example.com/", reason: /empty label/ },
	{ url: "https://1.2.3.4.5../", name: "five numeric parts hidden behind trailing dots", reason: /not a valid one/ },
	// IPv4 loopback, in every notation
	{ url: "https://127.0.0.1/", reason: rangeIs("loopback") },
	{ url: "https://127.1/", reason: rangeIs("loopback") },
	{ url: "https://2130706433/", reason: rangeIs("loopback") },
	{ url: "https://0x7f000001/", reason: rangeIs("loopback") },
	{ url: "https://0x7f.0.0.1/", reason: rangeIs("loopback") },
	{ url: "https://0x7f.1/", reason: rangeIs("loopback") },
	{ url: "https://0177.0.0.1/", reason: rangeIs("loopback") },
	{ url: "https://017700000001/", reason: rangeIs("loopback") },
	{ url: "https://127.0.0.1./", reason: rangeIs("loopback") },
	{ url: "https://127.0.0.1../", name: "127.0.0.1.. (the parser keeps it as a name)", reason: rangeIs("loopback") },
	{ url: "https://0x7f.0.0.1../", name: "0x7f.0.0.1.. (only ipaddr.js reads it)", reason: rangeIs("loopback") },
	{ url: "https://%31%32%37.0.0.1/", name: "percent-encoded 127.0.0.1", reason: rangeIs("loopback") },
	{ url: "https://127。0。0。1/", name: "127.0.0.1 with ideographic full stops", reason: rangeIs("loopback") },
	{ url: "https://１２７.0.0.1/", name: "127.0.0.1 with full-width digits", reason: rangeIs("loopback") },
	{ url: "https:127.0.0.1/", name: "https:127.0.0.1 without slashes", reason: rangeIs("loopback") },
	{ url: "https:\\\\127.0.0.1/", name: "https:\\\\127.0.0.1 with backslashes", reason: rangeIs("loopback") },
	// Other non-public IPv4 ranges
	{ url: "https://10.0.0.1/", reason: rangeIs("private") },
	{ url: "https://10.255.255.255/", reason: rangeIs("private") },
	{ url: "https://172.16.0.1/", reason: rangeIs("private") },
	{ url: "https://172.31.255.254/", reason: rangeIs("private") },
	{ url: "https://192.168.1.1/", reason: rangeIs("private") },
	{ url: "https://0xc0a80101/", name: "192.168.1.1 as one hex number", reason: rangeIs("private") },
	{ url: "https://169.254.169.254/latest/meta-data/", reason: rangeIs("link-local") },
	{ url: "https://100.64.0.1/", reason: rangeIs("carrier-grade NAT") },
	{ url: "https://0.0.0.0/", reason: rangeIs("unspecified") },
	{ url: "https://0/", reason: rangeIs("unspecified") },
	{ url: "https://224.0.0.1/", reason: rangeIs("multicast") },
	{ url: "https://255.255.255.255/", reason: rangeIs("broadcast") },
	{ url: "https://192.0.2.1/", name: "192.0.2.1 (TEST-NET-1)", reason: rangeIs("reserved") },
	{ url: "https://240.0.0.1/", reason: rangeIs("reserved") },
	// IPv6
	{ url: "https://[::1]/", reason: rangeIs("loopback") },
	{ url: "https://[0:0:0:0:0:0:0:1]:8443/", reason: rangeIs("loopback") },
	{ url: "https://[::]/", reason: rangeIs("unspecified") },
	{ url: "https://[fe80::1]/", reason: rangeIs("link-local") },
	{ url: "https://[fc00::1]/", reason: rangeIs("unique-local") },
	{ url: "https://[fd00::1]/", reason: rangeIs("unique-local") },
	{ url: "https://[fd12:3456::1]/", reason: rangeIs("unique-local") },
	{ url: "https://[fec0::1]/", reason: rangeIs("site-local") },
	{ url: "https://[ff02::1]/", reason: rangeIs("multicast") },
	{ url: "https://[2001:db8::1]/", name: "[2001:db8::1] (documentation)", reason: rangeIs("reserved") },
	{ url: "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", name: "a Teredo address", reason: rangeIs("teredo") },
	// IPv4 inside IPv6
	{ url: "https://[::ffff:127.0.0.1]/", reason: /\(loopback, via IPv4-mapped IPv6\)/ },
	{ url: "https://[::ffff:7f00:1]/", reason: /\(loopback, via IPv4-mapped IPv6\)/ },
	{ url: "https://[0:0:0:0:0:ffff:127.0.0.1]/", reason: /\(loopback, via IPv4-mapped IPv6\)/ },
	{ url: "https://[::ffff:169.254.169.254]/", reason: /\(link-local, via IPv4-mapped IPv6\)/ },
	{ url: "https://[::ffff:a9fe:a9fe]/", reason: /\(link-local, via IPv4-mapped IPv6\)/ },
	{ url: "https://[::ffff:10.0.0.1]/", reason: /\(private, via IPv4-mapped IPv6\)/ },
	{ url: "https://[::ffff:0:127.0.0.1]/", reason: /\(loopback, via IPv4-translated IPv6\)/ },
	{ url: "https://[::127.0.0.1]/", reason: /\(loopback, via IPv4-compatible IPv6\)/ },
	{ url: "https://[::a9fe:a9fe]/", reason: /\(link-local, via IPv4-compatible IPv6\)/ },
	{ url: "https://[64:ff9b::10.0.0.1]/", reason: /\(private, via NAT64\)/ },
	{ url: "https://[64:ff9b::a00:1]/", reason: /\(private, via NAT64\)/ },
	{ url: "https://[64:ff9b::7f00:1]/", reason: /\(loopback, via NAT64\)/ },
	{
		url: "https://[64:ff9b:1::a00:1]/",
		name: "local-use NAT64 prefix 64:ff9b:1::/48",
		reason: rangeIs("local-use NAT64"),
	},
	{ url: "https://[2002:a00:1::]/", name: "6to4 of 10.0.0.1", reason: /\(private, via 6to4\)/ },
	{ url: "https://[2002:7f00:1::1]/", name: "6to4 of 127.0.0.1", reason: /\(loopback, via 6to4\)/ },
];

describe("checkCallbackUrl in production (allowPrivate: false)", () => {
	it.each(named(ACCEPTED_PUBLIC))("accepts $name", ({ url }) => {
		const check = checkCallbackUrl(url, PUBLIC);
		expect(check).toMatchObject({ ok: true });
	});

	it.each(named(REJECTED_PUBLIC))("rejects $name", ({ url, reason }) => {
		const check = checkCallbackUrl(url, PUBLIC);
		expect(check.ok).toBe(false);
		if (!check.ok) expect(check.reason).toMatch(reason);
	});

	it("returns the parsed, normalised URL when it accepts", () => {
		const check = checkCallbackUrl("https://Bücher.Example:8443/p?q=1", PUBLIC);
		expect(check.ok && check.url.href).toBe("https://xn--bcher-kva.example:8443/p?q=1");
	});

	it("names the rule in plain English", () => {
		expect(checkCallbackUrl("http://hooks.example.com/", PUBLIC)).toEqual({
			ok: false,
			reason: "callback_url must use https",
		});
		expect(checkCallbackUrl("https://[::1]/", PUBLIC)).toEqual({
			ok: false,
			reason: "callback_url points at a private or reserved address (loopback)",
		});
	});
});

describe("checkCallbackUrl in local development (allowPrivate: true)", () => {
	const ACCEPTED_DEV: Case[] = [
		{ url: "http://127.0.0.1:8789/hooks/x" },
		{ url: "http://localhost:8789/hooks/x" },
		{ url: "https://localhost/" },
		{ url: "http://[::1]:8789/" },
		{ url: "http://10.0.0.5/hook" },
		{ url: "http://inbox/", name: "a single-label host" },
		{ url: "https://hooks.example.com/x" },
	];
	const REJECTED_DEV: RejectCase[] = [
		{ url: "https://user:pw@host/", reason: CREDENTIALS },
		{ url: "http://user@127.0.0.1:8789/", reason: CREDENTIALS },
		{ url: "ftp://127.0.0.1/x", reason: /must use http or https/ },
		{ url: "file:///etc/passwd", reason: /must use http or https/ },
		{ url: "javascript:alert(1)", reason: /must use http or https/ },
		{ url: "not a url", reason: NOT_A_URL },
		{ url: `http://127.0.0.1/${"a".repeat(3000)}`, name: "a URL of over 3000 characters", reason: TOO_LONG },
	];

	it.each(named(ACCEPTED_DEV))("accepts $name", ({ url }) => {
		expect(checkCallbackUrl(url, DEV)).toMatchObject({ ok: true });
	});

	it.each(named(REJECTED_DEV))("rejects $name", ({ url, reason }) => {
		const check = checkCallbackUrl(url, DEV);
		expect(check.ok).toBe(false);
		if (!check.ok) expect(check.reason).toMatch(reason);
	});
});

describe("checkCallbackUrl with an allowedHosts list", () => {
	const SLACK = { allowPrivate: false, allowedHosts: ["hooks.slack.com"] };
	const NOT_ALLOWED = /must be one of hooks\.slack\.com or a subdomain of one/;

	it.each(
		named([
			{ url: "https://hooks.slack.com/commands/T1/2/3" },
			{ url: "https://HOOKS.SLACK.COM/commands/T1/2/3" },
			{ url: "https://hooks.slack.com./commands/T1/2/3" },
			{ url: "https://eu.hooks.slack.com/x", name: "a subdomain of an allowed host" },
		]),
	)("accepts $name", ({ url }) => {
		expect(checkCallbackUrl(url, SLACK)).toMatchObject({ ok: true });
	});

	it.each(
		named([
			{ url: "https://evil.com/", reason: NOT_ALLOWED },
			{ url: "https://hooks.slack.com.evil.com/", reason: NOT_ALLOWED },
			{
				url: "https://evilhooks.slack.com/",
				name: "a name that merely ends with the allowed one",
				reason: NOT_ALLOWED,
			},
			{ url: "https://slack.com/", name: "the parent of an allowed host", reason: NOT_ALLOWED },
			{ url: "https://hooks.slack.com@evil.com/", reason: CREDENTIALS },
			{ url: "http://hooks.slack.com/commands/T1/2/3", reason: HTTPS },
		]),
	)("rejects $name", ({ url, reason }) => {
		const check = checkCallbackUrl(url, SLACK);
		expect(check.ok).toBe(false);
		if (!check.ok) expect(check.reason).toMatch(reason);
	});

	it("narrows and never widens: an allowed private host is still refused", () => {
		const check = checkCallbackUrl("https://localhost/", { allowPrivate: false, allowedHosts: ["localhost"] });
		expect(check).toEqual({ ok: false, reason: "callback_url must not point at a local or internal host name" });
	});

	it("still applies when private callbacks are allowed", () => {
		const check = checkCallbackUrl("http://127.0.0.1:8789/hooks/x", { ...SLACK, allowPrivate: true });
		expect(check.ok).toBe(false);
	});

	it("allows nothing when the list is empty", () => {
		const check = checkCallbackUrl("https://hooks.slack.com/x", { allowPrivate: false, allowedHosts: [] });
		expect(check).toEqual({ ok: false, reason: "callback_url host must be one of (none) or a subdomain of one" });
	});
});

describe("isBlockedAddress", () => {
	it.each([
		["127.0.0.1", true],
		["2130706433", true],
		["0x7f.1", true],
		["169.254.169.254", true],
		["100.64.0.1", true],
		["::1", true],
		["[::1]", true],
		["::ffff:7f00:1", true],
		["64:ff9b::a00:1", true],
		["fd00::1", true],
		["example.com", true],
		["", true],
		["1.1.1.1", false],
		["[2606:4700:4700::1111]", false],
		["::ffff:1.1.1.1", false],
	] as const)("isBlockedAddress(%j) is %s", (ip, blocked) => {
		expect(isBlockedAddress(ip)).toBe(blocked);
	});
});

describe("checkCallbackUrl never throws", () => {
	it("returns a verdict for a non-string, as JSON bodies may carry", () => {
		for (const value of [undefined, null, 42, {}, ["https://example.com/"]]) {
			expect(checkCallbackUrl(value as unknown as string, PUBLIC)).toMatchObject({ ok: false });
		}
	});

	it("returns a verdict for 5000 generated URL-like strings", () => {
		// A fixed-seed generator (mulberry32), so a failure reproduces exactly.
		let seed = 0x5eed;
		const random = () => {
			seed = (seed + 0x6d2b79f5) | 0;
			let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
			t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
			return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
		};
		const pieces = [
			"https://",
			"http://",
			"[",
			"]",
			":",
			"::",
			"ffff",
			"0x",
			"7f",
			".",
			"..",
			"0",
			"1",
			"255",
			"@",
			"%",
			"%2e",
			"/",
			"?",
			"#",
			"\\",
			" ",
			"ü",
			"。",
			"localhost",
			"a",
			"-",
			"%25",
			"\u0000",
		];
		for (let i = 0; i < 5000; i++) {
			let raw = "";
			const length = 1 + Math.floor(random() * 12);
			for (let j = 0; j < length; j++) raw += pieces[Math.floor(random() * pieces.length)];
			for (const options of [PUBLIC, DEV, { allowPrivate: false, allowedHosts: ["a.a"] }]) {
				const check = checkCallbackUrl(raw, options);
				expect(typeof check.ok, raw).toBe("boolean");
			}
		}
	});
});
