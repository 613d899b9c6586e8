/**
 * `[[emu:…]]` markers: scripting one job from inside its question.
 *
 * A marker in the last user message (Sonar) or the last user text of `input`
 * (Agent API) changes how the emulator treats that one job, so many test files
 * can share one emulator without touching its global state. The answer never
 * sees them: `stripMarkers` takes them out of the question first.
 */

/** An emulated error answer: STATUS for the first COUNT calls. */
export interface EmulatedFault {
	status: number;
	count: number;
}

/** What the markers of a job's last user text ask for. Absent fields were not asked for. */
export interface Markers {
	/** `[[emu:fail]]`: end failed. */
	fail: boolean;
	/** `[[emu:steps=N]]`: ignore the clock; the N-th answered GET shows the terminal state. */
	steps?: number;
	/** `[[emu:create=STATUSxN]]`: the first N creates of this text (per API key) answer STATUS. */
	create?: EmulatedFault;
	/** `[[emu:get=STATUSxN]]`: the first N GETs of this job answer STATUS. */
	get?: EmulatedFault;
	/** `[[emu:retry-after=S]]`: `Retry-After` on emulated 429/503 answers. */
	retryAfter?: number;
	/** `[[emu:delay=MS]]`: every call about this job waits MS first. */
	delayMs?: number;
	/** `[[emu:duration=MS]]`: this job's duration, over any configured one. */
	durationMs?: number;
	/** `[[emu:incomplete]]` (Agent API): end `incomplete`, reason `max_output_tokens`. */
	incomplete?: boolean;
	/** `[[emu:cancelled]]` (Agent API): end `cancelled` by itself. */
	cancelled?: boolean;
	/** `[[emu:drift]]` (Agent API): every answer about the run carries harmless schema drift. */
	drift?: boolean;
	/** `[[emu:unusable]]` (Agent API): terminal reads answer 200 with neither `status` nor `output`. */
	unusable?: boolean;
	/** `[[emu:size=BYTES]]`: the answer text is padded (or cut) to about BYTES. */
	sizeBytes?: number;
	/**
	 * `[[emu:stream-drop=N]]` or `[[emu:stream-drop=NxK]]` (Agent API): each of the run's first K
	 * event-stream connections (default 1) is cut abruptly after it has sent N events.
	 */
	streamDrop?: { afterEvents: number; connections: number };
	/**
	 * `[[emu:ratelimit=LIMIT/REMAINING]]` (Agent API): every answer about the run carries these
	 * `x-ratelimit-*-requests` headers (a per-minute limit, what is left, a reset of 1 s), whatever
	 * the global limiter says: one job can show what an account's headers would, without slowing
	 * the other jobs that share the emulator.
	 */
	rateLimit?: { limit: number; remaining: number };
	/** `[[emu:cursor-ttl=MS]]` (Agent API): this run's stream cursors expire after MS instead of `streamCursorTtlMs`. */
	cursorTtlMs?: number;
}

const MARKER = /\[\[emu:([a-z-]+)(?:=([^\]]*))?\]\]/gi;
/** Wider than MARKER on purpose: a malformed marker is ignored, but never leaks into the answer. */
const ANY_MARKER = /\[\[emu:[^\]]*\]\]/gi;

/** Caps `[[emu:size]]`: a typo must not make the emulator build a gigabyte string. */
export const MAX_SIZE_BYTES = 32 * 1024 * 1024;

function parseCount(value: string | undefined, min: number): number | undefined {
	if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
	const n = Number(value);
	return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

function parseFault(value: string | undefined): EmulatedFault | undefined {
	const match = value?.trim().match(/^([45]\d\d)x(\d+)$/i);
	if (!match) return undefined;
	return { status: Number(match[1]), count: Number(match[2]) };
}

function parseStreamDrop(value: string | undefined): Markers["streamDrop"] {
	const match = value?.trim().match(/^(\d+)(?:x(\d+))?$/i);
	if (!match) return undefined;
	const connections = match[2] === undefined ? 1 : Number(match[2]);
	return connections >= 1 ? { afterEvents: Number(match[1]), connections } : undefined;
}

/**
 * Reads the markers of a text. Unknown or malformed markers are ignored: the
 * real API would accept the text too.
 *
 * @example
 * parseMarkers("Hi [[emu:get=429x1]] [[emu:retry-after=3]]");
 * // { fail: false, get: { status: 429, count: 1 }, retryAfter: 3 }
 */
export function parseMarkers(text: string): Markers {
	const markers: Markers = { fail: false };
	for (const [, rawName, value] of text.matchAll(MARKER)) {
		switch (rawName?.toLowerCase()) {
			case "fail":
				markers.fail = true;
				break;
			case "steps":
				markers.steps = parseCount(value, 1) ?? markers.steps;
				break;
			case "create":
				markers.create = parseFault(value) ?? markers.create;
				break;
			case "get":
				markers.get = parseFault(value) ?? markers.get;
				break;
			case "retry-after":
				markers.retryAfter = parseCount(value, 0) ?? markers.retryAfter;
				break;
			case "delay":
				markers.delayMs = parseCount(value, 0) ?? markers.delayMs;
				break;
			case "duration":
				markers.durationMs = parseCount(value, 0) ?? markers.durationMs;
				break;
			case "incomplete":
				markers.incomplete = true;
				break;
			case "cancelled":
				markers.cancelled = true;
				break;
			case "drift":
				markers.drift = true;
				break;
			case "unusable":
				markers.unusable = true;
				break;
			case "size": {
				const size = parseCount(value, 1);
				if (size !== undefined) markers.sizeBytes = Math.min(size, MAX_SIZE_BYTES);
				break;
			}
			case "stream-drop":
				markers.streamDrop = parseStreamDrop(value) ?? markers.streamDrop;
				break;
			case "cursor-ttl":
				markers.cursorTtlMs = parseCount(value, 0) ?? markers.cursorTtlMs;
				break;
			case "ratelimit": {
				const match = value?.trim().match(/^(\d+)\/(\d+)$/);
				if (match) markers.rateLimit = { limit: Number(match[1]), remaining: Number(match[2]) };
				break;
			}
		}
	}
	return markers;
}

/** The text without its markers, whitespace collapsed: the question as an answer sees it. */
export function stripMarkers(text: string): string {
	return text.replace(ANY_MARKER, " ").replace(/\s+/g, " ").trim();
}
