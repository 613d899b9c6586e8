/** The one copy of each cryptographic helper (src/crypto.ts), against published test vectors. */
import { describe, expect, it, vi } from "vitest";
import {
	fromBase64,
	fromBase64Url,
	fromHex,
	hmacKey,
	hmacSha256,
	sha256,
	sha256Hex,
	timingSafeEqual,
	toBase64,
	toBase64Url,
	toHex,
} from "../../src/crypto.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("hmacSha256", () => {
	it("matches RFC 4231's test case 2 and the well-known fox vector", async () => {
		expect(toHex(await hmacSha256("Jefe", "what do ya want for nothing?"))).toBe(
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		);
		expect(toHex(await hmacSha256("key", "The quick brown fox jumps over the lazy dog"))).toBe(
			"f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		);
	});

	it("gives the same MAC for a key as text, as its bytes and as an imported key", async () => {
		const expected = await hmacSha256("key", "message");
		expect(await hmacSha256(new TextEncoder().encode("key"), new TextEncoder().encode("message"))).toEqual(expected);
		expect(await hmacSha256(await hmacKey("key"), "message")).toEqual(expected);
	});

	it("imports a verifying key when asked", async () => {
		const key = await hmacKey("key", ["sign", "verify"]);
		const mac = await hmacSha256(key, "message");
		expect(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode("message"))).toBe(true);
	});
});

describe("sha256", () => {
	it("matches FIPS 180-2's 'abc' vector, as bytes and as hex", async () => {
		const hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
		expect(await sha256Hex("abc")).toBe(hex);
		expect(toHex(await sha256(new TextEncoder().encode("abc")))).toBe(hex);
		expect((await sha256("")).length).toBe(32);
	});
});

describe("timingSafeEqual", () => {
	it("says equal for equal bytes and unequal for any difference, length included", async () => {
		expect(timingSafeEqual(await sha256("a"), await sha256("a"))).toBe(true);
		expect(timingSafeEqual(await sha256("a"), await sha256("b"))).toBe(false);
		expect(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2, 4))).toBe(false);
		expect(timingSafeEqual(bytes(1, 2), bytes(1, 2, 3))).toBe(false);
		expect(timingSafeEqual(bytes(), bytes())).toBe(true);
	});

	it("uses the runtime's constant-time comparison where it has one (workerd does)", () => {
		const subtle = crypto.subtle as SubtleCrypto & {
			timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean;
		};
		expect(typeof subtle.timingSafeEqual).toBe("function");
		const compare = vi.spyOn(subtle as Required<typeof subtle>, "timingSafeEqual");
		try {
			expect(timingSafeEqual(bytes(7, 8), bytes(7, 8))).toBe(true);
			expect(compare).toHaveBeenCalledTimes(1);
		} finally {
			compare.mockRestore();
		}
	});
});

describe("base64 and base64url", () => {
	it("round-trips every byte value, padded and unpadded", () => {
		const all = new Uint8Array(256).map((_, i) => i);
		for (const length of [0, 1, 2, 3, 31, 32, 256]) {
			const data = all.subarray(0, length);
			expect(fromBase64(toBase64(data))).toEqual(new Uint8Array(data));
			expect(fromBase64Url(toBase64Url(data))).toEqual(new Uint8Array(data));
		}
	});

	it("spells the two alphabets as RFC 4648 says, base64url without padding", () => {
		expect(toBase64(bytes(0xfb, 0xff))).toBe("+/8=");
		expect(toBase64Url(bytes(0xfb, 0xff))).toBe("-_8");
		expect(toBase64(new TextEncoder().encode("foobar"))).toBe("Zm9vYmFy");
		expect(fromBase64Url("-_8")).toEqual(bytes(0xfb, 0xff));
	});

	it("throws on text that is not base64", () => {
		expect(() => fromBase64("not base64!")).toThrow();
		expect(() => fromBase64Url("a")).toThrow();
	});
});

describe("hex", () => {
	it("writes lowercase and reads either case", () => {
		expect(toHex(bytes(0, 15, 171, 255))).toBe("000fabff");
		expect(fromHex("000FabFF")).toEqual(bytes(0, 15, 171, 255));
		expect(fromHex("")).toEqual(bytes());
	});

	it("refuses odd lengths and non-hex digits", () => {
		expect(fromHex("abc")).toBeNull();
		expect(fromHex("zz")).toBeNull();
		expect(fromHex("0x12")).toBeNull();
	});
});
