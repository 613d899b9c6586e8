/**
 * Sizes and pieces of large strings: how many bytes a string takes as UTF-8
 * (what a webhook body or a KV value weighs), and cutting one into pieces that
 * each stay under a limit (in UTF-16 units, or in bytes of UTF-8), never
 * between the two halves of a surrogate pair
 * (a lone half would be written as U+FFFD, and the joined text would differ).
 */

/**
 * The UTF-8 length of `text`, without encoding it. A lone surrogate counts 3 bytes, as U+FFFD does.
 *
 * @example
 * utf8Length("é€😀") // 2 + 3 + 4 = 9
 */
export function utf8Length(text: string): number {
	let bytes = 0;
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		if (code < 0x80) bytes += 1;
		else if (code < 0x800) bytes += 2;
		else if (isHighSurrogate(code) && isLowSurrogate(text.charCodeAt(i + 1))) {
			bytes += 4;
			i++;
		} else bytes += 3;
	}
	return bytes;
}

/**
 * Whether `text` takes more than `limit` bytes as UTF-8; it counts only when the length alone
 * cannot tell (every UTF-16 unit is 1 to 3 bytes).
 */
export function exceedsUtf8(text: string, limit: number): boolean {
	if (text.length > limit) return true;
	if (text.length * 3 <= limit) return false;
	return utf8Length(text) > limit;
}

/**
 * `text` cut into pieces of at most `maxUnits` UTF-16 units (one fewer where a cut would split a
 * surrogate pair). Joining them gives `text` back. An empty text is one empty piece.
 *
 * @example
 * splitText("abcdef", 4) // ["abcd", "ef"]
 */
export function splitText(text: string, maxUnits: number): string[] {
	const size = Math.max(2, Math.floor(maxUnits));
	if (text.length <= size) return [text];
	const pieces: string[] = [];
	let start = 0;
	while (start < text.length) {
		let end = Math.min(start + size, text.length);
		if (end < text.length && isLowSurrogate(text.charCodeAt(end)) && isHighSurrogate(text.charCodeAt(end - 1))) {
			end -= 1;
		}
		pieces.push(text.slice(start, end));
		start = end;
	}
	return pieces;
}

/**
 * `text` cut into pieces of at most `maxBytes` bytes of UTF-8 each, never inside a character.
 * Joining them gives `text` back.
 *
 * @example
 * splitUtf8("aé€", 3) // ["aé", "€"]
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
	const limit = Math.max(4, Math.floor(maxBytes));
	if (!exceedsUtf8(text, limit)) return [text];
	const pieces: string[] = [];
	let start = 0;
	let bytes = 0;
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		const pair = isHighSurrogate(code) && isLowSurrogate(text.charCodeAt(i + 1));
		const size = code < 0x80 ? 1 : code < 0x800 ? 2 : pair ? 4 : 3;
		if (bytes + size > limit) {
			pieces.push(text.slice(start, i));
			start = i;
			bytes = 0;
		}
		bytes += size;
		if (pair) i++;
	}
	pieces.push(text.slice(start));
	return pieces;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
