/**
 * Small statistics for the benchmark: percentiles, means and rounding, with
 * `null` standing for "not measured" (an empty sample, a missing counter) so
 * that a figure is never a silent 0 or NaN in the report.
 */

/**
 * The q-quantile (0–1) of `values`, linearly interpolated between order
 * statistics (type 7, as spreadsheets and numpy compute it); null when empty.
 *
 * @example
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 */
export function quantile(values: readonly number[], q: number): number | null {
	const finite = values.filter(Number.isFinite);
	if (finite.length === 0) return null;
	const sorted = [...finite].sort((a, b) => a - b);
	const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
	const low = Math.floor(position);
	const high = Math.ceil(position);
	const a = sorted[low] as number;
	const b = sorted[high] as number;
	return a + (b - a) * (position - low);
}

/** The arithmetic mean; null when empty. */
export function mean(values: readonly number[]): number | null {
	const finite = values.filter(Number.isFinite);
	if (finite.length === 0) return null;
	return finite.reduce((sum, v) => sum + v, 0) / finite.length;
}

/** Rounds to `digits` decimals, keeping null. */
export function round(value: number | null, digits = 0): number | null {
	if (value === null || !Number.isFinite(value)) return null;
	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
}

/** `a / b`, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
	if (a === null || b === null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
	return a / b;
}

/** p50/p95/p99/max of a sample, rounded to whole units. */
export function summary(values: readonly number[]): {
	p50: number | null;
	p95: number | null;
	p99: number | null;
	max: number | null;
} {
	return {
		p50: round(quantile(values, 0.5)),
		p95: round(quantile(values, 0.95)),
		p99: round(quantile(values, 0.99)),
		max: round(quantile(values, 1)),
	};
}
