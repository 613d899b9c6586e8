/**
 * The pacing port's adapter over the Upstream Gate Durable Object (one per upstream API key; this
 * relay has one key). Failures are logged through `onError` and never thrown: an unreachable gate
 * lets calls go unpaced.
 */
import type { Admission as GateAdmission } from "../gate.ts";
import type { RateLimitHint } from "../http.ts";
import type { Admission, PaceKind, PaceRequest, Pacer } from "./port.ts";

/** One gate per upstream key; this relay has one key. */
export const UPSTREAM_GATE_NAME = "upstream";

/**
 * @example
 * const pacer = gatePacer(env, (event, error) => note("warn", event, state, error));
 * const admission = await pacer.admit("create", { model, slot: null, tenant });
 */
export function gatePacer(env: Env, onError: (event: string, error: unknown) => void): Pacer {
	const gate = () => env.GATES.get(env.GATES.idFromName(UPSTREAM_GATE_NAME));
	const reported = (event: string) => (error: unknown) => onError(event, error);
	return {
		async admit(kind: PaceKind, request: PaceRequest): Promise<Admission | null> {
			const { model, slot, tenant, deadline } = request;
			try {
				const options = {
					...(tenant !== undefined ? { tenant } : {}),
					...(deadline !== undefined ? { deadline } : {}),
				};
				const answer = (await gate().admit(kind, model, slot?.epoch, slot?.send === true, options)) as GateAdmission;
				const { epoch, send, ...rest } = answer;
				return { ...rest, slot: { epoch, send } };
			} catch (error) {
				onError("gate.unavailable", error);
				return null;
			}
		},
		report429: (kind, retryAfterMs) => gate().report429(kind, retryAfterMs).catch(reported("gate.report_failed")),
		observeLimits: (hint: RateLimitHint) => gate().observeLimits(hint).catch(reported("gate.report_failed")),
		record: (model, durationMs) => gate().record(model, durationMs).catch(reported("gate.record_failed")),
	};
}
