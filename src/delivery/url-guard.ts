/**
 * The SSRF guard: which callback and subscription URLs the relay will POST to.
 * Applied at submit (a 422) and again before every attempt, since what was
 * allowed at submit may not be now (a changed setting).
 *
 * Addresses are judged on two parsers on purpose. The WHATWG URL parser (workerd)
 * already rewrites most IPv4 spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`,
 * `127.1`, `%31%32%37.0.0.1`, full-width digits) to dotted quads, and IPv6 to
 * its compressed form. It leaves some as host names, though: `0x7f.0.0.1..` is a
 * "domain" to it, yet a resolver may read it as 127.0.0.1 once the dots are
 * trimmed. So ipaddr.js then reads whatever host is left, in every notation it
 * knows, and its `range()` decides.
 *
 * With `ALLOW_PRIVATE_CALLBACKS=true` (local development only) plain http and
 * private or loopback hosts are allowed, so a local inbox can receive.
 *
 * Not covered, because it needs DNS: a public name that resolves to a private
 * address (`127.0.0.1.nip.io`, DNS rebinding). Workers' `fetch` cannot reach
 * private networks anyway; this guard is the layer we control.
 */
import ipaddr from "ipaddr.js";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export type UrlCheckOptions = {
	/**
	 * Local development: allow `http:` and lift the host name and address rules.
	 * The scheme must still be http or https, credentials are still refused, and
	 * `allowedHosts` still applies.
	 */
	allowPrivate: boolean;
	/**
	 * Only these hosts or their subdomains, e.g. `["hooks.slack.com"]`. ASCII
	 * (punycode) names; case and a trailing dot do not matter. It narrows and never
	 * widens: the other rules still apply, and it holds even with `allowPrivate`
	 * (a caller that wants a local stand-in in development leaves it out).
	 * An empty list allows nothing.
	 * @default undefined (any public host)
	 */
	allowedHosts?: readonly string[];
};

/** Longer URLs are refused: no real webhook needs more, and they are stored per job. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

const BLOCKED_NAME_SUFFIXES = [".localhost", ".local", ".internal"];

/** Plain words for ipaddr.js range names that are not already plain. */
const RANGE_LABELS: Record<string, string> = {
	linkLocal: "link-local",
	carrierGradeNat: "carrier-grade NAT",
	uniqueLocal: "unique-local",
	deprecatedSiteLocal: "site-local",
	rfc6052: "local-use NAT64",
	as112v6: "as112",
};

/**
 * @example
 * checkCallbackUrl("https://hooks.example.com/x", { allowPrivate: false }) // { ok: true, url }
 * checkCallbackUrl("http://hooks.example.com/x", { allowPrivate: false }) // { ok: false, reason: "callback_url must use https" }
 * checkCallbackUrl("https://[::ffff:127.0.0.1]/", { allowPrivate: false })
 * // { ok: false, reason: "callback_url points at a private or reserved address (loopback, via IPv4-mapped IPv6)" }
 * checkCallbackUrl("https://hooks.slack.com/commands/T1/2/3", { allowPrivate: false, allowedHosts: ["hooks.slack.com"] }) // { ok: true, url }
 */
export function checkCallbackUrl(raw: string, options: UrlCheckOptions): UrlCheck {
	// Callers pass parsed JSON; a non-string must not reach `new URL`, which would stringify it.
	if (typeof raw !== "string" || raw === "") return reject("callback_url must be an absolute URL");
	if (raw.length > MAX_CALLBACK_URL_LENGTH) {
		return reject(`callback_url must be at most ${MAX_CALLBACK_URL_LENGTH} characters`);
	}
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return reject("callback_url must be an absolute URL");
	}
	// Punycode and percent-encoding can lengthen it, and `href` is what is stored and fetched.
	if (url.href.length > MAX_CALLBACK_URL_LENGTH) {
		return reject(`callback_url must be at most ${MAX_CALLBACK_URL_LENGTH} characters`);
	}
	const httpAllowed = options.allowPrivate && url.protocol === "http:";
	if (url.protocol !== "https:" && !httpAllowed) {
		return reject(options.allowPrivate ? "callback_url must use http or https" : "callback_url must use https");
	}
	// Credentials would be sent to the receiver and logged with the job; `https://good.com@evil.com/` also misleads.
	if (url.username || url.password) return reject("callback_url must not contain credentials");

	const host = normaliseHost(url.hostname);
	if (host === "") return reject("callback_url must name a host");
	if (options.allowedHosts && !isAllowedHost(host, options.allowedHosts)) {
		const names = options.allowedHosts.join(", ") || "(none)";
		return reject(`callback_url host must be one of ${names} or a subdomain of one`);
	}
	if (options.allowPrivate) return { ok: true, url };

	const problem = hostProblem(host);
	return problem ? reject(problem) : { ok: true, url };
}

/**
 * Whether an IP address (IPv4 in any notation ipaddr.js reads, IPv6 with or
 * without brackets) lies outside public unicast space. Anything that is not an
 * address counts as blocked, so a caller checking a resolved address fails closed.
 *
 * @example
 * isBlockedAddress("169.254.169.254") // true
 * isBlockedAddress("::ffff:7f00:1") // true
 * isBlockedAddress("1.1.1.1") // false
 */
export function isBlockedAddress(ip: string): boolean {
	const bare = typeof ip === "string" ? ip.replace(/^\[(.*)\]$/, "$1") : "";
	try {
		if (ipaddr.IPv4.isValid(bare)) return ipv4BlockedRange(ipaddr.IPv4.parse(bare)) !== undefined;
		if (ipaddr.IPv6.isValid(bare)) return ipv6BlockedRange(ipaddr.IPv6.parse(bare)) !== undefined;
	} catch {
		// ipaddr.js validated it a moment ago; if it still throws, fail closed.
	}
	return true;
}

function reject(reason: string): UrlCheck {
	return { ok: false, reason };
}

/** Lower case without trailing dots: `LocalHost.` and `127.0.0.1..` must meet the same rules as their plain forms. */
function normaliseHost(hostname: string): string {
	return hostname.toLowerCase().replace(/\.+$/, "");
}

function isAllowedHost(host: string, allowedHosts: readonly string[]): boolean {
	return allowedHosts.some((entry) => {
		const allowed = normaliseHost(entry);
		return allowed !== "" && (host === allowed || host.endsWith(`.${allowed}`));
	});
}

/** Why a host (already normalised) may not receive callbacks, or undefined if it may. */
function hostProblem(host: string): string | undefined {
	try {
		if (host.startsWith("[")) {
			const inner = host.slice(1, -1);
			if (!ipaddr.IPv6.isValid(inner)) return "callback_url has a malformed IPv6 address";
			return addressProblem(ipv6BlockedRange(ipaddr.IPv6.parse(inner)));
		}
		// Any IPv4 notation (one to four parts, decimal, hex or octal), in case the URL parser left it as a name.
		if (ipaddr.IPv4.isValid(host)) return addressProblem(ipv4BlockedRange(ipaddr.IPv4.parse(host)));
	} catch {
		// ipaddr.js validated it a moment ago; if it still throws, fail closed.
		return "callback_url host could not be checked";
	}

	if (host === "localhost" || BLOCKED_NAME_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
		return "callback_url must not point at a local or internal host name";
	}
	const labels = host.split(".");
	if (labels.includes("")) return "callback_url host name has an empty label";
	// Single labels (`metadata`, `intranet`) resolve through search domains to internal hosts; public hosts have a dot.
	if (labels.length === 1) return "callback_url host must be a fully qualified domain name (a public host has a dot)";
	// No public TLD is numeric, so a numeric last label is an address neither parser could read; some resolver might.
	if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1] ?? "")) {
		return "callback_url host looks like an IP address but is not a valid one";
	}
	return undefined;
}

function addressProblem(blockedRange: string | undefined): string | undefined {
	return blockedRange && `callback_url points at a private or reserved address (${blockedRange})`;
}

/** The name of the non-public range an IPv4 address is in, or undefined for public unicast. */
function ipv4BlockedRange(address: ipaddr.IPv4): string | undefined {
	const range = address.range();
	return range === "unicast" ? undefined : (RANGE_LABELS[range] ?? range);
}

/**
 * As `ipv4BlockedRange`, for IPv6. Forms that carry an IPv4 address are judged by
 * that address, so `::ffff:7f00:1` is loopback and `64:ff9b::101:101` (NAT64 of
 * 1.1.1.1) is public; other non-unicast ranges (teredo, documentation, …) are blocked.
 */
function ipv6BlockedRange(address: ipaddr.IPv6): string | undefined {
	const embedded = embeddedIPv4(address);
	if (embedded) {
		const range = ipv4BlockedRange(embedded.ipv4);
		return range && `${range}, via ${embedded.form}`;
	}
	const range = address.range();
	return range === "unicast" ? undefined : (RANGE_LABELS[range] ?? range);
}

function embeddedIPv4(address: ipaddr.IPv6): { ipv4: ipaddr.IPv4; form: string } | undefined {
	const bytes = address.toByteArray();
	const last32 = () => new ipaddr.IPv4(bytes.slice(12, 16));
	const allZero = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
	switch (address.range()) {
		case "ipv4Mapped":
			return { ipv4: address.toIPv4Address(), form: "IPv4-mapped IPv6" };
		case "rfc6145":
			return { ipv4: last32(), form: "IPv4-translated IPv6" };
		case "rfc6052":
			// Only the well-known 64:ff9b::/96 has the address in the last 32 bits; local-use 64:ff9b:1::/48 stays blocked.
			return allZero(4, 12) ? { ipv4: last32(), form: "NAT64" } : undefined;
		case "6to4":
			return { ipv4: new ipaddr.IPv4(bytes.slice(2, 6)), form: "6to4" };
		case "unicast":
			// Deprecated IPv4-compatible `::a.b.c.d`: ipaddr.js calls it unicast, but `::7f00:1` is 127.0.0.1.
			return allZero(0, 12) ? { ipv4: last32(), form: "IPv4-compatible IPv6" } : undefined;
		default:
			return undefined;
	}
}
