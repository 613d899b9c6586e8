/**
 * A minimal DevTools-protocol client for the relay's isolate (wrangler dev's
 * inspector), and what a V8 CPU profile says about self time. Used by
 * `npm run bench:profile` and by `npm run bench -- --cpu-profile DIR`.
 */

export interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
	children?: number[];
}
export interface CpuProfile {
	nodes: ProfileNode[];
	samples: number[];
	timeDeltas: number[];
	startTime: number;
	endTime: number;
}

/** A minimal DevTools protocol client over the inspector's WebSocket. */
export async function connect(port: number) {
	const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
	const url = targets[0]?.webSocketDebuggerUrl;
	if (!url) throw new Error("no inspector target");
	// The inspector proxy admits local origins only; undici's WebSocket takes headers as an extension.
	const socket = new WebSocket(url, { headers: { Origin: "http://localhost" } } as unknown as string[]);
	await new Promise((resolve, reject) => {
		socket.addEventListener("open", resolve, { once: true });
		socket.addEventListener("error", reject, { once: true });
	});
	let nextId = 1;
	const pending = new Map<number, (result: unknown) => void>();
	socket.addEventListener("message", (event) => {
		const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
		if (message.id !== undefined) pending.get(message.id)?.(message.result);
	});
	return {
		send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
			const id = nextId++;
			socket.send(JSON.stringify({ id, method, params }));
			return new Promise((resolve) => pending.set(id, resolve as (result: unknown) => void));
		},
		close: () => socket.close(),
	};
}

/** Self time per function (ms), largest first. */
export function selfTimes(profile: CpuProfile): { name: string; ms: number }[] {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const totals = new Map<string, number>();
	profile.samples.forEach((id, i) => {
		const node = byId.get(id);
		if (!node) return;
		const { functionName, url, lineNumber } = node.callFrame;
		const file = url.split("/").slice(-2).join("/");
		const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
		totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
	});
	return [...totals].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

/**
 * Starts sampling the relay's isolate; `stop()` ends it and answers the profile.
 *
 * @example
 * const profiling = await startCpuProfile(stack.relay.inspectorPort);
 * // … load …
 * writeFileSync("relay.cpuprofile", JSON.stringify(await profiling.stop()));
 */
export async function startCpuProfile(port: number, intervalUs = 200) {
	const inspector = await connect(port);
	await inspector.send("Profiler.enable");
	await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
	await inspector.send("Profiler.start");
	return {
		async stop(): Promise<CpuProfile> {
			const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
			inspector.close();
			return profile;
		},
	};
}
