/**
 * A caller's call that changes a job, carried out for the Job DO under its lock: a submit (store
 * the job, then only the create and the index entry, in the caller's request), and a cancel or a
 * redelivery (the machine's new state, saved, then what it made due). What each decides is the
 * machine's (`commands.ts`); here is only the order of the I/O.
 */
import type { Action } from "./actions.ts";
import { isReplay, ownedBy, rejection } from "./commands.ts";
import type { JobHost } from "./host.ts";
import { newJob } from "./machine.ts";
import { tenantIndex } from "./perform.ts";
import { type CreateJobInput, specOf } from "./spec.ts";
import type { JobState, Surface } from "./state.ts";
import { viewOf } from "./views.ts";

const SUBMIT_ACTIONS: ReadonlySet<Action["type"]> = new Set(["create", "index"]);
const INDEX_ONLY: ReadonlySet<Action["type"]> = new Set(["index"]);
/** A cancel stops the run upstream and pushes the cancelled event before it answers. */
const CANCEL_ACTIONS: ReadonlySet<Action["type"]> = new Set(["cancel_upstream", "deliver", "cache", "index"]);
const REDELIVER_ACTIONS: ReadonlySet<Action["type"]> = new Set(["deliver", "cache", "index"]);
const NOT_FOUND = { status: 404, detail: "Job not found" } as const;

/**
 * Stores the job, then creates it upstream (or, with `deferUpstream`, leaves the create to the
 * alarm). A replay with the same body returns the same job; another body under the same key is a
 * 409. A rejected job leaves nothing behind: no storage, no index entry.
 *
 * @example
 * const result = await submit(host, { id, tenant, bodyHash, body }); // { ok: true, job, replayed: false }
 */
export async function submit(host: JobHost, input: CreateJobInput) {
	const { store } = host;
	// The same key while the first submission is still storing the job: answer once it is stored (or,
	// should that fail, create it here).
	if (store.unstored) await store.unstored.promise;
	if (store.state) {
		if (!isReplay(store.state, input.tenant, input.bodyHash)) {
			return {
				ok: false as const,
				status: 409 as const,
				detail: "idempotency_key was already used with a different body",
			};
		}
		await store.requireResult();
		return { ok: true as const, job: viewOf(store.state), replayed: true };
	}
	const now = Date.now();
	const state = newJob(specOf(input, now), now, !input.deferUpstream);
	store.begin(state);
	try {
		// Only the create itself (and the index entry) happen in the caller's request; polls are the alarm's.
		// The job is stored before either leaves (`store`), in the same write as the create's mark.
		await host.run(input.deferUpstream ? INDEX_ONLY : SUBMIT_ACTIONS);
		await store.store();
	} catch (error) {
		// Never stored: keep no phantom of it in memory (a retry with the same key must find nothing).
		store.abandon();
		throw error;
	}
	const after = store.state as JobState | null;
	const refused = after ? rejection(after) : null;
	if (after && refused) {
		if (refused.leaveIndex) {
			await tenantIndex(host.shell, after.spec.tenant)
				.removeJob(after.spec.id)
				.catch((error: unknown) => host.shell.note("error", "index.remove_failed", after, error));
		}
		await store.forget();
		const { status, detail, retryAfterMs } = refused;
		return { ok: false as const, status, detail, retryAfterMs };
	}
	await host.save();
	await host.arm();
	return { ok: true as const, job: viewOf(after ?? state), replayed: false };
}

/** Which job a caller's command is for: its tenant, the surface it calls on, and the id it names. */
export interface CommandTarget {
	tenant: string;
	surface: Surface;
	id?: string | undefined;
}

/**
 * A cancel or a redelivery, under the job's lock: the machine's new state (`change`), saved, then
 * what it made due, saved and armed. Null when done; else why not (404: not the caller's job).
 *
 * @example
 * const refused = await command(host, { tenant, surface }, (s) => redeliver(s, Date.now()), { stopWatching: false });
 */
export async function command(
	host: JobHost,
	target: CommandTarget,
	change: (state: JobState) => { ok: true; state: JobState } | { ok: false; reason: string },
	options: { stopWatching: boolean },
): Promise<{ status: 404 | 409; detail: string } | null> {
	let refused: { status: 404 | 409; detail: string } | null = NOT_FOUND;
	await host.exclusive(async () => {
		const state = ownedBy(host.store.state, target.tenant, target.surface, target.id);
		if (!state) return;
		const next = change(state);
		if (!next.ok) {
			refused = { status: 409, detail: next.reason };
			return;
		}
		host.store.state = next.state;
		// A cancel ends the job: stop following the run's stream.
		if (options.stopWatching) host.watching?.abort();
		await host.save();
		await host.run(options.stopWatching ? CANCEL_ACTIONS : REDELIVER_ACTIONS);
		await host.save();
		await host.arm();
		// Gone meanwhile (it retired): to the caller it does not exist.
		refused = host.store.state ? null : NOT_FOUND;
	});
	return refused;
}
