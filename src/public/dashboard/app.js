// @ts-check
/**
 * The dashboard's client: a small hand-written script, no framework and no
 * bundler, served from `/dashboard/app.js` right after the Markdown renderer (`markdown.js`, which defines `renderMarkdown`). It talks
 * to the relay's own JSON API with `Authorization: Bearer <key>`, exactly as any
 * caller does.
 *
 * It shows and manages both kinds of job the relay runs (`KINDS`): Sonar API
 * jobs (`/async/chat/completions`, statuses CREATED … FAILED) and Agent API runs
 * (`/v1/responses`, statuses queued … incomplete, the Response object with typed
 * output items). Each kind has its own list, pagination and filter.
 *
 * - The API key lives in `sessionStorage` only (this tab, until it closes). It
 *   never goes into a URL, a cookie, or the copy-as-curl text unless the user
 *   asks for it. A 401 anywhere signs the tab out.
 * - Views are hash routes over the server-rendered shell: `#/jobs` and `#/runs`
 *   (the list, one tab per kind; the route is the tab, so Back returns to it),
 *   `#/jobs/<id>` and `#/runs/<id>` (the job page: question, answer, sources,
 *   timeline, details, deliveries with redeliver, cancel, copy-as-curl), `#/new`
 *   (a Sonar job with a model, or an Agent run with a preset), `#/ops` (the
 *   Operations tab: counts, jobs per hour and push lag drawn as inline SVG, the
 *   recovery of dead-lettered deliveries, REST hook subscriptions) and `#/secret`.
 * - The list searches by metadata on the relay (`metadata[key]=value`), so a
 *   search covers every job, not only the loaded ones. A job answered by the
 *   local emulator (its `upstream`) carries an "emulator" badge on its page.
 *   Every navigation bumps a token, so late answers and timers from a previous
 *   view are dropped.
 * - A run's page shows what the API returns: the answer is the `output_text`
 *   parts of its `message` items, the sources its `search_results` items; other
 *   item types are ignored. The question is the run's `request_preview` (a relay
 *   extension); for a run without one, the list's preview or what this tab
 *   submitted, and the page says where it came from.
 * - Cancel asks first, inside the page: the button opens a confirm step with an
 *   explicit "Yes, cancel" button (Escape or "Keep it running" closes it); no
 *   `window.confirm`. A 409 (the job ended meanwhile) is shown, then the page
 *   refreshes.
 * - Live updates are bounded polls with back-off: the job page polls until the
 *   job settles (ended, and no delivery pending), the list while a loaded job
 *   is unsettled, each at most `POLL.maxPolls` times.
 * - The only HTML sink is the answer, through `renderMarkdown` (which escapes
 *   everything) and, where the browser has it, a Trusted Types policy the CSP
 *   names: any other `innerHTML` assignment would throw. Everything else is built
 *   with `textContent`.
 *
 * A real file under the Workers static assets (`src/public/`), type-checked by `tsc -p
 * tsconfig.client.json` (DOM lib, `// @ts-check` with JSDoc, strict; the API's shapes in
 * `src/dashboard/client-types.d.ts`) and linted by Biome. It
 * is written in the ES5 style it has always had (`var`, function expressions), so
 * it runs unchanged in the same browsers. What the server knows (the metadata size
 * limit, the Trusted Types policy's name, the page size) comes from the page's
 * `<body data-*>` attributes (`src/dashboard/shell.tsx`).
 */
// The API's shapes, as the client reads them (types only: src/dashboard/client-types.d.ts).
/** @typedef {import("../../dashboard/client-types").Kind} Kind */
/** @typedef {import("../../dashboard/client-types").KindSpec} KindSpec */
/** @typedef {import("../../dashboard/client-types").StatusLabel} StatusLabel */
/** @typedef {import("../../dashboard/client-types").Route} Route */
/** @typedef {import("../../dashboard/client-types").Search} Search */
/** @typedef {import("../../dashboard/client-types").ListState} ListState */
/** @typedef {import("../../dashboard/client-types").TimelineStep} TimelineStep */
/** @typedef {import("../../dashboard/client-types").FormIssue} FormIssue */
/** @typedef {import("../../dashboard/client-types").JobView} JobView */
/** @typedef {import("../../dashboard/client-types").ListPage} ListPage */
/** @typedef {import("../../dashboard/client-types").Created} Created */
/** @typedef {import("../../dashboard/client-types").CancelAnswer} CancelAnswer */
/** @typedef {import("../../dashboard/client-types").ErrorBody} ErrorBody */
/** @typedef {import("../../dashboard/client-types").ValidationIssue} ValidationIssue */
/** @typedef {import("../../dashboard/client-types").SearchResult} SearchResult */
/** @typedef {import("../../dashboard/client-types").OutputItem} OutputItem */
/** @typedef {import("../../dashboard/client-types").OutputPart} OutputPart */
/** @typedef {import("../../dashboard/client-types").Cost} Cost */
/** @typedef {import("../../dashboard/client-types").UsageReport} UsageReport */
/** @typedef {import("../../dashboard/client-types").DeliveryReport} DeliveryReport */
/** @typedef {import("../../dashboard/client-types").DeliveryAttempt} DeliveryAttempt */
/** @typedef {import("../../dashboard/client-types").WebhookSecret} WebhookSecret */
/** @typedef {import("../../dashboard/client-types").OpsStats} OpsStats */
/** @typedef {import("../../dashboard/client-types").HourCounts} HourCounts */
/** @typedef {import("../../dashboard/client-types").HourLag} HourLag */
/** @typedef {import("../../dashboard/client-types").RecoverReport} RecoverReport */
/** @typedef {import("../../dashboard/client-types").Hook} Hook */
/** @typedef {import("../../dashboard/client-types").HookTestReport} HookTestReport */
/** @typedef {import("../../dashboard/client-types").Child<Node>} Child */
/**
 * An attribute of h() and svg(): `class`, `text` (the text content), `on<event>` (a listener), or any other
 * attribute (true: present and empty; null, undefined and false: left out).
 *
 * @typedef {string | number | boolean | null | undefined | ((event: Event) => void)} AttrValue
 */
/** @typedef {Record<string, AttrValue>} Attrs */
(function () {
	"use strict";

	var KEY_STORAGE = "sonar-relay.dashboard.key";
	var QUESTIONS_STORAGE = "sonar-relay.dashboard.questions";
	/** What the server knows, from the page's `<body data-*>` (ShellConfig in src/dashboard/shell.tsx). */
	var SERVER = document.body.dataset;
	var PAGE_SIZE = Number(SERVER.pageSize);
	var MAX_METADATA_BYTES = Number(SERVER.maxMetadataBytes);
	var TRUSTED_TYPES_POLICY = SERVER.trustedTypesPolicy || "";
	var POLL = { firstMs: 1000, factor: 1.5, maxMs: 10000, maxPolls: 60 };

	var STATUS = {
		CREATED: { label: "Created", tone: "gray" },
		IN_PROGRESS: { label: "In progress", tone: "blue" },
		COMPLETED: { label: "Completed", tone: "green" },
		FAILED: { label: "Failed", tone: "red" },
	};
	var RUN_STATUS = {
		queued: { label: "Queued", tone: "gray" },
		in_progress: { label: "In progress", tone: "blue" },
		completed: { label: "Completed", tone: "green" },
		failed: { label: "Failed", tone: "red" },
		cancelled: { label: "Cancelled", tone: "violet" },
		incomplete: { label: "Incomplete", tone: "amber" },
	};
	/** @type {Record<string, StatusLabel>} */
	var DELIVERY = {
		pending: { label: "Delivery pending", tone: "amber" },
		delivered: { label: "Delivered", tone: "green" },
		failed: { label: "Delivery failed", tone: "red" },
		none: { label: "No callback", tone: "quiet" },
	};
	var EVENT_STATE = {
		pending: { label: "Pending", tone: "amber" },
		delivered: { label: "Delivered", tone: "green" },
		failed: { label: "Failed", tone: "red" },
		gone: { label: "Gone (410)", tone: "red" },
	};

	/**
	 * The two kinds of job: the same pages, their own endpoints, statuses and words.
	 *
	 * @type {Record<Kind, KindSpec>}
	 */
	var KINDS = {
		sonar: {
			api: "/async/chat/completions",
			route: "#/jobs",
			noun: "job",
			title: "Job",
			listTitle: "Jobs",
			listLive: "Updating while jobs run",
			statuses: STATUS,
			ended: { COMPLETED: true, FAILED: true },
			items: function (page) {
				return (page && page.requests) || [];
			},
		},
		agent: {
			api: "/v1/responses",
			route: "#/runs",
			noun: "run",
			title: "Run",
			listTitle: "Runs",
			listLive: "Updating while runs are in progress",
			statuses: RUN_STATUS,
			ended: { completed: true, failed: true, cancelled: true, incomplete: true },
			items: function (page) {
				return (page && page.data) || [];
			},
		},
	};

	// ── State ─────────────────────────────────────────────────────────────

	var apiKey = readKey();
	var routeToken = 0;
	var ops = freshOps();
	/** @type {number | null} */
	var pollTimer = null;
	/** @type {Kind} */
	var listKind = "sonar";
	var lists = { sonar: freshList(), agent: freshList() };
	var job = freshJob(null, "sonar");
	/** @type {{ data: WebhookSecret | null, revealed: Record<string, boolean> }} */
	var secrets = { data: null, revealed: {} };
	/** @type {number | null} */
	var toastTimer = null;

	/**
	 * One kind's list: the loaded jobs (as the API returns them), the next page's token, its filter and search.
	 *
	 * @returns {ListState}
	 */
	function freshList() {
		return { jobs: [], nextToken: null, loaded: false, polls: 0, filter: "", search: null };
	}
	/**
	 * The Operations tab: its window, the stats and hooks the API returned, the hook awaiting a confirmed delete.
	 *
	 * @returns {{ window: string, stats: OpsStats | null, hooks: Hook[] | null, confirmDelete: string | null,
	 *   recovering: boolean }}
	 */
	function freshOps() {
		return { window: "24h", stats: null, hooks: null, confirmDelete: null, recovering: false };
	}
	/**
	 * The job page: the job and its delivery report (as the API returns them) and the attempts seen arrive.
	 * `id` is set once a job page opens and `data` once the job loads: the functions that read them as set
	 * (through a cast) run only then.
	 *
	 * @param {string | null} id
	 * @param {Kind} kind
	 * @returns {{ id: string | null, kind: Kind, data: JobView | null, report: DeliveryReport | null, polls: number,
	 *   newAttempts: Record<string, boolean>, cancelling: boolean }}
	 */
	function freshJob(id, kind) {
		return { id: id, kind: kind, data: null, report: null, polls: 0, newAttempts: {}, cancelling: false };
	}

	/**
	 * @param {Kind} kind
	 * @param {string} status
	 */
	function hasEnded(kind, status) {
		return KINDS[kind].ended[status] === true;
	}

	function readKey() {
		try {
			return sessionStorage.getItem(KEY_STORAGE);
		} catch (_error) {
			return null;
		}
	}

	// ── DOM helpers ───────────────────────────────────────────────────────

	/**
	 * The shell's element with this id. Typed as an input, the widest of the form controls the
	 * client reads (`value`, `checked`, `disabled`, `select()`); every element has the rest.
	 *
	 * @param {string} id
	 * @returns {HTMLInputElement}
	 */
	function $(id) {
		return /** @type {HTMLInputElement} */ (document.getElementById(id));
	}

	/**
	 * An element with attributes and children; strings become text nodes, never markup.
	 *
	 * @template {keyof HTMLElementTagNameMap} K
	 * @param {K} tag
	 * @param {Attrs | null} [attrs]
	 * @returns {HTMLElementTagNameMap[K]}
	 */
	function h(tag, attrs) {
		var el = document.createElement(tag);
		if (attrs) {
			Object.keys(attrs).forEach(function (name) {
				var value = attrs[name];
				if (value === null || value === undefined || value === false) return;
				if (name === "class") el.className = /** @type {string} */ (value);
				else if (name === "text") el.textContent = /** @type {string} */ (value);
				else if (name.slice(0, 2) === "on") el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
				else el.setAttribute(name, value === true ? "" : String(value));
			});
		}
		for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
		return el;
	}
	/**
	 * @param {Element} el
	 * @param {Child} child
	 */
	function append(el, child) {
		if (child === null || child === undefined || child === false) return;
		if (Array.isArray(child))
			child.forEach(function (c) {
				append(el, c);
			});
		else el.append(child instanceof Node ? child : String(child));
	}
	/**
	 * Replaces an element's children, skipping absent ones (replaceChildren would show a null as "null").
	 *
	 * @param {Element} el
	 */
	function fill(el) {
		el.replaceChildren();
		for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
	}

	/**
	 * @param {string} tone
	 * @param {string} label
	 * @param {Attrs} [attrs]
	 */
	function badge(tone, label, attrs) {
		var a = attrs || {};
		a.class = "badge badge-" + tone;
		a.text = label;
		return h("span", a);
	}
	/**
	 * @param {Kind} kind
	 * @param {string} status
	 */
	function statusBadge(kind, status) {
		var s = KINDS[kind].statuses[status] || { label: String(status), tone: "gray" };
		return badge(s.tone, s.label, { "data-status": status });
	}
	/** @param {string | null | undefined} deliveryStatus */
	function deliveryBadge(deliveryStatus) {
		var key = deliveryStatus || "none";
		var d = DELIVERY[key] || { label: String(key), tone: "gray" };
		return badge(d.tone, d.label, { "data-delivery": key });
	}

	var dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
	/** @param {number} seconds */
	function secondsToDate(seconds) {
		return new Date(seconds * 1000);
	}
	/** @param {Date} date */
	function formatDate(date) {
		return dateTime.format(date);
	}
	/** @param {Date} date */
	function relative(date) {
		var s = Math.round((Date.now() - date.getTime()) / 1000);
		if (s < 45) return "just now";
		if (s < 3600) return Math.round(s / 60) + " min ago";
		if (s < 86400) return Math.round(s / 3600) + " h ago";
		return formatDate(date);
	}
	/**
	 * @param {Date} date
	 * @param {string} [text]
	 */
	function timeEl(date, text) {
		return h("time", { datetime: date.toISOString(), title: formatDate(date), text: text || formatDate(date) });
	}
	/** @param {number} seconds */
	function duration(seconds) {
		if (seconds < 60) return seconds + " s";
		var m = Math.floor(seconds / 60);
		return m + " min " + (seconds % 60) + " s";
	}
	/** @param {string} id */
	function shortId(id) {
		return id.length > 14 ? id.slice(0, 8) + "…" + id.slice(-4) : id;
	}

	/** @param {string} text */
	function announce(text) {
		var toast = $("toast");
		toast.textContent = text;
		toast.classList.add("show");
		clearTimeout(/** @type {number | undefined} */ (toastTimer));
		toastTimer = setTimeout(function () {
			toast.classList.remove("show");
		}, 4000);
	}

	/** The one HTML sink: the answer, rendered and sanitised; a Trusted Types policy where the browser has them. */
	var answerPolicy = (function () {
		/**
		 * @param {string} markdown
		 * @param {ReadonlyArray<unknown>} citations
		 */
		var create = function (markdown, citations) {
			return renderMarkdown(markdown, { citations: citations });
		};
		var trustedTypes = /** @type {any} */ (window).trustedTypes;
		if (trustedTypes && trustedTypes.createPolicy) {
			return trustedTypes.createPolicy(TRUSTED_TYPES_POLICY, { createHTML: create });
		}
		return { createHTML: create };
	})();

	// ── The API ───────────────────────────────────────────────────────────

	/**
	 * @param {number} status
	 * @param {string} message
	 * @param {unknown} body
	 */
	function ApiError(status, message, body) {
		this.name = "ApiError";
		this.status = status;
		this.message = message;
		this.body = body;
	}
	ApiError.prototype = Object.create(Error.prototype);

	/**
	 * The message of an error body: the Sonar surface's {detail}, or the Agent surface's {error: {message}}.
	 *
	 * @param {number} status
	 * @param {ErrorBody | null} body
	 */
	function describeError(status, body) {
		var detail = body && body.detail;
		if (typeof detail === "string") return detail;
		if (Array.isArray(detail)) return detail.map(describeIssue).join("; ");
		var error = body && body.error;
		if (error && typeof error.message === "string" && error.message) return error.message;
		return "the relay answered " + status;
	}
	/** @param {ValidationIssue} issue */
	function describeIssue(issue) {
		var loc = Array.isArray(issue && issue.loc)
			? issue.loc.filter(function (part) {
					return part !== "body";
				})
			: [];
		return (loc.length ? loc.join(" › ") + ": " : "") + (issue && issue.msg ? issue.msg : "invalid");
	}

	/**
	 * Calls the relay; resolves with the JSON body, rejects with an ApiError. A 401 signs out (unless signing in).
	 *
	 * @param {string} method
	 * @param {string} path
	 * @param {unknown} [body] sent as JSON
	 * @param {string} [keyToTry] a key to sign in with, instead of the session's
	 * @returns {Promise<any>} the JSON body (null if empty): each caller names its shape on its callback
	 */
	function api(method, path, body, keyToTry) {
		var key = keyToTry === undefined ? apiKey : keyToTry;
		/** @type {RequestInit & { headers: Record<string, string> }} */
		var init = {
			method: method,
			headers: { authorization: "Bearer " + key, accept: "application/json" },
			cache: "no-store",
			credentials: "omit",
			referrerPolicy: "no-referrer",
		};
		if (body !== undefined) {
			init.headers["content-type"] = "application/json";
			init.body = JSON.stringify(body);
		}
		return fetch(path, init).then(
			function (response) {
				return response.text().then(function (text) {
					var data = null;
					try {
						data = text ? JSON.parse(text) : null;
					} catch (_error) {
						data = null;
					}
					if (response.ok) return data;
					var failure = new ApiError(response.status, describeError(response.status, data), data);
					if (response.status === 401 && keyToTry === undefined) {
						signOut("The relay no longer accepts this API key (401). Sign in again.");
					}
					throw failure;
				});
			},
			function () {
				throw new ApiError(0, "the relay could not be reached; check the connection and try again", null);
			},
		);
	}

	/**
	 * @param {Kind} kind
	 * @param {string} id
	 */
	function jobPath(kind, id) {
		return KINDS[kind].api + "/" + encodeURIComponent(id);
	}

	// ── Routing ───────────────────────────────────────────────────────────

	var VIEWS = ["signin", "jobs", "job", "new", "ops", "secret"];
	/** @type {Record<string, string>} */
	var TITLES = {
		signin: "Sign in",
		jobs: "Jobs",
		job: "Job",
		new: "New job",
		ops: "Operations",
		secret: "Webhook secret",
	};
	var firstRender = true;
	/** Set by the list's tabs: the next view keeps the focus on the tab instead of moving it to the heading. */
	var keepFocus = false;

	/**
	 * @param {string} hash
	 * @returns {Route | null}
	 */
	function parseRoute(hash) {
		if (hash === "" || hash === "#" || hash === "#/") return { name: "jobs", kind: listKind };
		if (hash.slice(0, 2) !== "#/") return null; // an in-page anchor, such as the skip link
		var path = hash.slice(2);
		if (path === "jobs") return { name: "jobs", kind: "sonar" };
		if (path === "runs") return { name: "jobs", kind: "agent" };
		if (path === "new" || path === "secret" || path === "ops") return { name: path };
		var m = /^(jobs|runs)\/([A-Za-z0-9_-]{1,128})$/.exec(path);
		if (m) return { name: "job", kind: m[1] === "runs" ? "agent" : "sonar", id: m[2] };
		return { name: "jobs", kind: listKind, unknown: true };
	}

	/**
	 * @param {string} name
	 * @param {string} [title]
	 */
	function showView(name, title) {
		VIEWS.forEach(function (view) {
			$("view-" + view).hidden = view !== name;
		});
		var signedIn = name !== "signin";
		$("nav").hidden = !signedIn;
		$("sign-out").hidden = !signedIn;
		Array.prototype.forEach.call(document.querySelectorAll("[data-nav]"), function (link) {
			if (link.getAttribute("data-nav") === name) link.setAttribute("aria-current", "page");
			else link.removeAttribute("aria-current");
		});
		document.title = (title || TITLES[name]) + " · sonar-relay dashboard";
		// Move focus to the new view's heading, as a page load would, except on the very first render.
		if (!firstRender && !keepFocus) {
			var heading = $(name === "signin" ? "signin-key" : name + "-title");
			if (heading) heading.focus({ preventScroll: false });
		}
		if (!keepFocus) window.scrollTo(0, 0);
		firstRender = false;
		keepFocus = false;
	}

	function stopPolling() {
		clearTimeout(/** @type {number | undefined} */ (pollTimer));
		pollTimer = null;
	}

	function render() {
		var route = parseRoute(location.hash);
		if (route === null) return;
		routeToken++;
		stopPolling();
		if (!apiKey) {
			keepFocus = false;
			showView("signin");
			if (firstRender === false) $("signin-key").focus();
			return;
		}
		if (route.unknown) announce("There is no such page; here is the list.");
		if (route.name === "jobs") openJobs(route.kind);
		else if (route.name === "job") openJob(route.id, route.kind);
		else if (route.name === "new") openNew();
		else if (route.name === "secret") openSecret();
		else if (route.name === "ops") openOps();
	}

	/** @param {string} hash */
	function navigate(hash) {
		if (location.hash === hash) render();
		else location.hash = hash;
	}

	// ── Sign-in ───────────────────────────────────────────────────────────

	/** @param {SubmitEvent} event */
	function signIn(event) {
		event.preventDefault();
		var input = $("signin-key");
		var error = $("signin-error");
		var button = /** @type {HTMLButtonElement} */ (
			/** @type {HTMLFormElement} */ (event.target).querySelector("button[type=submit]")
		);
		var key = input.value.trim();
		error.textContent = "";
		input.removeAttribute("aria-invalid");
		if (!key) {
			error.textContent = "Enter an API key.";
			input.setAttribute("aria-invalid", "true");
			input.focus();
			return;
		}
		button.disabled = true;
		button.textContent = "Signing in…";
		api("GET", KINDS.sonar.api + "?limit=1", undefined, key)
			.then(function () {
				try {
					sessionStorage.setItem(KEY_STORAGE, key);
				} catch (_storageError) {
					// Private modes may refuse storage: the key then lasts until this page reloads.
				}
				apiKey = key;
				input.value = "";
				lists = { sonar: freshList(), agent: freshList() };
				render();
			})
			.catch(function (failure) {
				input.setAttribute("aria-invalid", "true");
				error.textContent =
					failure.status === 401
						? "This API key was not accepted. The relay answered 401: " +
							failure.message +
							". Check the key and try again."
						: "Could not sign in: " + failure.message + ".";
				input.focus();
				input.select();
			})
			.finally(function () {
				button.disabled = false;
				button.textContent = "Sign in";
			});
	}

	/** @param {string} [message] */
	function signOut(message) {
		try {
			sessionStorage.removeItem(KEY_STORAGE);
		} catch (_error) {
			// nothing stored
		}
		apiKey = null;
		stopPolling();
		routeToken++;
		lists = { sonar: freshList(), agent: freshList() };
		setListKind("sonar");
		job = freshJob(null, "sonar");
		secrets = { data: null, revealed: {} };
		ops = freshOps();
		$("ops-window").value = ops.window;
		$("hooks-list").replaceChildren();
		$("ops-recover-result").textContent = "";
		$("jobs-body").replaceChildren();
		$("secret-list").replaceChildren();
		$("job-curl").textContent = "";
		$("job-curl-key").checked = false;
		$("signin-error").textContent = message || "";
		keepFocus = false;
		showView("signin");
		$("signin-key").focus();
	}

	// ── Job list ──────────────────────────────────────────────────────────

	/**
	 * Which kind the list shows: the tabs, the filter's options, the words, and where "Jobs" links lead back to.
	 *
	 * @param {Kind} kind
	 */
	function setListKind(kind) {
		listKind = kind;
		var K = KINDS[kind];
		Array.prototype.forEach.call(document.querySelectorAll("#jobs-tabs [role=tab]"), function (tab) {
			var selected = tab.getAttribute("data-kind") === kind;
			tab.setAttribute("aria-selected", selected ? "true" : "false");
			tab.tabIndex = selected ? 0 : -1;
			if (selected) $("jobs-panel").setAttribute("aria-labelledby", tab.id);
		});
		Array.prototype.forEach.call(document.querySelectorAll("[data-list-link]"), function (link) {
			link.setAttribute("href", K.route);
		});
		$("jobs-caption").textContent = K.listTitle + ", newest first";
		$("jobs-col-id").textContent = K.title;
		$("jobs-live").textContent = K.listLive;
		renderFilterOptions(kind);
		renderSearch(kind);
	}

	/** @param {Kind} kind */
	function renderFilterOptions(kind) {
		var K = KINDS[kind];
		var select = $("jobs-filter");
		select.replaceChildren(
			h("option", { value: "", text: "All " + K.noun + "s" }),
			h(
				"optgroup",
				{ label: K.title + " status" },
				Object.keys(K.statuses).map(function (status) {
					return h("option", { value: "status:" + status, text: K.statuses[status].label });
				}),
			),
			h(
				"optgroup",
				{ label: "Delivery" },
				Object.keys(DELIVERY).map(function (key) {
					return h("option", { value: "delivery:" + key, text: DELIVERY[key].label });
				}),
			),
		);
		select.value = lists[kind].filter;
	}

	/** @param {Kind} kind */
	function openJobs(kind) {
		setListKind(kind);
		showView("jobs", KINDS[kind].listTitle);
		var list = lists[kind];
		if (list.loaded) {
			renderJobs();
			list.polls = 0;
			refreshFirstPage(routeToken);
		} else {
			// Not the other kind's rows under this tab: a placeholder until the first page arrives.
			$("jobs-body").replaceChildren();
			$("jobs-table").hidden = true;
			$("jobs-summary").textContent = "";
			$("jobs-empty").textContent = "Loading…";
			$("jobs-empty").hidden = false;
			$("jobs-more").hidden = true;
			loadJobs(true);
		}
	}

	/**
	 * A tab activated by click or keyboard: the list route of its kind, focus staying on the tab.
	 *
	 * @param {HTMLElement} tab
	 */
	function selectTab(tab) {
		var kind = /** @type {Kind} */ (tab.getAttribute("data-kind"));
		tab.focus();
		if (kind === listKind && !$("view-jobs").hidden) return;
		keepFocus = true;
		navigate(KINDS[kind].route);
	}

	/** @param {KeyboardEvent} event */
	function onTabKey(event) {
		var tabs = Array.prototype.slice.call(document.querySelectorAll("#jobs-tabs [role=tab]"));
		var at = tabs.indexOf(document.activeElement);
		if (at === -1) return;
		var next = null;
		if (event.key === "ArrowRight") next = tabs[(at + 1) % tabs.length];
		else if (event.key === "ArrowLeft") next = tabs[(at - 1 + tabs.length) % tabs.length];
		else if (event.key === "Home") next = tabs[0];
		else if (event.key === "End") next = tabs[tabs.length - 1];
		if (!next) return;
		event.preventDefault();
		selectTab(next);
	}

	/**
	 * This tenant's usage against its limits (GET /v1/usage), one line above the list.
	 *
	 * @param {number} token
	 */
	function loadUsage(token) {
		api("GET", "/v1/usage")
			.then(function (/** @type {UsageReport | null} */ report) {
				if (token !== routeToken || !report || !report.usage) return;
				var limits = report.limits || {};
				var used = report.usage;
				/**
				 * @param {number} value
				 * @param {number | null | undefined} limit
				 * @param {string} label
				 */
				function part(value, limit, label) {
					return limit == null ? value + " " + label : value + " of " + limit + " " + label;
				}
				var cost = "$" + Number(used.cost_today_usd || 0).toFixed(4);
				var parts = [
					part(used.in_flight, limits.max_in_flight, "in flight"),
					part(used.creates_last_minute, limits.creates_per_minute, "accepted in the last minute"),
					(limits.daily_cost_usd == null ? cost : cost + " of $" + Number(limits.daily_cost_usd).toFixed(2)) +
						" upstream cost today (UTC)",
				];
				var none = limits.max_in_flight == null && limits.creates_per_minute == null && limits.daily_cost_usd == null;
				$("jobs-usage").textContent = "Usage: " + parts.join(" · ") + (none ? " · no limits set" : "");
			})
			.catch(function () {
				// The list matters more: a usage line that cannot load is left out.
				$("jobs-usage").textContent = "";
			});
	}

	/**
	 * Loads the first page (reset: navigation, Refresh, a new search) or the next one (Load more).
	 * A page is applied only if no reset started after the load did: a late first page must not wipe
	 * out a further page loaded since, nor a late further page land on a list that was reset.
	 *
	 * @param {boolean} reset
	 */
	function loadJobs(reset) {
		var token = routeToken;
		if (reset) loadUsage(token);
		var kind = listKind;
		var list = lists[kind];
		var more = $("jobs-more");
		var refresh = $("jobs-refresh");
		var query =
			"?limit=" +
			PAGE_SIZE +
			searchQuery(list) +
			(reset || !list.nextToken ? "" : "&next_token=" + encodeURIComponent(list.nextToken));
		var seq = (list.seq = (list.seq || 0) + 1);
		if (reset) list.resetSeq = seq;
		var basis = list.resetSeq || 0;
		// While the first page loads there is no next page to ask for.
		more.disabled = true;
		if (reset) refresh.disabled = true;
		if (reset) $("jobs-table").setAttribute("aria-busy", "true");
		return api("GET", KINDS[kind].api + query)
			.then(function (/** @type {ListPage | null} */ page) {
				if (token !== routeToken || list.resetSeq !== basis) return;
				var items = KINDS[kind].items(page);
				if (reset) {
					list.jobs = items;
					list.polls = 0;
				} else {
					mergeJobs(list, items, false);
				}
				list.nextToken = (page && page.next_token) || null;
				list.loaded = true;
				$("jobs-error").textContent = "";
				renderJobs();
				scheduleListPoll(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401 || list.resetSeq !== basis) return;
				if (!list.loaded) $("jobs-empty").hidden = true;
				$("jobs-error").textContent = "Could not load the " + KINDS[kind].noun + "s: " + failure.message + ".";
			})
			.finally(function () {
				// Only the latest load hands the buttons back.
				if (list.seq !== seq) return;
				refresh.disabled = false;
				more.disabled = false;
				$("jobs-table").removeAttribute("aria-busy");
			});
	}

	/**
	 * Updates loaded jobs in place; new ones go first (the list is newest first) or last (a further page).
	 *
	 * @param {ListState} list
	 * @param {JobView[]} fresh
	 * @param {boolean} atTop
	 */
	function mergeJobs(list, fresh, atTop) {
		/** @type {Record<string, number>} */
		var byId = {};
		list.jobs.forEach(function (j, i) {
			byId[j.id] = i;
		});
		/** @type {JobView[]} */
		var added = [];
		fresh.forEach(function (j) {
			if (byId[j.id] !== undefined) list.jobs[byId[j.id]] = j;
			else added.push(j);
		});
		list.jobs = atTop ? added.concat(list.jobs) : list.jobs.concat(added);
	}

	/** @param {number} token */
	function refreshFirstPage(token) {
		var kind = listKind;
		return api("GET", KINDS[kind].api + "?limit=" + PAGE_SIZE + searchQuery(lists[kind]))
			.then(function (/** @type {ListPage | null} */ page) {
				if (token !== routeToken) return;
				mergeJobs(lists[kind], KINDS[kind].items(page), true);
				$("jobs-error").textContent = "";
				renderJobs();
				scheduleListPoll(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				$("jobs-error").textContent = "Could not refresh the " + KINDS[kind].noun + "s: " + failure.message + ".";
				scheduleListPoll(token);
			});
	}

	/** @param {number} token */
	function scheduleListPoll(token) {
		var kind = listKind;
		var list = lists[kind];
		var running = list.jobs.some(function (j) {
			return !hasEnded(kind, j.status) || j.delivery_status === "pending";
		});
		$("jobs-live").hidden = !running || list.polls >= POLL.maxPolls;
		if (!running || list.polls >= POLL.maxPolls || token !== routeToken) return;
		var delay = Math.min(POLL.maxMs, 2 * POLL.firstMs * Math.pow(POLL.factor, list.polls));
		list.polls++;
		stopPolling();
		pollTimer = setTimeout(function () {
			if (token === routeToken) refreshFirstPage(token);
		}, delay);
	}

	/**
	 * @param {JobView} j
	 * @param {string} filter
	 */
	function matchesFilter(j, filter) {
		if (!filter) return true;
		var parts = filter.split(":");
		if (parts[0] === "status") return j.status === parts[1];
		return (j.delivery_status || "none") === parts[1];
	}

	/** @param {JobView} j */
	function previewOf(j) {
		if (typeof j.request_preview === "string" && j.request_preview) return j.request_preview;
		var remembered = rememberedQuestion(j.id);
		if (remembered) return remembered;
		if (j.metadata && typeof j.metadata === "object") return JSON.stringify(j.metadata);
		return "";
	}

	function renderJobs() {
		var kind = listKind;
		var K = KINDS[kind];
		var list = lists[kind];
		var filter = list.filter;
		var shown = list.jobs.filter(function (j) {
			return matchesFilter(j, filter);
		});
		var body = $("jobs-body");
		body.replaceChildren.apply(
			body,
			shown.map(function (j) {
				var created = secondsToDate(j.created_at);
				var preview = previewOf(j);
				return h(
					"tr",
					{ "data-job": j.id, "data-kind": kind },
					h(
						"td",
						{ "data-label": K.title },
						h(
							"div",
							null,
							h("a", {
								class: "job-link",
								href: K.route + "/" + j.id,
								"aria-label": K.title + " " + j.id,
								text: shortId(j.id),
							}),
							preview ? h("span", { class: "job-preview", text: preview }) : null,
						),
					),
					h("td", { "data-label": "Model", text: j.model }),
					h("td", { "data-label": "Status" }, statusBadge(kind, j.status)),
					h("td", { "data-label": "Delivery" }, deliveryBadge(j.delivery_status)),
					h("td", { "data-label": "Created", class: "nowrap" }, timeEl(created, relative(created))),
				);
			}),
		);
		var empty = $("jobs-empty");
		empty.replaceChildren();
		if (list.jobs.length === 0 && list.search) {
			empty.append("No " + K.noun + "'s metadata has " + searchText(list.search) + ".");
		} else if (list.jobs.length === 0) {
			empty.append(
				"No " + K.noun + "s yet. ",
				h("a", { href: "#/new", text: kind === "agent" ? "Start your first run" : "Submit your first job" }),
				".",
			);
		} else if (shown.length === 0) {
			empty.append("No loaded " + K.noun + " matches this filter.");
		}
		empty.hidden = shown.length > 0;
		$("jobs-table").hidden = shown.length === 0;
		$("jobs-more").hidden = !list.nextToken;
		var loaded =
			list.jobs.length +
			" " +
			K.noun +
			(list.jobs.length === 1 ? "" : "s") +
			(list.search ? " with metadata " + searchText(list.search) : "") +
			" loaded, newest first";
		$("jobs-summary").textContent = filter
			? "Showing " +
				shown.length +
				" of " +
				loaded +
				". The filter applies to the loaded " +
				K.noun +
				"s" +
				(list.nextToken ? "; load more to look further back." : ".")
			: loaded + ".";
	}

	// ── Search by metadata ────────────────────────────────────────────────

	/**
	 * The list's search as query parameters: metadata[key]=value, which the relay looks up in its index.
	 *
	 * @param {ListState} list
	 */
	function searchQuery(list) {
		if (!list.search) return "";
		return "&" + encodeURIComponent("metadata[" + list.search.key + "]") + "=" + encodeURIComponent(list.search.value);
	}
	/** @param {Search} search */
	function searchText(search) {
		return search.key + "=" + search.value;
	}

	/**
	 * The search box shows the search of the kind on screen.
	 *
	 * @param {Kind} kind
	 */
	function renderSearch(kind) {
		var search = lists[kind].search;
		$("jobs-search-input").value = search ? searchText(search) : "";
		$("jobs-search-clear").hidden = !search;
		$("jobs-search-error").textContent = "";
		$("jobs-search-input").removeAttribute("aria-invalid");
	}

	/**
	 * "key=value" (the first = splits them; the value may be empty), or an error message.
	 *
	 * @param {string} text
	 */
	function parseSearch(text) {
		var at = text.indexOf("=");
		if (at <= 0) return { error: "Search as key=value, such as ticket=T-42." };
		var key = text.slice(0, at).trim();
		if (!key) return { error: "Search as key=value, such as ticket=T-42." };
		return { key: key, value: text.slice(at + 1).trim() };
	}

	/** @param {Search | null} search */
	function applySearch(search) {
		var list = lists[listKind];
		list.search = search;
		list.jobs = [];
		list.nextToken = null;
		list.loaded = false;
		renderSearch(listKind);
		$("jobs-empty").textContent = "Loading…";
		$("jobs-empty").hidden = false;
		$("jobs-table").hidden = true;
		routeToken++;
		stopPolling();
		loadJobs(true);
	}

	/** @param {Event} event */
	function submitSearch(event) {
		event.preventDefault();
		var text = $("jobs-search-input").value.trim();
		if (!text) {
			applySearch(null);
			return;
		}
		var parsed = parseSearch(text);
		if (parsed.error) {
			$("jobs-search-error").textContent = parsed.error;
			$("jobs-search-input").setAttribute("aria-invalid", "true");
			$("jobs-search-input").focus();
			return;
		}
		applySearch(/** @type {Search} */ (parsed));
	}

	// ── Job page ──────────────────────────────────────────────────────────

	/**
	 * @param {string} id
	 * @param {Kind} kind
	 */
	function openJob(id, kind) {
		var K = KINDS[kind];
		showView("job", K.title);
		if (job.id !== id || job.kind !== kind) {
			job = freshJob(id, kind);
			clearJob();
		}
		job.polls = 0;
		closeConfirm(false);
		$("job-title").textContent = K.title;
		$("job-back").textContent = "← All " + K.noun + "s";
		$("job-back").setAttribute("href", K.route);
		$("job-side").setAttribute("aria-label", K.title + " details");
		$("job-live").textContent = "Updating live until the " + K.noun + " settles";
		$("job-cancel").textContent = "Cancel " + K.noun;
		$("cancel-yes").textContent = "Yes, cancel the " + K.noun;
		$("cancel-confirm-text").textContent =
			kind === "agent"
				? "Cancel this run? The relay stops it upstream and it ends cancelled; a callback URL gets its cancelled event. This cannot be undone."
				: 'Cancel this job? The relay stops it upstream and it ends FAILED with the error "cancelled"; a callback URL gets its failed event. This cannot be undone.';
		$("job-id").textContent = id;
		$("redeliver-result").textContent = "";
		$("redeliver-result").className = "alert";
		$("cancel-result").textContent = "";
		$("cancel-result").className = "alert";
		renderCurl();
		refreshJob(routeToken);
	}

	function clearJob() {
		[
			"job-badges",
			"job-question",
			"job-answer",
			"job-sources",
			"job-events",
			"job-attempts",
			"job-timeline",
			"job-details",
		].forEach(function (id) {
			$(id).replaceChildren();
		});
		["job-question", "job-answer"].forEach(function (id) {
			$(id).replaceChildren(h("p", { class: "muted", text: "Loading…" }));
		});
		$("job-sources-empty").hidden = true;
		$("job-timeline-note").hidden = true;
		$("job-error").textContent = "";
		$("job-live").hidden = true;
		$("job-paused").hidden = true;
		$("job-redeliver").disabled = true;
		$("job-cancel").disabled = true;
	}

	/**
	 * @param {Kind} kind
	 * @param {JobView | null} data
	 */
	function isSettled(kind, data) {
		return Boolean(data && hasEnded(kind, data.status) && data.delivery_status !== "pending");
	}

	/** @param {number} token */
	function refreshJob(token) {
		var id = /** @type {string} */ (job.id);
		var kind = job.kind;
		var K = KINDS[kind];
		var deliveries = api("GET", jobPath(kind, id) + "/deliveries").catch(function (failure) {
			if (failure.status === 404) return null;
			throw failure;
		});
		return Promise.all([api("GET", jobPath(kind, id)), deliveries])
			.then(function (/** @type {[JobView, DeliveryReport | null]} */ results) {
				if (token !== routeToken || job.id !== id) return;
				var before = job.data && job.data.status;
				job.data = results[0];
				job.report = results[1];
				$("job-error").textContent = "";
				renderJob();
				if (before && before !== job.data.status) {
					var label = (K.statuses[job.data.status] || { label: String(job.data.status) }).label;
					announce("The " + K.noun + " is now " + label.toLowerCase() + ".");
				}
				scheduleJobPoll(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				if (failure.status === 404) {
					clearJob();
					$("job-error").textContent =
						"No " +
						K.noun +
						" with this id is visible to your key (404). It may belong to another tenant, or it was retired.";
					return;
				}
				$("job-error").textContent = "Could not load the " + K.noun + ": " + failure.message + ".";
				scheduleJobPoll(token);
			});
	}

	/** @param {number} token */
	function scheduleJobPoll(token) {
		var settled = isSettled(job.kind, job.data);
		var exhausted = job.polls >= POLL.maxPolls;
		$("job-live").hidden = settled || exhausted;
		$("job-paused").hidden = settled || !exhausted;
		if (settled || exhausted || token !== routeToken) return;
		var delay = Math.min(POLL.maxMs, POLL.firstMs * Math.pow(POLL.factor, job.polls));
		job.polls++;
		stopPolling();
		pollTimer = setTimeout(function () {
			if (token === routeToken) refreshJob(token);
		}, delay);
	}

	function renderJob() {
		var data = /** @type {JobView} */ (job.data);
		renderBadges();
		renderQuestion(data);
		if (job.kind === "agent") {
			renderRunAnswer(data);
			var results = runResults(data);
			renderSourceList(data, results.length ? results : null, [], runHasAnswer(data));
			renderRunTimeline(data);
			renderRunDetails(data);
		} else {
			renderAnswer(data);
			renderSources(data);
			renderTimeline(data);
			renderDetails(data);
		}
		renderCancel();
		renderDeliveries();
	}

	function renderBadges() {
		fill(
			$("job-badges"),
			statusBadge(job.kind, /** @type {JobView} */ (job.data).status),
			deliveryBadge(/** @type {JobView} */ (job.data).delivery_status),
			/** @type {JobView} */ (job.data).upstream === "emulator"
				? badge("emulator", "emulator", {
						"data-upstream": "emulator",
						title: "The answer came from the local Perplexity emulator, not from Perplexity",
					})
				: null,
		);
	}

	/**
	 * Who answered upstream, as the relay recorded it while the job ran.
	 *
	 * @param {JobView} data
	 * @returns {[string, string] | null}
	 */
	function upstreamRow(data) {
		if (data.upstream === "emulator") return ["Upstream", "Local Perplexity emulator (not Perplexity)"];
		if (data.upstream === "perplexity") return ["Upstream", "Perplexity"];
		return null;
	}

	/**
	 * What the list knows of a run's input: its summary's request_preview, when the list has loaded it.
	 *
	 * @param {Kind} kind
	 * @param {string} id
	 */
	function listedPreview(kind, id) {
		var found = lists[kind].jobs.filter(function (j) {
			return j.id === id;
		})[0];
		return found && typeof found.request_preview === "string" && found.request_preview ? found.request_preview : null;
	}

	/** @param {JobView} data */
	function renderQuestion(data) {
		var box = $("job-question");
		if (typeof data.request_preview === "string" && data.request_preview) {
			box.replaceChildren(h("p", { class: "question", text: data.request_preview }));
			return;
		}
		var remembered = rememberedQuestion(data.id);
		if (remembered) {
			box.replaceChildren(
				h("p", { class: "question", text: remembered }),
				h("p", { class: "hint", text: "As submitted from this browser tab." }),
			);
			return;
		}
		var listed = job.kind === "agent" ? listedPreview("agent", data.id) : null;
		if (listed) {
			box.replaceChildren(
				h("p", { class: "question", text: listed }),
				h("p", {
					class: "hint",
					text: "The start of the input, from the runs list: the Agent API's GET does not return a run's input.",
				}),
			);
			return;
		}
		fill(
			box,
			h("p", {
				class: "muted",
				text:
					job.kind === "agent"
						? "The Agent API's GET does not return a run's input; the runs list shows its start."
						: "The relay's API does not return the question of a job.",
			}),
			data.metadata ? h("p", { class: "hint", text: "Its metadata is under Details." }) : null,
		);
	}

	// Sonar jobs: the chat completion.

	/**
	 * @param {JobView} data
	 * @returns {string | null}
	 */
	function answerText(data) {
		var choice = data.response && data.response.choices && data.response.choices[0];
		var content = choice && choice.message ? choice.message.content : null;
		if (typeof content === "string") return content;
		if (Array.isArray(content)) {
			return content
				.map(function (chunk) {
					return chunk && chunk.type === "text" && typeof chunk.text === "string" ? chunk.text : "";
				})
				.filter(Boolean)
				.join("\n\n");
		}
		return null;
	}

	/** @param {JobView} data */
	function citationsOf(data) {
		var response = data.response || {};
		if (Array.isArray(response.citations) && response.citations.length) return response.citations;
		if (Array.isArray(response.search_results))
			return response.search_results.map(function (r) {
				return r && r.url;
			});
		return [];
	}

	/** @param {JobView} data */
	function renderAnswer(data) {
		var box = $("job-answer");
		if (data.status === "COMPLETED") {
			var text = answerText(data);
			if (text === null) {
				box.replaceChildren(h("p", { class: "muted", text: "The job completed without an answer." }));
			} else {
				box.innerHTML = answerPolicy.createHTML(text, citationsOf(data));
			}
		} else if (data.status === "FAILED") {
			box.replaceChildren(
				h(
					"div",
					{ class: "alert alert-error" },
					h("p", { text: "The job failed: " + (data.error_message || "no reason given") + "." }),
				),
			);
		} else {
			box.replaceChildren(h("p", { class: "muted", text: "The answer appears here when the job completes." }));
		}
	}

	/** @param {JobView} data */
	function renderSources(data) {
		var response = data.response || {};
		var results =
			Array.isArray(response.search_results) && response.search_results.length ? response.search_results : null;
		var citations = Array.isArray(response.citations) ? response.citations : [];
		renderSourceList(data, results, citations, data.status === "COMPLETED");
	}

	// Agent runs: the Response object's typed output items; unknown item types are ignored.

	/**
	 * @param {JobView} data
	 * @param {string} type
	 */
	function outputItems(data, type) {
		return (Array.isArray(data.output) ? data.output : []).filter(function (item) {
			return item && item.type === type;
		});
	}

	/** @param {JobView} data */
	function outputTexts(data) {
		/** @type {OutputPart[]} */
		var parts = [];
		outputItems(data, "message").forEach(function (item) {
			(Array.isArray(item.content) ? item.content : []).forEach(function (part) {
				if (part && part.type === "output_text" && typeof part.text === "string") parts.push(part);
			});
		});
		return parts;
	}

	/** @param {JobView} data */
	function runText(data) {
		var parts = outputTexts(data);
		return parts.length
			? parts
					.map(function (part) {
						return part.text;
					})
					.join("\n\n")
			: null;
	}

	/** @param {JobView} data */
	function runResults(data) {
		/** @type {SearchResult[]} */
		var results = [];
		outputItems(data, "search_results").forEach(function (item) {
			(Array.isArray(item.results) ? item.results : []).forEach(function (r) {
				if (r && typeof r === "object") results.push(r);
			});
		});
		return results;
	}

	/**
	 * URLs for the answer's [n] markers: the n-th search result, unless a citation annotation on that marker names its own.
	 *
	 * @param {JobView} data
	 */
	function runCitations(data) {
		var urls = runResults(data).map(function (r) {
			return r.url;
		});
		outputTexts(data).forEach(function (part) {
			(Array.isArray(part.annotations) ? part.annotations : []).forEach(function (a) {
				if (!a || typeof a.url !== "string" || typeof a.start_index !== "number" || typeof a.end_index !== "number")
					return;
				var marker = /^\[(\d{1,3})\]$/.exec(part.text.slice(a.start_index, a.end_index));
				if (marker && Number(marker[1]) >= 1) urls[Number(marker[1]) - 1] = a.url;
			});
		});
		return urls;
	}

	/** @param {JobView} data */
	function runHasAnswer(data) {
		return data.status === "completed" || data.status === "incomplete";
	}

	/** @param {JobView} data */
	function incompleteReason(data) {
		var details = data.incomplete_details;
		return details && typeof details.reason === "string" ? details.reason : null;
	}

	/** @param {JobView} data */
	function renderRunAnswer(data) {
		var box = $("job-answer");
		var status = data.status;
		var message = data.error && typeof data.error.message === "string" ? data.error.message : "";
		if (runHasAnswer(data)) {
			var text = runText(data);
			if (text === null) {
				box.replaceChildren(
					h("p", {
						class: "muted",
						text: "The run " + (status === "completed" ? "completed" : "ended incomplete") + " without an answer.",
					}),
				);
			} else {
				box.innerHTML = answerPolicy.createHTML(text, runCitations(data));
			}
			if (status === "incomplete") {
				var reason = incompleteReason(data);
				box.prepend(
					h(
						"div",
						{ class: "alert alert-info" },
						h("p", {
							text: "The run ended incomplete" + (reason ? " (" + reason + ")" : "") + ": the answer may be cut short.",
						}),
					),
				);
			}
		} else if (status === "failed") {
			box.replaceChildren(
				h(
					"div",
					{ class: "alert alert-error" },
					h("p", { text: "The run failed: " + (message || "no reason given") + "." }),
				),
			);
		} else if (status === "cancelled") {
			box.replaceChildren(
				h(
					"div",
					{ class: "alert alert-info" },
					h("p", { text: "The run was cancelled" + (message && message !== "cancelled" ? ": " + message : "") + "." }),
				),
			);
		} else {
			box.replaceChildren(h("p", { class: "muted", text: "The answer appears here when the run completes." }));
		}
	}

	/** @param {JobView} data */
	function renderRunTimeline(data) {
		var status = data.status;
		var ended = hasEnded("agent", status);
		/** @type {TimelineStep[]} */
		var steps = [
			{ label: "Created", at: data.created_at, state: "done" },
			{
				label: "Started",
				at: null,
				state: status === "queued" ? "waiting" : "done",
				note: status === "queued" ? null : "time not reported",
			},
		];
		if (status === "failed" || status === "cancelled") {
			steps.push({
				label: status === "failed" ? "Failed" : "Cancelled",
				at: null,
				state: "failed",
				note: "time not reported",
			});
		} else {
			steps.push({
				label: status === "incomplete" ? "Ended incomplete" : "Completed",
				at: data.completed_at,
				state: data.completed_at ? "done" : "waiting",
			});
		}
		renderTimelineSteps(steps, data.created_at, ended);
		var note = $("job-timeline-note");
		note.textContent = "The Agent API's Response has no start time, nor an end time for a failed or cancelled run.";
		note.hidden = false;
	}

	/** @param {JobView} data */
	function renderRunDetails(data) {
		/** @type {Array<[string, Child]>} */
		var rows = [["Model", data.model]];
		var upstream = upstreamRow(data);
		if (upstream) rows.push(upstream);
		var usage = data.usage;
		if (usage) rows = rows.concat(usageRows(usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cost));
		var reason = incompleteReason(data);
		if (reason) rows.push(["Incomplete", reason]);
		renderDetailRows(rows, data.metadata);
	}

	// Shared by both kinds.

	/** @param {unknown} raw */
	function safeHref(raw) {
		if (typeof raw !== "string" || !/^https?:\/\//i.test(raw)) return null;
		try {
			var url = new URL(raw);
			return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
		} catch (_error) {
			return null;
		}
	}
	/** @param {string} raw */
	function hostOf(raw) {
		try {
			return new URL(raw).host;
		} catch (_error) {
			return "";
		}
	}
	/**
	 * @param {string} url
	 * @param {string} text
	 * @param {string} cls
	 */
	function externalLink(url, text, cls) {
		var href = safeHref(url);
		if (!href) return h("span", { class: cls, text: text });
		return h("a", { class: cls, href: href, rel: "noopener noreferrer", target: "_blank", text: text });
	}

	/**
	 * Search results ({url, title, snippet, date?}) or, without them, bare citation URLs.
	 *
	 * @param {JobView} data
	 * @param {SearchResult[] | null} results
	 * @param {string[]} citations
	 * @param {boolean} answered
	 */
	function renderSourceList(data, results, citations, answered) {
		var items = results
			? results.map(function (r) {
					var meta = [hostOf(r.url), r.date || r.last_updated].filter(Boolean).join(" · ");
					return h(
						"li",
						null,
						externalLink(r.url, r.title || r.url, "source-title"),
						meta ? h("span", { class: "source-meta", text: meta }) : null,
						r.snippet ? h("span", { class: "source-snippet", text: r.snippet }) : null,
					);
				})
			: citations.map(function (url) {
					return h("li", null, externalLink(url, url, "source-title"));
				});
		$("job-sources").replaceChildren.apply($("job-sources"), items);
		var empty = $("job-sources-empty");
		empty.hidden = items.length > 0;
		empty.textContent = answered
			? "The answer cites no sources."
			: hasEnded(job.kind, data.status)
				? "No sources: the " + KINDS[job.kind].noun + " ended without an answer."
				: "Sources appear with the answer.";
	}

	/** @param {JobView} data */
	function renderTimeline(data) {
		var created = data.created_at;
		/** @type {TimelineStep[]} */
		var steps = [{ label: "Created", at: created, state: "done" }];
		steps.push({ label: "Started", at: data.started_at, state: data.started_at ? "done" : "waiting" });
		if (data.failed_at || data.status === "FAILED")
			steps.push({ label: "Failed", at: data.failed_at, state: "failed" });
		else steps.push({ label: "Completed", at: data.completed_at, state: data.completed_at ? "done" : "waiting" });
		renderTimelineSteps(steps, created, hasEnded("sonar", data.status));
		$("job-timeline-note").hidden = true;
	}

	/**
	 * @param {TimelineStep[]} steps
	 * @param {number} created
	 * @param {boolean} ended
	 */
	function renderTimelineSteps(steps, created, ended) {
		$("job-timeline").replaceChildren.apply(
			$("job-timeline"),
			steps.map(function (step) {
				var when = step.at
					? [timeEl(secondsToDate(step.at)), step.at !== created ? " (+" + duration(step.at - created) + ")" : ""]
					: step.note || (ended ? "—" : "waiting…");
				return h(
					"li",
					{ class: step.state },
					h("span", { class: "timeline-label", text: step.label }),
					h("span", { class: "timeline-time" }, when),
				);
			}),
		);
	}

	/**
	 * @param {number} input
	 * @param {number} output
	 * @param {number} total
	 * @param {Cost | undefined} cost
	 * @returns {Array<[string, string]>}
	 */
	function usageRows(input, output, total, cost) {
		/** @type {Array<[string, string]>} */
		var rows = [["Tokens", input + " in · " + output + " out · " + total + " total"]];
		if (cost && typeof cost.total_cost === "number") {
			var currency = typeof cost.currency === "string" && cost.currency !== "USD" ? " " + cost.currency : "";
			rows.push(["Cost", (currency ? "" : "$") + cost.total_cost.toFixed(4) + currency]);
		}
		return rows;
	}

	/** @param {JobView} data */
	function renderDetails(data) {
		/** @type {Array<[string, Child]>} */
		var rows = [["Model", data.model]];
		var upstream = upstreamRow(data);
		if (upstream) rows.push(upstream);
		var usage = data.response && data.response.usage;
		if (usage)
			rows = rows.concat(usageRows(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cost));
		renderDetailRows(rows, data.metadata);
	}

	/**
	 * @param {Array<[string, Child]>} rows
	 * @param {Record<string, unknown> | null | undefined} metadata
	 */
	function renderDetailRows(rows, metadata) {
		rows.push([
			"Metadata",
			metadata ? h("pre", { text: JSON.stringify(metadata, null, 2) }) : h("span", { class: "muted", text: "none" }),
		]);
		var dl = $("job-details");
		dl.replaceChildren();
		rows.forEach(function (row) {
			dl.append(h("dt", { text: row[0] }), h("dd", null, row[1]));
		});
	}

	// ── Cancel ────────────────────────────────────────────────────────────

	function renderCancel() {
		var live = Boolean(job.data) && !hasEnded(job.kind, /** @type {JobView} */ (job.data).status);
		$("job-cancel").disabled = !live || job.cancelling;
		if (!live) closeConfirm(false);
	}

	/** The first step: shows the confirm step in the page and moves focus to its explicit button. */
	function askCancel() {
		$("cancel-confirm").hidden = false;
		$("job-cancel").setAttribute("aria-expanded", "true");
		$("cancel-result").textContent = "";
		$("cancel-result").className = "alert";
		$("cancel-yes").focus();
	}

	/** @param {boolean} restoreFocus */
	function closeConfirm(restoreFocus) {
		var wasOpen = !$("cancel-confirm").hidden;
		$("cancel-confirm").hidden = true;
		$("job-cancel").setAttribute("aria-expanded", "false");
		if (wasOpen && restoreFocus && !$("job-cancel").disabled) $("job-cancel").focus();
	}

	function confirmCancel() {
		var id = /** @type {string} */ (job.id);
		var kind = job.kind;
		var K = KINDS[kind];
		var token = routeToken;
		var button = $("job-cancel");
		var result = $("cancel-result");
		closeConfirm(false);
		job.cancelling = true;
		button.disabled = true;
		button.textContent = "Cancelling…";
		api("POST", jobPath(kind, id) + "/cancel")
			.then(function (/** @type {CancelAnswer | null} */ answer) {
				if (token !== routeToken || job.id !== id) return;
				result.className = "alert alert-success";
				result.textContent =
					kind === "agent"
						? "Cancel accepted: the relay answered " + ((answer && answer.status) || "cancelling") + "."
						: "Cancelled: the job ended " +
							((answer && answer.status) || "FAILED") +
							(answer && answer.error_message ? " (" + answer.error_message + ")" : "") +
							".";
			})
			.catch(function (failure) {
				if (token !== routeToken || job.id !== id || failure.status === 401) return;
				result.className = "alert alert-error";
				result.textContent =
					(failure.status === 409 ? "Cannot cancel the " + K.noun + " (409): " : "Cancelling failed: ") +
					failure.message +
					".";
			})
			.finally(function () {
				if (job.id !== id) return;
				job.cancelling = false;
				button.textContent = "Cancel " + K.noun;
				if (token !== routeToken) {
					if (job.data) renderCancel();
					return;
				}
				// Focus goes to the outcome (the button is about to be disabled), then the page shows the new state.
				result.focus();
				job.polls = 0;
				stopPolling();
				refreshJob(token);
			});
	}

	// ── Deliveries ────────────────────────────────────────────────────────

	/** @param {DeliveryAttempt} a */
	function attemptKey(a) {
		return a.webhook_id + "/" + a.series + "/" + a.attempt;
	}

	/** @param {string} name */
	function eventName(name) {
		return String(name).replace(/^(async_chat_completion|response)\./, "");
	}

	function renderDeliveries() {
		var report = job.report;
		var events = (report && report.events) || [];
		var attempts = ((report && report.attempts) || []).slice().reverse(); // newest first
		var hasCallback = Boolean(job.data && job.data.delivery_status);
		var noun = KINDS[job.kind].noun;
		$("job-redeliver").disabled = events.length === 0;
		$("redeliver-help").textContent =
			events.length > 0
				? "Sends the final event to its destination again now, with the same webhook-id."
				: hasCallback
					? "The final event is pushed to the callback URL when the " + noun + " settles."
					: "This " + noun + " has no callback URL, so there is nothing to deliver.";

		if (events.length === 0) {
			$("job-events").replaceChildren();
			$("job-attempts").replaceChildren();
			return;
		}

		$("job-events").replaceChildren(
			h(
				"div",
				{ class: "table-wrap" },
				h(
					"table",
					{ class: "table stack-table", id: "events-table" },
					h("caption", { class: "visually-hidden", text: "Events" }),
					h(
						"thead",
						null,
						h(
							"tr",
							null,
							["Event", "Destination", "State", "Attempts", "Next attempt"].map(function (t) {
								return h("th", { scope: "col", text: t });
							}),
						),
					),
					h(
						"tbody",
						null,
						events.map(function (e) {
							var state = EVENT_STATE[e.status] || { label: e.status, tone: "gray" };
							var next = e.next_attempt_at ? new Date(e.next_attempt_at) : null;
							return h(
								"tr",
								null,
								h("td", { "data-label": "Event" }, h("code", { text: eventName(e.event) })),
								h("td", { "data-label": "Destination", text: e.host }),
								h(
									"td",
									{ "data-label": "State" },
									badge(state.tone, state.label),
									e.last_error ? h("span", { class: "source-meta", text: e.last_error }) : null,
								),
								h("td", {
									"data-label": "Attempts",
									text: e.attempts + (e.series > 1 ? " (series " + e.series + ")" : ""),
								}),
								h("td", { "data-label": "Next attempt" }, next ? timeEl(next) : "—"),
							);
						}),
					),
				),
			),
		);

		var rows = attempts.map(function (a) {
			var ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
			var result = a.status_code !== null ? String(a.status_code) : a.error || "no answer";
			var isNew = job.newAttempts[attemptKey(a)] === true;
			return h(
				"tr",
				{ class: isNew ? "is-new" : null, "data-attempt": attemptKey(a) },
				h(
					"td",
					{ "data-label": "Attempt", class: "nowrap" },
					"#" + a.attempt,
					a.series > 1 ? " · series " + a.series : "",
					isNew ? h("span", { class: "tag-new", text: "new" }) : null,
				),
				h("td", { "data-label": "Event" }, h("code", { text: eventName(a.event) })),
				h("td", { "data-label": "When" }, timeEl(new Date(a.at))),
				h("td", { "data-label": "Result" }, badge(ok ? "green" : "red", result)),
				h("td", { "data-label": "Duration", class: "nowrap", text: a.duration_ms + " ms" }),
				h("td", { "data-label": "Error", text: attemptError(a, ok) }),
			);
		});
		$("job-attempts").replaceChildren(
			h("h3", { text: "Attempts" }),
			rows.length
				? h(
						"div",
						{ class: "table-wrap" },
						h(
							"table",
							{ class: "table stack-table", id: "attempts-table" },
							h("caption", { class: "visually-hidden", text: "Delivery attempts, newest first" }),
							h(
								"thead",
								null,
								h(
									"tr",
									null,
									["Attempt", "Event", "When", "Result", "Duration", "Error"].map(function (t) {
										return h("th", { scope: "col", text: t });
									}),
								),
							),
							h("tbody", null, rows),
						),
					)
				: h("p", { class: "muted", text: "No attempt yet." }),
		);
	}

	/**
	 * A failed attempt in words ("connection refused", "HTTP 503 Service Unavailable"), with the start of the answer.
	 *
	 * @param {DeliveryAttempt} a
	 * @param {boolean} ok
	 */
	function attemptError(a, ok) {
		if (ok) return "—";
		var message = a.error_message || a.error || "";
		// A blocked URL's reason is the message already.
		var body = a.response_body && a.error !== "blocked" ? a.response_body : "";
		return message && body ? message + ": " + body : message || body || "—";
	}

	function redeliver() {
		var button = $("job-redeliver");
		var result = $("redeliver-result");
		var id = /** @type {string} */ (job.id);
		var kind = job.kind;
		var token = routeToken;
		/** @type {Record<string, boolean>} */
		var seen = {};
		((job.report && job.report.attempts) || []).forEach(function (a) {
			seen[attemptKey(a)] = true;
		});
		button.disabled = true;
		button.textContent = "Redelivering…";
		result.className = "alert";
		result.textContent = "";
		api("POST", jobPath(kind, id) + "/redeliver")
			.then(function (/** @type {DeliveryReport} */ report) {
				if (token !== routeToken || job.id !== id) return;
				job.report = report;
				job.newAttempts = {};
				var fresh = (report.attempts || []).filter(function (a) {
					return !seen[attemptKey(a)];
				});
				fresh.forEach(function (a) {
					job.newAttempts[attemptKey(a)] = true;
				});
				renderDeliveries();
				var latest = fresh[fresh.length - 1];
				result.className =
					"alert " +
					(latest && latest.status_code !== null && latest.status_code >= 200 && latest.status_code < 300
						? "alert-success"
						: "alert-info");
				result.textContent = latest
					? "Redelivered: attempt #" +
						latest.attempt +
						" of series " +
						latest.series +
						(latest.status_code !== null
							? " answered " + latest.status_code
							: " failed: " + (latest.error_message || latest.error || "no answer")) +
						" in " +
						latest.duration_ms +
						" ms."
					: "Redelivery scheduled; the attempt appears below when it is made.";
				// The job is live again while the new series is pending.
				if (job.data) {
					job.data.delivery_status = report.delivery_status;
					renderBadges();
				}
				job.polls = 0;
				scheduleJobPoll(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				result.className = "alert alert-error";
				result.textContent =
					(failure.status === 409 ? "Cannot redeliver now (409): " : "Redelivery failed: ") + failure.message + ".";
			})
			.finally(function () {
				button.textContent = "Redeliver";
				button.disabled = !(job.report && job.report.events && job.report.events.length);
			});
	}

	// ── Copying ───────────────────────────────────────────────────────────

	/** @param {string} text */
	function shellQuote(text) {
		return "'" + String(text).replace(/'/g, "'\\''") + "'";
	}

	/**
	 * The GET of this job or run as curl; the key is $SONAR_RELAY_KEY unless the user asked for it.
	 *
	 * @param {Kind} kind
	 * @param {string} id
	 * @param {boolean} withKey
	 */
	function curlCommand(kind, id, withKey) {
		var url = location.origin + jobPath(kind, id);
		var auth = withKey ? shellQuote("authorization: Bearer " + apiKey) : '"authorization: Bearer $SONAR_RELAY_KEY"';
		return "curl -s " + shellQuote(url) + " \\\n  -H " + auth;
	}

	function renderCurl() {
		if (!job.id) return;
		$("job-curl").textContent = curlCommand(job.kind, job.id, $("job-curl-key").checked);
	}

	/**
	 * @param {string} text
	 * @param {string} what
	 */
	function copyText(text, what) {
		var done = function () {
			announce(what + " copied to the clipboard.");
		};
		var fallback = function () {
			var area = h("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true", tabindex: "-1" });
			area.value = text;
			document.body.append(area);
			area.select();
			var ok = false;
			try {
				ok = document.execCommand("copy");
			} catch (_error) {
				ok = false;
			}
			area.remove();
			if (ok) done();
			else announce("Copying failed: select the text and copy it by hand.");
		};
		if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, fallback);
		else fallback();
	}

	// ── Submit form ───────────────────────────────────────────────────────

	var FIELD_ERRORS = ["f-question", "f-model", "f-preset", "f-callback", "f-events", "f-metadata"];

	function openNew() {
		showView("new");
	}

	/** @returns {Kind} */
	function formSurface() {
		var checked = /** @type {HTMLInputElement | null} */ (document.querySelector("#f-surface input:checked"));
		return checked && checked.value === "agent" ? "agent" : "sonar";
	}

	/** Shows the fields of the chosen surface: a model or a preset, and that surface's events. */
	function applySurface() {
		var kind = formSurface();
		Array.prototype.forEach.call(document.querySelectorAll("#new-form [data-surface]"), function (el) {
			el.hidden = el.getAttribute("data-surface") !== kind;
		});
		$("new-endpoint").textContent = "POST " + KINDS[kind].api;
		$("new-submit").textContent = kind === "agent" ? "Start run" : "Submit job";
		$("f-metadata").setAttribute(
			"aria-describedby",
			kind === "agent" ? "f-metadata-hint f-metadata-error" : "f-metadata-error",
		);
		// The surfaces check metadata differently (an Agent run's values are strings).
		if ($("f-metadata").getAttribute("aria-invalid") === "true") checkMetadataField();
	}

	function clearFormErrors() {
		$("new-errors").replaceChildren();
		FIELD_ERRORS.forEach(function (id) {
			$(id + "-error").textContent = "";
			$(id).removeAttribute("aria-invalid");
		});
	}

	/**
	 * @param {string} id
	 * @param {string} message
	 */
	function setFieldError(id, message) {
		var el = $(id + "-error");
		el.textContent = el.textContent ? el.textContent + " " + message : message;
		$(id).setAttribute("aria-invalid", "true");
	}

	/**
	 * The field of a Sonar 422's loc.
	 *
	 * @param {unknown} loc
	 * @returns {string | null}
	 */
	function fieldForLoc(loc) {
		var path = (Array.isArray(loc) ? loc : []).map(String);
		if (path.indexOf("callback_url") !== -1) return "f-callback";
		if (path.indexOf("callback_events") !== -1) return "f-events";
		if (path.indexOf("metadata") !== -1) return "f-metadata";
		if (path[1] === "request" && path[2] === "model") return "f-model";
		if (path[1] === "request" && path[2] === "messages") return "f-question";
		return null;
	}

	/**
	 * The field of an Agent 400's param, such as "metadata.ticket" or "input".
	 *
	 * @param {string | undefined} param
	 * @returns {string | null}
	 */
	function fieldForParam(param) {
		var head = String(param || "").split(/[.[]/)[0];
		if (head === "input") return "f-question";
		if (head === "preset" || head === "model" || head === "models") return "f-preset";
		if (head === "callback_url") return "f-callback";
		if (head === "callback_events") return "f-events";
		if (head === "metadata") return "f-metadata";
		return null;
	}

	/** @param {string} id */
	function focusField(id) {
		var field = $(id);
		var target =
			field.tagName === "FIELDSET"
				? /** @type {HTMLElement | null} */ (field.querySelector("div:not([hidden]) > label > input")) ||
					field.querySelector("input")
				: field;
		if (target) target.focus();
	}

	/**
	 * @param {string} title
	 * @param {FormIssue[]} issues
	 */
	function showFormErrors(title, issues) {
		var box = $("new-errors");
		var items = issues.map(function (issue) {
			if (issue.field) setFieldError(issue.field, issue.fieldMessage || issue.message);
			return h(
				"li",
				null,
				issue.field
					? h("button", {
							type: "button",
							class: "btn-link",
							text: issue.message,
							onclick: function () {
								focusField(issue.field);
							},
						})
					: issue.message,
			);
		});
		fill(box, h("p", { text: title }), items.length ? h("ul", null, items) : null);
		box.focus();
	}

	/**
	 * The metadata field as an object, or an error message; empty means none. An Agent run's values are strings.
	 *
	 * @param {string} text
	 * @param {Kind} kind
	 * @returns {{ value?: Record<string, unknown>, error?: string }}
	 */
	function parseMetadata(text, kind) {
		if (!text.trim()) return { value: undefined };
		/** @type {Record<string, unknown>} JSON.parse's answer, checked below to be an object */
		var value;
		try {
			value = JSON.parse(text);
		} catch (error) {
			return { error: "Metadata is not valid JSON (" + /** @type {Error} */ (error).message + ")." };
		}
		if (value === null || typeof value !== "object" || Array.isArray(value)) {
			return { error: 'Metadata must be a JSON object, such as {"ticket": "T-42"}.' };
		}
		if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_METADATA_BYTES) {
			return { error: "Metadata must be at most " + MAX_METADATA_BYTES + " bytes as JSON." };
		}
		if (kind === "agent") {
			var notText = Object.keys(value).filter(function (name) {
				return typeof value[name] !== "string";
			});
			if (notText.length)
				return { error: "On the Agent API, metadata values are strings: " + notText.join(", ") + " is not." };
		}
		return { value: value };
	}

	function checkMetadataField() {
		var parsed = parseMetadata($("f-metadata").value, formSurface());
		$("f-metadata-error").textContent = parsed.error || "";
		if (parsed.error) $("f-metadata").setAttribute("aria-invalid", "true");
		else $("f-metadata").removeAttribute("aria-invalid");
	}

	/** @param {Event} event */
	function submitJob(event) {
		event.preventDefault();
		clearFormErrors();
		var kind = formSurface();
		var question = $("f-question").value.trim();
		var callback = $("f-callback").value.trim();
		var events = Array.prototype.map.call(
			document.querySelectorAll('#f-events [data-surface="' + kind + '"] input:checked'),
			function (box) {
				return box.value;
			},
		);
		var metadata = parseMetadata($("f-metadata").value, kind);
		var issues = [];
		if (!question) issues.push({ field: "f-question", message: "Enter a question." });
		if (callback && events.length === 0)
			issues.push({ field: "f-events", message: "Choose at least one event to push." });
		if (metadata.error) issues.push({ field: "f-metadata", message: metadata.error });
		if (issues.length) {
			showFormErrors("Check " + (issues.length === 1 ? "this field" : "these fields") + ":", issues);
			return;
		}

		/** @type {Record<string, unknown>} */
		var body =
			kind === "agent"
				? { preset: $("f-preset").value, input: question }
				: { request: { model: $("f-model").value, messages: [{ role: "user", content: question }] } };
		if (callback) {
			body.callback_url = callback;
			body.callback_events = events;
		}
		if (metadata.value) body.metadata = metadata.value;

		var noun = KINDS[kind].noun;
		var button = $("new-submit");
		var label = button.textContent;
		button.disabled = true;
		button.textContent = "Submitting…";
		api("POST", KINDS[kind].api, body)
			.then(function (/** @type {Created} */ created) {
				rememberQuestion(created.id, question);
				$("f-question").value = "";
				lists[kind].loaded = false;
				announce(kind === "agent" ? "Run started." : "Job submitted.");
				navigate(KINDS[kind].route + "/" + created.id);
			})
			.catch(function (failure) {
				if (failure.status === 401) return;
				var detail = failure.body && failure.body.detail;
				var agentError = failure.body && failure.body.error;
				if (failure.status === 422 && Array.isArray(detail)) {
					showFormErrors(
						"The relay did not accept the " + noun + " (422). Fix the following and submit again:",
						detail.map(function (issue) {
							return { field: fieldForLoc(issue.loc), message: describeIssue(issue), fieldMessage: issue.msg };
						}),
					);
				} else if ((failure.status === 400 || failure.status === 422) && agentError) {
					showFormErrors(
						"The relay did not accept the " + noun + " (" + failure.status + "). Fix the following and submit again:",
						[{ field: fieldForParam(agentError.param), message: failure.message }],
					);
				} else {
					showFormErrors(
						"The " + noun + " was not submitted: " + failure.message + " (" + (failure.status || "network") + ").",
						[],
					);
				}
			})
			.finally(function () {
				button.disabled = false;
				button.textContent = label;
			});
	}

	/**
	 * Questions submitted from this tab, so their pages can show them while the API does not.
	 *
	 * @param {string} id
	 * @param {string} question
	 */
	function rememberQuestion(id, question) {
		try {
			var saved = JSON.parse(sessionStorage.getItem(QUESTIONS_STORAGE) || "{}");
			saved[id] = question.slice(0, 500);
			var ids = Object.keys(saved);
			if (ids.length > 100) delete saved[ids[0]];
			sessionStorage.setItem(QUESTIONS_STORAGE, JSON.stringify(saved));
		} catch (_error) {
			// best effort only
		}
	}
	/**
	 * @param {string} id
	 * @returns {string | null}
	 */
	function rememberedQuestion(id) {
		try {
			var saved = JSON.parse(sessionStorage.getItem(QUESTIONS_STORAGE) || "{}");
			return typeof saved[id] === "string" ? saved[id] : null;
		} catch (_error) {
			return null;
		}
	}

	// ── Webhook secret ────────────────────────────────────────────────────

	function openSecret() {
		showView("secret");
		var token = routeToken;
		$("secret-list").setAttribute("aria-busy", "true");
		api("GET", "/v1/webhook-secret")
			.then(function (/** @type {WebhookSecret} */ data) {
				if (token !== routeToken) return;
				secrets.data = data;
				$("secret-error").textContent = "";
				renderSecrets();
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				$("secret-list").replaceChildren();
				$("secret-error").textContent = "Could not load the webhook secret: " + failure.message + ".";
			})
			.finally(function () {
				$("secret-list").removeAttribute("aria-busy");
			});
	}

	/** @param {string} secret */
	function masked(secret) {
		var prefix = secret.indexOf("whsec_") === 0 ? "whsec_" : "";
		return prefix + "•".repeat(24) + secret.slice(-4);
	}

	function renderSecrets() {
		var data = secrets.data || {};
		/** @type {Array<["secret" | "next_secret", string, string]>} */
		var rows = [["secret", "Signing secret", "Verify pushes with this."]];
		if (data.next_secret)
			rows.push([
				"next_secret",
				"Next secret",
				"A key rotation is under way: pushes carry a second signature with this one.",
			]);
		$("secret-list").replaceChildren.apply(
			$("secret-list"),
			rows.map(function (row) {
				var name = row[0];
				var value = String(data[name] || "");
				var shown = secrets.revealed[name] === true;
				var valueId = "secret-value-" + name;
				return h(
					"div",
					{ class: "secret-row" },
					h("h2", { id: valueId + "-label", text: row[1] }),
					h("p", { class: "hint", text: row[2] }),
					h("code", {
						id: valueId,
						class: "secret-value",
						"aria-labelledby": valueId + "-label",
						text: shown ? value : masked(value),
					}),
					h(
						"div",
						{ class: "actions" },
						h("button", {
							type: "button",
							class: "btn",
							"aria-pressed": shown ? "true" : "false",
							"aria-controls": valueId,
							"data-secret-toggle": name,
							text: shown ? "Hide" : "Reveal",
							onclick: function () {
								secrets.revealed[name] = !shown;
								renderSecrets();
								var again = /** @type {HTMLElement | null} */ (
									document.querySelector('[data-secret-toggle="' + name + '"]')
								);
								if (again) again.focus();
							},
						}),
						h("button", {
							type: "button",
							class: "btn",
							"data-secret-copy": name,
							text: "Copy",
							onclick: function () {
								copyText(value, row[1]);
							},
						}),
					),
				);
			}),
		);
	}

	// ── Operations ────────────────────────────────────────────────────────

	var SVG_NS = "http://www.w3.org/2000/svg";
	var WINDOWS = { "1h": "the last hour", "24h": "the last 24 hours", "7d": "the last 7 days" };
	var COUNT_KEYS = ["accepted", "completed", "failed", "cancelled", "dead_lettered"];
	/** Batches one recovery asks for at most: far more than a tenant's dead letters should ever need. */
	var MAX_RECOVER_BATCHES = 100;
	var hourFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
	var dayHourFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

	/**
	 * An SVG element: like h(), in the SVG namespace; strings become text nodes.
	 *
	 * @param {string} tag
	 * @param {Attrs} attrs
	 * @returns {Element}
	 */
	function svg(tag, attrs) {
		var el = document.createElementNS(SVG_NS, tag);
		Object.keys(attrs || {}).forEach(function (name) {
			var value = attrs[name];
			if (value === null || value === undefined) return;
			if (name === "text") el.textContent = /** @type {string} */ (value);
			else el.setAttribute(name, String(value));
		});
		for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
		return el;
	}

	/** @param {number | null | undefined} ms */
	function formatMs(ms) {
		if (ms === null || ms === undefined) return "—";
		if (ms < 1000) return Math.round(ms) + " ms";
		if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
		return (ms / 60000).toFixed(1) + " min";
	}

	/**
	 * A round upper bound for an axis: 1, 2 or 5 times a power of ten (counts: 2, 4 or 10 times, so the middle is whole).
	 *
	 * @param {number} value
	 * @param {boolean} [counts]
	 */
	function niceMax(value, counts) {
		if (!(value > 0)) return counts ? 2 : 1;
		var power = Math.pow(10, Math.floor(Math.log10(value)));
		var steps = counts ? [2, 4, 10] : [1, 2, 5, 10];
		for (var i = 0; i < steps.length; i++)
			if (steps[i] * power >= value) return Math.max(steps[i] * power, counts ? 2 : 0);
		return 10 * power;
	}

	function openOps() {
		showView("ops");
		var token = routeToken;
		$("ops-window").value = ops.window;
		if (!$("ops-recover-since").value) $("ops-recover-since").value = localInputValue(new Date(Date.now() - 86400000));
		loadStats(token);
		loadHooks(token);
	}

	/**
	 * A Date as a datetime-local input's value (local time, to the second).
	 *
	 * @param {Date} date
	 */
	function localInputValue(date) {
		/** @param {number} n */
		function two(n) {
			return (n < 10 ? "0" : "") + n;
		}
		return (
			date.getFullYear() +
			"-" +
			two(date.getMonth() + 1) +
			"-" +
			two(date.getDate()) +
			"T" +
			two(date.getHours()) +
			":" +
			two(date.getMinutes()) +
			":" +
			two(date.getSeconds())
		);
	}

	/** @param {number} token */
	function loadStats(token) {
		var button = $("ops-refresh");
		button.disabled = true;
		$("ops-counts").setAttribute("aria-busy", "true");
		return api("GET", "/v1/stats?window=" + encodeURIComponent(ops.window))
			.then(function (/** @type {OpsStats} */ stats) {
				if (token !== routeToken) return;
				ops.stats = stats;
				$("ops-error").textContent = "";
				renderStats();
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				$("ops-error").textContent = "Could not load the numbers: " + failure.message + ".";
			})
			.finally(function () {
				button.disabled = false;
				$("ops-counts").removeAttribute("aria-busy");
			});
	}

	function renderStats() {
		var stats = /** @type {OpsStats} */ (ops.stats);
		var counts = stats.counts || {};
		COUNT_KEYS.forEach(function (key) {
			$("ops-count-" + key).textContent = String(counts[key] === undefined ? "–" : counts[key]);
		});
		var from = new Date(stats.from);
		var to = new Date(stats.to);
		fill(
			$("ops-range"),
			"Counts and push lag over " + (WINDOWS[stats.window] || stats.window) + ": ",
			timeEl(from),
			" to ",
			timeEl(to),
			".",
		);
		var scan = $("ops-scan");
		scan.hidden = !(stats.scan && stats.scan.truncated);
		scan.textContent =
			stats.scan && stats.scan.truncated
				? "Busy window: each count reads at most " +
					stats.scan.max_rows +
					" jobs, the newest first, so these are lower bounds."
				: "";
		renderHourlyChart($("ops-hourly"), stats.jobs_per_hour || []);
		var lag = stats.push_lag || { hourly: [] };
		$("ops-lag-summary").textContent = lag.samples
			? "p50 " +
				formatMs(lag.p50_ms) +
				" · p99 " +
				formatMs(lag.p99_ms) +
				" over " +
				lag.samples +
				" delivered job" +
				(lag.samples === 1 ? "" : "s") +
				" in " +
				(WINDOWS[stats.window] || stats.window) +
				"."
			: "";
		renderLagChart($("ops-lag"), lag.hourly || [], stats.window);
	}

	var CHART = { width: 720, height: 200, left: 44, right: 12, top: 12, bottom: 28 };

	/**
	 * Gridlines and labels of a value axis from 0 to max.
	 *
	 * @param {number} max
	 * @param {(value: number) => string} label
	 */
	function yAxis(max, label) {
		var plotH = CHART.height - CHART.top - CHART.bottom;
		return [0, 0.5, 1].map(function (share) {
			var y = CHART.top + plotH * (1 - share);
			return svg(
				"g",
				{ class: "chart-grid" },
				svg("line", { x1: CHART.left, x2: CHART.width - CHART.right, y1: y, y2: y }),
				svg("text", { x: CHART.left - 6, y: y + 4, "text-anchor": "end", text: label(max * share) }),
			);
		});
	}

	/**
	 * @param {string} iso
	 * @param {boolean} [long]
	 */
	function hourLabel(iso, long) {
		return (long ? dayHourFormat : hourFormat).format(new Date(iso));
	}

	/**
	 * Bars of accepted jobs per hour; each bar's title gives that hour's numbers.
	 *
	 * @param {Element} box
	 * @param {HourCounts[]} hours
	 */
	function renderHourlyChart(box, hours) {
		var total = 0;
		var busiest = 0;
		hours.forEach(function (bucket) {
			total += bucket.accepted;
			busiest = Math.max(busiest, bucket.accepted);
		});
		var max = niceMax(busiest, true);
		var plotW = CHART.width - CHART.left - CHART.right;
		var plotH = CHART.height - CHART.top - CHART.bottom;
		var slot = plotW / Math.max(1, hours.length);
		var summary =
			total +
			" job" +
			(total === 1 ? "" : "s") +
			" accepted in the last 24 hours; at most " +
			busiest +
			" in one hour.";
		var bars = hours.map(function (bucket, i) {
			var height = (bucket.accepted / max) * plotH;
			var label =
				hourLabel(bucket.hour) +
				": " +
				bucket.accepted +
				" accepted, " +
				bucket.completed +
				" completed, " +
				bucket.failed +
				" failed";
			return svg(
				"rect",
				{
					class: "chart-bar",
					x: (CHART.left + i * slot + slot * 0.15).toFixed(1),
					y: (CHART.top + plotH - height).toFixed(1),
					width: (slot * 0.7).toFixed(1),
					height: Math.max(height, bucket.accepted > 0 ? 1 : 0).toFixed(1),
					"data-hour": bucket.hour,
					"data-accepted": bucket.accepted,
				},
				svg("title", { text: label }),
			);
		});
		var ticks = hours
			.map(function (bucket, i) {
				if (i % 6 !== 0 && i !== hours.length - 1) return null;
				return svg("text", {
					class: "chart-tick",
					x: (CHART.left + i * slot + slot / 2).toFixed(1),
					y: CHART.height - 8,
					"text-anchor": "middle",
					text: hourLabel(bucket.hour),
				});
			})
			.filter(Boolean);
		box.replaceChildren(
			svg(
				"svg",
				{
					id: "ops-hourly-svg",
					class: "chart-svg",
					viewBox: "0 0 " + CHART.width + " " + CHART.height,
					role: "img",
					"aria-label": "Jobs per hour. " + summary,
					"data-total": total,
				},
				yAxis(max, function (v) {
					return String(Math.round(v));
				}),
				bars,
				ticks,
			),
			h("p", { class: "hint", text: summary + " Hover a bar for its hour's numbers." }),
		);
	}

	/**
	 * Two lines, p50 and p99, over the hours that had deliveries; an hour without any breaks the lines.
	 *
	 * @param {Element} box
	 * @param {HourLag[]} hours
	 * @param {string} window
	 */
	function renderLagChart(box, hours, window) {
		var points = hours.filter(function (bucket) {
			return bucket.samples > 0;
		});
		if (points.length === 0) {
			box.replaceChildren(
				h("p", {
					class: "muted",
					id: "ops-lag-empty",
					text: "No push lag in this window: it is measured on jobs with a callback URL whose final event was delivered.",
				}),
			);
			return;
		}
		var highest = 0;
		points.forEach(function (bucket) {
			highest = Math.max(highest, bucket.p99_ms || 0, bucket.p50_ms || 0);
		});
		var max = niceMax(highest);
		var plotW = CHART.width - CHART.left - CHART.right;
		var plotH = CHART.height - CHART.top - CHART.bottom;
		var step = hours.length > 1 ? plotW / (hours.length - 1) : 0;
		var long = window === "7d";
		/** @param {number} i */
		function x(i) {
			return CHART.left + (hours.length > 1 ? i * step : plotW / 2);
		}
		/** @param {number} ms */
		function y(ms) {
			return CHART.top + plotH * (1 - ms / max);
		}
		/**
		 * @param {"p50_ms" | "p99_ms"} field
		 * @param {string} cls
		 */
		function series(field, cls) {
			var d = "";
			/** @type {Element[]} */
			var dots = [];
			var drawing = false;
			hours.forEach(function (bucket, i) {
				if (!bucket.samples) {
					drawing = false;
					return;
				}
				var px = x(i).toFixed(1);
				var py = y(/** @type {number} */ (bucket[field])).toFixed(1);
				d += (drawing ? " L " : " M ") + px + " " + py;
				drawing = true;
				dots.push(
					svg(
						"circle",
						{ class: "chart-dot " + cls, cx: px, cy: py, r: 3, "data-hour": bucket.hour, "data-ms": bucket[field] },
						svg("title", {
							text:
								hourLabel(bucket.hour, long) +
								": " +
								field.replace("_ms", "") +
								" " +
								formatMs(bucket[field]) +
								" (" +
								bucket.samples +
								" job" +
								(bucket.samples === 1 ? "" : "s") +
								")",
						}),
					),
				);
			});
			return [svg("path", { class: "chart-line " + cls, d: d.trim() }), dots];
		}
		var tickEvery = Math.max(1, Math.ceil(hours.length / 6));
		var ticks = hours
			.map(function (bucket, i) {
				if (i % tickEvery !== 0 && i !== hours.length - 1) return null;
				return svg("text", {
					class: "chart-tick",
					x: x(i).toFixed(1),
					y: CHART.height - 8,
					"text-anchor": i === 0 ? "start" : i === hours.length - 1 ? "end" : "middle",
					text: hourLabel(bucket.hour, long),
				});
			})
			.filter(Boolean);
		box.replaceChildren(
			svg(
				"svg",
				{
					id: "ops-lag-svg",
					class: "chart-svg",
					viewBox: "0 0 " + CHART.width + " " + CHART.height,
					role: "img",
					"aria-label": "Push lag per hour: " + $("ops-lag-summary").textContent,
					"data-points": points.length,
				},
				yAxis(max, formatMs),
				series("p99_ms", "chart-p99"),
				series("p50_ms", "chart-p50"),
				ticks,
			),
			h(
				"ul",
				{ class: "chart-legend" },
				h("li", { class: "legend-p50", text: "p50 (median)" }),
				h("li", { class: "legend-p99", text: "p99" }),
			),
		);
	}

	// Recover: every dead-lettered delivery since a time, in the relay's batches.

	/** @param {Event} event */
	function recoverFailed(event) {
		event.preventDefault();
		if (ops.recovering) return;
		var input = $("ops-recover-since");
		var error = $("ops-recover-error");
		var result = $("ops-recover-result");
		var since = input.value ? new Date(input.value) : null;
		error.textContent = "";
		input.removeAttribute("aria-invalid");
		if (!since || Number.isNaN(since.getTime())) {
			error.textContent = "Choose the date and time to recover from.";
			input.setAttribute("aria-invalid", "true");
			input.focus();
			return;
		}
		var token = routeToken;
		var button = $("ops-recover-submit");
		var totals = { redelivered: 0, delivered: 0, failed: 0, problems: /** @type {string[]} */ ([]) };
		ops.recovering = true;
		button.disabled = true;
		button.textContent = "Redelivering…";
		result.className = "alert alert-info";
		result.textContent = "Looking for dead-lettered deliveries since " + formatDate(since) + "…";

		/**
		 * @param {string | null} nextToken
		 * @param {number} round
		 * @returns {Promise<RecoverReport>}
		 */
		function batch(nextToken, round) {
			/** @type {{ since: string, next_token?: string }} */
			var body = { since: /** @type {Date} */ (since).toISOString() };
			if (nextToken) body.next_token = nextToken;
			return api("POST", "/v1/deliveries/recover", body).then(function (/** @type {RecoverReport} */ report) {
				totals.redelivered += report.redelivered;
				totals.delivered += report.delivered;
				totals.failed += report.failed;
				(report.jobs || []).forEach(function (j) {
					if (!j.redelivered) totals.problems.push(shortId(j.id) + ": " + (j.detail || "not redelivered"));
				});
				if (token === routeToken && report.next_token) {
					result.textContent = "Redelivered " + totals.redelivered + " so far; " + report.remaining + " to go…";
				}
				if (report.next_token && round + 1 < MAX_RECOVER_BATCHES) return batch(report.next_token, round + 1);
				return report;
			});
		}

		batch(null, 0)
			.then(function (last) {
				if (token !== routeToken) return;
				var none = totals.redelivered === 0 && totals.failed === 0;
				result.className = "alert " + (none || totals.failed === 0 ? "alert-success" : "alert-warning");
				var parts = none
					? ["No dead-lettered deliveries since " + formatDate(/** @type {Date} */ (since)) + "."]
					: [
							"Redelivered " +
								totals.redelivered +
								" job" +
								(totals.redelivered === 1 ? "" : "s") +
								": " +
								totals.delivered +
								" delivered now" +
								(totals.redelivered > totals.delivered
									? ", " + (totals.redelivered - totals.delivered) + " retrying on schedule"
									: "") +
								".",
						];
				if (totals.failed)
					parts.push(totals.failed + " could not be redelivered: " + totals.problems.slice(0, 5).join("; ") + ".");
				if (last && last.next_token) parts.push(last.remaining + " remain: press the button again to carry on.");
				result.textContent = parts.join(" ");
				result.focus();
				loadStats(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				result.className = "alert alert-error";
				result.textContent =
					"The recovery stopped: " +
					failure.message +
					(totals.redelivered ? " (" + totals.redelivered + " redelivered before it)" : "") +
					".";
				result.focus();
			})
			.finally(function () {
				ops.recovering = false;
				button.disabled = false;
				button.textContent = "Redeliver failed";
			});
	}

	// REST hook subscriptions: list, subscribe, send a test event, delete.

	/** @param {string} id */
	function hookPath(id) {
		return "/v1/hooks/" + encodeURIComponent(id);
	}

	/** @param {number} token */
	function loadHooks(token) {
		$("hooks-list").setAttribute("aria-busy", "true");
		return api("GET", "/v1/hooks")
			.then(function (/** @type {{ hooks?: Hook[] } | null} */ answer) {
				if (token !== routeToken) return;
				ops.hooks = (answer && answer.hooks) || [];
				$("hooks-error").textContent = "";
				renderHooks();
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				$("hooks-error").textContent = "Could not load the subscriptions: " + failure.message + ".";
			})
			.finally(function () {
				$("hooks-list").removeAttribute("aria-busy");
			});
	}

	function renderHooks() {
		var hooks = ops.hooks || [];
		if (hooks.length === 0) {
			$("hooks-list").replaceChildren(h("p", { class: "muted", id: "hooks-empty", text: "No subscriptions yet." }));
			return;
		}
		$("hooks-list").replaceChildren(
			h(
				"div",
				{ class: "table-wrap" },
				h(
					"table",
					{ class: "table stack-table", id: "hooks-table" },
					h("caption", { class: "visually-hidden", text: "REST hook subscriptions, oldest first" }),
					h(
						"thead",
						null,
						h(
							"tr",
							null,
							["Target", "Event", "Created", "Actions"].map(function (t) {
								return h("th", { scope: "col", text: t });
							}),
						),
					),
					h("tbody", null, hooks.map(hookRow)),
				),
			),
		);
	}

	/** @param {Hook} hook */
	function hookRow(hook) {
		var created = secondsToDate(hook.created_at);
		var confirming = ops.confirmDelete === hook.id;
		return h(
			"tr",
			{ "data-hook": hook.id },
			h("td", { "data-label": "Target" }, h("code", { class: "hook-target", text: hook.target_url })),
			h("td", { "data-label": "Event" }, h("code", { text: hook.event })),
			h("td", { "data-label": "Created", class: "nowrap" }, timeEl(created, relative(created))),
			h(
				"td",
				{ "data-label": "Actions" },
				h(
					"div",
					{ class: "actions" },
					h("button", {
						type: "button",
						class: "btn btn-small",
						"data-hook-test": hook.id,
						text: "Send test event",
						onclick: function (event) {
							testHook(hook, /** @type {HTMLButtonElement} */ (event.currentTarget));
						},
					}),
					h("button", {
						type: "button",
						class: "btn btn-small btn-danger-outline",
						"data-hook-delete": hook.id,
						"aria-label": confirming
							? "Yes, delete the subscription to " + hook.target_url
							: "Delete the subscription to " + hook.target_url,
						text: confirming ? "Yes, delete" : "Delete",
						onclick: function () {
							deleteHook(hook);
						},
					}),
					confirming
						? h("button", {
								type: "button",
								class: "btn btn-small",
								"data-hook-keep": hook.id,
								text: "Keep",
								onclick: function () {
									ops.confirmDelete = null;
									renderHooks();
									focusHookButton("data-hook-delete", hook.id);
								},
							})
						: null,
				),
			),
		);
	}

	/**
	 * @param {string} attribute
	 * @param {string} id
	 */
	function focusHookButton(attribute, id) {
		var button = /** @type {HTMLElement | null} */ (document.querySelector("[" + attribute + '="' + id + '"]'));
		if (button) button.focus();
	}

	/**
	 * @param {string} tone
	 * @param {string} text
	 */
	function hookResult(tone, text) {
		var result = $("hook-result");
		result.className = "alert alert-" + tone;
		result.textContent = text;
	}

	/** @param {Event} event */
	function subscribeHook(event) {
		event.preventDefault();
		var target = $("hook-target");
		var error = $("hook-target-error");
		var url = target.value.trim();
		error.textContent = "";
		target.removeAttribute("aria-invalid");
		if (!url) {
			error.textContent = "Enter the URL to push events to.";
			target.setAttribute("aria-invalid", "true");
			target.focus();
			return;
		}
		var token = routeToken;
		var button = $("hook-submit");
		button.disabled = true;
		api("POST", "/v1/hooks", { target_url: url, event: $("hook-event").value })
			.then(function (/** @type {Hook} */ hook) {
				if (token !== routeToken) return;
				target.value = "";
				hookResult("success", "Subscribed " + hook.target_url + " to " + hook.event + ".");
				announce("Subscription created.");
				return loadHooks(token);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				var detail = failure.body && Array.isArray(failure.body.detail) ? failure.body.detail[0] : null;
				error.textContent = detail
					? detail.msg
					: "The relay did not subscribe it (" + (failure.status || "network") + "): " + failure.message + ".";
				target.setAttribute("aria-invalid", "true");
				target.focus();
			})
			.finally(function () {
				button.disabled = false;
			});
	}

	/**
	 * @param {Hook} hook
	 * @param {HTMLButtonElement} button
	 */
	function testHook(hook, button) {
		var token = routeToken;
		button.disabled = true;
		button.textContent = "Sending…";
		hookResult("info", "Sending a test event to " + hook.target_url + "…");
		api("POST", hookPath(hook.id) + "/test")
			.then(function (/** @type {HookTestReport} */ report) {
				if (token !== routeToken) return;
				var answered = report.status_code !== null ? "answered " + report.status_code : "failed";
				hookResult(
					report.delivered ? "success" : "error",
					"Test event " +
						report.event +
						" to " +
						report.target_host +
						": " +
						answered +
						(report.delivered ? "" : " (" + (report.error_message || report.error || "no answer") + ")") +
						" in " +
						report.duration_ms +
						" ms. webhook-id " +
						report.webhook_id +
						".",
				);
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				hookResult(
					"error",
					"Could not send the test event (" + (failure.status || "network") + "): " + failure.message + ".",
				);
				if (failure.status === 404) loadHooks(token);
			})
			.finally(function () {
				button.disabled = false;
				button.textContent = "Send test event";
			});
	}

	/**
	 * The first press asks (the row shows "Yes, delete" and "Keep"); the second deletes.
	 *
	 * @param {Hook} hook
	 */
	function deleteHook(hook) {
		if (ops.confirmDelete !== hook.id) {
			ops.confirmDelete = hook.id;
			renderHooks();
			focusHookButton("data-hook-delete", hook.id);
			return;
		}
		var token = routeToken;
		ops.confirmDelete = null;
		api("DELETE", hookPath(hook.id))
			.then(function () {
				if (token !== routeToken) return;
				hookResult("success", "Deleted the subscription to " + hook.target_url + ".");
				announce("Subscription deleted.");
			})
			.catch(function (failure) {
				if (token !== routeToken || failure.status === 401) return;
				hookResult("error", "Could not delete it (" + (failure.status || "network") + "): " + failure.message + ".");
			})
			.finally(function () {
				if (token === routeToken)
					loadHooks(token).then(function () {
						$("hook-result").focus();
					});
			});
	}

	// ── Wiring ────────────────────────────────────────────────────────────

	function start() {
		$("signin-form").addEventListener("submit", signIn);
		$("sign-out").addEventListener("click", function () {
			signOut("You are signed out.");
		});
		Array.prototype.forEach.call(document.querySelectorAll("#jobs-tabs [role=tab]"), function (tab) {
			tab.addEventListener("click", function () {
				selectTab(tab);
			});
		});
		$("jobs-tabs").addEventListener("keydown", onTabKey);
		$("jobs-filter").addEventListener("change", function () {
			lists[listKind].filter = $("jobs-filter").value;
			renderJobs();
		});
		$("jobs-refresh").addEventListener("click", function () {
			loadJobs(true);
		});
		$("jobs-search").addEventListener("submit", submitSearch);
		$("jobs-search-clear").addEventListener("click", function () {
			applySearch(null);
			$("jobs-search-input").focus();
		});
		$("ops-window").addEventListener("change", function () {
			ops.window = $("ops-window").value;
			loadStats(routeToken);
		});
		$("ops-refresh").addEventListener("click", function () {
			loadStats(routeToken);
			loadHooks(routeToken);
		});
		$("ops-recover-form").addEventListener("submit", recoverFailed);
		$("hook-form").addEventListener("submit", subscribeHook);
		$("jobs-more").addEventListener("click", function () {
			loadJobs(false);
		});
		$("job-refresh").addEventListener("click", function () {
			job.polls = 0;
			stopPolling();
			refreshJob(routeToken);
		});
		$("job-cancel").addEventListener("click", askCancel);
		$("cancel-yes").addEventListener("click", confirmCancel);
		$("cancel-no").addEventListener("click", function () {
			closeConfirm(true);
		});
		$("cancel-confirm").addEventListener("keydown", function (event) {
			if (event.key === "Escape") closeConfirm(true);
		});
		$("job-redeliver").addEventListener("click", redeliver);
		$("job-curl-key").addEventListener("change", renderCurl);
		$("job-copy-curl").addEventListener("click", function () {
			copyText(curlCommand(job.kind, /** @type {string} */ (job.id), $("job-curl-key").checked), "The curl command");
		});
		$("job-copy-id").addEventListener("click", function () {
			copyText(/** @type {string} */ (job.id), "The " + KINDS[job.kind].noun + " id");
		});
		$("new-form").addEventListener("submit", submitJob);
		$("f-surface").addEventListener("change", applySurface);
		$("f-metadata").addEventListener("blur", checkMetadataField);
		// Once flagged, the field is re-checked as it is edited: the error clears before the user reaches for
		// Submit, not on the blur of that click (which would shift the button away from under the pointer).
		$("f-metadata").addEventListener("input", function () {
			if ($("f-metadata").getAttribute("aria-invalid") === "true") checkMetadataField();
		});
		window.addEventListener("hashchange", render);
		setListKind(listKind);
		applySurface();
		render();
	}

	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
	else start();
})();
