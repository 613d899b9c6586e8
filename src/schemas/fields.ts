/**
 * Top-level field checks for request bodies: a misspelt field (`callbackUrl`) is a 422 that names the
 * field it probably meant, never a push that silently never happens.
 */
import type { z } from "@hono/zod-openapi";

/** Lower case, letters and digits only: `callbackUrl`, `callback-url` and `CALLBACK_URL` compare equal. */
function normalise(name: string): string {
	return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Edit distance, two rows (the names are short). */
function distance(a: string, b: string): number {
	let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const current = [i];
		for (let j = 1; j <= b.length; j++) {
			current[j] = Math.min(
				(previous[j] as number) + 1,
				(current[j - 1] as number) + 1,
				(previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
			);
		}
		previous = current;
	}
	return previous[b.length] as number;
}

/**
 * The known field `name` most likely meant: the same letters in another case or separator, or at most
 * two edits away; null when none is close.
 *
 * @example
 * closestField("callbackUrl", ["request", "callback_url"]) // "callback_url"
 * closestField("colour", ["request"]) // null
 */
export function closestField(name: string, known: readonly string[]): string | null {
	const wanted = normalise(name);
	let best: { field: string; score: number } | null = null;
	for (const field of known) {
		const score = distance(wanted, normalise(field));
		if (score <= 2 && (!best || score < best.score)) best = { field, score };
	}
	return best?.field ?? null;
}

/**
 * Adds a 422 issue for each top-level field of `body` that is not in `known`, with the likely intended
 * name when there is one (`type: "extra_forbidden"`, as FastAPI says it).
 */
export function refuseUnknownFields(body: object, known: readonly string[], ctx: z.RefinementCtx): void {
	for (const name of Object.keys(body)) {
		if (known.includes(name)) continue;
		const meant = closestField(name, known);
		ctx.addIssue({
			code: "custom",
			path: [name],
			message: meant ? `unknown field ${name}: did you mean ${meant}?` : `unknown field ${name}`,
			params: { type: "extra_forbidden" },
		});
	}
}

/** `callback_events` picks among the events pushed to `callback_url`: without one it would do nothing. */
export function requireCallbackForEvents(
	body: { callback_url?: string | null; callback_events?: unknown[] | null },
	ctx: z.RefinementCtx,
): void {
	if (body.callback_events && !body.callback_url) {
		ctx.addIssue({
			code: "custom",
			path: ["callback_events"],
			message: "callback_events needs a callback_url: they choose which events are pushed there",
		});
	}
}
