/** The list endpoint's `next_token`: opaque to callers, a versioned position in the tenant index. */

/** `next_token` is opaque to callers: a versioned, base64url-wrapped position. */
export function encodeCursor(seq: number): string {
	return btoa(JSON.stringify({ v: 1, seq }))
		.replace(/\+/g, "-")
		.replace(/\//g, "_")
		.replace(/=+$/, "");
}

/** The position in a `next_token`, or null when it is not one of ours. */
export function decodeCursor(token: string): number | null {
	try {
		const json = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
		const parsed = JSON.parse(json) as { v?: unknown; seq?: unknown };
		return parsed.v === 1 && Number.isSafeInteger(parsed.seq) && (parsed.seq as number) > 0
			? (parsed.seq as number)
			: null;
	} catch {
		return null;
	}
}
