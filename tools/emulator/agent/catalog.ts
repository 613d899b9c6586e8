/**
 * What the emulated Agent API knows of models and presets: the slugs
 * `GET /v1/models` serves (and `model`/`models` must name), the presets and
 * their legacy aliases, list prices for `usage.cost`, and the built-in run
 * durations (lognormal, seeded: realistic orders of magnitude, not exact values).
 */
import type { ModelList } from "./types.ts";

export interface ModelInfo {
	id: string;
	owned_by: string;
	/** Unix seconds, as `/v1/models` lists it. */
	created: number;
	/** USD per million input and output tokens (published list prices, rounded). */
	price: { input: number; output: number };
	/** Built-in duration of a run on this model. */
	duration: { medianMs: number; sigma: number };
}

const model = (
	id: string,
	created: number,
	price: ModelInfo["price"],
	medianMs: number,
	sigma = 0.3,
): [string, ModelInfo] => [
	id,
	{ id, owned_by: id.slice(0, id.indexOf("/")), created, price, duration: { medianMs, sigma } },
];

export const MODELS: ReadonlyMap<string, ModelInfo> = new Map([
	model("perplexity/sonar", 1_735_689_600, { input: 1, output: 1 }, 3_000, 0.35),
	model("openai/gpt-5.1", 1_762_905_600, { input: 1.25, output: 10 }, 8_000),
	model("openai/gpt-5-mini", 1_754_524_800, { input: 0.25, output: 2 }, 5_000),
	model("openai/gpt-5.2", 1_765_497_600, { input: 1.75, output: 14 }, 9_000),
	model("anthropic/claude-sonnet-4-5", 1_759_190_400, { input: 3, output: 15 }, 9_000),
	model("anthropic/claude-haiku-4-5", 1_760_572_800, { input: 1, output: 5 }, 5_000),
	model("anthropic/claude-opus-4-5", 1_764_028_800, { input: 5, output: 25 }, 10_000),
	model("google/gemini-2.5-pro", 1_750_204_800, { input: 1.25, output: 10 }, 8_000),
	model("google/gemini-2.5-flash", 1_750_204_800, { input: 0.3, output: 2.5 }, 5_000),
	model("xai/grok-4", 1_752_105_600, { input: 3, output: 15 }, 7_000),
	model("xai/grok-4-1-fast-non-reasoning", 1_763_424_000, { input: 0.2, output: 0.5 }, 5_000),
]);

export type PresetName = "fast" | "low" | "medium" | "high" | "xhigh";

export interface PresetInfo {
	/** The model a preset run reports when the caller names none. */
	model: string;
	duration: { medianMs: number; sigma: number };
	/** How many search queries a run of this depth issues. */
	queries: [number, number];
}

export const PRESETS: Readonly<Record<PresetName, PresetInfo>> = {
	fast: { model: "xai/grok-4-1-fast-non-reasoning", duration: { medianMs: 5_000, sigma: 0.3 }, queries: [1, 2] },
	low: { model: "openai/gpt-5.1", duration: { medianMs: 20_000, sigma: 0.3 }, queries: [2, 4] },
	medium: { model: "openai/gpt-5.1", duration: { medianMs: 180_000, sigma: 0.5 }, queries: [8, 20] },
	high: { model: "openai/gpt-5.2", duration: { medianMs: 360_000, sigma: 0.4 }, queries: [15, 30] },
	xhigh: { model: "openai/gpt-5.2", duration: { medianMs: 600_000, sigma: 0.4 }, queries: [25, 50] },
};

/** The preset names of the Sonar era, which still work. */
export const PRESET_ALIASES: Readonly<Record<string, PresetName>> = {
	"fast-search": "fast",
	"pro-search": "low",
	"deep-research": "medium",
	"advanced-deep-research": "high",
};

/** The canonical preset for a name or legacy alias, or undefined. */
export function presetOf(name: string): PresetName | undefined {
	if (Object.hasOwn(PRESETS, name)) return name as PresetName;
	return PRESET_ALIASES[name];
}

/** USD per search call and per fetched page, for `usage.cost.tool_calls_cost`. */
export const TOOL_PRICES = { web_search: 0.005, fetch_url: 0.0005 } as const;

/** The built-in duration prior for a duration key (a preset or a model slug). */
export function durationPrior(key: string): { medianMs: number; sigma: number } | undefined {
	const preset = presetOf(key);
	return preset ? PRESETS[preset].duration : MODELS.get(key)?.duration;
}

export function modelList(): ModelList {
	return {
		object: "list",
		data: [...MODELS.values()].map(({ id, owned_by, created }) => ({ id, object: "model", owned_by, created })),
	};
}
