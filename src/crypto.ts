/**
 * The relay's one copy of each cryptographic helper: HMAC-SHA256, SHA-256,
 * a constant-time comparison, and the base64, base64url and hex spellings of
 * bytes. Webhook signing, result links, Slack verification and API keys all
 * use these, so each is written (and tested) once.
 *
 * Web Crypto only, so the same code runs in the Worker and in the Node tools.
 */

const encoder = new TextEncoder();

/** Text as UTF-8 bytes, or bytes as they are. */
function bytesOf(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
	return new Uint8Array(typeof data === "string" ? encoder.encode(data) : data);
}

/**
 * An HMAC-SHA256 key for signing (and, when asked, verifying) under `key`: text is taken as its UTF-8 bytes.
 *
 * @example
 * const key = await hmacKey("sonar-relay-signing-key", ["sign", "verify"]);
 */
export function hmacKey(
	key: string | Uint8Array,
	usages: readonly ("sign" | "verify")[] = ["sign"],
): Promise<CryptoKey> {
	return crypto.subtle.importKey("raw", bytesOf(key), { name: "HMAC", hash: "SHA-256" }, false, [...usages]);
}

/**
 * HMAC-SHA256 of `message` under `key` (text is taken as its UTF-8 bytes).
 *
 * @example
 * toHex(await hmacSha256("key", "The quick brown fox jumps over the lazy dog"))
 * // "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
 */
export async function hmacSha256(
	key: string | Uint8Array | CryptoKey,
	message: string | Uint8Array,
): Promise<Uint8Array> {
	const cryptoKey = key instanceof CryptoKey ? key : await hmacKey(key);
	return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, bytesOf(message)));
}

/**
 * The SHA-256 digest of `data` (text is taken as its UTF-8 bytes).
 *
 * @example
 * (await sha256("abc")).length // 32
 */
export async function sha256(data: string | Uint8Array): Promise<Uint8Array> {
	return new Uint8Array(await crypto.subtle.digest("SHA-256", bytesOf(data)));
}

/**
 * The SHA-256 digest of `data` as 64 lowercase hex digits.
 *
 * @example
 * await sha256Hex("abc") // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
	return toHex(await sha256(data));
}

type NativeTimingSafeEqual = (a: ArrayBufferView, b: ArrayBufferView) => boolean;

/**
 * Whether two byte strings are equal, without leaking through timing how many leading bytes match.
 * workerd has `crypto.subtle.timingSafeEqual`; Node's Web Crypto does not, so there the XOR of every
 * byte pair is OR-accumulated with no early exit. Lengths are not secret (digests and MACs have a
 * fixed one), so unequal lengths answer false at once.
 *
 * @example
 * timingSafeEqual(await sha256("a"), await sha256("a")) // true
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	const native = (crypto.subtle as { timingSafeEqual?: NativeTimingSafeEqual }).timingSafeEqual;
	if (typeof native === "function") return native.call(crypto.subtle, a, b);
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
	return diff === 0;
}

/**
 * Bytes as standard base64, with padding.
 *
 * @example
 * toBase64(new Uint8Array([0xfb, 0xff])) // "+/8="
 */
export function toBase64(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary);
}

/**
 * Standard base64 (padding optional) as bytes; throws on text that is not base64.
 *
 * @example
 * fromBase64("+/8=") // Uint8Array [0xfb, 0xff]
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
	const binary = atob(text);
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

/**
 * Bytes as base64url (RFC 4648 §5), without padding: safe in a URL's query or path.
 *
 * @example
 * toBase64Url(new Uint8Array([0xfb, 0xff])) // "-_8"
 */
export function toBase64Url(bytes: Uint8Array): string {
	return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * base64url (padding optional) as bytes; throws on text that is not base64url.
 *
 * @example
 * fromBase64Url("-_8") // Uint8Array [0xfb, 0xff]
 */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
	return fromBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
}

/**
 * Bytes as lowercase hex.
 *
 * @example
 * toHex(new Uint8Array([0, 171])) // "00ab"
 */
export function toHex(bytes: Uint8Array): string {
	let hex = "";
	for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
	return hex;
}

/**
 * Hex (either case, an even number of digits) as bytes; null for anything else.
 *
 * @example
 * fromHex("00AB") // Uint8Array [0, 171]
 */
export function fromHex(hex: string): Uint8Array | null {
	if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
	const bytes = new Uint8Array(hex.length / 2);
	for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
	return bytes;
}
