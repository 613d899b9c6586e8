/**
 * The relay's default polling settings, for calculations in Node that cannot
 * import src/config.ts (it is typed against the Worker's `Env`).
 * test/unit/plan-defaults.test.ts checks them against `readSettings({})`.
 */
export const PLAN_DEFAULTS = {
	pollCostMs: 250,
	pollLagCost: 0.01,
	pollMinIntervalMs: 250,
	pollMaxIntervalMs: 30_000,
	pollFirstQuantile: 0.2,
	jobTimeoutSeconds: 3_600,
} as const;
