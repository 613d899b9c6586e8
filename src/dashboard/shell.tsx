/** @jsxImportSource hono/jsx */
/**
 * The dashboard's HTML shell, rendered on the server with Hono JSX: every view's
 * static structure (headings, labelled form fields, table heads, live regions),
 * hidden until the client script (`src/public/dashboard/app.js`) shows one and fills in the data it
 * fetches from the relay's JSON API. The job list and the job page serve both
 * kinds of job (Sonar API jobs and Agent API runs); the client relabels them.
 * No inline script or style anywhere, so the page runs under a CSP without
 * `'unsafe-inline'`. What the client must know from the server comes as `data-*`
 * attributes on `<body>` (`ShellConfig`), not as an inline script.
 */
import type { FC } from "hono/jsx";
import { MAX_METADATA_KEY, MAX_METADATA_KEYS, MAX_METADATA_VALUE } from "../schemas/agent.ts";
import { HookEvent } from "../schemas/relay.ts";

export interface ShellAssets {
	script: string;
	style: string;
	icon: string;
}

/** The server's values the client reads from `document.body.dataset`. */
export interface ShellConfig {
	/** How many jobs the list asks for per page (`limit`), `data-page-size`. */
	pageSize: number;
	/** The largest `metadata` the relay accepts, in bytes of JSON, `data-max-metadata-bytes`. */
	maxMetadataBytes: number;
	/** The Trusted Types policy the CSP allows, `data-trusted-types-policy`. */
	trustedTypesPolicy: string;
}

/** The job list's page size: the API's default `limit`. */
export const DASHBOARD_PAGE_SIZE = 20;

/** The models the submit form offers; the relay accepts any model the upstream does. */
export const DASHBOARD_MODELS = ["sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research"] as const;

/** The Agent API presets the submit form offers for a run. */
export const DASHBOARD_PRESETS = ["fast", "low", "medium", "high", "xhigh"] as const;

const Logo: FC = () => (
	<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
		<rect width="24" height="24" rx="6" fill="#2454c5" />
		<circle cx="8" cy="16" r="2" fill="#fff" />
		<path d="M8 10.5a5.5 5.5 0 0 1 5.5 5.5" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round" />
		<path d="M8 6a10 10 0 0 1 10 10" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round" />
	</svg>
);

const SignIn: FC = () => (
	<section id="view-signin" class="view view-narrow" aria-labelledby="signin-title" hidden>
		<div class="card">
			<h1 id="signin-title" tabindex={-1}>
				Sign in
			</h1>
			<p class="muted">
				Use one of this relay's API keys. The key stays in this browser tab's session storage: it is never put in a URL
				or a cookie, and it is forgotten when the tab closes.
			</p>
			<p id="signin-local" class="muted">
				Running it locally with <code>npm start</code>? The key is printed in the start banner, and kept in{" "}
				<code>.dev.vars</code> as the part after the last colon of <code>API_KEYS</code>. The API reference is at{" "}
				<a href="/docs">/docs</a>.
			</p>
			<form id="signin-form" novalidate>
				<div class="field">
					<label for="signin-key">API key</label>
					<input
						id="signin-key"
						name="key"
						type="password"
						autocomplete="off"
						autocapitalize="off"
						spellcheck={false}
						required
						aria-describedby="signin-error"
					/>
				</div>
				<div id="signin-error" class="alert alert-error" role="alert" />
				<button type="submit" class="btn btn-primary">
					Sign in
				</button>
			</form>
		</div>
	</section>
);

const JobList: FC = () => (
	<section id="view-jobs" class="view" aria-labelledby="jobs-title" hidden>
		<div class="view-head">
			<h1 id="jobs-title" tabindex={-1}>
				Jobs
			</h1>
			<div class="actions">
				<a class="btn btn-primary" href="#/new">
					New job
				</a>
			</div>
		</div>
		{/* Tabs over one panel: each tab is a list route (#/jobs, #/runs), so Back returns to the same list. */}
		<div id="jobs-tabs" class="tabs" role="tablist" aria-label="Kind of job">
			<button
				id="tab-sonar"
				type="button"
				role="tab"
				class="tab"
				data-kind="sonar"
				aria-selected="true"
				aria-controls="jobs-panel"
			>
				Jobs (Sonar API)
			</button>
			<button
				id="tab-agent"
				type="button"
				role="tab"
				class="tab"
				data-kind="agent"
				aria-selected="false"
				aria-controls="jobs-panel"
				tabindex={-1}
			>
				Runs (Agent API)
			</button>
		</div>
		<div id="jobs-panel" class="tabpanel" role="tabpanel" aria-labelledby="tab-sonar">
			<div class="toolbar">
				<div class="field-inline">
					<label for="jobs-filter">Show</label>
					{/* The options depend on the kind shown; the client fills them in. */}
					<select id="jobs-filter" aria-describedby="jobs-summary">
						<option value="">All jobs</option>
					</select>
				</div>
				<button id="jobs-refresh" type="button" class="btn">
					Refresh
				</button>
				<p id="jobs-live" class="live" hidden>
					Updating while jobs run
				</p>
			</div>
			{/* Asks the relay (metadata[key]=value on the list endpoint): it searches every job, not only the loaded ones. */}
			<search>
				<form id="jobs-search" class="toolbar" novalidate>
					<div class="field-inline">
						<label for="jobs-search-input">Search by metadata</label>
						<input
							id="jobs-search-input"
							name="metadata"
							type="search"
							placeholder="key=value"
							autocomplete="off"
							spellcheck={false}
							aria-describedby="jobs-search-hint jobs-search-error"
						/>
					</div>
					<button id="jobs-search-submit" type="submit" class="btn">
						Search
					</button>
					<button id="jobs-search-clear" type="button" class="btn" hidden>
						Clear search
					</button>
					<p id="jobs-search-hint" class="hint">
						A top-level metadata entry, such as <code>ticket=T-42</code>.
					</p>
					<p id="jobs-search-error" class="field-error" />
				</form>
			</search>
			<p id="jobs-summary" class="muted small" />
			<p id="jobs-usage" class="muted small" />
			<div id="jobs-error" class="alert alert-error" role="alert" />
			<div class="card table-card">
				<div class="table-wrap">
					<table id="jobs-table" class="table jobs-table stack-table">
						<caption id="jobs-caption" class="visually-hidden">
							Jobs, newest first
						</caption>
						<thead>
							<tr>
								<th id="jobs-col-id" scope="col">
									Job
								</th>
								<th scope="col">Model</th>
								<th scope="col">Status</th>
								<th scope="col">Delivery</th>
								<th scope="col">Created</th>
							</tr>
						</thead>
						<tbody id="jobs-body" />
					</table>
				</div>
				<p id="jobs-empty" class="empty card-pad" hidden />
			</div>
			<div class="pager">
				<button id="jobs-more" type="button" class="btn" hidden>
					Load more
				</button>
			</div>
		</div>
	</section>
);

const JobPage: FC = () => (
	<section id="view-job" class="view" aria-labelledby="job-title" hidden>
		<div>
			<p class="crumbs">
				<a id="job-back" href="#/jobs">
					← All jobs
				</a>
			</p>
			<div class="view-head">
				<div class="title-row">
					<h1 id="job-title" tabindex={-1}>
						Job
					</h1>
					<div id="job-badges" class="badges" />
				</div>
				<div class="actions">
					<button
						id="job-cancel"
						type="button"
						class="btn btn-danger-outline"
						aria-expanded="false"
						aria-controls="cancel-confirm"
						disabled
					>
						Cancel job
					</button>
					<button id="job-refresh" type="button" class="btn">
						Refresh
					</button>
				</div>
			</div>
			<p class="job-id">
				<code id="job-id" />
				<button id="job-copy-id" type="button" class="btn btn-small">
					Copy id
				</button>
			</p>
		</div>
		<p id="job-live" class="live" hidden>
			Updating live until the job settles
		</p>
		<p id="job-paused" class="muted small" hidden>
			Stopped checking for updates. Press Refresh to check again.
		</p>
		{/* Cancelling asks first, in the page: a second, explicit button (no window.confirm). */}
		<fieldset id="cancel-confirm" class="alert alert-warning confirm" hidden>
			<legend id="cancel-confirm-text">Cancel this job?</legend>
			<div class="actions">
				<button id="cancel-yes" type="button" class="btn btn-danger">
					Yes, cancel the job
				</button>
				<button id="cancel-no" type="button" class="btn">
					Keep it running
				</button>
			</div>
		</fieldset>
		<div id="cancel-result" class="alert" role="status" tabindex={-1} />
		<div id="job-error" class="alert alert-error" role="alert" />
		<div class="job-grid">
			<div class="job-main">
				<section class="card" aria-labelledby="question-title">
					<h2 id="question-title">Question</h2>
					<div id="job-question" />
				</section>
				<section class="card" aria-labelledby="answer-title">
					<h2 id="answer-title">Answer</h2>
					<div id="job-answer" class="markdown" />
				</section>
				<section class="card" aria-labelledby="sources-title">
					<h2 id="sources-title">Sources</h2>
					<ol id="job-sources" class="sources" />
					<p id="job-sources-empty" class="muted" hidden />
				</section>
				<section class="card" aria-labelledby="deliveries-title">
					<div class="card-head">
						<h2 id="deliveries-title">Deliveries</h2>
						<button id="job-redeliver" type="button" class="btn" aria-describedby="redeliver-help">
							Redeliver
						</button>
					</div>
					<p id="redeliver-help" class="hint">
						Sends the final event to the callback again now, with the same <code>webhook-id</code>.
					</p>
					<div id="redeliver-result" class="alert" role="status" />
					<div id="job-events" />
					<div id="job-attempts" />
				</section>
			</div>
			<aside id="job-side" class="job-side" aria-label="Job details">
				<section class="card" aria-labelledby="timeline-title">
					<h2 id="timeline-title">Timeline</h2>
					<ol id="job-timeline" class="timeline" />
					<p id="job-timeline-note" class="hint" hidden />
				</section>
				<section class="card" aria-labelledby="details-title">
					<h2 id="details-title">Details</h2>
					<dl id="job-details" class="details" />
				</section>
				<section class="card" aria-labelledby="curl-title">
					<h2 id="curl-title">Fetch it with curl</h2>
					<pre id="job-curl" class="snippet" />
					<label class="check">
						<input id="job-curl-key" type="checkbox" />
						Include my API key
					</label>
					<p class="hint">
						Otherwise the command reads the key from <code>$SONAR_RELAY_KEY</code>.
					</p>
					<button id="job-copy-curl" type="button" class="btn">
						Copy as curl
					</button>
				</section>
			</aside>
		</div>
	</section>
);

const NewJob: FC = () => (
	<section id="view-new" class="view" aria-labelledby="new-title" hidden>
		<div class="view-head">
			<h1 id="new-title" tabindex={-1}>
				New job
			</h1>
		</div>
		<p class="muted">
			Submits <code id="new-endpoint">POST /async/chat/completions</code>. With a callback URL, the relay pushes the
			signed result there when it settles; either way its page follows it live.
		</p>
		<div id="new-errors" class="alert alert-error" role="alert" tabindex={-1} />
		<form id="new-form" class="card" novalidate>
			<fieldset id="f-surface">
				<legend>Run it on</legend>
				<div class="checks">
					<label class="check">
						<input type="radio" name="surface" value="sonar" checked /> Sonar API: a job with a model
					</label>
					<label class="check">
						<input type="radio" name="surface" value="agent" /> Agent API: a run with a preset
					</label>
				</div>
			</fieldset>
			<div class="field">
				<label for="f-question">Question</label>
				<textarea id="f-question" name="question" rows={4} required aria-describedby="f-question-error" />
				<p id="f-question-error" class="field-error" />
			</div>
			<div class="form-grid">
				<div id="f-model-field" class="field" data-surface="sonar">
					<label for="f-model">Model</label>
					<select id="f-model" name="model" aria-describedby="f-model-error">
						{DASHBOARD_MODELS.map((model) => (
							<option value={model} selected={model === "sonar"}>
								{model}
							</option>
						))}
					</select>
					<p id="f-model-error" class="field-error" />
				</div>
				<div id="f-preset-field" class="field" data-surface="agent" hidden>
					<label for="f-preset">Preset</label>
					<select id="f-preset" name="preset" aria-describedby="f-preset-error">
						{DASHBOARD_PRESETS.map((preset) => (
							<option value={preset} selected={preset === "medium"}>
								{preset}
							</option>
						))}
					</select>
					<p id="f-preset-error" class="field-error" />
				</div>
				<div class="field">
					<label for="f-callback">
						Callback URL <span class="optional">(optional)</span>
					</label>
					<input
						id="f-callback"
						name="callback_url"
						type="url"
						inputmode="url"
						placeholder="https://example.com/hooks/perplexity"
						autocomplete="off"
						spellcheck={false}
						aria-describedby="f-callback-hint f-callback-error"
					/>
					<p id="f-callback-hint" class="hint">
						https only, unless the relay allows private callbacks.
					</p>
					<p id="f-callback-error" class="field-error" />
				</div>
			</div>
			<fieldset id="f-events" aria-describedby="f-events-error">
				<legend>Events to push</legend>
				<div class="checks" data-surface="sonar">
					<label class="check">
						<input type="checkbox" name="callback_events" value="started" /> started
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="completed" checked /> completed
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="failed" checked /> failed
					</label>
				</div>
				<div class="checks" data-surface="agent" hidden>
					<label class="check">
						<input type="checkbox" name="callback_events" value="in_progress" /> in_progress
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="completed" checked /> completed
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="failed" checked /> failed
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="cancelled" checked /> cancelled
					</label>
					<label class="check">
						<input type="checkbox" name="callback_events" value="incomplete" checked /> incomplete
					</label>
				</div>
				<p id="f-events-error" class="field-error" />
			</fieldset>
			<div class="field">
				<label for="f-metadata">
					Metadata <span class="optional">(optional JSON object, echoed in every event)</span>
				</label>
				<textarea
					id="f-metadata"
					name="metadata"
					class="code"
					rows={3}
					spellcheck={false}
					placeholder='{"ticket": "T-42"}'
					aria-describedby="f-metadata-error"
				/>
				<p id="f-metadata-hint" class="hint" data-surface="agent" hidden>
					On the Agent API: at most {MAX_METADATA_KEYS} keys of at most {MAX_METADATA_KEY} characters, each value a
					string of at most {MAX_METADATA_VALUE} characters.
				</p>
				<p id="f-metadata-error" class="field-error" />
			</div>
			<div class="form-actions">
				<button id="new-submit" type="submit" class="btn btn-primary">
					Submit job
				</button>
			</div>
		</form>
	</section>
);

const Operations: FC = () => (
	<section id="view-ops" class="view" aria-labelledby="ops-title" hidden>
		<div class="view-head">
			<h1 id="ops-title" tabindex={-1}>
				Operations
			</h1>
			<div class="actions">
				<div class="field-inline">
					<label for="ops-window">Window</label>
					<select id="ops-window" aria-describedby="ops-range">
						<option value="1h">Last hour</option>
						<option value="24h" selected>
							Last 24 hours
						</option>
						<option value="7d">Last 7 days</option>
					</select>
				</div>
				<button id="ops-refresh" type="button" class="btn">
					Refresh
				</button>
			</div>
		</div>
		<p id="ops-range" class="muted small" />
		<div id="ops-error" class="alert alert-error" role="alert" />
		<section class="card" aria-labelledby="ops-counts-title">
			<h2 id="ops-counts-title">Jobs in the window</h2>
			{/* The client fills in each number; the labels are here. */}
			<dl id="ops-counts" class="stat-grid">
				{(
					[
						["accepted", "Accepted"],
						["completed", "Completed"],
						["failed", "Failed"],
						["cancelled", "Cancelled"],
						["dead_lettered", "Dead-lettered"],
					] as const
				).map(([key, label]) => (
					<div class="stat" data-stat={key}>
						<dt>{label}</dt>
						<dd id={`ops-count-${key}`}>–</dd>
					</div>
				))}
			</dl>
			<p class="hint">
				Dead-lettered: the final event to the callback URL exhausted its retries and is still undelivered.
			</p>
			<p id="ops-scan" class="hint" hidden />
		</section>
		<section class="card" aria-labelledby="ops-hourly-title">
			<h2 id="ops-hourly-title">Jobs per hour, last 24 hours</h2>
			<div id="ops-hourly" class="chart" />
		</section>
		<section class="card" aria-labelledby="ops-lag-title">
			<h2 id="ops-lag-title">Push lag</h2>
			<p id="ops-lag-summary" class="muted small" />
			<div id="ops-lag" class="chart" />
			<p class="hint">
				From the end of a job's run (its <code>completed_at</code> or <code>failed_at</code>, to the second) to the
				first 2xx of its final event: p50 and p99 per hour, by when the job ended.
			</p>
		</section>
		<section class="card" aria-labelledby="ops-recover-title">
			<h2 id="ops-recover-title">Recover failed deliveries</h2>
			<p id="ops-recover-help" class="hint">
				Sends the final event again, with the same <code>webhook-id</code>, for every job whose delivery was
				dead-lettered since this time (your local time). The relay takes a batch per call; this page carries on until
				none remain.
			</p>
			<form id="ops-recover-form" class="toolbar" novalidate>
				<div class="field-inline">
					<label for="ops-recover-since">Since</label>
					<input
						id="ops-recover-since"
						name="since"
						type="datetime-local"
						step="1"
						required
						aria-describedby="ops-recover-help ops-recover-error"
					/>
				</div>
				<button id="ops-recover-submit" type="submit" class="btn btn-primary">
					Redeliver failed
				</button>
				<p id="ops-recover-error" class="field-error" />
			</form>
			<div id="ops-recover-result" class="alert" role="status" tabindex={-1} />
		</section>
		<section class="card" aria-labelledby="hooks-title">
			<h2 id="hooks-title">REST hook subscriptions</h2>
			<p class="hint">
				Every settled job of yours is also pushed to each subscription whose event matches, signed like any delivery.
			</p>
			<form id="hook-form" class="hook-form" novalidate>
				<div class="field">
					<label for="hook-target">Target URL</label>
					<input
						id="hook-target"
						name="target_url"
						type="url"
						inputmode="url"
						placeholder="https://example.com/hooks/relay"
						autocomplete="off"
						spellcheck={false}
						required
						aria-describedby="hook-target-error"
					/>
					<p id="hook-target-error" class="field-error" />
				</div>
				<div class="field">
					<label for="hook-event">Event</label>
					<select id="hook-event" name="event">
						{HookEvent.options.map((event) => (
							<option value={event} selected={event === "async_chat_completion.completed"}>
								{event}
							</option>
						))}
					</select>
				</div>
				<div class="form-actions">
					<button id="hook-submit" type="submit" class="btn btn-primary">
						Subscribe
					</button>
				</div>
			</form>
			<div id="hooks-error" class="alert alert-error" role="alert" />
			<div id="hook-result" class="alert" role="status" tabindex={-1} />
			<div id="hooks-list" />
		</section>
	</section>
);

const WebhookSecret: FC = () => (
	<section id="view-secret" class="view" aria-labelledby="secret-title" hidden>
		<div class="view-head">
			<h1 id="secret-title" tabindex={-1}>
				Webhook secret
			</h1>
		</div>
		<p class="muted">
			Every push is signed the Standard Webhooks way with this secret. Verify the <code>webhook-signature</code> header
			with it (for example with the <code>standardwebhooks</code> package) before trusting a push.
		</p>
		<div id="secret-error" class="alert alert-error" role="alert" />
		<div id="secret-list" class="card" aria-busy="true">
			<p class="muted">Loading…</p>
		</div>
	</section>
);

/**
 * The whole page.
 *
 * @example
 * "<!doctype html>" + (<Shell assets={{ script: "/dashboard/app.js", style: "/dashboard/app.css", icon: "/dashboard/icon.svg" }}
 *   config={{ pageSize: 20, maxMetadataBytes: 4096, trustedTypesPolicy: "sonar-relay-markdown" }} />)
 */
export const Shell: FC<{ assets: ShellAssets; config: ShellConfig }> = ({ assets, config }) => (
	<html lang="en">
		<head>
			<meta charset="utf-8" />
			<meta name="viewport" content="width=device-width, initial-scale=1" />
			<meta name="color-scheme" content="light dark" />
			<meta name="robots" content="noindex" />
			<title>sonar-relay dashboard</title>
			<link rel="icon" href={assets.icon} type="image/svg+xml" />
			<link rel="stylesheet" href={assets.style} />
			<script src={assets.script} defer />
		</head>
		<body
			data-page-size={config.pageSize}
			data-max-metadata-bytes={config.maxMetadataBytes}
			data-trusted-types-policy={config.trustedTypesPolicy}
		>
			<a class="skip-link" href="#main">
				Skip to content
			</a>
			<header class="topbar">
				<div class="topbar-inner">
					<a class="brand" href="#/jobs" data-list-link>
						<Logo />
						<span>sonar-relay</span>
						<span class="brand-sub">dashboard</span>
					</a>
					<nav id="nav" class="nav" aria-label="Dashboard" hidden>
						<a href="#/jobs" data-nav="jobs" data-list-link>
							Jobs
						</a>
						<a href="#/new" data-nav="new">
							New job
						</a>
						<a href="#/ops" data-nav="ops">
							Operations
						</a>
						<a href="#/secret" data-nav="secret">
							Webhook secret
						</a>
						{/* A new tab without an opener: the API reference gets no copy of this tab's session storage (the key). */}
						<a href="/docs" target="_blank" rel="noopener noreferrer">
							API docs
						</a>
					</nav>
					<button id="sign-out" type="button" class="btn btn-small" hidden>
						Sign out
					</button>
				</div>
			</header>
			<main id="main" tabindex={-1}>
				<noscript>
					<p class="notice">The dashboard needs JavaScript; the relay's API works without it.</p>
				</noscript>
				<SignIn />
				<JobList />
				<JobPage />
				<NewJob />
				<Operations />
				<WebhookSecret />
			</main>
			<div id="toast" class="toast" role="status" aria-live="polite" aria-atomic="true" />
		</body>
	</html>
);

/**
 * The page as a string, doctype included.
 *
 * @example
 * renderShell({ script: "/dashboard/app.js?v=…", style: "…", icon: "…" }, config) // "<!doctype html><html lang=\"en\">…"
 */
export function renderShell(assets: ShellAssets, config: ShellConfig): string {
	return `<!doctype html>${(<Shell assets={assets} config={config} />).toString()}`;
}
