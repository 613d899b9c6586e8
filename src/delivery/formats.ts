/**
 * The delivery format registry. Each delivery carries an opaque `format` name; the shell renders its
 * body through the format registered under that name. Standard Webhooks events are the default and
 * need no entry; an integration (Slack) registers its own formats when its module loads, so the job
 * core never imports an integration.
 */
import type { RelayJob } from "../schemas/relay.ts";
import type { ProgressNote } from "../upstream/port.ts";

/** The name of the built-in format: a Standard Webhooks event. */
export const STANDARD_FORMAT = "standard";

/** What a format renders a body from. */
export interface FormatInput {
	/** The job as a Sonar-shaped view (what an event's `data` carries), with its result when it has one. */
	job: RelayJob;
	/** The integration's own settings, as it stored them in the job's spec (opaque to the core). */
	integration: unknown;
	/** What the run was doing, for a progress message. */
	note: ProgressNote | null;
	/** The signed link to the job's result, when the relay could make one. */
	resultUrl: string | null;
}

/** How an integration's delivery is made. */
export interface DeliveryFormat {
	/** The body, as JSON-serialisable data. */
	render(input: FormatInput): unknown;
	/** The body carries the job's result, so the shell must have it at hand. @default false */
	carriesResult?: boolean;
	/** The body links to the job's result (`resultUrl` is made for it). @default false */
	linksResult?: boolean;
	/** The only hosts this format may be sent to (outside local development). @default any host */
	allowedHosts?: readonly string[];
}

const formats = new Map<string, DeliveryFormat>();

/**
 * Registers a format under `name` (an integration does this when its module loads).
 *
 * @example
 * registerFormat("slack", { render: ({ job }) => ({ text: job.status }), carriesResult: true });
 */
export function registerFormat(name: string, format: DeliveryFormat): void {
	formats.set(name, format);
}

/**
 * The format registered under `name`; undefined for the standard format, or one no module registered.
 *
 * @example
 * formatOf("slack")?.render({ job, integration, note: null, resultUrl: null })
 */
export function formatOf(name: string | undefined): DeliveryFormat | undefined {
	return name === undefined || name === STANDARD_FORMAT ? undefined : formats.get(name);
}
