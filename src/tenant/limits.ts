/**
 * Per-tenant limits (`TENANT_LIMITS`): a JSON object keyed by tenant, with a
 * `"*"` entry for every tenant not named. Each entry may set:
 *
 * - `max_in_flight`: jobs accepted and not yet settled;
 * - `creates_per_minute`: jobs accepted in the last 60 s;
 * - `daily_cost_usd`: the upstream cost (`usage.cost`) of the jobs that
 *   finished since 00:00 UTC.
 *
 * The Tenant Durable Object, which indexes every job of its tenant, judges a
 * new job against them before anything is sent upstream; over a limit, the
 * submission is a 429 whose `detail` names the limit and its value.
 *
 * @example
 * parseTenantLimits('{"*": {"max_in_flight": 20}, "acme": {"daily_cost_usd": 50}}').table
 * // { "*": { max_in_flight: 20 }, acme: { daily_cost_usd: 50 } }
 */

export interface TenantLimits {
	max_in_flight?: number;
	creates_per_minute?: number;
	daily_cost_usd?: number;
}

export type TenantLimitsTable = Readonly<Record<string, Readonly<TenantLimits>>>;

const FIELDS: Record<keyof TenantLimits, "int" | "number"> = {
	max_in_flight: "int",
	creates_per_minute: "int",
	daily_cost_usd: "number",
};

/** Parses `TENANT_LIMITS`; what it cannot read is left out and named in `rejected` (logged once). */
export function parseTenantLimits(raw: string | undefined): { table: TenantLimitsTable; rejected: string[] } {
	const table: Record<string, TenantLimits> = Object.create(null);
	if (!raw?.trim()) return { table, rejected: [] };
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch {
		return { table, rejected: ["TENANT_LIMITS is not JSON: no limits apply"] };
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
		return { table, rejected: ["TENANT_LIMITS is not a JSON object: no limits apply"] };
	}
	const rejected: string[] = [];
	for (const [tenant, value] of Object.entries(parsed)) {
		if (typeof value !== "object" || value === null || Array.isArray(value)) {
			rejected.push(`TENANT_LIMITS["${tenant.slice(0, 64)}"] is not an object`);
			continue;
		}
		const limits: TenantLimits = {};
		for (const [field, raw] of Object.entries(value)) {
			const kind = FIELDS[field as keyof TenantLimits];
			const ok =
				typeof raw === "number" && Number.isFinite(raw) && raw > 0 && (kind !== "int" || Number.isInteger(raw));
			if (kind && ok) limits[field as keyof TenantLimits] = raw;
			else rejected.push(`TENANT_LIMITS["${tenant.slice(0, 64)}"].${field.slice(0, 64)}`);
		}
		table[tenant] = Object.freeze(limits);
	}
	return { table: Object.freeze(table), rejected };
}

/** The limits of `tenant`: its own entry, else the `"*"` entry, else none. */
export function limitsFor(table: TenantLimitsTable, tenant: string): TenantLimits {
	return table[tenant] ?? table["*"] ?? {};
}

/** What a tenant has used, against its limits (`GET /v1/usage`). */
export interface TenantUsage {
	in_flight: number;
	creates_last_minute: number;
	cost_today_usd: number;
}

/** A new job over a limit: the 429's detail, and when to try again. */
export interface LimitRefusal {
	limit: keyof TenantLimits;
	value: number;
	detail: string;
	retryAfterMs: number;
}

/** How long a caller over `max_in_flight` is told to wait: jobs settle in seconds to minutes. */
export const IN_FLIGHT_RETRY_MS = 10_000;

/**
 * Whether one more job fits, given what is used: null, or the first limit it would break.
 *
 * @example
 * judge({ max_in_flight: 2 }, { in_flight: 2, creates_last_minute: 2, cost_today_usd: 0 }, { now, oldestCreateInWindowMs: null })
 * // { limit: "max_in_flight", value: 2, detail: "…", retryAfterMs: 10000 }
 */
export function judge(
	limits: TenantLimits,
	usage: TenantUsage,
	context: { now: number; oldestCreateInWindowMs: number | null },
): LimitRefusal | null {
	const { max_in_flight, creates_per_minute, daily_cost_usd } = limits;
	if (max_in_flight !== undefined && usage.in_flight >= max_in_flight) {
		return {
			limit: "max_in_flight",
			value: max_in_flight,
			detail: `tenant limit max_in_flight (${max_in_flight}) reached: ${usage.in_flight} jobs are accepted and not yet settled`,
			retryAfterMs: IN_FLIGHT_RETRY_MS,
		};
	}
	if (creates_per_minute !== undefined && usage.creates_last_minute >= creates_per_minute) {
		const oldest = context.oldestCreateInWindowMs ?? context.now;
		return {
			limit: "creates_per_minute",
			value: creates_per_minute,
			detail: `tenant limit creates_per_minute (${creates_per_minute}) reached: ${usage.creates_last_minute} jobs were accepted in the last minute`,
			retryAfterMs: Math.max(1_000, oldest + 60_000 - context.now),
		};
	}
	if (daily_cost_usd !== undefined && usage.cost_today_usd >= daily_cost_usd) {
		return {
			limit: "daily_cost_usd",
			value: daily_cost_usd,
			detail: `tenant limit daily_cost_usd (${daily_cost_usd}) reached: jobs that finished today cost ${usage.cost_today_usd.toFixed(4)} USD upstream`,
			retryAfterMs: Math.max(1_000, startOfUtcDay(context.now) + 86_400_000 - context.now),
		};
	}
	return null;
}

/** 00:00 UTC of the day `now` is in (ms). */
export function startOfUtcDay(now: number): number {
	return now - (now % 86_400_000);
}
