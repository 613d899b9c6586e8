/**
 * Typed settings, read once per call from the Worker's `env` (wrangler.toml
 * `[vars]` and secrets). Every field documents its default; a missing or
 * malformed value falls back to it, so a typo in a var never takes the relay down.
 */

import { parseTenantLimits, type TenantLimitsTable } from "./tenant/limits.ts";
import { parseModelMap } from "./upstream/models.ts";

export interface Settings {
	/**
	 * Which upstream API runs the jobs: `agent`, Perplexity's Agent API in background mode, or `sonar`,
	 * the retired async chat completions API, for gateways that still serve it. @default "agent"
	 */
	upstreamApi: "agent" | "sonar";
	/**
	 * `MODEL_MAP`: the caller's model names onto Agent API runs, over the built-in map (a JSON object
	 * from name to a preset or a provider/model slug). @default {} (the built-in map only)
	 */
	modelMap: Readonly<Record<string, string>>;
	/**
	 * Retries of a create whose answer was lost (a timeout, a dropped connection, a 500): each may
	 * have started a billed run, since the Agent API has no idempotency key. @default 2
	 */
	ambiguousCreateRetries: number;
	/**
	 * How a job learns that its run ended: `stream` follows the run's event stream (the push leaves
	 * within the network's lag; the Durable Object is billed for the time it holds the stream),
	 * `poll` polls it on a learnt plan, `auto` chooses per job by the expected cost (see
	 * `chooseWatch`). The retired Sonar API does not stream: it always polls. @default "auto"
	 */
	watchMode: "auto" | "stream" | "poll";
	/**
	 * What a caller's hour of waiting for a push is worth, in USD: `WATCH_MODE=auto` streams a job
	 * when the lag it saves is worth more than the Durable Object duration it costs. 0 always polls
	 * (the smallest Cloudflare bill). @default 1
	 */
	watchLagValueUsdPerHour: number;
	/** A stream that sends nothing for this long is taken for dead and reopened from its cursor. @default 120000 */
	streamIdleTimeoutMs: number;
	/** How long one alarm run follows a stream before handing over to the next (under the 15-minute limit). @default 840000 */
	watchBudgetMs: number;
	/** Upstream base URL. @default "https://api.perplexity.ai" */
	upstreamBaseUrl: string;
	/** Upstream API key; empty when only the emulator is used. @default "" */
	upstreamApiKey: string;
	/** Timeout of one upstream call. @default 10000 */
	upstreamTimeoutMs: number;
	/** First delay before retrying a failed create; it doubles, up to 60 s. @default 1000 */
	createRetryInitialMs: number;
	/** Delay before the first poll. @default 1000 */
	pollInitialDelayMs: number;
	/** The polling back-off (×1.5) stops growing here, and no planned gap is wider. @default 30000 */
	pollMaxIntervalMs: number;
	/** No two planned polls closer than this. @default 250 */
	pollMinIntervalMs: number;
	/**
	 * What one poll costs in push lag (ms): plans poll where a poll saves more lag than this, so lower
	 * polls more and lags less, whatever the job's length. @default 250
	 */
	pollCostMs: number;
	/**
	 * Past its sketch's 90th percentile, a job's poll costs this share of its age instead: a job that
	 * outlives what its model usually takes is polled about log(age) times. @default 0.01
	 */
	pollLagCost: number;
	/** The first planned poll waits until this share of the model's jobs is done. @default 0.2 */
	pollFirstQuantile: number;
	/** The prior median duration of every model without history (ms); unset, a per-model table. @default null */
	pollPriorMedianMs: number | null;
	/**
	 * Upstream creates per second, across all jobs of this upstream key, until upstream's rate-limit
	 * headers say what the account allows; 429s lower it (AIMD). The default is safe for the lowest
	 * tier (Agent API tier 0: 50 requests a minute, shared by every call). @default 0.4
	 */
	upstreamCreateRps: number;
	/** Upstream polls per second once upstream has pushed back, likewise. @default 0.4 */
	upstreamGetRps: number;
	/** A job not settled this long after submission fails. @default 3600 */
	jobTimeoutSeconds: number;
	/**
	 * An alarm this far past its time is taken for lost (the runtime dropped it): the sweeper, or a
	 * GET of the job, sets it again. A missing alarm is set again at once. @default 120000
	 */
	sweepOverdueMs: number;
	/**
	 * Most subrequests one invocation of the sweeper makes: Job Durable Objects one Tenant checks per
	 * call, and Tenants one run of the registry calls. Under the Free plan's 50 per invocation; the
	 * Paid plan allows 10,000. @default 40
	 */
	sweepBatch: number;
	/**
	 * Most subrequests (fetches, KV operations, calls into other Durable Objects) one invocation of a
	 * Job Durable Object spends on its actions, counted at each action's worst (`src/job/budget.ts`); a
	 * run with more due saves and runs again at once. Under the Free plan's 50 per invocation, with room
	 * for the run's event stream; the Paid plan allows 10,000. @default 40
	 */
	subrequestBudget: number;
	/**
	 * `RECOVER_BATCH`: jobs one call of `POST /v1/deliveries/recover` redelivers at most; the answer's
	 * `next_token` carries on. Each is one subrequest of the call (plus one to the tenant index), so
	 * the default stays under the Free plan's 50 per invocation. @default 40
	 */
	recoverBatch: number;
	/** Only a 2xx within this time is a delivered webhook. @default 15000 */
	deliveryTimeoutMs: number;
	/** Delay before each delivery attempt; its length is the number of attempts. @default [0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h] */
	deliveryScheduleMs: number[];
	/** How long results stay in KV, and how long a settled job stays redeliverable. @default 604800 (7 days) */
	resultTtlSeconds: number;
	/** Larger request bodies are refused with 413. @default 262144 */
	maxBodyBytes: number;
	/**
	 * A webhook event whose body would be larger goes without the result (`response`, or a run's
	 * `output`) and carries `result_url` instead: a signed link to fetch it (docs/large-results.md).
	 * @default 1048576 (1 MiB)
	 */
	maxPushBytes: number;
	/** Lets callbacks reach private and loopback addresses over http (local development only). @default false */
	allowPrivateCallbacks: boolean;
	/** Key every tenant's `whsec_` secret is derived from. */
	webhookSigningKey: string;
	/**
	 * During a key rotation, the next key: every delivery then carries two
	 * signatures, so receivers can switch secrets without a gap. @default null
	 */
	webhookSigningKeyNext: string | null;
	/** Verifies Slack's requests; the Slack command answers 503 without it. @default "" */
	slackSigningSecret: string;
	/** The model a Slack command asks. @default "sonar-deep-research" */
	slackModel: string;
	/** `in_channel` posts answers for everyone; anything else keeps them ephemeral. @default "ephemeral" */
	slackResponseType: "in_channel" | "ephemeral";
	/** The model `/v1/ask` uses when the caller names none. @default "sonar" */
	askModel: string;
	/** REST-hook subscriptions one tenant may hold. @default 100 */
	maxSubscriptions: number;
	/**
	 * `TENANT_LIMITS`: per-tenant `max_in_flight`, `creates_per_minute` and `daily_cost_usd`, keyed by
	 * tenant, `"*"` for the rest (see src/tenant/limits.ts). @default {} (no limits)
	 */
	tenantLimits: TenantLimitsTable;
	/**
	 * `SLACK_TEAMS`: the Slack workspaces (team ids, comma-separated) whose commands are served; others
	 * get a refusal and make no job. @default null (every workspace that has the app)
	 */
	slackTeams: ReadonlySet<string> | null;
	/** What the settings could not read, or what makes the relay refuse work: logged once per isolate. */
	problems: readonly string[];
}

export const DEFAULT_DELIVERY_SCHEDULE_MS = [
	0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/** A numeric setting's parse: the value, or the fallback and, when the value was set but is no good, why. */
type Read = { value: number; problem: string | null };

function checked(
	name: string,
	text: string | undefined,
	parsed: number,
	ok: boolean,
	rule: string,
	fallback: number,
): Read {
	if (ok) return { value: parsed, problem: null };
	const set = text !== undefined && text.trim() !== "";
	return { value: fallback, problem: set ? `${name}=${text.slice(0, 40)} is not ${rule}: using ${fallback}` : null };
}

function int(name: string, value: string | undefined, fallback: number, min = 0): Read {
	const parsed = Number.parseInt(value ?? "", 10);
	return checked(name, value, parsed, Number.isFinite(parsed) && parsed >= min, `an integer ≥ ${min}`, fallback);
}

function positive(name: string, value: string | undefined, fallback: number): Read {
	const parsed = Number.parseFloat(value ?? "");
	return checked(name, value, parsed, Number.isFinite(parsed) && parsed > 0, "a number above 0", fallback);
}

function nonNegative(name: string, value: string | undefined, fallback: number): Read {
	const parsed = Number.parseFloat(value ?? "");
	return checked(name, value, parsed, Number.isFinite(parsed) && parsed >= 0, "a number ≥ 0", fallback);
}

function fraction(name: string, value: string | undefined, fallback: number): Read {
	const parsed = Number.parseFloat(value ?? "");
	return checked(name, value, parsed, Number.isFinite(parsed) && parsed > 0 && parsed < 1, "between 0 and 1", fallback);
}

function intList(value: string | undefined, fallback: number[]): number[] {
	if (!value) return fallback;
	const parts = value.split(",").map((p) => Number.parseInt(p.trim(), 10));
	return parts.length > 0 && parts.every((n) => Number.isFinite(n) && n >= 0) ? parts : fallback;
}

/** One of `choices`, else the fallback and a problem when a value was set. */
function choice<T extends string>(
	name: string,
	value: string | undefined,
	choices: readonly T[],
	fallback: T,
	problems: string[],
): T {
	if (value && (choices as readonly string[]).includes(value)) return value as T;
	if (value) problems.push(`${name}=${value.slice(0, 40)} is not one of ${choices.join(", ")}: using ${fallback}`);
	return fallback;
}

/** Whether the upstream is Perplexity's own API (the default), which refuses a call without a key. */
function isPerplexity(baseUrl: string | undefined): boolean {
	if (!baseUrl) return true;
	try {
		return new URL(baseUrl).hostname === "api.perplexity.ai";
	} catch {
		return false;
	}
}

/** Settings per env object: bindings do not change while an isolate lives, so they are parsed once, not on every action. */
const parsed = new WeakMap<object, Settings>();

/**
 * @example
 * const settings = readSettings(env);
 * settings.pollMaxIntervalMs // 30000 unless POLL_MAX_INTERVAL_MS says otherwise
 */
export function readSettings(env: Partial<Record<keyof Env, unknown>>): Settings {
	let settings = parsed.get(env);
	if (!settings) {
		settings = Object.freeze(parseSettings(env));
		parsed.set(env, settings);
	}
	return settings;
}

function parseSettings(env: Partial<Record<keyof Env, unknown>>): Settings {
	const s = env as Partial<Record<string, string>>;
	const modelMap = parseModelMap(s.MODEL_MAP);
	const tenantLimits = parseTenantLimits(s.TENANT_LIMITS);
	const slackTeams = (s.SLACK_TEAMS ?? "")
		.split(",")
		.map((team) => team.trim())
		.filter(Boolean);
	const problems: string[] = [
		...modelMap.rejected.map((name) => `MODEL_MAP: ${name.slice(0, 80)} ignored`),
		...tenantLimits.rejected.map((what) => `${what} ignored`),
		...(s.WEBHOOK_SIGNING_KEY
			? []
			: ["WEBHOOK_SIGNING_KEY is not set: submissions with a callback_url, and REST hooks, are refused (503)"]),
		// A deployed relay never falls back to the emulator (only `npm start` runs one): it says so instead.
		...(s.PERPLEXITY_API_KEY || !isPerplexity(s.PERPLEXITY_BASE_URL)
			? []
			: ["PERPLEXITY_API_KEY is not set: Perplexity refuses every job, and callers get a 502"]),
	];
	/** A numeric setting's value; a malformed one is logged once (`settings.problem`) and its default used. */
	const num = (read: Read): number => {
		if (read.problem) problems.push(read.problem);
		return read.value;
	};
	const deliveryScheduleMs = intList(s.DELIVERY_RETRY_SCHEDULE_MS, DEFAULT_DELIVERY_SCHEDULE_MS);
	if (s.DELIVERY_RETRY_SCHEDULE_MS && deliveryScheduleMs === DEFAULT_DELIVERY_SCHEDULE_MS) {
		problems.push(
			`DELIVERY_RETRY_SCHEDULE_MS=${s.DELIVERY_RETRY_SCHEDULE_MS.slice(0, 40)} is not a list of integers ≥ 0: using the default`,
		);
	}
	return {
		upstreamApi: choice("UPSTREAM_API", s.UPSTREAM_API, ["agent", "sonar"] as const, "agent", problems),
		modelMap: Object.freeze(modelMap.map),
		ambiguousCreateRetries: num(int("UPSTREAM_AMBIGUOUS_CREATE_RETRIES", s.UPSTREAM_AMBIGUOUS_CREATE_RETRIES, 2)),
		watchMode: choice("WATCH_MODE", s.WATCH_MODE, ["auto", "stream", "poll"] as const, "auto", problems),
		streamIdleTimeoutMs: num(int("STREAM_IDLE_TIMEOUT_MS", s.STREAM_IDLE_TIMEOUT_MS, 120_000, 1_000)),
		watchLagValueUsdPerHour: num(nonNegative("WATCH_LAG_VALUE_USD_PER_HOUR", s.WATCH_LAG_VALUE_USD_PER_HOUR, 1)),
		watchBudgetMs: num(int("WATCH_BUDGET_MS", s.WATCH_BUDGET_MS, 840_000, 1_000)),
		upstreamBaseUrl: (s.PERPLEXITY_BASE_URL || "https://api.perplexity.ai").replace(/\/+$/, ""),
		upstreamApiKey: s.PERPLEXITY_API_KEY ?? "",
		upstreamTimeoutMs: num(int("UPSTREAM_TIMEOUT_MS", s.UPSTREAM_TIMEOUT_MS, 10_000, 1)),
		createRetryInitialMs: num(int("CREATE_RETRY_INITIAL_MS", s.CREATE_RETRY_INITIAL_MS, 1_000)),
		pollInitialDelayMs: num(int("POLL_INITIAL_DELAY_MS", s.POLL_INITIAL_DELAY_MS, 1_000)),
		pollMaxIntervalMs: num(int("POLL_MAX_INTERVAL_MS", s.POLL_MAX_INTERVAL_MS, 30_000, 1)),
		pollMinIntervalMs: num(int("POLL_MIN_INTERVAL_MS", s.POLL_MIN_INTERVAL_MS, 250, 1)),
		pollCostMs: num(int("POLL_COST_MS", s.POLL_COST_MS, 250, 1)),
		pollLagCost: num(fraction("POLL_LAG_COST", s.POLL_LAG_COST, 0.01)),
		pollFirstQuantile: num(fraction("POLL_FIRST_QUANTILE", s.POLL_FIRST_QUANTILE, 0.2)),
		pollPriorMedianMs: s.POLL_PRIOR_MEDIAN_MS
			? num(int("POLL_PRIOR_MEDIAN_MS", s.POLL_PRIOR_MEDIAN_MS, 10_000, 1))
			: null,
		upstreamCreateRps: num(positive("UPSTREAM_CREATE_RPS", s.UPSTREAM_CREATE_RPS, 0.4)),
		upstreamGetRps: num(positive("UPSTREAM_GET_RPS", s.UPSTREAM_GET_RPS, 0.4)),
		jobTimeoutSeconds: num(int("JOB_TIMEOUT_SECONDS", s.JOB_TIMEOUT_SECONDS, 3_600, 1)),
		sweepOverdueMs: num(int("SWEEP_OVERDUE_MS", s.SWEEP_OVERDUE_MS, 120_000, 1_000)),
		sweepBatch: num(int("SWEEP_BATCH", s.SWEEP_BATCH, 40, 1)),
		subrequestBudget: num(int("SUBREQUEST_BUDGET", s.SUBREQUEST_BUDGET, 40, 10)),
		recoverBatch: num(int("RECOVER_BATCH", s.RECOVER_BATCH, 40, 1)),
		deliveryTimeoutMs: num(int("DELIVERY_TIMEOUT_MS", s.DELIVERY_TIMEOUT_MS, 15_000, 1)),
		deliveryScheduleMs,
		resultTtlSeconds: num(int("RESULT_TTL_SECONDS", s.RESULT_TTL_SECONDS, 604_800, 60)),
		maxBodyBytes: num(int("MAX_BODY_BYTES", s.MAX_BODY_BYTES, 262_144, 1)),
		maxPushBytes: num(int("MAX_PUSH_BYTES", s.MAX_PUSH_BYTES, 1_048_576, 1_024)),
		allowPrivateCallbacks: s.ALLOW_PRIVATE_CALLBACKS === "true",
		webhookSigningKey: s.WEBHOOK_SIGNING_KEY ?? "",
		webhookSigningKeyNext: s.WEBHOOK_SIGNING_KEY_NEXT || null,
		slackSigningSecret: s.SLACK_SIGNING_SECRET ?? "",
		slackModel: s.SLACK_MODEL || "sonar-deep-research",
		slackResponseType: choice(
			"SLACK_RESPONSE_TYPE",
			s.SLACK_RESPONSE_TYPE,
			["ephemeral", "in_channel"] as const,
			"ephemeral",
			problems,
		),
		askModel: s.ASK_MODEL || "sonar",
		maxSubscriptions: num(int("MAX_SUBSCRIPTIONS", s.MAX_SUBSCRIPTIONS, 100, 1)),
		tenantLimits: tenantLimits.table,
		slackTeams: slackTeams.length > 0 ? new Set(slackTeams) : null,
		problems,
	};
}

/** The signing keys in force: the current one, then the next one during a rotation. */
export function signingKeys(settings: Pick<Settings, "webhookSigningKey" | "webhookSigningKeyNext">): string[] {
	return [settings.webhookSigningKey, settings.webhookSigningKeyNext].filter((k): k is string => !!k);
}
