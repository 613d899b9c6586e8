/**
 * The dashboard's stylesheet, served from `/dashboard/app.css` (the CSP allows no
 * inline styles). A system font stack, a neutral palette with one accent, badges
 * that carry their meaning in text as well as colour, visible focus rings, and a
 * layout that folds to one column (and tables to cards) on narrow screens.
 * Text colours keep a contrast of at least 4.5:1 on their backgrounds.
 */
export const DASHBOARD_CSS = `
:root {
	color-scheme: light dark;
	--bg: #f5f6f8;
	--surface: #ffffff;
	--surface-2: #f0f2f5;
	--border: #dfe3e8;
	--text: #1a1f26;
	--muted: #58626e;
	--accent: #2454c5;
	--accent-hover: #1c449f;
	--accent-text: #ffffff;
	--focus: #2454c5;
	--code-bg: #f1f3f6;
	--shadow: 0 1px 2px rgba(16, 24, 40, 0.06);
	--gray-bg: #eceef1;
	--gray-fg: #46505b;
	--blue-bg: #e5edfd;
	--blue-fg: #1d4bb3;
	--green-bg: #e3f4e8;
	--green-fg: #1b6a35;
	--amber-bg: #fdf1dc;
	--amber-fg: #8a4b00;
	--red-bg: #fde7e7;
	--red-fg: #b0222a;
	--violet-bg: #efe9fb;
	--violet-fg: #5b3a9e;
	--radius: 8px;
	--font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
	--mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}

@media (prefers-color-scheme: dark) {
	:root {
		--bg: #111418;
		--surface: #181c21;
		--surface-2: #1f242a;
		--border: #2d333b;
		--text: #e6e9ed;
		--muted: #9ba5b1;
		--accent: #6d9bff;
		--accent-hover: #8fb2ff;
		--accent-text: #0d1117;
		--focus: #8fb2ff;
		--code-bg: #20262d;
		--shadow: none;
		--gray-bg: #262c33;
		--gray-fg: #c3cad3;
		--blue-bg: #1a2a4a;
		--blue-fg: #a9c4ff;
		--green-bg: #15301f;
		--green-fg: #8fdca8;
		--amber-bg: #3a2a10;
		--amber-fg: #f3c27a;
		--red-bg: #3d1719;
		--red-fg: #ffaaa8;
		--violet-bg: #2c2145;
		--violet-fg: #cdb8ff;
	}
}

*, *::before, *::after { box-sizing: border-box; }

html { -webkit-text-size-adjust: 100%; }

body {
	margin: 0;
	background: var(--bg);
	color: var(--text);
	font: 15px/1.5 var(--font);
}

[hidden] { display: none !important; }

a { color: var(--accent); text-underline-offset: 2px; }
a:hover { color: var(--accent-hover); }

:focus-visible {
	outline: 2px solid var(--focus);
	outline-offset: 2px;
	border-radius: 3px;
}

h1, h2, h3 { line-height: 1.25; margin: 0; }
h1 { font-size: 1.5rem; font-weight: 650; letter-spacing: -0.01em; }
h1:focus { outline: none; }
h2 { font-size: 1rem; font-weight: 650; }
h3 { font-size: 0.95rem; font-weight: 650; }

code, pre, .mono { font-family: var(--mono); font-size: 0.875em; }

.visually-hidden {
	position: absolute !important;
	width: 1px; height: 1px;
	margin: -1px; padding: 0; border: 0;
	overflow: hidden;
	clip: rect(0 0 0 0);
	white-space: nowrap;
}

.skip-link {
	position: absolute;
	left: 12px; top: -48px;
	padding: 8px 12px;
	background: var(--surface);
	border: 1px solid var(--border);
	border-radius: var(--radius);
	z-index: 10;
}
.skip-link:focus { top: 12px; }

/* ── Top bar ───────────────────────────────────────────────────────────── */

.topbar {
	background: var(--surface);
	border-bottom: 1px solid var(--border);
}
.topbar-inner {
	max-width: 1180px;
	margin: 0 auto;
	padding: 10px 20px;
	display: flex;
	flex-wrap: wrap;
	align-items: center;
	gap: 8px 20px;
}
.brand {
	display: inline-flex;
	align-items: center;
	gap: 8px;
	color: var(--text);
	font-weight: 650;
	text-decoration: none;
	margin-right: auto;
}
.brand:hover { color: var(--text); }
.brand svg { width: 22px; height: 22px; }
.brand-sub { color: var(--muted); font-weight: 450; }
.nav { display: flex; flex-wrap: wrap; gap: 4px; }
.nav a {
	color: var(--muted);
	text-decoration: none;
	padding: 6px 10px;
	border-radius: 6px;
	font-weight: 500;
}
.nav a:hover { color: var(--text); background: var(--surface-2); }
.nav a[aria-current="page"] { color: var(--text); background: var(--surface-2); }

/* ── Layout ────────────────────────────────────────────────────────────── */

main {
	max-width: 1180px;
	margin: 0 auto;
	padding: 24px 20px 48px;
}
main:focus { outline: none; }

.view > * + * { margin-top: 16px; }
.view-narrow { max-width: 460px; margin: 8vh auto 0; }

.view-head {
	display: flex;
	flex-wrap: wrap;
	align-items: center;
	justify-content: space-between;
	gap: 12px;
}
.title-row { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; }

.card {
	background: var(--surface);
	border: 1px solid var(--border);
	border-radius: var(--radius);
	box-shadow: var(--shadow);
	padding: 18px 20px;
	min-width: 0;
}
.card > * + * { margin-top: 12px; }
.card-pad { padding: 20px; margin: 0; }
.card h2, .card-head h2 {
	font-size: 0.78rem;
	font-weight: 700;
	text-transform: uppercase;
	letter-spacing: 0.06em;
	color: var(--muted);
}
.card h3 { font-size: 0.9rem; }
.card-head {
	display: flex;
	flex-wrap: wrap;
	align-items: center;
	justify-content: space-between;
	gap: 8px 12px;
}

.job-grid {
	display: grid;
	grid-template-columns: minmax(0, 2fr) minmax(0, 1fr);
	gap: 16px;
	align-items: start;
}
.job-main, .job-side { display: grid; gap: 16px; min-width: 0; }

.muted { color: var(--muted); }
.small { font-size: 0.875rem; }
.crumbs { margin: 0 0 8px; font-size: 0.9rem; }
.crumbs a { text-decoration: none; }
.crumbs a:hover { text-decoration: underline; }
.empty { color: var(--muted); padding: 20px 0; }

/* ── Controls ──────────────────────────────────────────────────────────── */

.btn {
	display: inline-flex;
	align-items: center;
	justify-content: center;
	gap: 6px;
	min-height: 36px;
	padding: 6px 14px;
	border: 1px solid var(--border);
	border-radius: 6px;
	background: var(--surface);
	color: var(--text);
	font: inherit;
	font-weight: 550;
	text-decoration: none;
	cursor: pointer;
	white-space: nowrap;
}
.btn:hover { background: var(--surface-2); color: var(--text); }
.btn:disabled { opacity: 0.6; cursor: not-allowed; }
.btn-primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
.btn-primary:hover { background: var(--accent-hover); border-color: var(--accent-hover); color: var(--accent-text); }
.btn-danger { background: var(--red-fg); border-color: var(--red-fg); color: var(--surface); }
.btn-danger:hover { background: var(--red-fg); color: var(--surface); filter: brightness(0.92); }
.btn-danger-outline { color: var(--red-fg); border-color: color-mix(in srgb, var(--red-fg) 45%, var(--border)); }
.btn-danger-outline:hover { color: var(--red-fg); background: var(--red-bg); }
.btn-small { min-height: 30px; padding: 3px 10px; font-size: 0.875rem; }
.btn-link {
	border: 0; background: none; padding: 0; color: var(--accent);
	font: inherit; text-decoration: underline; text-underline-offset: 2px; cursor: pointer;
}

form > * + * { margin-top: 16px; }
.field { display: grid; gap: 6px; }
.field-inline { display: flex; align-items: center; gap: 8px; }
label, legend { font-weight: 600; }
.hint { color: var(--muted); font-size: 0.875rem; margin: 0; }
.optional { color: var(--muted); font-weight: 400; }
input[type="text"], input[type="password"], input[type="url"], input[type="search"], input[type="datetime-local"], select, textarea {
	width: 100%;
	min-height: 38px;
	padding: 7px 10px;
	border: 1px solid #8a939e;
	border-radius: 6px;
	background: var(--surface);
	color: var(--text);
	font: inherit;
}
.field-inline select, .field-inline input { width: auto; }
textarea { min-height: 96px; resize: vertical; }
textarea.code { font-family: var(--mono); font-size: 0.875rem; }
[aria-invalid="true"] { border-color: var(--red-fg) !important; }
.field-error { color: var(--red-fg); font-size: 0.875rem; font-weight: 550; margin: 0; }
.field-error:empty { display: none; }
fieldset { border: 0; padding: 0; margin: 0; min-width: 0; }
fieldset > * + * { margin-top: 6px; }
.checks { display: flex; flex-wrap: wrap; gap: 6px 18px; }
.check { display: inline-flex; align-items: center; gap: 6px; font-weight: 450; }
.check input { width: 16px; height: 16px; margin: 0; accent-color: var(--accent); }
.form-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.form-actions { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; }

.alert {
	border-radius: var(--radius);
	padding: 12px 14px;
	border: 1px solid transparent;
}
.alert:empty { display: none; }
.alert:focus { outline: 2px solid var(--focus); outline-offset: 2px; }
.alert-error { background: var(--red-bg); color: var(--red-fg); border-color: color-mix(in srgb, var(--red-fg) 25%, transparent); }
.alert-info { background: var(--surface-2); color: var(--text); border-color: var(--border); }
.alert-warning { background: var(--amber-bg); color: var(--amber-fg); border-color: color-mix(in srgb, var(--amber-fg) 25%, transparent); }
.alert-success { background: var(--green-bg); color: var(--green-fg); border-color: color-mix(in srgb, var(--green-fg) 25%, transparent); }
.alert p { margin: 0; }
.alert ul { margin: 6px 0 0; padding-left: 20px; }
.alert .btn-link { color: inherit; font-weight: 600; }
.confirm legend { float: left; width: 100%; padding: 0; margin: 0 0 10px; font-weight: 500; }
.confirm legend + * { clear: left; }

/* ── Badges and live state ─────────────────────────────────────────────── */

.badge {
	display: inline-flex;
	align-items: center;
	gap: 6px;
	padding: 2px 9px;
	border-radius: 999px;
	font-size: 0.8rem;
	font-weight: 600;
	white-space: nowrap;
	background: var(--gray-bg);
	color: var(--gray-fg);
}
.badge::before {
	content: "";
	width: 7px; height: 7px;
	border-radius: 50%;
	background: currentColor;
}
.badge-blue { background: var(--blue-bg); color: var(--blue-fg); }
.badge-green { background: var(--green-bg); color: var(--green-fg); }
.badge-amber { background: var(--amber-bg); color: var(--amber-fg); }
.badge-red { background: var(--red-bg); color: var(--red-fg); }
.badge-violet { background: var(--violet-bg); color: var(--violet-fg); }
.badge-quiet { background: transparent; color: var(--muted); padding-left: 0; }
/* An answer from the local emulator: outlined, so it never reads as a status. */
.badge-emulator { background: transparent; color: var(--amber-fg); border: 1.5px dashed currentColor; }
.badge-quiet::before { background: transparent; border: 1.5px solid currentColor; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; }

.live {
	display: inline-flex;
	align-items: center;
	gap: 8px;
	color: var(--muted);
	font-size: 0.875rem;
	margin: 0;
}
.live::before {
	content: "";
	width: 8px; height: 8px;
	border-radius: 50%;
	background: var(--blue-fg);
	animation: pulse 1.4s ease-in-out infinite;
}
@keyframes pulse { 50% { opacity: 0.25; } }
@media (prefers-reduced-motion: reduce) { .live::before { animation: none; } }

/* ── Tables ────────────────────────────────────────────────────────────── */

.table-wrap { overflow-x: auto; }
.table { width: 100%; border-collapse: collapse; }
.table th, .table td {
	text-align: left;
	padding: 10px 12px;
	border-bottom: 1px solid var(--border);
	vertical-align: top;
}
.table th {
	font-size: 0.78rem;
	text-transform: uppercase;
	letter-spacing: 0.04em;
	color: var(--muted);
	font-weight: 650;
	background: var(--surface-2);
}
.table tbody tr:last-child td { border-bottom: 0; }
.table-card { padding: 0; overflow: hidden; }
.table-card .table th:first-child, .table-card .table td:first-child { padding-left: 20px; }
.jobs-table tbody tr:hover { background: var(--surface-2); }
.job-link { font-family: var(--mono); font-size: 0.875rem; font-weight: 600; }
.job-preview {
	display: block;
	color: var(--muted);
	font-size: 0.875rem;
	max-width: 46ch;
	overflow: hidden;
	text-overflow: ellipsis;
	white-space: nowrap;
}
.table .is-new td { background: var(--blue-bg); }
.tag-new {
	display: inline-block;
	margin-left: 6px;
	padding: 0 6px;
	border-radius: 4px;
	background: var(--blue-fg);
	color: var(--surface);
	font-size: 0.72rem;
	font-weight: 700;
	text-transform: uppercase;
}
.nowrap { white-space: nowrap; }
/* The list's kind: tabs over one panel (arrow keys move between them). */
.tabs { display: flex; flex-wrap: wrap; gap: 4px; border-bottom: 1px solid var(--border); }
.tab {
	border: 0;
	border-bottom: 2px solid transparent;
	margin-bottom: -1px;
	background: none;
	color: var(--muted);
	font: inherit;
	font-weight: 600;
	padding: 8px 12px;
	cursor: pointer;
}
.tab:hover { color: var(--text); }
.tab[aria-selected="true"] { color: var(--text); border-bottom-color: var(--accent); }
.tabpanel > * + * { margin-top: 16px; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 14px; }
.pager { display: flex; justify-content: center; }

/* ── Job page ──────────────────────────────────────────────────────────── */

.job-id { display: flex; align-items: center; gap: 8px; margin: 4px 0 0; color: var(--muted); min-width: 0; }
.job-id code { overflow-wrap: anywhere; }
.question { font-size: 1.05rem; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }

.markdown { overflow-wrap: anywhere; }
.markdown > :first-child { margin-top: 0; }
.markdown > :last-child { margin-bottom: 0; }
.markdown p, .markdown ul, .markdown ol, .markdown pre, .markdown blockquote, .markdown .table-wrap { margin: 0 0 12px; }
.markdown h3, .markdown h4, .markdown h5, .markdown h6 { margin: 18px 0 8px; line-height: 1.3; }
.markdown h3 { font-size: 1.15rem; }
.markdown h4 { font-size: 1rem; }
.markdown h5, .markdown h6 { font-size: 0.95rem; }
.markdown ul, .markdown ol { padding-left: 22px; }
.markdown li + li { margin-top: 4px; }
.markdown code { background: var(--code-bg); padding: 1px 5px; border-radius: 4px; }
.markdown pre { background: var(--code-bg); padding: 12px 14px; border-radius: 6px; overflow-x: auto; }
.markdown pre code { background: none; padding: 0; }
.markdown blockquote { border-left: 3px solid var(--border); padding-left: 12px; color: var(--muted); }
.markdown hr { border: 0; border-top: 1px solid var(--border); margin: 16px 0; }
.markdown table { border-collapse: collapse; }
.markdown th, .markdown td { border: 1px solid var(--border); padding: 6px 10px; text-align: left; }
.markdown .align-right { text-align: right; }
.markdown .align-center { text-align: center; }
.cite { font-size: 0.75em; line-height: 0; }
.cite a { text-decoration: none; padding: 0 1px; }

.sources { margin: 0; padding-left: 24px; display: grid; gap: 10px; }
.sources li::marker { color: var(--muted); font-variant-numeric: tabular-nums; }
.source-title { font-weight: 600; overflow-wrap: anywhere; text-decoration: none; }
a.source-title:hover { text-decoration: underline; }
.source-meta { display: block; color: var(--muted); font-size: 0.85rem; overflow-wrap: anywhere; }
.source-snippet { display: block; font-size: 0.9rem; margin-top: 2px; }

.timeline { list-style: none; margin: 0; padding: 0; }
.timeline li {
	position: relative;
	padding: 0 0 14px 22px;
	border-left: 2px solid var(--border);
	margin-left: 5px;
}
.timeline li:last-child { padding-bottom: 0; border-left-color: transparent; }
.timeline li::before {
	content: "";
	position: absolute;
	left: -7px; top: 4px;
	width: 12px; height: 12px;
	border-radius: 50%;
	background: var(--surface);
	border: 2px solid var(--border);
}
.timeline .done::before { background: var(--accent); border-color: var(--accent); }
.timeline .failed::before { background: var(--red-fg); border-color: var(--red-fg); }
.timeline-label { font-weight: 600; display: block; }
.timeline-time { color: var(--muted); font-size: 0.875rem; }
.timeline + .hint { margin-top: 12px; }

.details { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 8px 14px; margin: 0; }
.details dt { color: var(--muted); font-size: 0.875rem; }
.details dd { margin: 0; overflow-wrap: anywhere; }
.details pre, pre.snippet {
	margin: 0;
	background: var(--code-bg);
	padding: 10px 12px;
	border-radius: 6px;
	overflow-x: auto;
	white-space: pre-wrap;
	overflow-wrap: anywhere;
}

.secret-row { display: grid; gap: 8px; }
.secret-row + .secret-row { border-top: 1px solid var(--border); padding-top: 16px; }
.secret-value {
	display: block;
	padding: 10px 12px;
	background: var(--code-bg);
	border-radius: 6px;
	overflow-wrap: anywhere;
}

.toast {
	position: fixed;
	left: 50%;
	bottom: 20px;
	transform: translateX(-50%);
	max-width: calc(100vw - 32px);
	padding: 10px 16px;
	border-radius: var(--radius);
	background: var(--text);
	color: var(--bg);
	font-weight: 500;
	box-shadow: 0 6px 24px rgba(0, 0, 0, 0.18);
	opacity: 0;
	pointer-events: none;
	transition: opacity 0.2s;
}
.toast.show { opacity: 1; }
.toast:empty { display: none; }

/* ── Operations ───────────────────────────────────────────────────────── */

.stat-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 12px; margin: 0; }
.stat { background: var(--surface-2); border-radius: 6px; padding: 10px 12px; }
.stat dt { color: var(--muted); font-size: 0.8rem; font-weight: 600; }
.stat dd { margin: 2px 0 0; font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.stat[data-stat="dead_lettered"] dd { color: var(--red-fg); }
.chart-svg { display: block; width: 100%; height: auto; max-height: 260px; overflow: visible; }
.chart-svg text { font-family: var(--font); font-size: 11px; fill: var(--muted); }
.chart-grid line { stroke: var(--border); stroke-width: 1; }
.chart-bar { fill: var(--accent); }
.chart-bar:hover { fill: var(--accent-hover); }
.chart-line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.chart-p50.chart-line { stroke: var(--accent); }
.chart-p99.chart-line { stroke: var(--amber-fg); stroke-dasharray: 5 4; }
.chart-dot.chart-p50 { fill: var(--accent); }
.chart-dot.chart-p99 { fill: var(--amber-fg); }
.chart-legend { display: flex; gap: 18px; list-style: none; margin: 6px 0 0; padding: 0; font-size: 0.85rem; color: var(--muted); }
.chart-legend li::before {
	content: "";
	display: inline-block;
	width: 18px;
	margin-right: 6px;
	vertical-align: middle;
	border-top: 2px solid var(--accent);
}
.chart-legend .legend-p99::before { border-top: 2px dashed var(--amber-fg); }
.hook-form { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr) auto; gap: 12px; align-items: end; }
.hook-form > * + * { margin-top: 0; }
.hook-target { overflow-wrap: anywhere; }
#jobs-search .hint { flex-basis: 100%; }
form.toolbar > * + * { margin-top: 0; }

.notice { padding: 16px; background: var(--amber-bg); color: var(--amber-fg); border-radius: var(--radius); }

/* ── Narrow screens: one column, tables as cards ───────────────────────── */

@media (max-width: 860px) {
	.job-grid { grid-template-columns: minmax(0, 1fr); }
	.form-grid { grid-template-columns: minmax(0, 1fr); }
	.hook-form { grid-template-columns: minmax(0, 1fr); }
}

@media (max-width: 640px) {
	body { font-size: 15px; }
	main { padding: 16px 12px 40px; }
	.topbar-inner { padding: 8px 12px; }
	.nav { order: 3; width: 100%; margin-left: -10px; }
	.card { padding: 14px; }
	h1 { font-size: 1.3rem; }
	.stack-table thead { display: none; }
	.stack-table, .stack-table tbody, .stack-table tr, .stack-table td { display: block; width: 100%; }
	.stack-table tr { padding: 10px 14px; border-bottom: 1px solid var(--border); }
	.stack-table tbody tr:last-child { border-bottom: 0; }
	.stack-table td { border: 0; padding: 3px 0; display: flex; gap: 12px; }
	.table-card .stack-table td:first-child { padding-left: 0; }
	.stack-table td::before {
		content: attr(data-label);
		flex: 0 0 92px;
		color: var(--muted);
		font-size: 0.8rem;
		font-weight: 600;
		padding-top: 2px;
	}
	.stack-table td > * { min-width: 0; }
	.job-preview { max-width: 100%; white-space: normal; }
}
`;
