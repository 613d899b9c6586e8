/**
 * How long upstream jobs take, per model, as a small streaming sketch, and
 * the poll plan that follows from it.
 *
 * The sketch is a histogram over log-spaced buckets (16 per decade, 10 ms to
 * 12 h), with exponential decay so that it follows upstream as it speeds up or
 * slows down. Log spacing makes it scale-free: the same 107 numbers describe
 * 4-second bench jobs and 5-minute deep research alike. An empty sketch starts
 * from a lognormal prior around a per-model median.
 *
 * The plan places polls where completion is likely (Keller's optimal checking
 * schedule): with hazard h(t) = f(t) / S(t), the density of polls is
 * sqrt(h(t) / 2c), where c, the cost of one poll in lag, is an absolute time
 * (POLL_COST_MS: callers feel lag in seconds, whatever the job's length), and
 * past the sketch's 90th percentile a share of the job's age.
 * So there are no polls while completion is improbable, dense polls around the
 * likely completion times, and a widening spacing in the long tail, capped by
 * POLL_MAX_INTERVAL_MS. The age term keeps a job that outlives what the sketch
 * expects (a wrong prior, a slow day) from being polled at the sketch's edge
 * density: 30 polls for a 60 s job under the 4 s `sonar` prior instead of 53.
 */

/** The smallest bucket edge (ms). */
export const SKETCH_MIN_MS = 10;
/** Buckets per factor of ten. */
export const BUCKETS_PER_DECADE = 16;
/** Buckets up to 12 h. */
export const SKETCH_BUCKETS = Math.ceil(Math.log10((12 * 3_600_000) / SKETCH_MIN_MS) * BUCKETS_PER_DECADE);
/** Each new sample multiplies older weights by this: a half-life of about 140 jobs. */
export const SKETCH_DECAY = 0.995;
/** The prior counts as this many jobs, so that a handful of real ones outweigh it. */
export const PRIOR_WEIGHT = 3;
/** Spread of the prior (σ of the log-duration). */
export const PRIOR_SIGMA = 0.7;

export interface DurationSketch {
	/** Weight per bucket; bucket i spans [edge(i), edge(i + 1)). */
	weights: number[];
	/** Real samples seen (not decayed); the prior is not counted. */
	samples: number;
}

export function edge(i: number): number {
	return SKETCH_MIN_MS * 10 ** (i / BUCKETS_PER_DECADE);
}

export function bucketOf(ms: number): number {
	if (!(ms > SKETCH_MIN_MS)) return 0;
	const i = Math.floor(Math.log10(ms / SKETCH_MIN_MS) * BUCKETS_PER_DECADE);
	return Math.min(SKETCH_BUCKETS - 1, i);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(z: number): number {
	const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
	const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
	const erf = 1 - poly * Math.exp(-(z * z) / 2);
	return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * A sketch holding only a lognormal prior around `medianMs`.
 *
 * @example
 * const sketch = priorSketch(4000); // "about 4 s, give or take a factor of two"
 */
export function priorSketch(medianMs: number, weight = PRIOR_WEIGHT, sigma = PRIOR_SIGMA): DurationSketch {
	const mu = Math.log(Math.max(medianMs, SKETCH_MIN_MS));
	const weights = Array.from({ length: SKETCH_BUCKETS }, (_, i) => {
		const lo = normalCdf((Math.log(edge(i)) - mu) / sigma);
		const hi = normalCdf((Math.log(edge(i + 1)) - mu) / sigma);
		return (hi - lo) * weight;
	});
	return { weights, samples: 0 };
}

/** The sketch after one more observed duration. */
export function addSample(sketch: DurationSketch, durationMs: number): DurationSketch {
	const weights = sketch.weights.map((w) => w * SKETCH_DECAY);
	const i = bucketOf(durationMs);
	weights[i] = (weights[i] ?? 0) + 1;
	return { weights, samples: sketch.samples + 1 };
}

/** The q-quantile in ms, interpolated log-linearly inside its bucket. */
export function quantile(sketch: DurationSketch, q: number): number {
	const total = sketch.weights.reduce((a, b) => a + b, 0);
	if (total <= 0) return Number.NaN;
	let below = 0;
	for (let i = 0; i < sketch.weights.length; i++) {
		const w = sketch.weights[i] ?? 0;
		if (w > 0 && below + w >= q * total) {
			const within = (q * total - below) / w;
			return edge(i) * (edge(i + 1) / edge(i)) ** within;
		}
		below += w;
	}
	return edge(SKETCH_BUCKETS);
}

/** The first poll may wait past `maxGapMs` until this share of jobs is done (see `planFrom`). */
export const EARLIEST_FIRST_POLL = 0.05;
/**
 * ...but only once the sketch has seen this many real runs. A prior is a guess: the table's
 * minutes for a deep-research model would make the first runs of a faster upstream (the emulator,
 * a gateway) wait minutes for their first poll.
 */
export const LATE_FIRST_POLL_SAMPLES = 20;

/** The plan ends once fewer than this share of jobs would still be running. */
export const TAIL_SURVIVAL = 0.002;

export interface PlanOptions {
	/**
	 * What one poll costs, in ms of push lag: a poll goes where it saves more lag than this. Absolute,
	 * because callers feel lag in seconds, whatever the job's length: a 5-minute job near its likely
	 * end is polled as densely as a 5-second one. Lower is denser.
	 */
	pollCostMs: number;
	/**
	 * Past the sketch's 90th percentile (a job outliving what the sketch expects: a wrong prior, a slow
	 * day), a poll costs at least this share of the job's age instead, so such a job is polled about
	 * log(age) times, not at the density of the sketch's edge.
	 */
	tailCost: number;
	/** No two polls closer than this (ms). */
	minGapMs: number;
	/** No two polls further apart than this (ms): POLL_MAX_INTERVAL_MS. */
	maxGapMs: number;
	/** Plan no further than this after the create (ms). */
	horizonMs: number;
	/** At most this many polls in the plan; after it, the job backs off on its own. */
	maxPolls?: number;
	/**
	 * The first poll waits for this share of jobs to be done. The few that finish
	 * earlier wait a little longer; every other job is spared polls that would
	 * almost surely find it running. @default 0.2
	 */
	firstQuantile?: number;
}

/**
 * Poll times, in ms after the upstream create, from the sketch.
 *
 * @example
 * planPolls(priorSketch(4000), { pollCostMs: 50, tailCost: 0.02, minGapMs: 100, maxGapMs: 30000, horizonMs: 3600000 })
 * // → [≈2200, ≈3000, ≈3700, …]: nothing early, dense around 4 s, wider in the tail
 */
export function planPolls(sketch: DurationSketch, options: PlanOptions): number[] {
	// A few dozen samples leave empty buckets between full ones; read as zero hazard they would open
	// gaps in the plan. Plan from a smoothed copy (a Gaussian kernel, σ = 2 buckets ≈ ±30 %).
	const smoothed = { ...sketch, weights: smooth(sketch.weights) };
	return planFrom(smoothed, options);
}

const KERNEL = [-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6].map((k) => ({ k, w: Math.exp(-(k * k) / 8) }));

function smooth(weights: number[]): number[] {
	return weights.map((_, i) => {
		let sum = 0;
		let norm = 0;
		for (const { k, w } of KERNEL) {
			const j = i + k;
			if (j < 0 || j >= weights.length) continue;
			sum += (weights[j] ?? 0) * w;
			norm += w;
		}
		return norm > 0 ? sum / norm : 0;
	});
}

function planFrom(sketch: DurationSketch, options: PlanOptions): number[] {
	const total = sketch.weights.reduce((a, b) => a + b, 0);
	const maxPolls = options.maxPolls ?? 48;
	if (total <= 0) return [];
	const c = Math.max(1, options.pollCostMs);
	const tail = quantile(sketch, 0.9);
	const first = Math.max(options.minGapMs, quantile(sketch, options.firstQuantile ?? 0.2));
	// The first poll waits no longer than POLL_MAX_INTERVAL_MS, unless fewer than 5 % of such jobs would be
	// done by then (by a sketch learnt from real runs): a multi-minute run polled at 30 s and 60 s is almost
	// surely still running, and those polls buy no lag where users feel it.
	const learnt = sketch.samples >= LATE_FIRST_POLL_SAMPLES;
	const cap = learnt ? Math.max(options.maxGapMs, quantile(sketch, EARLIEST_FIRST_POLL)) : options.maxGapMs;
	const plan: number[] = [Math.round(Math.min(first, cap))];
	let survival = 1;
	let credit = 0;
	let last = plan[0] as number;
	for (let i = 0; i < sketch.weights.length && plan.length < maxPolls; i++) {
		const lo = edge(i);
		const hi = edge(i + 1);
		const mass = (sketch.weights[i] ?? 0) / total;
		if (hi <= last) {
			survival -= mass;
			continue;
		}
		// Past the horizon, or once nearly every job would be done: the job's own back-off takes over.
		if (lo > options.horizonMs || survival < TAIL_SURVIVAL) break;
		const width = hi - lo;
		// Polls this bucket deserves: ∫ sqrt(h / 2c) dt, with h ≈ mass / (survival · width) constant in the bucket.
		// Past the sketch's 90th percentile a poll is worth a share of the job's age in lag instead: the older
		// the job, the wider the gaps, so a job that outlives its sketch is polled about log(age) times.
		const cost = lo > tail ? Math.max(c, options.tailCost * Math.sqrt(lo * hi)) : c;
		const rate = Math.sqrt(mass / (survival * width) / (2 * cost));
		let t = Math.max(lo, last);
		while (plan.length < maxPolls) {
			// The next poll falls where the accumulated credit reaches one, within the gap bounds.
			const at = rate > 0 ? t + (1 - credit) / rate : Number.POSITIVE_INFINITY;
			const next = Math.max(Math.min(at, last + options.maxGapMs), last + options.minGapMs);
			if (next > hi) {
				credit += rate * (hi - t);
				break;
			}
			plan.push(Math.round(next));
			last = next;
			credit = 0;
			t = next;
		}
		survival -= mass;
	}
	return plan.filter((at) => at <= options.horizonMs);
}

/**
 * A job's duration from what the relay saw: the last poll that found it
 * pending and the first that found it done bracket the true finish; upstream's
 * own whole-second timestamps narrow the bracket when they can.
 */
export function observedDuration(bracket: {
	lastPendingMs: number;
	firstDoneMs: number;
	upstreamSeconds: number | null;
}): number {
	let lo = bracket.lastPendingMs;
	let hi = bracket.firstDoneMs;
	if (bracket.upstreamSeconds !== null) {
		lo = Math.max(lo, (bracket.upstreamSeconds - 1) * 1000);
		hi = Math.min(hi, (bracket.upstreamSeconds + 1) * 1000);
		if (lo > hi) return bracket.firstDoneMs;
	}
	return Math.max(1, (lo + hi) / 2);
}

/**
 * What a plan is expected to cost a job of this sketch: the polls it takes until one finds the job
 * done, and the lag between the finish and that poll (past the plan, gaps of `maxGapMs`), and the
 * expected duration. What `WATCH_MODE=auto` weighs against following the run's stream.
 *
 * @example
 * planCost(sketch, planPolls(sketch, options), 30_000) // { polls: 9.4, lagMs: 812, expectedMs: 4310 }
 */
export function planCost(
	sketch: DurationSketch,
	plan: readonly number[],
	maxGapMs: number,
): { polls: number; lagMs: number; expectedMs: number } {
	const total = sketch.weights.reduce((a, b) => a + b, 0);
	if (total <= 0) return { polls: 0, lagMs: maxGapMs / 2, expectedMs: 0 };
	let polls = 0;
	let lagMs = 0;
	let expectedMs = 0;
	const last = plan[plan.length - 1] ?? 0;
	for (let i = 0; i < sketch.weights.length; i++) {
		const mass = (sketch.weights[i] ?? 0) / total;
		if (mass <= 0) continue;
		const t = Math.sqrt(edge(i) * edge(i + 1));
		expectedMs += mass * t;
		// The first planned poll at or after t (plans are sorted): a binary search.
		let lo = 0;
		let hi = plan.length;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if ((plan[mid] as number) < t) lo = mid + 1;
			else hi = mid;
		}
		if (lo < plan.length) {
			polls += mass * (lo + 1);
			lagMs += mass * ((plan[lo] as number) - t);
		} else {
			const extra = Math.max(1, Math.ceil((t - last) / maxGapMs));
			polls += mass * (plan.length + extra);
			lagMs += mass * (last + extra * maxGapMs - t);
		}
	}
	return { polls, lagMs, expectedMs };
}
