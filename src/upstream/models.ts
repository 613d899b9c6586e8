/**
 * Which Agent API run a Sonar model name stands for. The retired Sonar models
 * map to what Perplexity's migration guide pairs them with; operators can
 * change or extend the map with `MODEL_MAP`; Agent API names pass through:
 * a provider-prefixed slug (`openai/gpt-5.1`) is a model, a preset name
 * (`medium`, or its old name `deep-research`) is a preset.
 */

/** A model slug (run with the relay's `web_search` tool), or a preset (which bundles its own tools). */
export type AgentTarget = { kind: "model"; model: string } | { kind: "preset"; preset: string };

/** The Agent API's presets, and the older names it still accepts for four of them. */
export const PRESETS: ReadonlySet<string> = new Set([
	"fast",
	"low",
	"medium",
	"high",
	"xhigh",
	"fast-search",
	"pro-search",
	"deep-research",
	"advanced-deep-research",
]);

/**
 * The built-in map. `sonar` keeps its behaviour (Perplexity's own model, searching the web);
 * the Pro and reasoning models become the `low` preset, and Deep Research the `medium` one,
 * as Perplexity's migration guide pairs them.
 */
export const DEFAULT_MODEL_MAP: Readonly<Record<string, string>> = Object.freeze({
	sonar: "perplexity/sonar",
	"sonar-pro": "low",
	"sonar-reasoning": "low",
	"sonar-reasoning-pro": "low",
	"sonar-deep-research": "medium",
});

/** The longest name a `MODEL_MAP` entry may have (as `request.model` may). */
const MAX_MODEL_NAME = 128;

/** A provider-prefixed Agent API model slug: `provider/model`. */
const SLUG = /^[a-z0-9][a-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** What a map value names: a preset, a model slug, or nothing usable. */
function targetOf(name: string): AgentTarget | null {
	if (PRESETS.has(name)) return { kind: "preset", preset: name };
	if (SLUG.test(name)) return { kind: "model", model: name };
	return null;
}

/**
 * @example
 * resolveModel("sonar-deep-research", {}) // { kind: "preset", preset: "medium" }
 * resolveModel("openai/gpt-5.1", {})      // { kind: "model", model: "openai/gpt-5.1" }
 * resolveModel("gpt-4", {})               // null
 */
export function resolveModel(name: string, overrides: Readonly<Record<string, string>>): AgentTarget | null {
	const mapped = Object.hasOwn(overrides, name)
		? overrides[name]
		: Object.hasOwn(DEFAULT_MODEL_MAP, name)
			? DEFAULT_MODEL_MAP[name]
			: undefined;
	return targetOf(mapped ?? name);
}

/** The names a caller may use under this map, for error messages. */
export function knownModelNames(overrides: Readonly<Record<string, string>>): string[] {
	return [...new Set([...Object.keys(DEFAULT_MODEL_MAP), ...Object.keys(overrides)])];
}

/**
 * `MODEL_MAP`: a JSON object from model name to a preset or a slug. Entries whose value is
 * neither are left out (and listed in `rejected`, for a log line); anything but an object is
 * no map at all.
 *
 * @example
 * parseModelMap('{"sonar-pro": "high", "house": "openai/gpt-5.1"}').map // { "sonar-pro": "high", house: "openai/gpt-5.1" }
 */
export function parseModelMap(raw: string | undefined): { map: Record<string, string>; rejected: string[] } {
	const map: Record<string, string> = Object.create(null);
	if (!raw?.trim()) return { map, rejected: [] };
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch {
		return { map, rejected: ["MODEL_MAP is not JSON"] };
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
		return { map, rejected: ["MODEL_MAP is not a JSON object"] };
	}
	const rejected: string[] = [];
	for (const [name, value] of Object.entries(parsed)) {
		if (typeof value === "string" && name.length <= MAX_MODEL_NAME && targetOf(value)) map[name] = value;
		else rejected.push(name);
	}
	return { map, rejected };
}
