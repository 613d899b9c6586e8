/**
 * What both emulated APIs share: the clock and the sleep, the seeded PRNGs, the
 * global faults, the per-key rate limiters, the counters and the job registry
 * that `stats()` reads. One `Runtime` per emulator; `createEmulator` builds it
 * and hands it to the Sonar and Agent routers.
 */
import { hashString, mulberry32, type Random, randomHex, randomInt, randomUuid } from "./answers.ts";
import type { Markers } from "./markers.ts";
import { type ApiName, type EmulatorOptions, type FaultOptions, NO_FAULTS, type Range } from "./options.ts";

/** A job's status in its own API's words. */
export type JobStatus =
	| "CREATED"
	| "IN_PROGRESS"
	| "COMPLETED"
	| "FAILED"
	| "queued"
	| "in_progress"
	| "completed"
	| "failed"
	| "cancelled"
	| "incomplete"
	| "requires_action";

export interface JobStats {
	/** Which API the job was created on. */
	api: ApiName;
	/** The Sonar model; for an Agent run, the model its Response names. */
	model: string;
	/** The Agent run's preset (legacy aliases mapped), or null. */
	preset: string | null;
	/** The last user text, markers stripped. */
	question: string;
	/** The caller's `idempotency_key`, if it sent one (always null on the Agent API, which has none). */
	idempotencyKey: string | null;
	/** Create calls answered with this job: 1, plus its idempotent replays. */
	creates: number;
	/**
	 * The create that made this run had its answer lost (`lostAnswerRate`): the run exists, but the
	 * caller was answered 504 (or gave up) and never learnt its id. Always false on the Sonar API.
	 */
	answerLost: boolean;
	/** JSON GETs of this job that reached it (authenticated, found), emulated faults included. */
	gets: number;
	/** Cancel calls that reached this run. */
	cancels: number;
	/** Event-stream connections to this run (the streaming create and every stream GET). */
	streams: number;
	/** The create body exactly as received (parsed JSON): what the caller sent upstream. */
	body: unknown;
	createdAtMs: number;
	/** When it became terminal on the emulator clock; null while it is not. */
	finishedAtMs: number | null;
	status: JobStatus;
	/** The emulator-clock instant each status was first answered to a GET. */
	firstSeen: Partial<Record<JobStatus, number>>;
}

export interface Counters {
	/** Every create call received, faulted and rejected ones included. */
	creates: number;
	/** Creates that made a new job. */
	createsAccepted: number;
	/** Creates answered with an existing job because of `idempotency_key` (Sonar only). */
	idempotentReplays: number;
	/** Every JSON GET of one job received. */
	gets: number;
	/** Every list call received (Sonar only). */
	lists: number;
	/** Every cancel call received (Agent API only). */
	cancels: number;
	/** Every event-stream request received (Agent API: streaming creates and stream GETs). */
	streams: number;
	/** API answers by status code (the control routes excluded). */
	responses: Record<string, number>;
}

export interface EmulatorStats extends Counters {
	jobs: Record<string, JobStats>;
}

/** A job as the registry sees it: anything that can describe itself at an instant. */
export interface TrackedJob {
	id: string;
	statsAt(now: number): JobStats;
}

/** A global fault drawn for one call; each API renders it in its own error shape. */
export interface DrawnFault {
	status: number;
	/** Whole seconds, for 429s. */
	retryAfter?: number;
}

/** The request limiter's verdict for one call: the headers to send, and whether it was admitted. */
export interface RequestLimit {
	admitted: boolean;
	headers: Record<string, string>;
	/** Whole seconds until one request is admitted again, when refused. */
	retryAfter?: number;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
	if (ms <= 0 || signal?.aborted) return Promise.resolve();
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			signal?.removeEventListener("abort", done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		// A client that gave up (or a server closing) ends the wait: no timer outlives its request.
		signal?.addEventListener("abort", done, { once: true });
	});
}

function emptyCounters(): Counters {
	return {
		creates: 0,
		createsAccepted: 0,
		idempotentReplays: 0,
		gets: 0,
		lists: 0,
		cancels: 0,
		streams: 0,
		responses: {},
	};
}

/** A per-key bucket: tokens left and when they were counted. */
interface Bucket {
	tokens: number;
	atMs: number;
}

/** Continuous refill: `ratePerMs` tokens per ms up to `capacity`. */
function refill(bucket: Bucket, now: number, capacity: number, ratePerMs: number): void {
	bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.atMs) * ratePerMs);
	bucket.atMs = Math.max(bucket.atMs, now);
}

export interface DurationRequest {
	/** What the duration may be keyed by, most specific first (e.g. the preset, then the model). */
	keys: readonly string[];
	markers: Markers;
	seq: number;
	/** The built-in default for a key, if it has one. */
	builtIn: (key: string) => number | undefined;
}

export type Runtime = ReturnType<typeof createRuntime>;

/** The shared state of one emulator. */
export function createRuntime(options: EmulatorOptions) {
	const clock = options.now ?? Date.now;
	const sleep = options.sleep ?? defaultSleep;
	const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
	const initialFaults: FaultOptions = { ...NO_FAULTS, ...options.faults };

	// Separate streams, so creating jobs never shifts which calls get faulted.
	let faultRng: Random = mulberry32(seed);
	const idRng: Random = mulberry32(seed ^ 0x9e3779b9);

	let faults: FaultOptions = { ...initialFaults };
	const counters = emptyCounters();
	let seq = 0;
	const jobs = new Map<string, TrackedJob>();
	const createFaultsSeen = new Map<string, number>();
	const createBuckets = new Map<string, Bucket>();
	const requestBuckets = new Map<string, Bucket>();
	const resetHooks: (() => void)[] = [];

	function draw(range: Range): number {
		if (typeof range === "number") return range;
		const [min, max] = range;
		return min + faultRng() * (max - min);
	}

	return {
		options,
		seed,
		now: clock,
		sleep,
		counters,
		jobs,
		/** `${tenant}\n${text}` → creates already faulted by `[[emu:create=…]]`. */
		createFaultsSeen,

		faults: (): FaultOptions => faults,

		setFaults(patch: Partial<FaultOptions>): void {
			const defined = Object.entries(patch).filter(([, value]) => value !== undefined);
			faults = { ...faults, ...Object.fromEntries(defined) };
		},

		/** Registers what `reset()` must also forget (an API's own indexes, its open streams). */
		onReset(hook: () => void): void {
			resetHooks.push(hook);
		},

		reset(): void {
			faultRng = mulberry32(seed);
			// The id stream goes on: a relay that outlives the reset must never see an old id again.
			faults = { ...initialFaults };
			Object.assign(counters, emptyCounters());
			seq = 0;
			for (const map of [jobs, createFaultsSeen, createBuckets, requestBuckets]) map.clear();
			for (const hook of resetHooks) hook();
		},

		draw,

		/** A draw from the fault PRNG, in [0, 1). */
		roll: (): number => faultRng(),

		newUuid: (): string => (options.seed === undefined ? crypto.randomUUID() : randomUuid(idRng)),

		/** `length` hex digits: seeded when the emulator is, else from crypto. */
		newHex(length: number): string {
			if (options.seed !== undefined) return randomHex(idRng, length);
			const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
			return Buffer.from(bytes).toString("hex").slice(0, length);
		},

		/** The next acceptance number, 1-based across tenants and APIs. */
		nextSeq: (): number => ++seq,

		/** The Bearer key, if it is acceptable; it doubles as the tenant. */
		tenantOf(authorization: string | undefined): string | undefined {
			const key = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
			if (key === undefined) return undefined;
			if (options.apiKey !== undefined && key !== options.apiKey) return undefined;
			return key;
		},

		/** One draw decides a call's global fault: hang, 429, 5xx or none. Latency comes first, always. */
		async globalFault(signal: AbortSignal): Promise<DrawnFault | undefined> {
			const latency = draw(faults.latencyMs);
			if (latency > 0) await sleep(latency, signal);
			const roll = faultRng();
			if (roll < faults.hangRate) {
				await sleep(faults.hangMs, signal);
				return { status: 504 };
			}
			if (roll < faults.hangRate + faults.rateLimitRate) {
				return { status: 429, retryAfter: Math.max(0, Math.round(draw(faults.retryAfterSeconds))) };
			}
			if (roll < faults.hangRate + faults.rateLimitRate + faults.errorRate) {
				return { status: [500, 502, 503][randomInt(faultRng, 0, 2)] as number };
			}
			return undefined;
		},

		/** `Retry-After` for an emulated 429 that named none: the configured `retryAfterSeconds`. */
		retryAfterSeconds: (): number => Math.max(0, Math.round(draw(faults.retryAfterSeconds))),

		/** The create token bucket (both APIs): undefined when admitted, else the honest wait in whole seconds. */
		createRetryAfter(tenant: string, now: number): number | undefined {
			const rate = faults.createRateLimitPerSecond;
			if (!(rate > 0)) return undefined;
			const capacity = Math.max(1, rate);
			const bucket = createBuckets.get(tenant) ?? { tokens: capacity, atMs: now };
			refill(bucket, now, capacity, rate / 1000);
			createBuckets.set(tenant, bucket);
			if (bucket.tokens >= 1) {
				bucket.tokens -= 1;
				return undefined;
			}
			return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
		},

		/**
		 * The Agent API's request limiter: undefined when no limit is set. `consume` false only
		 * reads the bucket (for answers the limiter did not decide, such as a global fault).
		 */
		requestLimit(tenant: string, now: number, consume: boolean): RequestLimit | undefined {
			const limit = faults.requestRateLimitPerMinute;
			if (!(limit > 0)) return undefined;
			const ratePerMs = limit / 60_000;
			const bucket = requestBuckets.get(tenant) ?? { tokens: limit, atMs: now };
			refill(bucket, now, limit, ratePerMs);
			requestBuckets.set(tenant, bucket);
			const admitted = !consume || bucket.tokens >= 1;
			if (consume && admitted) bucket.tokens -= 1;
			// Tenths of a second, rounded up: never promise a full bucket earlier than it is.
			const resetS = Math.ceil(((limit - bucket.tokens) / ratePerMs / 1000) * 10) / 10;
			const headers = {
				"x-ratelimit-limit-requests": String(limit),
				"x-ratelimit-remaining-requests": String(Math.max(0, Math.floor(bucket.tokens))),
				"x-ratelimit-reset-requests": `${resetS}s`,
			};
			if (admitted) return { admitted, headers };
			return { admitted, headers, retryAfter: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
		},

		/**
		 * A job's duration: its `[[emu:duration]]` marker, else `durationFor`, else `durations`,
		 * else the built-in default, else `defaultDurationMs` (3000).
		 */
		durationOf(request: DurationRequest): number {
			const { keys, markers } = request;
			const primary = keys[0] ?? "";
			const configured = (map: Record<string, number> | undefined) =>
				keys.map((key) => map?.[key]).find((ms) => ms !== undefined);
			const ms =
				markers.durationMs ??
				options.durationFor?.(primary, request.seq) ??
				configured(options.durations) ??
				keys.map(request.builtIn).find((value) => value !== undefined) ??
				options.defaultDurationMs ??
				3000;
			return Math.max(0, ms);
		},

		/**
		 * A lognormal draw, deterministic in (seed, key, seq): the built-in durations of Agent runs.
		 *
		 * @example
		 * runtime.lognormal("medium", 3, { medianMs: 180_000, sigma: 0.5 }); // same value for the same seed
		 */
		lognormal(key: string, jobSeq: number, prior: { medianMs: number; sigma: number }): number {
			const rng = mulberry32(hashString(`${seed}\n${key}\n${jobSeq}`));
			// Box–Muller; 1 - u keeps the logarithm finite.
			const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
			return Math.round(prior.medianMs * Math.exp(prior.sigma * z));
		},

		stats(): EmulatorStats {
			const now = clock();
			return {
				...counters,
				responses: { ...counters.responses },
				jobs: Object.fromEntries([...jobs.values()].map((job) => [job.id, job.statsAt(now)])),
			};
		},
	};
}
