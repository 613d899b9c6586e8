/** The list endpoint's `next_token`: opaque to callers, a versioned position in the tenant index. */
import { fromBase64Url, toBase64Url } from "../crypto.ts";

const encoder = new TextEncoder();

/** `next_token` is opaque to callers: a versioned, base64url-wrapped position. */
export function encodeCursor(seq: number): string {
	return toBase64Url(encoder.encode(JSON.stringify({ v: 1, seq })));
}

/** The position in a `next_token`, or null when it is not one of ours. */
export function decodeCursor(token: string): number | null {
	try {
		const json = new TextDecoder().decode(fromBase64Url(token));
		const parsed = JSON.parse(json) as { v?: unknown; seq?: unknown };
		return parsed.v === 1 && Number.isSafeInteger(parsed.seq) && (parsed.seq as number) > 0
			? (parsed.seq as number)
			: null;
	} catch {
		return null;
	}
}
