/**
 * A chat message's text, whatever shape its `content` takes: the spec allows a
 * string or a list of typed chunks (`{type: "text", text}`, `image_url`,
 * `file_url`…). The one flattener, shared by the upstream reader, the Slack
 * message and the local inbox; it reads leniently (no throw on any input).
 */

/**
 * The text of a message's content: a string as it is, or the `text` of its chunks joined with
 * `separator`; "" for anything else (null, a number, chunks without text).
 *
 * @example
 * messageText([{ type: "text", text: "Why is " }, { type: "image_url", image_url: { url: "…" } }, { type: "text", text: "the sky blue?" }])
 * // "Why is the sky blue?"
 */
export function messageText(content: unknown, separator = ""): string {
	if (typeof content === "string") return content;
	if (!Array.isArray(content)) return "";
	return content
		.map((chunk: unknown) =>
			chunk !== null && typeof chunk === "object" && typeof (chunk as { text?: unknown }).text === "string"
				? (chunk as { text: string }).text
				: "",
		)
		.join(separator);
}
