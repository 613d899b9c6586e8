/**
 * Which callback URLs the relay will POST to. Applied at submit (a 422) and
 * again before every attempt, since what was allowed at submit may not be now
 * (a changed setting).
 *
 * With `ALLOW_PRIVATE_CALLBACKS=true` (local development only) plain http and
 * private or loopback hosts are allowed, so a local inbox can receive.
 */

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_NAME_SUFFIXES = [".localhost", ".local", ".internal"];

/**
 * @example
 * checkCallbackUrl("https://hooks.example.com/x", { allowPrivate: false }) // { ok: true, url }
 * checkCallbackUrl("http://hooks.example.com/x", { allowPrivate: false }) // { ok: false, reason: "…https…" }
 */
export function checkCallbackUrl(raw: string, options: { allowPrivate: boolean }): UrlCheck {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return { ok: false, reason: "callback_url must be an absolute URL" };
	}
	const httpAllowed = options.allowPrivate && url.protocol === "http:";
	if (url.protocol !== "https:" && !httpAllowed) {
		return { ok: false, reason: "callback_url must use https" };
	}
	if (url.username || url.password) {
		return { ok: false, reason: "callback_url must not contain credentials" };
	}
	if (options.allowPrivate) return { ok: true, url };
	const host = url.hostname.toLowerCase().replace(/\.+$/, "");
	if (host === "localhost" || BLOCKED_NAME_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
		return { ok: false, reason: "callback_url must not point at a local or internal host name" };
	}
	if (isIpLiteral(host)) {
		return { ok: false, reason: "callback_url must use a public host name, not an IP address" };
	}
	return { ok: true, url };
}

/** IPv6 literals (`[…]`) and anything an IPv4 parser could read as a number (dotted, decimal, hex, octal). */
function isIpLiteral(host: string): boolean {
	if (host.startsWith("[")) return true;
	return host.split(".").every((part) => /^(0x[0-9a-f]*|\d+)$/i.test(part));
}
