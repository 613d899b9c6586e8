/**
 * Samples the memory and CPU of a process tree from Linux `/proc`: here, the
 * `workerd` processes under one `wrangler dev`. RSS is summed over the tree's
 * matching processes at each sample (peak = the highest sum); CPU is
 * utime + stime from `/proc/<pid>/stat`, so the CPU a window used is the
 * difference of two snapshots. Elsewhere than Linux every figure is null.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

interface ProcEntry {
	pid: number;
	ppid: number;
	comm: string;
	/** utime + stime, in clock ticks. */
	ticks: number;
	rssBytes: number;
}

/** CPU ticks per matching pid at one instant. */
export interface CpuSnapshot {
	atMs: number;
	ticks: Map<number, number>;
}

export interface TreeSampler {
	/** Highest summed RSS of the matching processes since start (or the last `resetPeak`), in bytes; null off Linux. */
	peakRssBytes(): number | null;
	/** The summed RSS of the whole tree (wrangler's Node included) at its peak, in bytes. */
	peakTreeRssBytes(): number | null;
	resetPeak(): void;
	/** Reads the tree now. */
	snapshot(): CpuSnapshot;
	/** CPU seconds the matching processes used between two snapshots (new processes count from 0). */
	cpuSeconds(from: CpuSnapshot, to: CpuSnapshot): number | null;
	stop(): void;
}

const PAGE_BYTES = 4096;

function sysconf(name: string, fallback: number): number {
	try {
		const value = Number(execFileSync("getconf", [name], { encoding: "utf8" }).trim());
		return Number.isFinite(value) && value > 0 ? value : fallback;
	} catch {
		return fallback;
	}
}

function readEntry(pid: number): ProcEntry | undefined {
	try {
		const text = readFileSync(`/proc/${pid}/stat`, "utf8");
		// comm may hold spaces and parentheses: the fields after it start after the last ')'.
		const close = text.lastIndexOf(")");
		const comm = text.slice(text.indexOf("(") + 1, close);
		const rest = text.slice(close + 2).split(" ");
		// rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24 (man 5 proc).
		return {
			pid,
			ppid: Number(rest[1]),
			comm,
			ticks: Number(rest[11]) + Number(rest[12]),
			rssBytes: Number(rest[21]) * PAGE_BYTES,
		};
	} catch {
		return undefined; // exited between readdir and read
	}
}

/** Every process of the tree rooted at `rootPid` (the root included). */
function readTree(rootPid: number): ProcEntry[] {
	const children = new Map<number, ProcEntry[]>();
	let root: ProcEntry | undefined;
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		const entry = readEntry(Number(name));
		if (!entry) continue;
		if (entry.pid === rootPid) root = entry;
		const siblings = children.get(entry.ppid) ?? [];
		siblings.push(entry);
		children.set(entry.ppid, siblings);
	}
	if (!root) return [];
	const tree: ProcEntry[] = [];
	const queue = [root];
	for (let entry = queue.shift(); entry && tree.length < 10_000; entry = queue.shift()) {
		tree.push(entry);
		queue.push(...(children.get(entry.pid) ?? []));
	}
	return tree;
}

/**
 * Starts sampling every `intervalMs` until `stop()`.
 *
 * @example
 * const sampler = sampleTree(wrangler.child.pid, { match: /^workerd$/, intervalMs: 250 });
 * const before = sampler.snapshot();
 * // …load…
 * sampler.cpuSeconds(before, sampler.snapshot()); sampler.peakRssBytes(); sampler.stop();
 */
export function sampleTree(rootPid: number | undefined, options: { match: RegExp; intervalMs: number }): TreeSampler {
	const supported = rootPid !== undefined && existsSync("/proc/self/stat");
	const ticksPerSecond = supported ? sysconf("CLK_TCK", 100) : 100;
	let peak: number | null = null;
	let peakTree: number | null = null;

	const read = () => (supported ? readTree(rootPid as number) : []);
	const sample = () => {
		const tree = read();
		if (tree.length === 0) return;
		const matched = tree.filter((entry) => options.match.test(entry.comm));
		const rss = matched.reduce((sum, entry) => sum + entry.rssBytes, 0);
		const treeRss = tree.reduce((sum, entry) => sum + entry.rssBytes, 0);
		if (peak === null || rss > peak) peak = rss;
		if (peakTree === null || treeRss > peakTree) peakTree = treeRss;
	};
	sample();
	const timer = setInterval(sample, Math.max(20, options.intervalMs));
	timer.unref();

	return {
		peakRssBytes: () => peak,
		peakTreeRssBytes: () => peakTree,
		resetPeak() {
			peak = null;
			peakTree = null;
			sample();
		},
		snapshot() {
			const ticks = new Map<number, number>();
			for (const entry of read()) if (options.match.test(entry.comm)) ticks.set(entry.pid, entry.ticks);
			return { atMs: Date.now(), ticks };
		},
		cpuSeconds(from, to) {
			if (!supported || to.ticks.size === 0) return null;
			let ticks = 0;
			for (const [pid, value] of to.ticks) ticks += value - (from.ticks.get(pid) ?? 0);
			return ticks / ticksPerSecond;
		},
		stop() {
			clearInterval(timer);
		},
	};
}

/** Busy CPU ticks of the whole machine (all cores), from the `cpu` line of /proc/stat; null off Linux. */
function machineBusyTicks(): number | null {
	try {
		const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
		const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
		const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
		return Number.isFinite(busy) ? busy : null;
	} catch {
		return null;
	}
}

/**
 * Measures how busy the whole machine was over a window, in cores (every
 * process, this one's tree included); null off Linux.
 *
 * @example
 * const done = watchMachineLoad();
 * // …work…
 * done(); // 1.6: the machine kept 1.6 cores busy on average
 */
export function watchMachineLoad(): () => number | null {
	const ticksPerSecond = sysconf("CLK_TCK", 100);
	const startedAt = Date.now();
	const busyBefore = machineBusyTicks();
	return () => {
		const busyAfter = machineBusyTicks();
		const seconds = (Date.now() - startedAt) / 1000;
		if (busyBefore === null || busyAfter === null || seconds <= 0) return null;
		return (busyAfter - busyBefore) / ticksPerSecond / seconds;
	};
}

/**
 * Measures how busy the machine was with processes *outside* this one's tree
 * (other builds, other tests) over a window: the benchmark shares two cores,
 * so a busy neighbour shows in every figure, and the report says so. Our own
 * tree is sampled every second, so processes that exit inside the window
 * (a scenario's wrangler dev) still count as ours, give or take a second.
 *
 * @example
 * const done = watchForeignLoad();
 * // …scenario…
 * done(); // 0.4: other processes kept 0.4 cores busy on average
 */
export function watchForeignLoad(): () => number | null {
	if (!existsSync("/proc/stat")) return () => null;
	const ticksPerSecond = sysconf("CLK_TCK", 100);
	const startedAt = Date.now();
	const busyBefore = machineBusyTicks();
	const before = new Map<number, number>();
	const latest = new Map<number, number>();
	for (const entry of readTree(process.pid)) before.set(entry.pid, entry.ticks);
	const sample = () => {
		for (const entry of readTree(process.pid)) latest.set(entry.pid, entry.ticks);
	};
	sample();
	const timer = setInterval(sample, 1000);
	timer.unref();
	return () => {
		clearInterval(timer);
		sample();
		const busyAfter = machineBusyTicks();
		const seconds = (Date.now() - startedAt) / 1000;
		if (busyBefore === null || busyAfter === null || seconds <= 0) return null;
		let own = 0;
		for (const [pid, ticks] of latest) own += ticks - (before.get(pid) ?? 0);
		return Math.max(0, (busyAfter - busyBefore - own) / ticksPerSecond / seconds);
	};
}
