/** UTF-8 sizes and surrogate-safe pieces of large strings (src/bytes.ts). */
import { describe, expect, it } from "vitest";
import { exceedsUtf8, splitText, splitUtf8, utf8Length } from "../../src/bytes.ts";

const encoded = (text: string) => new TextEncoder().encode(text).byteLength;

describe("utf8Length", () => {
	it("agrees with TextEncoder, lone surrogates included", () => {
		for (const text of ["", "abc", "é", "€", "😀", "a😀b€é", "\ud800", "x\udc00y", "😀".repeat(1000)]) {
			expect(utf8Length(text)).toBe(encoded(text));
		}
	});

	it("tells whether a text exceeds a limit, counting only when it must", () => {
		expect(exceedsUtf8("abcd", 3)).toBe(true);
		expect(exceedsUtf8("abc", 9)).toBe(false);
		expect(exceedsUtf8("€€", 5)).toBe(true);
		expect(exceedsUtf8("€€", 6)).toBe(false);
	});
});

describe("splitUtf8 and splitText", () => {
	const text = `${"a".repeat(10)}😀é€${"😀".repeat(7)}b`;

	it("cuts into pieces within the byte limit, never inside a character, and joins back", () => {
		for (const limit of [4, 5, 7, 16, 1000]) {
			const pieces = splitUtf8(text, limit);
			expect(pieces.join("")).toBe(text);
			for (const piece of pieces) {
				expect(encoded(piece)).toBeLessThanOrEqual(limit);
				expect(piece).toBe(new TextDecoder().decode(new TextEncoder().encode(piece)));
			}
		}
		expect(splitUtf8("short", 100)).toEqual(["short"]);
	});

	it("cuts into pieces of at most N UTF-16 units, never between a surrogate pair", () => {
		for (const size of [2, 3, 11, 12]) {
			const pieces = splitText(text, size);
			expect(pieces.join("")).toBe(text);
			for (const piece of pieces) {
				expect(piece.length).toBeLessThanOrEqual(size);
				expect(piece).toBe(new TextDecoder().decode(new TextEncoder().encode(piece)));
			}
		}
		expect(splitText("", 4)).toEqual([""]);
	});
});
