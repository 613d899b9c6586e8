/** Settings shared by vitest.config.ts (Node) and the tests (workerd). */
export const TEST_UPSTREAM_KEY = "emulator-key";
export const TEST_SIGNING_KEY = "test-signing-key";
export const TEST_SIGNING_KEY_NEXT = "test-signing-key-next";
/** The production schedule's shape (immediately, then growing), in tens of ms. */
export const TEST_DELIVERY_SCHEDULE_MS = [0, 40, 80, 120, 160, 200];
export const TENANT_A = { tenant: "acme", key: "acme-key" };
export const TENANT_B = { tenant: "globex", key: "globex-key" };
export const TEST_API_KEYS = `${TENANT_A.tenant}:${TENANT_A.key},${TENANT_B.tenant}:${TENANT_B.key}`;
/** A tenant of its own for the list tests, so other tests' jobs never shift its pages. */
export const TENANT_LIST = { tenant: "lister", key: "lister-key" };
/** A tenant of its own for REST hooks, so its subscriptions see only its own jobs. */
export const TENANT_HOOKS = { tenant: "hooker", key: "hooker-key" };
/** A tenant of its own for the large-result tests: its REST hook sees only their 5 MB jobs. */
export const TENANT_LARGE = { tenant: "bulky", key: "bulky-key" };
/** The fuzz tests' own tenant: they count its jobs and subscriptions before and after. */
export const TENANT_FUZZ = { tenant: "fuzzer", key: "fuzzer-key" };
/** Tenants with limits (`TEST_TENANT_LIMITS`): two jobs in flight; three a minute; a daily cost cap. */
export const TENANT_LIMITED = { tenant: "limited", key: "limited-key" };
export const TENANT_PACED = { tenant: "paced", key: "paced-key" };
export const TENANT_THRIFTY = { tenant: "thrifty", key: "thrifty-key" };
/** A Slack workspace's operator: the key syntax's last colon separates the key. */
export const TENANT_SLACK_OPS = { tenant: "slack:TOPS1", key: "slack-ops-key" };
export const TEST_TENANT_LIMITS = JSON.stringify({
	[TENANT_LIMITED.tenant]: { max_in_flight: 2 },
	[TENANT_PACED.tenant]: { creates_per_minute: 3 },
	[TENANT_THRIFTY.tenant]: { daily_cost_usd: 0.0001 },
	"slack:TLIMIT1": { max_in_flight: 1 },
});
/** The sweeper tests' own tenant: they count its unsettled jobs. */
export const TENANT_SWEEP = { tenant: "swept", key: "swept-key" };
/** The operations tests' own tenants: their stats count, their recovery redelivers, and their search finds only theirs. */
export const TENANT_STATS = { tenant: "operator", key: "operator-key" };
export const TENANT_RECOVER = { tenant: "recoverer", key: "recoverer-key" };
export const TENANT_SEARCH = { tenant: "searcher", key: "searcher-key" };
/** A tenant that never submits anything: another tenant's numbers must not show in its own. */
export const TENANT_QUIET = { tenant: "quiet", key: "quiet-key" };
/** A tenant whose job fans out to many subscriptions (test/integration/subrequests.test.ts). */
export const TENANT_FANOUT = { tenant: "fanout", key: "fanout-key" };
export const TEST_API_KEYS_ALL = [
	TEST_API_KEYS,
	`${TENANT_LIST.tenant}:${TENANT_LIST.key}`,
	`${TENANT_HOOKS.tenant}:${TENANT_HOOKS.key}`,
	`${TENANT_FUZZ.tenant}:${TENANT_FUZZ.key}`,
	`${TENANT_LIMITED.tenant}:${TENANT_LIMITED.key}`,
	`${TENANT_PACED.tenant}:${TENANT_PACED.key}`,
	`${TENANT_THRIFTY.tenant}:${TENANT_THRIFTY.key}`,
	`${TENANT_SLACK_OPS.tenant}:${TENANT_SLACK_OPS.key}`,
	`${TENANT_LARGE.tenant}:${TENANT_LARGE.key}`,
	`${TENANT_SWEEP.tenant}:${TENANT_SWEEP.key}`,
	`${TENANT_STATS.tenant}:${TENANT_STATS.key}`,
	`${TENANT_RECOVER.tenant}:${TENANT_RECOVER.key}`,
	`${TENANT_SEARCH.tenant}:${TENANT_SEARCH.key}`,
	`${TENANT_QUIET.tenant}:${TENANT_QUIET.key}`,
	`${TENANT_FANOUT.tenant}:${TENANT_FANOUT.key}`,
].join(",");
/** The sweeper's subrequest budget per invocation in the tests: small, so that its bound shows. */
export const TEST_SWEEP_BATCH = 3;
/** Jobs one recovery call redelivers at most in the tests (`RECOVER_BATCH`): small, so that the cap shows. */
export const TEST_RECOVER_BATCH = 2;
export const TEST_SLACK_SECRET = "test-slack-secret";
export const TEST_MAX_SUBSCRIPTIONS = 5;
