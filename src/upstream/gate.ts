/**
 * The Upstream Gate Durable Object: one per upstream API key, in front of every
 * Job DO's calls to it.
 *
 * - Admission control. Creates go through a rate gate (GCRA, the
 *   virtual-scheduling form of a token bucket); polls do too once upstream has
 *   pushed back on a GET (a 429 or a 503), until the GET rate has recovered (a poll plan
 *   already spreads polls, and asking first would double every poll's cost in
 *   Durable Object requests and latency). A job asks for a slot and
 *   gets a time; if the time is later than now, the job sleeps on its own alarm
 *   until then and shows its slot when it wakes (the gate lets it go unless
 *   late wakers would make a burst), so waiting jobs form a queue instead of
 *   retrying in a herd. The rates start at UPSTREAM_CREATE_RPS and
 *   UPSTREAM_GET_RPS (safe for the lowest tier) until upstream's rate-limit
 *   headers say what the account allows: that limit is then the ceiling,
 *   learnt, not configured, and kept in storage across evictions and deploys.
 *   Each 429 (or a window nearly spent) cuts the rate to three quarters (at
 *   most once a second, never below an absolute floor) and holds new slots
 *   back for its Retry-After; every second without one adds back 2 % of the
 *   ceiling (AIMD).
 * - Learning. Jobs report how long they took; per model, a duration sketch
 *   (src/polling/sketch.ts) turns that into the poll plan new jobs follow.
 *
 * It is deliberately the one central piece: an upstream rate limit is per key,
 * so only one place can pace it. Its work per call is a few arithmetic steps.
 */
import { DurableObject } from "cloudflare:workers";
import { readSettings, type Settings } from "../config.ts";
import type { WatchEstimate } from "../polling/cost.ts";
import { addSample, type DurationSketch, planCost, planPolls, priorSketch, quantile } from "../polling/sketch.ts";
import type { RateLimitHint } from "./http.ts";

export type GateKind = "create" | "get";

interface Bucket {
	/** Current rate, per second. */
	rate: number;
	/** Bumped by every cut: slots reserved before it are void, and their holders queue again at the new rate. */
	epoch: number;
	/** Theoretical arrival time of the queue: the earliest free slot for a newcomer (ms). */
	tat: number;
	/**
	 * Theoretical arrival time of the calls actually let through (ms). Slots say
	 * when to wake; this says whether to go. A holder that wakes late (a busy
	 * machine delays alarms) would otherwise go together with the holders after
	 * it, and a run of late wakers is a burst upstream answers with 429s.
	 */
	sentTat: number;
	/** When the rate was last cut (ms). */
	lastCut: number;
	/** When the rate was last brought up to date (ms). */
	updatedAt: number;
}

export interface Admission {
	/**
	 * The caller asked for a slot no later than its `deadline`, and the tenant's queue already reaches
	 * past it: no slot was taken. The submission is refused (429) rather than accepted to fail.
	 */
	refused?: { retryAfterMs: number };
	/** When the call may go (ms); now or later. */
	at: number;
	/**
	 * The rate epoch the slot belongs to. A job holding a future slot shows it
	 * when the slot comes due: if no 429 has cut the rate since, it goes at once
	 * without taking another slot; otherwise it queues again at the new rate.
	 */
	epoch: number;
	/**
	 * The call at `at` is already booked among the calls let through (a late waker the gate sent
	 * back): when `at` comes, it goes without being checked again, if the epoch still holds.
	 */
	send: boolean;
	/** For creates: when to poll, in ms after the upstream create. */
	plan?: number[];
	/** For creates: what the model's jobs are expected to take, and to cost when polled on `plan`. */
	estimate?: WatchEstimate;
	/**
	 * Whether polls should queue here. GETs go straight to upstream until it
	 * pushes back on one (a 429 or a 503); from then until the GET rate has climbed back to
	 * UPSTREAM_GET_RPS, polls ask for slots like creates do.
	 */
	getsPaced: boolean;
}

/** The slowest a gate will go, per second, whatever else it is told. */
export const MIN_RATE = 0.05;
/**
 * Cuts stop at this rate (per second), or at the ceiling if that is lower: a noisy upstream that
 * answers a few random 429s must not talk the gate down to a crawl, as repeated cuts with no floor
 * would. It is absolute, not a share of a setting: a share of a ceiling set too
 * high would sit above the account's real limit. 0.2/s is 12 a minute, well inside the Agent
 * API's lowest tier (50 a minute).
 */
export const FLOOR_RPS = 0.2;
/** A learnt limit above the current rate takes effect at once, unless upstream pushed back this recently. */
export const RAISE_QUIET_MS = 10_000;
/** A window this nearly spent (share of the limit left) slows the gate down before upstream says 429. */
export const LOW_REMAINING_SHARE = 0.1;
/** Share of the configured rate won back per second without a 429 (additive increase). */
export const RECOVERY_PER_SECOND = 0.02;
/** What a 429 leaves of the rate (multiplicative decrease). */
export const DECREASE_FACTOR = 0.75;

/** Medians the prior assumes before a model has any history (ms). */
export const PRIOR_MEDIANS_MS: Readonly<Record<string, number>> = Object.assign(Object.create(null), {
	sonar: 4_000,
	"perplexity/sonar": 4_000,
	// On the Agent API the Pro and reasoning models run as the `low` preset, Deep Research as `medium`.
	"sonar-pro": 20_000,
	"sonar-reasoning": 20_000,
	"sonar-reasoning-pro": 20_000,
	"sonar-deep-research": 180_000,
	fast: 6_000,
	"fast-search": 6_000,
	low: 20_000,
	"pro-search": 20_000,
	medium: 180_000,
	"deep-research": 180_000,
	high: 360_000,
	"advanced-deep-research": 360_000,
	xhigh: 600_000,
});
const DEFAULT_PRIOR_MEDIAN_MS = 10_000;

/**
 * Models the gate learns apart, at most: a caller names any model (`request.model`, up to 128
 * characters), and each would otherwise hold a sketch in memory and storage for ever. Past the
 * cap, new names share one sketch (`OTHER_MODELS`).
 */
export const MAX_MODELS = 64;
/** The sketch every model past `MAX_MODELS` shares. */
export const OTHER_MODELS = "\u0000other";

/** Plans cached at once (models × poll prices); past it the cache starts over. */
const MAX_PLANS = 256;

/** Polls that asked for a slot, counted in two consecutive windows. */
export interface Demand {
	current: number;
	previous: number;
	windowStart: number;
}

/** The demand is counted over windows of this length (ms). */
export const DEMAND_WINDOW_MS = 10_000;
/** A poll never costs more than this many times `POLL_COST_MS`, however scarce GETs are. */
export const MAX_POLL_PRICE = 100;

/** Pure: one more ask, in windows of DEMAND_WINDOW_MS. */
export function countAsk(demand: Demand, now: number): Demand {
	if (now - demand.windowStart >= 2 * DEMAND_WINDOW_MS) return { current: 1, previous: 0, windowStart: now };
	if (now - demand.windowStart >= DEMAND_WINDOW_MS) {
		return { current: 1, previous: demand.current, windowStart: demand.windowStart + DEMAND_WINDOW_MS };
	}
	return { ...demand, current: demand.current + 1 };
}

/**
 * The price of a poll, as a multiple of `POLL_COST_MS`, when jobs ask for more GETs than the
 * budget allows: the shadow price of a GET. Keller's schedule polls each job at a rate ∝
 * sqrt(hazard / cost), so raising every job's cost by (demand / capacity)² brings the total down
 * to the capacity while each job keeps the plan that is optimal for its own hazard: GETs go where
 * completion is likely, instead of every job being capped at one fixed interval. 1 while the
 * budget does not bind.
 *
 * @example
 * pollPrice({ current: 150, previous: 150, windowStart: now - 5000 }, now, 10) // demand 20/s on 10/s: 4
 */
export function pollPrice(demand: Demand, now: number, capacityPerSecond: number): number {
	const elapsed = Math.max(1, now - demand.windowStart + DEMAND_WINDOW_MS) / 1000;
	const rate = (demand.current + demand.previous) / elapsed;
	if (!(capacityPerSecond > 0) || rate <= capacityPerSecond) return 1;
	return Math.min(MAX_POLL_PRICE, (rate / capacityPerSecond) ** 2);
}

/** A plan is recomputed after this many new samples of its model. */
const REPLAN_EVERY = 8;

/**
 * Pure fair-queue step: the next slot of `tenant`. Every tenant with calls queued (its clock past
 * now) gets an equal share of the rate, so a tenant's burst queues behind itself, not in front of
 * the others: with A's 25 calls queued, B's first call gets a slot now, and A's later ones space
 * out by two intervals. `bucket.tat` is a floor for everyone (a 429's Retry-After). Slots already
 * handed out are not moved: the send check (`confirm`) keeps the total within the rate.
 *
 * @example
 * reserveFair(bucket, new Map([["a", now + 5000]]), "b", now) // { at: now, clock: now + 2 / rate }
 */
export function reserveFair(
	bucket: Bucket,
	clocks: ReadonlyMap<string, number>,
	tenant: string,
	now: number,
): { at: number; clock: number } {
	let active = 1;
	for (const [other, clock] of clocks) if (other !== tenant && clock > now) active++;
	const start = Math.max(now, bucket.tat, clocks.get(tenant) ?? 0);
	return { at: Math.ceil(start), clock: start + (1000 * active) / bucket.rate };
}

/** Tenants' clocks kept at once; past it, those already due are dropped (they have nothing queued). */
const MAX_CLOCKS = 10_000;

/** Calls let through at once, beyond the rate, as a share of a second: a late waker may catch up this much. */
export const SEND_TOLERANCE_S = 0.25;

/**
 * Pure GCRA step on the calls actually let through: go now if that keeps
 * them within the rate (with `SEND_TOLERANCE_S` of slack), else book the next
 * free send and come back then (`send: true`), to go without asking again.
 * Booking matters: a waker sent back to queue again would compete with the
 * holders due after it, be sent back again, and so on, each time one more
 * alarm run.
 */
export function confirm(bucket: Bucket, now: number): { bucket: Bucket; at: number; send: boolean } {
	const interval = 1000 / bucket.rate;
	const earliest = bucket.sentTat - SEND_TOLERANCE_S * 1000;
	if (now >= earliest) {
		return { bucket: { ...bucket, sentTat: Math.max(now, bucket.sentTat) + interval }, at: now, send: false };
	}
	return { bucket: { ...bucket, sentTat: bucket.sentTat + interval }, at: Math.ceil(earliest), send: true };
}

/** Pure AIMD step: brings the rate back towards `configured`, 2 % of it per second. */
export function recover(bucket: Bucket, configured: number, now: number): Bucket {
	const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
	return {
		...bucket,
		rate: Math.min(configured, bucket.rate + configured * RECOVERY_PER_SECOND * elapsed),
		updatedAt: now,
	};
}

/**
 * Pure AIMD step: a 429 cuts the rate to three quarters (at most once a second,
 * so a burst of 429s from one overload counts once), voids the slots handed out
 * at the old rate, and holds new slots back for Retry-After.
 */
export function backOff(bucket: Bucket, retryAfterMs: number | null, now: number, floor = MIN_RATE): Bucket {
	const cut = now - bucket.lastCut >= 1000;
	const rate = cut ? Math.max(MIN_RATE, floor, bucket.rate * DECREASE_FACTOR) : bucket.rate;
	const resume = now + (retryAfterMs ?? 1000 / rate);
	return {
		...bucket,
		rate,
		epoch: cut ? bucket.epoch + 1 : bucket.epoch,
		lastCut: cut ? now : bucket.lastCut,
		// After a cut the queue restarts from the Retry-After; otherwise it only moves later.
		tat: cut ? resume : Math.max(bucket.tat, resume),
		sentTat: Math.max(bucket.sentTat, resume),
	};
}

/** What the gate keeps in storage: the learnt limit and the rates after the last cut. */
interface StoredLimits {
	learnedRps: number | null;
	buckets: Partial<Record<GateKind, Pick<Bucket, "rate" | "epoch" | "lastCut" | "updatedAt">>>;
}

/** What a caller says about the call it wants a slot for. */
export interface AdmitOptions {
	/** Whose call it is: each tenant with calls queued gets an equal share of the rate. @default "" */
	tenant?: string;
	/** The latest acceptable slot (ms): a later one is refused instead of taken (`Admission.refused`). */
	deadline?: number;
}

export class UpstreamGate extends DurableObject<Env> {
	private buckets = new Map<GateKind, Bucket>();
	/** Per kind of call, each tenant's fair-queue clock (`reserveFair`). */
	private clocks = new Map<GateKind, Map<string, number>>();
	private sketches = new Map<string, DurationSketch>();
	/** The models with a sketch of their own (kept in storage: the cap holds across evictions). */
	private models = new Set<string>();
	private plans = new Map<string, { plan: number[]; estimate: WatchEstimate; samples: number }>();
	/** Polls that asked for a slot lately: the demand on the GET budget. */
	private demand: Demand = { current: 0, previous: 0, windowStart: 0 };
	/** The account's request limit per second, from upstream's headers; null until one has been seen. */
	private learnedRps: number | null = null;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			this.models = new Set((await ctx.storage.get<string[]>("models")) ?? []);
			const stored = await ctx.storage.get<StoredLimits>("limits");
			if (!stored) return;
			this.learnedRps = stored.learnedRps;
			for (const [kind, saved] of Object.entries(stored.buckets) as [GateKind, StoredLimits["buckets"]["get"]][]) {
				if (saved) this.buckets.set(kind, { ...saved, tat: 0, sentTat: 0 });
			}
		});
	}

	private get settings(): Settings {
		return readSettings(this.env);
	}

	/** The most this gate lets through per second: the learnt limit, else the configured rate. */
	private ceiling(kind: GateKind): number {
		if (this.learnedRps !== null) return this.learnedRps;
		return kind === "create" ? this.settings.upstreamCreateRps : this.settings.upstreamGetRps;
	}

	private floor(kind: GateKind): number {
		return Math.min(FLOOR_RPS, this.ceiling(kind));
	}

	/** Keeps the learnt limit and the rates, so that an evicted or redeployed gate starts where it was. */
	private async persist(): Promise<void> {
		const buckets: StoredLimits["buckets"] = {};
		for (const [kind, { rate, epoch, lastCut, updatedAt }] of this.buckets) {
			buckets[kind] = { rate, epoch, lastCut, updatedAt };
		}
		await this.ctx.storage.put<StoredLimits>("limits", { learnedRps: this.learnedRps, buckets });
	}

	private bucket(kind: GateKind, now: number): Bucket {
		const configured = this.ceiling(kind);
		const current = this.buckets.get(kind) ?? {
			rate: configured,
			epoch: 0,
			tat: 0,
			sentTat: 0,
			lastCut: 0,
			updatedAt: now,
		};
		return recover(current, configured, now);
	}

	/**
	 * A slot for one call to upstream; for creates, the poll plan of `model` too.
	 * `heldEpoch` is the epoch of a slot the caller reserved earlier and whose time has come;
	 * `heldSend`, that the slot was a booked send (`Admission.send`).
	 */
	async admit(
		kind: GateKind,
		model?: string,
		heldEpoch?: number,
		heldSend?: boolean,
		options: AdmitOptions = {},
	): Promise<Admission> {
		const now = Date.now();
		const current = this.bucket(kind, now);
		const held = heldEpoch !== undefined && heldEpoch === current.epoch;
		let slot: { bucket: Bucket; at: number; send: boolean };
		if (held && heldSend) {
			// A send booked earlier: it was counted among the calls let through when it was booked.
			slot = { bucket: current, at: now, send: false };
		} else if (held) {
			// Its slot is still good (it was paid for when it was reserved): it goes, unless that would be a burst.
			slot = confirm(current, now);
		} else {
			const tenant = options.tenant ?? "";
			const clocks = this.clocksOf(kind, now);
			const next = reserveFair(current, clocks, tenant, now);
			if (options.deadline !== undefined && next.at > options.deadline) {
				// The queue reaches past the caller's deadline: refuse now rather than accept a job sure to fail.
				return {
					refused: { retryAfterMs: next.at - options.deadline },
					at: next.at,
					epoch: current.epoch,
					send: false,
					getsPaced: this.getsPaced(now),
				};
			}
			clocks.set(tenant, next.clock);
			slot = next.at <= now ? confirm(current, now) : { bucket: current, at: next.at, send: false };
		}
		this.buckets.set(kind, slot.bucket);
		const { at, send } = slot;
		const epoch = current.epoch;
		const getsPaced = this.getsPaced(now);
		if (kind === "get") {
			this.demand = countAsk(this.demand, now);
			// The GET budget binds: polls move to where completion is likely (see `pollPrice`).
			const price = pollPrice(this.demand, now, this.bucket("get", now).rate);
			if (!model || price <= 1) return { at, epoch, send, getsPaced };
			return { at, epoch, send, getsPaced, plan: (await this.plan(model, price)).plan };
		}
		if (!model) return { at, epoch, send, getsPaced };
		const { plan, estimate } = await this.plan(model);
		return { at, epoch, send, getsPaced, plan, estimate };
	}

	/** The tenants' clocks for `kind`; those already due are dropped once there are many. */
	private clocksOf(kind: GateKind, now: number): Map<string, number> {
		let clocks = this.clocks.get(kind);
		if (!clocks) {
			clocks = new Map();
			this.clocks.set(kind, clocks);
		}
		if (clocks.size >= MAX_CLOCKS) {
			for (const [tenant, clock] of clocks) if (clock <= now) clocks.delete(tenant);
			if (clocks.size >= MAX_CLOCKS) clocks.clear();
		}
		return clocks;
	}

	/** Polls queue here while the GET rate is below the configured one: after GET pushback, until AIMD has won it back. */
	private getsPaced(now: number): boolean {
		const gets = this.buckets.get("get");
		return gets !== undefined && this.bucket("get", now).rate < this.ceiling("get");
	}

	/** Upstream pushed back (a 429; for GETs also a 503): slow down for everyone. */
	async report429(kind: GateKind, retryAfterMs: number | null): Promise<void> {
		const now = Date.now();
		const before = this.bucket(kind, now);
		const after = backOff(before, retryAfterMs, now, this.floor(kind));
		this.buckets.set(kind, after);
		if (after.epoch !== before.epoch) {
			// Slots of the old rate are void: their holders queue again, fairly, from the Retry-After.
			this.clocks.delete(kind);
			await this.persist();
		}
	}

	/**
	 * What upstream's rate-limit headers said. A limit becomes the ceiling of both kinds of call
	 * (the Agent API counts every request against one limit); a window that is spent, or nearly,
	 * slows both down now, holding them until it resets when it is spent.
	 */
	async observeLimits(hint: RateLimitHint): Promise<void> {
		const now = Date.now();
		let changed = false;
		if (hint.limitPerSecond !== null && hint.limitPerSecond > 0 && hint.limitPerSecond !== this.learnedRps) {
			const limit = hint.limitPerSecond;
			this.learnedRps = limit;
			for (const kind of ["create", "get"] as const) {
				const bucket = this.buckets.get(kind);
				if (!bucket) continue;
				if (bucket.rate > limit) {
					this.buckets.set(kind, { ...bucket, rate: limit });
				} else if (now - bucket.lastCut >= RAISE_QUIET_MS) {
					// A higher limit than assumed, and no pushback lately: go at it now, rather than climbing 2 % a
					// second from a tier-0 default; newcomers no longer queue behind slots booked at the old rate.
					this.buckets.set(kind, { ...bucket, rate: limit, tat: Math.min(bucket.tat, now), updatedAt: now });
					this.clocks.delete(kind);
				}
			}
			changed = true;
		}
		const spent = hint.remaining === 0;
		if (spent || (hint.remainingShare !== null && hint.remainingShare <= LOW_REMAINING_SHARE)) {
			for (const kind of ["create", "get"] as const) {
				const before = this.bucket(kind, now);
				const after = backOff(before, spent ? hint.resetMs : null, now, this.floor(kind));
				this.buckets.set(kind, after);
				if (after.epoch !== before.epoch) {
					this.clocks.delete(kind);
					changed = true;
				}
			}
		}
		if (changed) await this.persist();
	}

	/** A settled job's duration, learnt for its model's next plans. */
	async record(model: string, durationMs: number): Promise<void> {
		if (!(durationMs > 0) || !Number.isFinite(durationMs)) return;
		const key = await this.modelKey(model);
		const sketch = addSample(await this.sketch(key), durationMs);
		this.sketches.set(key, sketch);
		await this.ctx.storage.put(`sketch:${key}`, sketch);
	}

	/** The sketch a model is learnt in: its own, while fewer than `MAX_MODELS` have one; else the shared one. */
	private async modelKey(model: string): Promise<string> {
		if (this.models.has(model)) return model;
		if (this.models.size >= MAX_MODELS) return OTHER_MODELS;
		this.models.add(model);
		await this.ctx.storage.put("models", [...this.models]);
		return model;
	}

	/**
	 * What the gate believes now: its rates, the limit it learnt from upstream's headers, and the
	 * durations learnt per model. Read over RPC by the tests that check what the gate learnt (the
	 * learnt limit across an eviction, the cap on models kept apart). No route serves it: the model
	 * names are what callers sent, and the gate is shared by every tenant.
	 */
	async describe(): Promise<{
		rates: Record<GateKind, number>;
		learnedRps: number | null;
		models: Record<string, { samples: number; p50: number; p90: number }>;
	}> {
		const now = Date.now();
		const models: Record<string, { samples: number; p50: number; p90: number }> = {};
		for (const [model, sketch] of this.sketches) {
			// An own property whatever the name: `models["__proto__"] = …` would set the prototype instead.
			Object.defineProperty(models, model, {
				value: { samples: sketch.samples, p50: quantile(sketch, 0.5), p90: quantile(sketch, 0.9) },
				enumerable: true,
				writable: true,
				configurable: true,
			});
		}
		return {
			rates: { create: this.bucket("create", now).rate, get: this.bucket("get", now).rate },
			learnedRps: this.learnedRps,
			models,
		};
	}

	private async sketch(model: string): Promise<DurationSketch> {
		let sketch = this.sketches.get(model);
		if (!sketch) {
			sketch = (await this.ctx.storage.get<DurationSketch>(`sketch:${model}`)) ?? priorSketch(this.priorMedian(model));
			this.sketches.set(model, sketch);
		}
		return sketch;
	}

	private priorMedian(model: string): number {
		if (model === OTHER_MODELS) return this.settings.pollPriorMedianMs ?? DEFAULT_PRIOR_MEDIAN_MS;
		return this.settings.pollPriorMedianMs ?? PRIOR_MEDIANS_MS[model] ?? DEFAULT_PRIOR_MEDIAN_MS;
	}

	/** The model's plan at a poll price (`pollPrice`: 1 while the GET budget does not bind), cached. */
	private async plan(name: string, price = 1): Promise<{ plan: number[]; estimate: WatchEstimate }> {
		const model = await this.modelKey(name);
		const sketch = await this.sketch(model);
		// Prices in quarter steps: a handful of plans per model, not one per ask.
		const step = Math.round(price * 4) / 4;
		const key = step > 1 ? `${model}\u0000${step}` : model;
		const cached = this.plans.get(key);
		if (cached && sketch.samples - cached.samples < REPLAN_EVERY && cached.samples <= sketch.samples) {
			return cached;
		}
		if (this.plans.size >= MAX_PLANS) this.plans.clear();
		const settings = this.settings;
		const plan = planPolls(sketch, {
			pollCostMs: settings.pollCostMs * step,
			tailCost: settings.pollLagCost,
			minGapMs: settings.pollMinIntervalMs,
			maxGapMs: settings.pollMaxIntervalMs,
			horizonMs: settings.jobTimeoutSeconds * 1000,
			firstQuantile: settings.pollFirstQuantile,
		});
		const entry = { plan, estimate: planCost(sketch, plan, settings.pollMaxIntervalMs), samples: sketch.samples };
		this.plans.set(key, entry);
		return entry;
	}
}
