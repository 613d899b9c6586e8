/**
 * The emulator's settings: what `createEmulator` accepts and what the global
 * faults are. Shared by both emulated APIs, the control routes and the CLI.
 */

/** The two upstream APIs one emulator can serve. */
export type ApiName = "agent" | "sonar";

/** Every API, the default of `EmulatorOptions.apis`. */
export const ALL_APIS: readonly ApiName[] = ["agent", "sonar"];

/** A fixed value, or an inclusive `[min, max]` range drawn from uniformly. */
export type Range = number | [number, number];

/** Faults applied to the API routes (never to `/__emulator/*` or `/v1/models`), drawn from the seeded PRNG. */
export interface FaultOptions {
	/** Share (0–1) of API calls answering 500, 502 or 503. @default 0 */
	errorRate: number;
	/** Share (0–1) of API calls answering 429 with `Retry-After`. @default 0 */
	rateLimitRate: number;
	/** `Retry-After` (whole seconds) on emulated 429s. @default 1 */
	retryAfterSeconds: Range;
	/** Latency added to every API call, in ms. @default 0 */
	latencyMs: Range;
	/** Share (0–1) of API calls that hang for `hangMs`, then answer 504. @default 0 */
	hangRate: number;
	/** How long a hanging call hangs, in ms. @default 60000 */
	hangMs: number;
	/** Creates admitted per second and API key, on both APIs (a token bucket, burst = max(1, rate)); 0 is unlimited. @default 0 */
	createRateLimitPerSecond: number;
	/**
	 * Agent API calls (creates, GETs, cancels, stream opens) admitted per minute and API key: one
	 * bucket per key, refilled continuously, burst = the limit. When set, every answer to an
	 * authenticated Agent API call carries `x-ratelimit-*-requests`; 0 is unlimited (and no headers).
	 * @default 0
	 */
	requestRateLimitPerMinute: number;
	/** Share (0–1) of Agent API event-stream connections cut abruptly at a random event. @default 0 */
	streamDropRate: number;
	/**
	 * Share (0–1) of Agent API creates whose run IS created (it runs, and is billed) but whose answer
	 * is lost: the call hangs for `hangMs` (less if the client gives up first), then answers 504
	 * `gateway_timeout`. The caller never learns the run's id, so a retried create starts a second
	 * run: the duplicate the API's missing idempotency key makes possible. Such runs show
	 * `answerLost: true` in the stats. Drawn only for creates that passed validation. @default 0
	 */
	lostAnswerRate: number;
}

export const NO_FAULTS: Readonly<FaultOptions> = {
	errorRate: 0,
	rateLimitRate: 0,
	retryAfterSeconds: 1,
	latencyMs: 0,
	hangRate: 0,
	hangMs: 60_000,
	createRateLimitPerSecond: 0,
	requestRateLimitPerMinute: 0,
	streamDropRate: 0,
	lostAnswerRate: 0,
};

export interface EmulatorOptions {
	/** The only Bearer key accepted. Unset: any non-empty key is accepted (and is its own tenant). */
	apiKey?: string;
	/** The clock, in ms since the epoch. @default Date.now */
	now?: () => number;
	/** Seeds the fault PRNG, the ids and the built-in durations. @default random (ids from crypto) */
	seed?: number;
	/**
	 * Run duration in ms, keyed by an Agent API model slug (`perplexity/sonar`), an Agent API preset
	 * (`medium`; legacy aliases are mapped first) or a Sonar model (`sonar-pro`). Wins over the built-ins.
	 */
	durations?: Record<string, number>;
	/** Duration for keys with no built-in default and no `durations` entry. @default 3000 */
	defaultDurationMs?: number;
	/**
	 * Duration of the `seq`-th accepted job (1-based, across tenants and APIs); `undefined` falls
	 * through to `durations`. `model` is the Sonar model, or the Agent run's preset if it has one,
	 * else its model slug.
	 */
	durationFor?: (model: string, seq: number) => number | undefined;
	/** The initial global faults. @default none */
	faults?: Partial<FaultOptions>;
	/** How the emulator waits (latency, hangs, `[[emu:delay]]`, run pacing); inject it to test without waiting. */
	sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
	/** Which APIs are served; a left-out API answers 404 on its paths, like a server that dropped it. @default both */
	apis?: readonly ApiName[];
	/** How long an Agent API stream cursor stays resumable (`starting_after`), in ms. @default 600000 */
	streamCursorTtlMs?: number;
}
