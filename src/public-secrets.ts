/**
 * The example secrets in `.dev.vars.example` are public: anyone can read them in this repository. They
 * are what `npm start` runs with, and what the Deploy to Cloudflare button pre-fills as production
 * secrets. A relay served on a public host refuses them: an example API key authenticates no one, and
 * an example signing or Slack secret counts as unset (so signed pushes and the Slack command answer
 * 503 until real ones are set). On a loopback host (`wrangler dev`) they keep working.
 */

/** What marks a value as the public example: every example secret ends in `change-me`. */
const EXAMPLE = /change-me/;

/** One stripped copy per env object: bindings do not change while an isolate lives. */
const stripped = new WeakMap<object, Record<string, unknown>>();

/** The secrets the example file sets, and how each is read. */
const SECRETS = ["API_KEYS", "WEBHOOK_SIGNING_KEY", "WEBHOOK_SIGNING_KEY_NEXT", "SLACK_SIGNING_SECRET"] as const;

/**
 * Whether `hostname` is this machine: `localhost` (and `*.localhost`), 127.0.0.0/8 or `::1`.
 *
 * @example
 * isLoopbackHost("127.0.0.1") // true
 * isLoopbackHost("sonar-relay.acme.workers.dev") // false
 */
export function isLoopbackHost(hostname: string): boolean {
	const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
	return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * `env` with the public example secrets taken out, and the names of the settings that held one; `env`
 * itself (not a copy) when none does, so that settings parsed once per env object stay cached.
 *
 * @example
 * withoutExampleSecrets({ API_KEYS: "dev:dev-key-change-me,acme:k1" }).env.API_KEYS // "acme:k1"
 */
export function withoutExampleSecrets<E extends object>(env: E): { env: E; refused: string[] } {
	const values = env as Record<string, unknown>;
	const refused = SECRETS.filter((name) => typeof values[name] === "string" && EXAMPLE.test(values[name] as string));
	if (refused.length === 0) return { env, refused };
	let copy = stripped.get(env);
	if (!copy) {
		copy = { ...values };
		for (const name of refused) {
			const value = values[name] as string;
			copy[name] =
				name === "API_KEYS"
					? value
							.split(",")
							.filter((pair) => !EXAMPLE.test(pair))
							.join(",")
					: "";
		}
		stripped.set(env, copy);
	}
	return { env: copy as E, refused };
}
