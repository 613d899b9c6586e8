/**
 * The Job DO's I/O executors: each action the machine asks for is carried out here (the upstream
 * port, the Upstream Gate, KV, the tenant index, the receiver) and reported back as an `Outcome`.
 * No decision about what happens next is made here; expected failures are outcomes.
 */
import { deleteResult, putResult } from "../cache.ts";
import { type Settings, signingKeys } from "../config.ts";
import { deliverEvent } from "../delivery/deliver.ts";
import {
	type AttemptResult,
	asksWhetherHookExists,
	type Delivery,
	findDelivery,
	JITTER,
	MAX_RETRY_AFTER_MS,
	unsubscribes,
} from "../delivery/outbox.ts";
import { resultLink } from "../delivery/result-link.ts";
import { tenantSecret } from "../delivery/sign.ts";
import type { Hook } from "../schemas/relay.ts";
import { type LimitRefusal, limitsFor } from "../tenant/limits.ts";
import { asFailure } from "../upstream/errors.ts";
import type { RateLimitHint } from "../upstream/http.ts";
import { upstreamPort } from "../upstream/index.ts";
import { gatePacer } from "../upstream/pacing/gate-pacer.ts";
import { adviceOf, pollsPaced } from "../upstream/pacing/pacing.ts";
import { type Pacer, verdict } from "../upstream/pacing/port.ts";
import type { UpstreamJob, UpstreamOrigin } from "../upstream/port.ts";
import type { Action, Outcome } from "./actions.ts";
import { markCreateSent } from "./machine.ts";
import { allowedHostsOf, carriesResult, eventBody, isStandard, linksResult } from "./render.ts";
import { upstreamJobOf } from "./spec.ts";
import { isFinal, type JobState } from "./state.ts";
import { reportsPushback } from "./stats.ts";
import type { JobStore } from "./store.ts";
import { indexEntry, viewOf } from "./views.ts";

/** What the executors reach the world through: the bindings, the settings, the job's storage, the log. */
export interface Shell {
	env: Env;
	settings: Settings;
	store: JobStore;
	/** Saves the state now (before a create leaves, so that a restart knows it was sent). */
	save(): Promise<void>;
	note(level: "warn" | "error", event: string, state: JobState, error: unknown): void;
}

/**
 * Carries out one action and reports its outcome.
 *
 * @example
 * const outcome = await perform(shell, action, state);
 * state = apply(state, outcome, Date.now(), settings, Math.random());
 */
export async function perform(shell: Shell, action: Action, state: JobState): Promise<Outcome> {
	const { settings } = shell;
	let limits: RateLimitHint | null = null;
	let origin: UpstreamOrigin | null = null;
	const upstream = upstreamPort(settings, {
		onLimits: (hint) => {
			limits = hint;
		},
		onOrigin: (said) => {
			origin = said;
		},
	});
	const job = upstreamJobOf(state.spec);
	const outcome = await performWith(shell, action, state, settings, upstream, job);
	if (limits) await reportLimits(shell, limits);
	// Who answered is recorded as the job runs, never guessed from settings when it is shown.
	if (origin && (outcome.type === "created" || outcome.type === "polled")) return { ...outcome, upstream: origin };
	return outcome;
}

async function performWith(
	shell: Shell,
	action: Action,
	state: JobState,
	settings: Settings,
	upstream: ReturnType<typeof upstreamPort>,
	job: UpstreamJob,
): Promise<Outcome> {
	switch (action.type) {
		case "create": {
			const admission = await pacer(shell).admit("create", {
				model: state.spec.model,
				slot: action.slot,
				tenant: state.spec.tenant,
				...(action.deadline !== undefined ? { deadline: action.deadline } : {}),
			});
			// The pacer's advice (a poll plan, if any): the machine keeps what it holds otherwise.
			const pacing = adviceOf(admission);
			const go = verdict(admission, Date.now());
			if ("refused" in go) {
				return {
					type: "create_refused",
					detail: `the upstream create queue is ${go.refused.waitS} s long, past this job's ${settings.jobTimeoutSeconds} s timeout: retry later`,
					retryAfterMs: go.refused.retryAfterMs,
				};
			}
			if (!go.go) return { type: "create_deferred", at: go.at, slot: go.slot, pacing };
			// Saved before it leaves: should the relay die before the answer, its restart counts the create.
			// (A job being submitted is stored by this same write.) A storage failure is not a create failure.
			if (shell.store.state) {
				shell.store.state = markCreateSent(shell.store.state, Date.now());
				await shell.save();
			}
			try {
				const run = await upstream.create(job);
				const estimate = admission?.estimate ?? null;
				return { type: "created", run, pacing, canWatch: upstream.canWatch, estimate };
			} catch (error) {
				const failure = asFailure(error);
				if (reportsPushback("create", failure)) await pacer(shell).report429("create", failure.retryAfterMs);
				return { type: "create_failed", failure };
			}
		}
		case "poll": {
			// Unpaced polls go straight out: the plan spreads them, and the gate steps in after pushback.
			const admission = pollsPaced(action.pacing)
				? await pacer(shell).admit("get", { model: state.spec.model, slot: action.slot, tenant: state.spec.tenant })
				: null;
			const go = verdict(admission, Date.now());
			if (!go.go && "slot" in go) return { type: "poll_deferred", at: go.at, slot: go.slot };
			try {
				const run = await upstream.read(job, action.upstreamId);
				// While GETs are scarce, the gate re-plans this job's polls at the going price of a poll.
				return { type: "polled", run, pacing: adviceOf(admission) };
			} catch (error) {
				const failure = asFailure(error);
				if (reportsPushback("get", failure)) await pacer(shell).report429("get", failure.retryAfterMs);
				return { type: "poll_failed", failure };
			}
		}
		case "learn":
			// Only statistics: should it fail, the plan stays as it was.
			await pacer(shell).record(action.model, action.durationMs);
			return { type: "learned" };
		case "expire":
			return { type: "expired" };
		case "watch":
			// Never performed here (`run` skips it; the alarm's `follow` does it): a no-op end, to be safe.
			return { type: "watched", end: { ended: "stopped", cursor: action.cursor ?? -1 } };
		case "cancel_upstream":
			try {
				await upstream.cancel(action.upstreamId);
				return { type: "upstream_cancelled" };
			} catch (error) {
				return { type: "cancel_failed", failure: asFailure(error) };
			}
		case "cache":
			try {
				// A refresh of the delivery status rewrites the whole value: the result must be at hand.
				if (!(await shell.store.hydrate())) throw new Error("the result could not be read back from KV");
				const current = shell.store.state ?? state;
				const ttl = resultTtlSeconds(current, settings, Date.now());
				const ref = await putResult(shell.env.RESULTS, viewOf(current), current.spec.tenant, ttl);
				return { type: "cached", ref };
			} catch (error) {
				shell.note("error", "kv.write_failed", state, error);
				return { type: "side_effect_failed" };
			}
		case "index":
			// Never an index entry for a job that is not stored.
			await shell.store.store();
			if (action.admit) {
				try {
					const limits = limitsFor(settings.tenantLimits, state.spec.tenant);
					const admitted = (await tenantIndex(shell, state.spec.tenant).admitJob(indexEntry(state), limits)) as
						| { ok: true }
						| { ok: false; refusal: LimitRefusal };
					if (!admitted.ok) {
						return {
							type: "index_refused",
							detail: admitted.refusal.detail,
							retryAfterMs: admitted.refusal.retryAfterMs,
						};
					}
					return { type: "indexed", hooks: [] };
				} catch (error) {
					shell.note("error", "index.write_failed", state, error);
					return { type: "side_effect_failed" };
				}
			}
			try {
				const hooks = (await tenantIndex(shell, state.spec.tenant).upsertJob(
					indexEntry(state),
					action.fanOut,
				)) as Hook[];
				return { type: "indexed", hooks: hooks.map((hook) => ({ id: hook.id, url: hook.target_url })) };
			} catch (error) {
				shell.note("error", "index.write_failed", state, error);
				return { type: "side_effect_failed" };
			}
		case "deliver": {
			const delivery = findDelivery(state.deliveries, action.id);
			if (!delivery) return { type: "side_effect_failed" };
			const { id } = delivery;
			const dropped = await dropReason(shell, delivery);
			if (dropped) return { type: "delivery_dropped", id, reason: dropped };
			if (isStandard(delivery) && signingKeys(settings).length === 0) {
				// Never an unsigned push: the attempt fails, and its retries go once the key is set.
				const result = {
					ok: false,
					statusCode: null,
					error: "blocked" as const,
					durationMs: 0,
					retryAfterMs: null,
					responseBody: "not sent: WEBHOOK_SIGNING_KEY is not set, and the relay never sends an unsigned event",
				};
				return { type: "delivery_attempted", id, result };
			}
			const needsResult = isFinal(state) && carriesResult(delivery);
			if (needsResult && !(await shell.store.hydrate())) {
				return { type: "delivery_attempted", id, result: UNAVAILABLE };
			}
			const current = shell.store.state ?? state;
			const linked = needsResult || linksResult(delivery);
			const push = {
				maxBytes: settings.maxPushBytes,
				resultUrl: linked ? await resultUrl(current, settings) : null,
			};
			const result = await deliverEvent({
				url: delivery.url,
				webhookId: delivery.webhookId,
				body: eventBody(current, delivery, push),
				secrets: await Promise.all(signingKeys(settings).map((key) => tenantSecret(key, state.spec.tenant))),
				timeoutMs: settings.deliveryTimeoutMs,
				allowPrivate: settings.allowPrivateCallbacks,
				// Slack's response_url may only ever be Slack's (local development lifts it, for a loopback stand-in).
				allowedHosts: settings.allowPrivateCallbacks ? undefined : allowedHostsOf(delivery),
			});
			const gone = unsubscribes(delivery, result);
			if (gone) {
				await tenantIndex(shell, state.spec.tenant)
					.deleteHook(gone)
					.catch((error: unknown) => shell.note("error", "hook.remove_failed", state, error));
			}
			return { type: "delivery_attempted", id, result };
		}
		case "retire":
			try {
				await deleteResult(shell.env.RESULTS, state.spec.id, state.result?.parts ?? 1);
				await tenantIndex(shell, state.spec.tenant).removeJob(state.spec.id);
				return { type: "retired" };
			} catch {
				return { type: "side_effect_failed" };
			}
	}
}

/**
 * Why a delivery must not go, if it must not: a retry to a REST-hook subscription that was deleted
 * meanwhile (asked of the index; its first attempt follows the fan-out at once, so only retries ask).
 */
async function dropReason(shell: Shell, delivery: Delivery): Promise<string | null> {
	if (!delivery.hookId || !asksWhetherHookExists(delivery) || !shell.store.state) return null;
	try {
		const exists = await tenantIndex(shell, shell.store.state.spec.tenant).hookExists(delivery.hookId);
		return exists ? null : "the REST-hook subscription was deleted";
	} catch (error) {
		// The index is unavailable: the retry goes (a deleted hook's receiver may see one more attempt).
		if (shell.store.state) shell.note("warn", "hook.check_failed", shell.store.state, error);
		return null;
	}
}

/** The signed link to this job's result, valid as long as the result is kept; null when none can be made. */
async function resultUrl(state: JobState, settings: Settings): Promise<string | null> {
	const { origin, id, createdAtMs } = state.spec;
	if (!origin || !settings.webhookSigningKey) return null;
	const { lifecycle } = state;
	// Until the job settles, its result will be kept until at most its deadline plus the TTL.
	const expiresAt =
		lifecycle.phase === "settled"
			? lifecycle.retireAt
			: createdAtMs + (settings.jobTimeoutSeconds + settings.resultTtlSeconds) * 1000;
	return resultLink(origin, id, expiresAt / 1000, settings.webhookSigningKey);
}

/** The pacing port (the Upstream Gate), its failures noted against the job. */
function pacer(shell: Shell): Pacer {
	return gatePacer(shell.env, (event, error) => {
		if (shell.store.state) shell.note("warn", event, shell.store.state, error);
	});
}

/**
 * Tells the gate what upstream's rate-limit headers said, when it matters: a limit this isolate
 * has not told it lately (so it follows the account's real limit, up or down), or a window
 * nearly spent (so it slows down before upstream answers 429). Otherwise it costs nothing.
 */
export async function reportLimits(shell: Shell, hint: RateLimitHint): Promise<void> {
	if (!shell.store.state || !shouldReportLimits(hint, Date.now())) return;
	const { stats } = shell.store.state;
	// Counted here, not from the outcome: only the shell knows the call was made.
	shell.store.state = { ...shell.store.state, stats: { ...stats, gateCalls: (stats.gateCalls ?? 0) + 1 } };
	await pacer(shell).observeLimits(hint);
}

export function tenantIndex(shell: Shell, tenant: string) {
	return shell.env.TENANTS.get(shell.env.TENANTS.idFromName(tenant));
}

/** A final event not sent, because the result it carries could not be read back from KV: retried on the schedule. */
const UNAVAILABLE: AttemptResult = {
	ok: false,
	statusCode: null,
	error: "unavailable",
	message: "not sent: the result could not be read back from KV (retried on the schedule)",
	durationMs: 0,
	retryAfterMs: null,
	responseBody: null,
};

/**
 * How long KV keeps a result: until the job retires (which deletes it), plus the longest a delivery
 * series begun just before then can take, so that no delivery ever misses the result it carries.
 */
function resultTtlSeconds(state: JobState, settings: Settings, now: number): number {
	const { lifecycle } = state;
	const retireAt = lifecycle.phase === "settled" ? lifecycle.retireAt : now + settings.resultTtlSeconds * 1000;
	const schedule = settings.deliveryScheduleMs;
	const series = schedule.reduce((sum, ms) => sum + ms, 0) * (1 + JITTER) + schedule.length * MAX_RETRY_AFTER_MS;
	return Math.ceil((Math.max(retireAt, now) - now + series) / 1000);
}

/** A window this nearly spent is worth telling the gate about at once. */
const LOW_REMAINING_SHARE = 0.1;
/** A limit is told to the gate again after this long, so a gate that lost it (evicted) hears it again. */
const LIMIT_REPORT_EVERY_MS = 60_000;
/** What this isolate last told the gate about the limit, and when. */
let reportedLimit: { perSecond: number; at: number } | null = null;

/** Whether an answer's rate-limit headers are worth a gate call (see `Job.reportLimits`). */
export function shouldReportLimits(hint: RateLimitHint, now: number): boolean {
	const { limitPerSecond, remaining, remainingShare } = hint;
	if (remaining === 0 || (remainingShare !== null && remainingShare <= LOW_REMAINING_SHARE)) return true;
	if (limitPerSecond === null) return false;
	if (reportedLimit && reportedLimit.perSecond === limitPerSecond && now - reportedLimit.at < LIMIT_REPORT_EVERY_MS) {
		return false;
	}
	reportedLimit = { perSecond: limitPerSecond, at: now };
	return true;
}
