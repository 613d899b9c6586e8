/**
 * The upstream port for these settings: the Agent API adapter (the default) or the retired Sonar
 * API's. `port.ts` holds only the interface, so the adapters that implement it and this choice
 * between them import it without a cycle.
 */
import { agentAdapter } from "./agent/adapter.ts";
import type { CallOptions } from "./http.ts";
import type { PortSettings, UpstreamPort } from "./port.ts";
import { sonarAdapter } from "./sonar.ts";

/**
 * The port for these settings.
 *
 * @example
 * const upstream = upstreamPort(readSettings(env), { onLimits: (hint) => seen.push(hint) });
 * const run = await upstream.create({ jobId, request });
 */
export function upstreamPort(settings: PortSettings, options: CallOptions = {}): UpstreamPort {
	return settings.upstreamApi === "sonar" ? sonarAdapter(settings, options) : agentAdapter(settings, options);
}
