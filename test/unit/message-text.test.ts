/** The one message-content flattener (src/schemas/content.ts). */
import { describe, expect, it } from "vitest";
import { messageText } from "../../src/schemas/content.ts";

describe("messageText", () => {
	it("takes string content as it is", () => {
		expect(messageText("Why is the sky blue?")).toBe("Why is the sky blue?");
	});

	it("joins the text of text chunks and skips the others", () => {
		const content = [
			{ type: "text", text: "Why is " },
			{ type: "image_url", image_url: { url: "https://example.com/sky.png" } },
			{ type: "text", text: "the sky blue?" },
		];
		expect(messageText(content)).toBe("Why is the sky blue?");
		expect(messageText(content, " ")).toBe("Why is   the sky blue?");
	});

	it("reads leniently: anything else is empty text, never a throw", () => {
		for (const content of [null, undefined, 42, {}, [null, 1, "x", { text: 5 }]]) {
			expect(messageText(content)).toBe("");
		}
	});
});
