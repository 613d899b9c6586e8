/**
 * Every setting of `npm run bench`, as command-line flags with their defaults
 * (the issue's), and the `--quick` preset: a light run of about a minute that
 * the test suite uses as a smoke test of the harness.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

export const SCENARIOS = ["ceiling", "steady", "baseline", "ratelimited", "scale", "deep"] as const;
/** How a `deep` job watches its run (`WATCH_MODE`): each mode runs on its own fresh relay. */
export const DEEP_MODES = ["stream", "poll", "auto"] as const;
export type DeepMode = (typeof DEEP_MODES)[number];
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
	quick: boolean;
	/** Where latest.json, latest.md and frontier.svg go. */
	outDir: string;
	scenarios: ScenarioName[];
	seed: number;
	model: string;
	/** Workload of steady, ceiling, baseline and ratelimited: lognormal job durations. */
	medianMs: number;
	sigma: number;
	jobs: number;
	/** Jobs in `steady`'s ingest burst (and the ceiling's POSTs). */
	burstJobs: number;
	concurrency: number;
	/** Baseline polling intervals, in seconds. */
	baselineIntervalsS: number[];
	ratelimitedJobs: number;
	/** Upstream creates admitted per second in `ratelimited`. */
	rate: number;
	scaleJobs: number;
	scaleConcurrency: number;
	scaleMedianMs: number;
	scaleSigma: number;
	/** Stop sending `scale` submissions after this long (the rest are reported as not sent). */
	scaleLoadTimeoutMs: number;
	/** `deep`: jobs, each a `sonar-deep-research` job (the `medium` preset upstream). */
	deepJobs: number;
	/** `deep`: lognormal durations, median and σ. */
	deepMedianMs: number;
	deepSigma: number;
	/** `deep`: the jobs arrive over this many seconds (a seeded Poisson process with that many arrivals). */
	deepArrivalS: number;
	/** `deep`: the relay's watch modes to measure, each on its own fresh relay. */
	deepModes: DeepMode[];
	/** `deep`: the fixed pollers' intervals (the frontier), in seconds. */
	deepIntervalsS: number[];
	/**
	 * `deep`: tell the relay the jobs' median (`POLL_PRIOR_MEDIAN_MS`); undefined: a cold start from
	 * the table prior (180 s for `sonar-deep-research`), which the poll mode then unlearns.
	 */
	deepPriorMedianMs: number | undefined;
	/** How long to wait for pushes beyond the longest job (and, in `ratelimited`, beyond the ideal drain). */
	graceMs: number;
	/** After the last expected push, how long to keep listening for duplicates. */
	dupWindowMs: number;
	sampleMs: number;
	/** Run nothing: re-render the report of this results file into `outDir`. */
	reportFrom: string | undefined;
	/** The relay to measure: a git revision, or undefined for the working tree. */
	relayRevision: string | undefined;
	/** Relay settings on top of production defaults and the bench account's rates (`NAME=VALUE`). */
	relayVars: Record<string, string>;
	/**
	 * The account's request limit per minute that the emulator enforces and announces in
	 * `x-ratelimit-*` headers on every Agent API answer (the relay learns its limit from them);
	 * 0: no limit and no headers.
	 */
	upstreamRpm: number;
	/** Assumed active (billed) wall time of one Durable Object request, for the duration cost. */
	costDoActiveMs: number;
	startupTimeoutMs: number;
	verbose: boolean;
	/** Write a V8 CPU profile of the relay's isolate per scenario into this directory. */
	cpuProfileDir: string | undefined;
}

const FLAGS = {
	help: { type: "boolean", short: "h" },
	quick: { type: "boolean" },
	out: { type: "string" },
	scenarios: { type: "string" },
	seed: { type: "string" },
	model: { type: "string" },
	"median-ms": { type: "string" },
	sigma: { type: "string" },
	jobs: { type: "string" },
	"burst-jobs": { type: "string" },
	concurrency: { type: "string" },
	"baseline-intervals": { type: "string" },
	"ratelimited-jobs": { type: "string" },
	rate: { type: "string" },
	"scale-jobs": { type: "string" },
	"scale-concurrency": { type: "string" },
	"scale-median-ms": { type: "string" },
	"scale-sigma": { type: "string" },
	"scale-load-timeout-ms": { type: "string" },
	"deep-jobs": { type: "string" },
	"deep-median-ms": { type: "string" },
	"deep-sigma": { type: "string" },
	"deep-arrival-s": { type: "string" },
	"deep-modes": { type: "string" },
	"deep-intervals": { type: "string" },
	"deep-prior-median-ms": { type: "string" },
	"grace-ms": { type: "string" },
	"dup-window-ms": { type: "string" },
	"sample-ms": { type: "string" },
	"relay-var": { type: "string", multiple: true },
	"upstream-rpm": { type: "string" },
	"relay-rev": { type: "string" },
	"report-from": { type: "string" },
	"cost-do-active-ms": { type: "string" },
	"startup-timeout-ms": { type: "string" },
	verbose: { type: "boolean" },
	"cpu-profile": { type: "string" },
} as const;

type NumericFlag = Exclude<
	keyof typeof FLAGS,
	| "help"
	| "quick"
	| "out"
	| "scenarios"
	| "model"
	| "baseline-intervals"
	| "deep-modes"
	| "deep-intervals"
	| "deep-prior-median-ms"
	| "relay-var"
	| "relay-rev"
	| "report-from"
	| "verbose"
	| "cpu-profile"
>;

const DEFAULTS: Record<NumericFlag, number> = {
	seed: 42,
	"median-ms": 4000,
	sigma: 0.5,
	jobs: 1000,
	"burst-jobs": 500,
	concurrency: 32,
	"ratelimited-jobs": 600,
	rate: 20,
	"scale-jobs": 10_000,
	"scale-concurrency": 64,
	"scale-median-ms": 300_000,
	"scale-sigma": 0.25,
	"scale-load-timeout-ms": 1_200_000,
	"deep-jobs": 500,
	"deep-median-ms": 120_000,
	"deep-sigma": 0.5,
	"deep-arrival-s": 240,
	"grace-ms": 90_000,
	"dup-window-ms": 3000,
	"sample-ms": 250,
	"cost-do-active-ms": 200,
	"startup-timeout-ms": 90_000,
	"upstream-rpm": 0,
};

/** What `--quick` changes; any flag given explicitly still wins. */
const QUICK: Partial<Record<NumericFlag, number>> & {
	"baseline-intervals": string;
	"deep-intervals": string;
} = {
	"median-ms": 2000,
	jobs: 60,
	"burst-jobs": 40,
	"ratelimited-jobs": 60,
	rate: 20,
	"scale-jobs": 200,
	"scale-median-ms": 6000,
	"grace-ms": 60_000,
	"dup-window-ms": 1000,
	"baseline-intervals": "1,2",
	"deep-jobs": 20,
	"deep-median-ms": 4000,
	"deep-arrival-s": 10,
	"deep-intervals": "1,2",
};

export const USAGE = `npm run bench -- [flags]      (entry: bench/run.ts; see bench/README.md)

  --quick                      light run (~3 min): steady 40 + 60 jobs, baseline at 1 s and 2 s,
                               ratelimited 60 jobs, scale 200 jobs, median 2 s; deep 20 jobs,
                               median 4 s (told to the relay), arrivals over 10 s, frontier 1 s and 2 s
  --out DIR                    results directory (default bench/results)
  --scenarios LIST             any of ${SCENARIOS.join(",")} (default: all)
  --seed N                     workload seed (42)
  --model NAME                 model of every job (sonar)
  --median-ms MS --sigma S     lognormal job durations (4000, 0.5)
  --jobs N --concurrency C     steady (steady state) and baseline: N jobs, C in flight (1000, 32)
  --burst-jobs B               steady's ingest burst and the ceiling: B jobs, C submissions
                               in flight (500)
  --baseline-intervals LIST    fixed poller intervals in seconds (0.5,1,2,4)
  --ratelimited-jobs N         jobs submitted at once in ratelimited (600)
  --rate R                     upstream creates admitted per second in ratelimited (20)
  --scale-jobs N               jobs in flight at once in scale (10000)
  --scale-concurrency C        submissions in flight while loading scale (64)
  --scale-median-ms MS         scale durations: lognormal median (300000), counted from the end
  --scale-sigma S              of the load (upstream time is paused while it loads) and sigma (0.25)
  --scale-load-timeout-ms MS   stop sending scale submissions after this long (1200000)
  --deep-jobs N                deep: N sonar-deep-research jobs (500)
  --deep-median-ms MS          deep: lognormal median (120000) and sigma (0.5) of the durations
  --deep-sigma S
  --deep-arrival-s S           deep: the jobs arrive over S seconds, a seeded Poisson process (240)
  --deep-modes LIST            deep: the relay's WATCH_MODEs, each on a fresh relay (stream,poll,auto)
  --deep-intervals LIST        deep: the fixed pollers' intervals in seconds (2,5,10,20,30); none: no pollers
  --deep-prior-median-ms MS    deep: tell the relay the median (POLL_PRIOR_MEDIAN_MS; default: not
                               told, a cold start from the 180 s table prior)
  --grace-ms MS                wait for pushes this long beyond the longest job (90000)
  --dup-window-ms MS           keep listening for duplicates after the last push (3000)
  --sample-ms MS               workerd RSS/CPU sampling period (250)
  --relay-var NAME=VALUE       a relay setting over production defaults and the bench account's
                               UPSTREAM_CREATE_RPS=50, UPSTREAM_GET_RPS=100 (repeatable);
                               UPSTREAM_API=sonar measures the relay on the retired Sonar API
  --upstream-rpm N             the emulator enforces N Agent API requests a minute and says so in
                               x-ratelimit-* headers, which the relay learns from (0: none, the default)
  --relay-rev REV              measure the relay at this git revision (default: the working tree)
  --report-from FILE           run nothing; re-render latest.md, frontier.svg and the targets
                               of a results file into --out
  --cost-do-active-ms MS       assumed billed wall time per Durable Object request (200)
  --startup-timeout-ms MS      wrangler dev start-up limit (90000)
  --verbose                    print wrangler's output
  --cpu-profile DIR            write a V8 CPU profile of the relay per scenario to DIR/<scenario>.cpuprofile
                               and print its top functions by self time (sampling costs the relay CPU)
  -h, --help`;

function parseNumber(name: string, text: string): number {
	const value = Number(text);
	if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: not a non-negative number: ${text}`);
	return value;
}

/**
 * Parses `argv` (without node and the script); throws on unknown or malformed flags.
 *
 * @example
 * parseOptions(["--quick", "--out", "/tmp/bench"]).jobs; // 60
 */
export function parseOptions(argv: string[], root: string): BenchOptions | "help" {
	const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
	if (values.help) return "help";
	const quick = values.quick ?? false;
	const numberOf = (name: NumericFlag): number => {
		const given = values[name];
		if (given !== undefined) return parseNumber(name, given);
		return (quick ? QUICK[name] : undefined) ?? DEFAULTS[name];
	};
	const count = (name: NumericFlag, min = 1): number => {
		const value = Math.floor(numberOf(name));
		if (value < min) throw new Error(`--${name} must be at least ${min}`);
		return value;
	};

	const scenarios = (values.scenarios ?? SCENARIOS.join(","))
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	for (const name of scenarios) {
		if (!(SCENARIOS as readonly string[]).includes(name)) {
			throw new Error(`--scenarios: unknown scenario "${name}" (known: ${SCENARIOS.join(", ")})`);
		}
	}
	const intervalsOf = (name: "baseline-intervals" | "deep-intervals", fallback: string): number[] => {
		const list = (values[name] ?? (quick ? QUICK[name] : fallback)).split(",").map((s) => parseNumber(name, s.trim()));
		if (list.some((s) => s <= 0)) throw new Error(`--${name}: every interval must be above 0`);
		return list;
	};
	const intervals = intervalsOf("baseline-intervals", "0.5,1,2,4");
	// `--deep-intervals none`: no fixed pollers (a deep run of the relay's modes alone).
	const deepIntervals =
		values["deep-intervals"]?.trim() === "none" ? [] : intervalsOf("deep-intervals", "2,5,10,20,30");
	const deepModes = (values["deep-modes"] ?? DEEP_MODES.join(","))
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	for (const mode of deepModes) {
		if (!(DEEP_MODES as readonly string[]).includes(mode)) {
			throw new Error(`--deep-modes: unknown mode "${mode}" (known: ${DEEP_MODES.join(", ")})`);
		}
	}
	// `--quick` is a smoke test of the harness: the relay is told the median, so that the poll mode
	// does not wait ~100 s for the 180 s table prior's first poll of 4-second jobs.
	const priorText = values["deep-prior-median-ms"];
	const deepPriorMedianMs =
		priorText !== undefined
			? parseNumber("deep-prior-median-ms", priorText)
			: quick
				? numberOf("deep-median-ms")
				: undefined;

	const relayVars: Record<string, string> = {};
	for (const pair of values["relay-var"] ?? []) {
		const match = pair.match(/^([A-Z][A-Z0-9_]*)=(.*)$/);
		if (!match) throw new Error(`--relay-var: expected NAME=VALUE, got ${pair}`);
		relayVars[match[1] as string] = match[2] as string;
	}

	return {
		quick,
		outDir: values.out ?? join(root, "bench", "results"),
		scenarios: SCENARIOS.filter((name) => scenarios.includes(name)),
		seed: count("seed", 0),
		model: values.model ?? "sonar",
		medianMs: numberOf("median-ms"),
		sigma: numberOf("sigma"),
		jobs: count("jobs"),
		burstJobs: count("burst-jobs"),
		concurrency: count("concurrency"),
		baselineIntervalsS: intervals,
		ratelimitedJobs: count("ratelimited-jobs"),
		rate: numberOf("rate"),
		scaleJobs: count("scale-jobs"),
		scaleConcurrency: count("scale-concurrency"),
		scaleMedianMs: numberOf("scale-median-ms"),
		scaleSigma: numberOf("scale-sigma"),
		scaleLoadTimeoutMs: numberOf("scale-load-timeout-ms"),
		deepJobs: count("deep-jobs"),
		deepMedianMs: numberOf("deep-median-ms"),
		deepSigma: numberOf("deep-sigma"),
		deepArrivalS: numberOf("deep-arrival-s"),
		deepModes: DEEP_MODES.filter((mode) => deepModes.includes(mode)),
		deepIntervalsS: deepIntervals,
		deepPriorMedianMs,
		graceMs: numberOf("grace-ms"),
		dupWindowMs: numberOf("dup-window-ms"),
		sampleMs: count("sample-ms", 20),
		relayVars,
		upstreamRpm: numberOf("upstream-rpm"),
		relayRevision: values["relay-rev"],
		reportFrom: values["report-from"],
		costDoActiveMs: numberOf("cost-do-active-ms"),
		startupTimeoutMs: count("startup-timeout-ms", 1000),
		verbose: values.verbose ?? false,
		cpuProfileDir: values["cpu-profile"],
	};
}
