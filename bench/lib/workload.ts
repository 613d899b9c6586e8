/**
 * The benchmark's workload: per-job durations drawn from a seeded lognormal,
 * written into each job's last user message as `[[emu:duration=MS]]`. The
 * emulator honours that marker over any configured duration, so the relay run
 * and the fixed-interval baseline get exactly the same jobs, in the same order.
 */
import { mulberry32 } from "../../tools/emulator/answers.ts";

export interface DurationModel {
	/** Median job duration, in ms. */
	medianMs: number;
	/** σ of ln(duration): 0.5 spreads the middle 95 % over about ×0.4 to ×2.7 the median. */
	sigma: number;
	seed: number;
}

/**
 * `count` durations (whole ms, at least 1) from a lognormal; the same seed gives the same list.
 *
 * @example
 * lognormalDurations(3, { medianMs: 4000, sigma: 0.5, seed: 42 }); // always the same three
 */
export function lognormalDurations(count: number, model: DurationModel): number[] {
	const random = mulberry32(model.seed);
	const durations: number[] = [];
	while (durations.length < count) {
		// Box–Muller: two uniforms give two independent standard normals.
		const u1 = Math.max(random(), Number.MIN_VALUE);
		const u2 = random();
		const radius = Math.sqrt(-2 * Math.log(u1));
		for (const z of [radius * Math.cos(2 * Math.PI * u2), radius * Math.sin(2 * Math.PI * u2)]) {
			if (durations.length < count) durations.push(Math.max(1, Math.round(model.medianMs * Math.exp(model.sigma * z))));
		}
	}
	return durations;
}

/**
 * `count` arrival instants (ms from the start, sorted) of a Poisson process that has exactly
 * `count` arrivals in `spanMs`: given their number, a Poisson process's arrivals are uniform
 * order statistics. Seeded: every mode and every poller of a scenario gets the same arrivals.
 *
 * @example
 * poissonArrivals(500, 240_000, 44); // 500 instants in [0, 240 s], bursty as real traffic is
 */
export function poissonArrivals(count: number, spanMs: number, seed: number): number[] {
	const random = mulberry32(seed);
	return Array.from({ length: count }, () => Math.round(random() * spanMs)).sort((a, b) => a - b);
}

/** The last user message of one bench job: its label and its duration marker. */
export function jobText(label: string, index: number, durationMs: number): string {
	return `Benchmark job ${label} #${index}: what is a Durable Object alarm? [[emu:duration=${Math.max(0, Math.round(durationMs))}]]`;
}

/** An upstream-shaped create body (`AsyncApiChatCompletionsRequest`). */
export function upstreamBody(model: string, text: string) {
	return { request: { model, messages: [{ role: "user" as const, content: text }] } };
}

/** A relay create body: the upstream body plus the push field. */
export function relayBody(model: string, text: string, callbackUrl: string) {
	return { ...upstreamBody(model, text), callback_url: callbackUrl };
}
