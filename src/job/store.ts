/**
 * A job's storage in its Durable Object: the state, its one alarm, and the result until KV has it.
 * The state is written without the result: once KV holds it (`state.result`), only where it is;
 * until then, in pieces of at most 1 MiB, since a Durable Object value may be 2 MB. After a restart
 * the result is read back from KV when something needs it (`hydrate`).
 */
import { splitText, utf8Length } from "../bytes.ts";
import { MAX_PART_BYTES, readResult } from "../cache.ts";
import type { CompletionResponse } from "../schemas/perplexity.ts";
import type { ResultAtHand } from "./budget.ts";
import { nextWake } from "./machine.ts";
import { migrateState } from "./migrate.ts";
import type { Policy } from "./schedule.ts";
import { type JobState, statusOf, surfaceOf } from "./state.ts";

/** A safety alarm set while a submit is under way. */
const SUBMIT_GRACE_MS = 60_000;
/** Where a result not yet in KV is kept in this object's storage, in pieces: `payload:0`, `payload:1` … */
const PAYLOAD_PREFIX = "payload:";
const payloadKey = (i: number) => `${PAYLOAD_PREFIX}${i}`;
const partIndex = (key: string) => Number(key.slice(PAYLOAD_PREFIX.length));
/** UTF-16 units per piece: at most 1 MiB however stored (2 bytes a unit at most), under the 2 MB a value may take. */
const STAGE_PART_UNITS = 512 * 1024;
/** Keys one storage call takes. */
const MAX_KEYS_PER_CALL = 128;
/** Room for what KV's copy of a result holds beside it (the job's fields, metadata up to 4 KB). */
const VIEW_OVERHEAD_BYTES = 16_384;

/** A promise and its resolve, for whoever waits on a job being stored. */
interface Deferred {
	promise: Promise<void>;
	resolve: () => void;
}

function deferred(): Deferred {
	let resolve: () => void = () => {};
	const promise = new Promise<void>((done) => {
		resolve = done;
	});
	return { promise, resolve };
}

/**
 * @example
 * const store = new JobStore(ctx.storage, () => env.RESULTS, onReadFailure);
 * await store.load();
 * store.state = apply(store.state, outcome, now, policy, random);
 * await store.save();
 * await store.arm(policy);
 */
export class JobStore {
	state: JobState | null = null;
	/** The state was loaded from storage (not made or last saved by this instance): a restart. */
	restored = false;
	armedAt: number | null = null;
	/**
	 * A job being submitted, not stored yet: its first save (with the submit's safety alarm) happens just
	 * before anything leaves it (the upstream create, the index entry), in one write with the mark that the
	 * create is on its way. Settled when that save is done (or failed); null once stored.
	 */
	unstored: Deferred | null = null;
	/**
	 * The result this object holds in its own storage until KV has it (`payload:<n>` pieces, or the
	 * `response`/`output` keys of a job stored before KV was the result's home), and in how many pieces.
	 */
	private stagedPayload: unknown = null;
	private stagedParts = 0;
	private legacyPayload = false;
	/** The state's `response` / `output` are the real ones (false after a restart, until read back from KV). */
	private resultAtHand = true;
	private hydrating: Promise<boolean> | null = null;
	/** The KV parts a result not yet in KV will take, counted once per result. */
	private sized: { payload: unknown; parts: number } = { payload: null, parts: 1 };

	private readonly storage: DurableObjectStorage;
	/** The KV namespace of results, read when needed (so that a binding swapped in a test is the one used). */
	private readonly results: () => KVNamespace;
	private readonly onReadFailure: (state: JobState, error: unknown) => void;

	constructor(
		storage: DurableObjectStorage,
		results: () => KVNamespace,
		onReadFailure: (state: JobState, error: unknown) => void,
	) {
		this.storage = storage;
		this.results = results;
		this.onReadFailure = onReadFailure;
	}

	/** Loads the stored job, if any (in `blockConcurrencyWhile`), brought up to date by `migrateState`. */
	async load(): Promise<void> {
		const stored = await this.storage.get<JobState>("state");
		if (!stored) return;
		const legacy = await this.storage.get<unknown>(["response", "output"]);
		const staged = await this.storage.list<string>({ prefix: PAYLOAD_PREFIX });
		const pieces = [...staged].sort(([a], [b]) => partIndex(a) - partIndex(b)).map(([, piece]) => piece);
		const payload = pieces.length > 0 ? (JSON.parse(pieces.join("")) as unknown) : null;
		const migrated = migrateState(stored);
		const agent = surfaceOf(migrated.spec) === "agent";
		const response = ((agent ? null : payload) ?? legacy.get("response") ?? null) as CompletionResponse | null;
		const output = ((agent ? payload : null) ?? legacy.get("output") ?? null) as Record<string, unknown> | null;
		this.state = { ...migrated, response, output };
		this.stagedParts = pieces.length;
		this.legacyPayload = legacy.size > 0;
		this.stagedPayload = payloadOf(this.state);
		// A failed Sonar job has no answer to read back.
		this.resultAtHand = !stored.result || this.stagedPayload !== null || (!agent && statusOf(stored) !== "COMPLETED");
		this.restored = true;
		this.armedAt = await this.storage.getAlarm();
	}

	/** A new job, kept in memory until its first save (`unstored` until then). */
	begin(state: JobState): Deferred {
		this.state = state;
		this.unstored = deferred();
		return this.unstored;
	}

	/** A job whose submit failed before it was stored: no phantom of it stays in memory. */
	abandon(): void {
		if (!this.unstored) return;
		const first = this.unstored;
		this.state = null;
		this.stagedPayload = null;
		this.stagedParts = 0;
		this.unstored = null;
		first.resolve();
	}

	/**
	 * Puts the result back at hand after a restart: KV is its home once written, and this object keeps
	 * only where it is (`state.result`). False when KV cannot give it now (a failure, or a read that
	 * missed a value written moments ago elsewhere); the caller retries.
	 */
	hydrate(): Promise<boolean> {
		if (this.resultAtHand || !this.state?.result) return Promise.resolve(true);
		this.hydrating ??= (async () => {
			const jobId = this.state?.spec.id ?? "";
			try {
				const stored = await readResult(this.results(), jobId);
				const state = this.state;
				if (!stored || !state || state.spec.id !== jobId || stored.tenant !== state.spec.tenant) return false;
				if (!this.resultAtHand) {
					this.state = { ...state, ...payloadFromView(state, JSON.parse(stored.text) as Record<string, unknown>) };
					this.stagedPayload = payloadOf(this.state);
					this.resultAtHand = true;
				}
				return true;
			} catch (error) {
				if (this.state) this.onReadFailure(this.state, error);
				return false;
			} finally {
				this.hydrating = null;
			}
		})();
		return this.hydrating;
	}

	/**
	 * Whether the result is in memory, and the KV values it takes (or will: counted from its size), for
	 * the subrequest budget of a run (`budget.ts`).
	 */
	resultCost(): ResultAtHand {
		const store = this;
		return {
			atHand: this.resultAtHand,
			// Counted only when an action's cost needs it (a write, a read back), once per result.
			get parts() {
				return store.resultParts();
			},
		};
	}

	private resultParts(): number {
		const state = this.state;
		if (!state) return 1;
		if (state.result) return Math.max(1, state.result.parts || 1);
		const payload = payloadOf(state);
		if (payload !== this.sized.payload) {
			const bytes = payload === null ? 0 : utf8Length(JSON.stringify(payload)) + VIEW_OVERHEAD_BYTES;
			this.sized = { payload, parts: Math.max(1, Math.ceil(bytes / MAX_PART_BYTES)) };
		}
		return this.sized.parts;
	}

	/** `hydrate`, or an error the Worker answers with a 503 the caller retries. */
	async requireResult(): Promise<void> {
		if (!(await this.hydrate())) throw new Error("The job's result is briefly unavailable; retry shortly");
	}

	/**
	 * Writes the state, never the result in it. Pieces of the result are written only when it changed,
	 * and removed once KV has it. All writes go together, so the runtime commits them atomically.
	 */
	async save(): Promise<void> {
		if (!this.state) return;
		const { response: _response, output: _output, ...rest } = this.state;
		const entries: Record<string, unknown> = { state: { ...rest, response: null, output: null } };
		const removals: string[] = [];
		const payload = payloadOf(this.state);
		let parts = this.stagedParts;
		if (this.state.result) {
			for (let i = 0; i < this.stagedParts; i++) removals.push(payloadKey(i));
			if (this.legacyPayload) removals.push("response", "output");
			parts = 0;
		} else if (payload !== this.stagedPayload) {
			const pieces = payload === null ? [] : splitText(JSON.stringify(payload), STAGE_PART_UNITS);
			pieces.forEach((piece, i) => {
				entries[payloadKey(i)] = piece;
			});
			for (let i = pieces.length; i < this.stagedParts; i++) removals.push(payloadKey(i));
			if (this.legacyPayload) removals.push("response", "output");
			parts = pieces.length;
		}
		const writes: Promise<unknown>[] = [];
		const keys = Object.keys(entries);
		for (let i = 0; i < keys.length; i += MAX_KEYS_PER_CALL) {
			writes.push(
				this.storage.put(Object.fromEntries(keys.slice(i, i + MAX_KEYS_PER_CALL).map((k) => [k, entries[k]]))),
			);
		}
		for (let i = 0; i < removals.length; i += MAX_KEYS_PER_CALL) {
			writes.push(this.storage.delete(removals.slice(i, i + MAX_KEYS_PER_CALL)));
		}
		// A job's first save arms the safety alarm in the same write: should the submitting request die
		// before it arms the real one, the job still moves on.
		const first = this.unstored;
		const grace = first ? Date.now() + SUBMIT_GRACE_MS : null;
		if (grace !== null) writes.push(this.storage.setAlarm(grace));
		await Promise.all(writes);
		this.stagedParts = parts;
		this.stagedPayload = this.state?.result ? null : payload;
		if (removals.includes("response")) this.legacyPayload = false;
		if (first) {
			this.armedAt = grace;
			this.unstored = null;
			first.resolve();
		}
	}

	/** Stores a job being submitted, if it is not yet: before anything about it leaves this object. */
	async store(): Promise<void> {
		if (this.unstored) await this.save();
	}

	/** Sets the one alarm for the machine's next wake (or deletes it when nothing is left to do). */
	async arm(policy: Policy): Promise<void> {
		if (!this.state) return;
		const due = nextWake(this.state, Date.now(), policy);
		// Whole milliseconds, and always after now: re-arming the time of the alarm that is running is a
		// no-op the runtime then forgets, which loses the alarm, so a due wake is set 1 ms ahead instead.
		const wake = due === null ? null : Math.max(Math.ceil(due), Date.now() + 1);
		if (wake === this.armedAt) return;
		await this.setAlarm(wake);
	}

	/** The alarm as storage has it (the runtime may have lost one this object set). */
	storedAlarm(): Promise<number | null> {
		return this.storage.getAlarm();
	}

	/** Sets (or, with null, deletes) the alarm now. */
	async setAlarm(at: number | null): Promise<void> {
		if (at === null) await this.storage.deleteAlarm();
		else await this.storage.setAlarm(at);
		this.armedAt = at;
	}

	/** Drops everything this object stores: a rejected job, or a retired one. */
	async forget(): Promise<void> {
		this.state = null;
		this.stagedPayload = null;
		this.stagedParts = 0;
		this.legacyPayload = false;
		this.armedAt = null;
		await this.storage.deleteAlarm();
		await this.storage.deleteAll();
	}
}

/** The result this job keeps: the answer on the Sonar surface, upstream's Response on the Agent surface. */
function payloadOf(state: JobState): unknown {
	return (surfaceOf(state.spec) === "agent" ? state.output : state.response) ?? null;
}

/** The result, from the job as KV keeps it (what `viewOf` made): a view gives back what it was made of. */
function payloadFromView(state: JobState, view: Record<string, unknown>): Partial<JobState> {
	if (surfaceOf(state.spec) === "sonar") return { response: (view.response as CompletionResponse | null) ?? null };
	const { delivery_status: _status, ...output } = view;
	return { output };
}
