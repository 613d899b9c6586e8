/**
 * `npm run smoke -- <url>`: is this relay working, end to end? Against a deployed relay (or a
 * local one) it checks, in order, stopping at the first failure:
 *
 * 1. `GET /healthz` answers 200;
 * 2. an authenticated call: 401 without a key, 200 with it (`GET /v1/webhook-secret`);
 * 3. a small job (`POST /async/chat/completions`, model `sonar`) reaches COMPLETED within the
 *    timeout (progress printed as it goes);
 * 4. its push: with `--callback <url>`, the delivery attempt's status in the job's delivery log;
 *    without one, on a loopback relay, a local verifying receiver (tools/inbox) is started and a
 *    push signed with the tenant's secret must arrive and verify. A deployed relay cannot reach
 *    this machine: without `--callback`, only the delivery log is reported.
 *
 * A real relay runs a real (small, billed) Perplexity job. Exit code 0 when every check passed, 1 otherwise.
 *
 *   --key <api key>        default: .deploy/secrets.json's first key (a loopback relay: .dev.vars's first)
 *   --callback <url>       where the job's push goes (https, unless the relay allows private callbacks)
 *   --model <name>         default sonar
 *   --timeout <seconds>    for the job to finish, default 300
 *   --secrets <path>       default .deploy/secrets.json
 */
import { join } from "node:path";
import type { z } from "zod";
import { parseApiKeys } from "../../src/auth.ts";
import type { DeliveryReport as DeliveryReportSchema, RelayJob } from "../../src/schemas/relay.ts";
import { devTenant, readDevVars } from "../dev-vars.ts";
import { type RunningInbox, startInbox } from "../inbox/server.ts";
import { isMain, parseFlags, ROOT, runCli, UsageError } from "./cli.ts";
import { DEFAULT_SECRETS_FILE, readSecretsFile } from "./secrets.ts";

export interface SmokeOptions {
	/** The relay's base URL. */
	url: string;
	key: string;
	/** Where the push goes; null: a local receiver on a loopback relay, else no push. @default null */
	callback?: string | null;
	/** @default "sonar" */
	model?: string;
	/** How long the job may take to finish. @default 300000 */
	timeoutMs?: number;
	/** Between two reads of the job. @default 2000 */
	pollMs?: number;
	/** How long to wait for the push once the job is done. @default 60000 */
	pushTimeoutMs?: number;
	/** Where the report goes. @default console.log */
	log?: (line: string) => void;
}

export interface SmokeReport {
	ok: boolean;
	/** One line per check, passed or not. */
	checks: { name: string; ok: boolean; detail: string }[];
	jobId: string | null;
}

type DeliveryReport = z.infer<typeof DeliveryReportSchema>;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1", "0.0.0.0"]);

/** Whether a relay URL is this machine (so a local receiver can take its pushes). */
export function isLoopback(url: string): boolean {
	return LOOPBACK.has(new URL(url).hostname);
}

/**
 * The key to smoke-test with when none is given: `.deploy/secrets.json`'s first, or for a loopback
 * relay `.dev.vars`'s first (then the secrets file's).
 *
 * @example
 * defaultKey("https://sonar-relay.acme.workers.dev") // "sr_…" from .deploy/secrets.json
 */
export function defaultKey(url: string, secretsFile = DEFAULT_SECRETS_FILE, root = ROOT): string | null {
	const fromSecrets = parseApiKeys(readSecretsFile(secretsFile)?.API_KEYS ?? "")[0]?.key ?? null;
	if (!isLoopback(url)) return fromSecrets;
	return devTenant(readDevVars(join(root, ".dev.vars")))?.key ?? fromSecrets;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown; text: string }> {
	const response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(15_000) });
	const text = await response.text();
	let body: unknown = null;
	try {
		body = JSON.parse(text);
	} catch {
		// Not JSON: the text says what it is.
	}
	return { status: response.status, body, text };
}

function detailOf(answer: { status: number; body: unknown; text: string }): string {
	const detail = (answer.body as { detail?: unknown } | null)?.detail;
	if (typeof detail === "string") return detail;
	if (detail !== undefined) return JSON.stringify(detail).slice(0, 300);
	return answer.text.replace(/\s+/g, " ").slice(0, 200) || "(empty body)";
}

/**
 * Runs the checks and reports each as it goes.
 *
 * @example
 * const report = await smoke({ url: "https://sonar-relay.acme.workers.dev", key: "sr_…" });
 * process.exit(report.ok ? 0 : 1);
 */
export async function smoke(options: SmokeOptions): Promise<SmokeReport> {
	const log = options.log ?? ((line: string) => console.log(line));
	const base = options.url.replace(/\/+$/, "");
	const timeoutMs = options.timeoutMs ?? 300_000;
	const pollMs = options.pollMs ?? 2_000;
	const report: SmokeReport = { ok: false, checks: [], jobId: null };
	const check = (name: string, ok: boolean, detail: string): boolean => {
		report.checks.push({ name, ok, detail });
		log(`${ok ? "✔" : "✘"} ${name}: ${detail}`);
		return ok;
	};
	const auth = { authorization: `Bearer ${options.key}` };
	let inbox: RunningInbox | undefined;

	try {
		// 1. Liveness.
		const health = await call(`${base}/healthz`).catch((error: Error) => ({
			status: 0,
			body: null,
			text: error.message,
		}));
		const healthy = health.status === 200 && (health.body as { ok?: boolean } | null)?.ok === true;
		const about = health.body as { version?: string; upstream_api?: string } | null;
		if (
			!check(
				"healthz",
				healthy,
				healthy
					? `200, version ${about?.version ?? "?"}, upstream ${about?.upstream_api ?? "?"}`
					: `${health.status || "unreachable"}: ${detailOf(health)}`,
			)
		) {
			return report;
		}

		// 2. Authentication: refused without a key, accepted with this one.
		const anonymous = await call(`${base}/v1/webhook-secret`);
		if (!check("no key is refused", anonymous.status === 401, `${anonymous.status}: ${detailOf(anonymous)}`)) {
			return report;
		}
		const secret = await call(`${base}/v1/webhook-secret`, { headers: auth });
		if (secret.status !== 200) {
			const hint =
				secret.status === 401
					? "the API key was refused: check --key (or .deploy/secrets.json); a key from npm run keys can take a minute to work"
					: detailOf(secret);
			check("the API key is accepted", false, `${secret.status}: ${hint}`);
			return report;
		}
		check("the API key is accepted", true, "200 (GET /v1/webhook-secret)");
		const secrets = secret.body as { secret: string; next_secret?: string };

		// Where the push goes.
		let callback = options.callback ?? null;
		let inboxName: string | null = null;
		if (!callback && isLoopback(base)) {
			inbox = await startInbox({
				host: "127.0.0.1",
				port: 0,
				secrets: [secrets.secret, ...(secrets.next_secret ? [secrets.next_secret] : [])],
			});
			inboxName = `smoke-${Date.now().toString(36)}`;
			callback = `${inbox.url}/hooks/${inboxName}`;
			log(`  a local receiver verifies the push: ${callback}`);
		} else if (!callback) {
			log("  no --callback: the push is not tested (a deployed relay cannot reach this machine)");
		}

		// 3. A small job, to COMPLETED.
		const submitted = await call(`${base}/async/chat/completions`, {
			method: "POST",
			headers: { ...auth, "content-type": "application/json" },
			body: JSON.stringify({
				request: {
					model: options.model ?? "sonar",
					messages: [{ role: "user", content: "sonar-relay smoke test: what is 2 + 2? One short sentence." }],
				},
				...(callback ? { callback_url: callback } : {}),
				metadata: { smoke: true },
			}),
		});
		const created = submitted.body as RelayJob | null;
		if (submitted.status !== 200 || !created?.id) {
			const hint =
				submitted.status === 502 && /401|403/.test(detailOf(submitted))
					? " (Perplexity refused the relay's key: is PERPLEXITY_API_KEY set? npm run setup adds it)"
					: submitted.status === 422 && inbox && /callback_url/.test(submitted.text)
						? " (this relay refuses callbacks to 127.0.0.1: ALLOW_PRIVATE_CALLBACKS is off; pass --callback <https url>)"
						: "";
			check("submit a job", false, `${submitted.status}: ${detailOf(submitted)}${hint}`);
			return report;
		}
		report.jobId = created.id;
		check("submit a job", true, `200, job ${created.id} (${created.status})`);

		const started = Date.now();
		let job: RelayJob = created;
		let lastStatus = "";
		let lastProgress = started;
		while (job.status !== "COMPLETED" && job.status !== "FAILED") {
			if (Date.now() - started > timeoutMs) {
				check("the job completes", false, `still ${job.status} after ${Math.round(timeoutMs / 1000)} s`);
				return report;
			}
			await sleep(pollMs);
			const read = await call(`${base}/async/chat/completions/${created.id}`, { headers: auth });
			if (read.status !== 200) {
				check("the job completes", false, `GET answered ${read.status}: ${detailOf(read)}`);
				return report;
			}
			job = read.body as RelayJob;
			const elapsed = Math.round((Date.now() - started) / 1000);
			if (job.status !== lastStatus || Date.now() - lastProgress >= 10_000) {
				log(`  … ${job.status} (${elapsed} s)`);
				lastStatus = job.status;
				lastProgress = Date.now();
			}
		}
		const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
		if (job.status === "FAILED") {
			check("the job completes", false, `FAILED after ${took}: ${job.error_message ?? "no error_message"}`);
			return report;
		}
		check("the job completes", true, `COMPLETED in ${took}`);

		// 4. The push.
		const deadline = Date.now() + (options.pushTimeoutMs ?? 60_000);
		let deliveries: DeliveryReport | null = null;
		for (;;) {
			const read = await call(`${base}/async/chat/completions/${created.id}/deliveries`, { headers: auth });
			if (read.status !== 200) {
				check("delivery log", false, `${read.status}: ${detailOf(read)}`);
				return report;
			}
			deliveries = read.body as DeliveryReport;
			const settled = !callback || deliveries.attempts.some((a) => a.status_code !== null || a.error !== null);
			const received = !inbox || (inboxName !== null && inbox.inbox.events(inboxName).length > 0);
			if ((settled && received) || Date.now() > deadline) break;
			await sleep(Math.min(pollMs, 1_000));
		}
		const attempts = deliveries?.attempts ?? [];
		const stats = deliveries?.stats;
		log(
			`  delivery log: ${attempts.length} attempt(s)${attempts
				.map(
					(a) =>
						`\n    #${a.attempt} ${a.event} → ${a.host}: ${a.status_code ?? a.error ?? "pending"} in ${Math.round(a.duration_ms)} ms`,
				)
				.join("")}`,
		);
		if (stats) {
			log(
				`  what the job cost: ${stats.alarm_runs} alarm runs, ${stats.upstream_polls} upstream polls, ${stats.kv_writes} KV writes, ${stats.index_writes} index writes, ${stats.other_do_requests} gate calls`,
			);
		}
		if (callback) {
			const delivered = attempts.find((a) => a.status_code !== null && a.status_code >= 200 && a.status_code < 300);
			const last = attempts.at(-1);
			if (
				!check(
					"the push is delivered",
					delivered !== undefined,
					delivered
						? `${delivered.status_code} from ${delivered.host}`
						: last
							? `${last.status_code ?? last.error}: ${last.error_message ?? "not a 2xx"}`
							: "no attempt within the wait",
				)
			) {
				return report;
			}
		}
		if (inbox && inboxName) {
			const pushes = inbox.inbox.events(inboxName);
			const verified = pushes.find((p) => p.verified === true);
			if (
				!check(
					"the push is signed for this tenant",
					verified !== undefined,
					verified
						? `verified with the tenant's whsec_ secret (${verified.headers["webhook-id"] ?? "?"})`
						: pushes.length > 0
							? "a push arrived, but its signature did not verify"
							: "no push arrived",
				)
			) {
				return report;
			}
		}
		report.ok = true;
		return report;
	} catch (error) {
		check("reach the relay", false, (error as Error).message);
		return report;
	} finally {
		await inbox?.close();
		const passed = report.checks.filter((c) => c.ok).length;
		const failed = report.checks.find((c) => !c.ok);
		log(
			report.ok
				? `\nsmoke: PASS (${passed} checks) against ${base}`
				: `\nsmoke: FAIL at "${failed?.name ?? "?"}" (${passed} checks passed before it) against ${base}`,
		);
	}
}

const USAGE =
	"npm run smoke -- <url> [--key <api key>] [--callback <url>] [--model <name>] [--timeout <seconds>] [--secrets <path>]";

/** `npm run smoke -- <url> …`: the flags above. */
export async function main(argv: string[]): Promise<number> {
	const { values, positionals } = parseFlags(
		argv,
		{
			key: { type: "string" },
			callback: { type: "string" },
			model: { type: "string" },
			timeout: { type: "string" },
			secrets: { type: "string" },
		},
		USAGE,
	);
	const [url, ...rest] = positionals;
	if (!url || rest.length > 0) throw new UsageError(`one relay URL, please\nusage: ${USAGE}`);
	try {
		if (!/^https?:$/.test(new URL(url).protocol)) throw new Error();
	} catch {
		throw new UsageError(`not an http(s) URL: ${url}`);
	}
	const key = values.key ?? defaultKey(url, values.secrets);
	if (!key) {
		throw new UsageError(
			isLoopback(url)
				? "no API key: give --key, or run npm start once (it writes .dev.vars)"
				: "no API key: give --key, or run npm run setup (it writes .deploy/secrets.json)",
		);
	}
	const timeout = values.timeout === undefined ? 300 : Number(values.timeout);
	if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout is in seconds: ${values.timeout}`);
	const report = await smoke({
		url,
		key,
		callback: values.callback ?? null,
		model: values.model,
		timeoutMs: timeout * 1000,
	});
	return report.ok ? 0 : 1;
}

if (isMain(import.meta.filename)) await runCli("smoke", () => main(process.argv.slice(2)));
