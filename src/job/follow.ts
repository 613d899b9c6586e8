/**
 * Following a run's event stream from the Job DO, for as long as one alarm run may (under the
 * platform's 15-minute wall time for an alarm, and the job's deadline). It runs outside the job's
 * lock: a cancel or a redelivery is never held up by it (a cancel stops it). Each event that
 * matters is applied under the lock; the started and progress events go out as they come; the
 * cursor is saved every few seconds, and the alarm is kept armed a minute ahead, so that an
 * eviction or a crash resumes from the cursor within a minute. The connection's end is applied
 * like any outcome.
 */
import { asFailure } from "../upstream/errors.ts";
import type { RateLimitHint } from "../upstream/http.ts";
import { upstreamPort } from "../upstream/index.ts";
import type { WatchEnd } from "../upstream/port.ts";
import type { Action } from "./actions.ts";
import type { Allowance } from "./budget.ts";
import type { JobHost } from "./host.ts";
import { reportLimits } from "./perform.ts";
import { upstreamJobOf } from "./spec.ts";
import { statusOf } from "./state.ts";

/** While a stream is followed: its started and progress events go out, and the index learns the status. */
const WATCH_SIDE_ACTIONS: ReadonlySet<Action["type"]> = new Set(["deliver", "index"]);
/** While a stream is followed, the alarm stays armed this far ahead, so that a crash resumes within it. */
const WATCH_SAFETY_MS = 60_000;
/** While a stream is followed, its cursor is saved at least this often (and at every status change). */
const WATCH_SAVE_EVERY_MS = 5_000;

/**
 * Follows the stream of the run `action` names, from its cursor, then applies how it ended.
 *
 * @example
 * const watch = dueActions(state, Date.now(), settings).find((a) => a.type === "watch");
 * if (watch?.type === "watch") await follow(host, watch, allowance);
 */
export async function follow(
	host: JobHost,
	action: Extract<Action, { type: "watch" }>,
	allowance?: Allowance,
): Promise<void> {
	const { settings, store } = host;
	const start = store.state;
	if (!start || host.watching) return;
	const controller = new AbortController();
	host.watching = controller;
	const started = Date.now();
	const deadline = start.spec.createdAtMs + settings.jobTimeoutSeconds * 1000;
	const budget = setTimeout(
		() => controller.abort(),
		Math.max(0, Math.min(settings.watchBudgetMs, deadline - started)),
	);
	let savedAt = started;
	let limits: RateLimitHint | null = null;
	const upstream = upstreamPort(settings, {
		onLimits: (hint) => {
			limits = hint;
		},
	});
	const keepArmed = () => store.setAlarm(Date.now() + WATCH_SAFETY_MS);
	let end: WatchEnd;
	try {
		await keepArmed();
		end = await upstream.watch(upstreamJobOf(start.spec), action.upstreamId, {
			cursor: action.cursor,
			signal: controller.signal,
			idleTimeoutMs: settings.streamIdleTimeoutMs,
			onUpdate: (update) =>
				host.exclusive(async () => {
					const before = store.state;
					if (!before) return;
					host.step(action, { type: "watch_update", ...update });
					const after = store.state;
					const news =
						statusOf(before) !== (after && statusOf(after)) || before.deliveries.length !== after?.deliveries.length;
					if (news || Date.now() - savedAt >= WATCH_SAVE_EVERY_MS) {
						// The started and progress events go out now, not when the run ends.
						await host.run(WATCH_SIDE_ACTIONS, allowance);
						await host.save();
						await keepArmed();
						savedAt = Date.now();
					}
				}),
		});
	} catch (error) {
		// The stream reader turns every failure into an end; anything else is a bug, taken as a drop.
		end = { ended: "dropped", cursor: action.cursor ?? -1, failure: asFailure(error) };
	} finally {
		clearTimeout(budget);
		if (host.watching === controller) host.watching = null;
	}
	await host.exclusive(async () => {
		if (!store.state) return;
		host.step(action, { type: "watched", end }, Date.now() - started);
		await host.run(undefined, allowance);
		await host.save();
		await host.arm();
	});
	if (limits) await reportLimits(host.shell, limits);
}
