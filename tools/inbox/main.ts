/**
 * `node tools/inbox/main.ts`: run the webhook inbox on its own and print each event.
 *
 *   --port N        port (default: $INBOX_PORT or 8789)
 *   --secret whsec_ verify with this secret (repeatable); by default every tenant's
 *                   secret derived from `.dev.vars` (WEBHOOK_SIGNING_KEY, API_KEYS)
 *   --quiet         record without printing
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { tenantSecret } from "../../src/delivery/sign.ts";
import { localVars, parseApiKeys } from "../dev-vars.ts";
import { startInbox } from "./server.ts";

const root = join(import.meta.dirname, "..", "..");

const { values } = parseArgs({
	options: {
		port: { type: "string" },
		host: { type: "string", default: "127.0.0.1" },
		secret: { type: "string", multiple: true },
		quiet: { type: "boolean", default: false },
	},
});

const port = Number(values.port ?? process.env.INBOX_PORT ?? 8789);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
	console.error(`inbox: not a port: ${values.port ?? process.env.INBOX_PORT}`);
	process.exit(2);
}

/** Every tenant's secret, so that the inbox verifies whichever dev tenant sent the event. */
async function derivedSecrets(): Promise<string[]> {
	const vars = localVars(root);
	if (!vars.WEBHOOK_SIGNING_KEY) return [];
	const tenants = new Set(parseApiKeys(vars.API_KEYS).map((p) => p.tenant));
	if (tenants.size === 0) tenants.add("dev");
	return Promise.all([...tenants].map((tenant) => tenantSecret(vars.WEBHOOK_SIGNING_KEY as string, tenant)));
}

const secrets = values.secret ?? (await derivedSecrets());
if (secrets.length === 0) {
	console.warn(
		"inbox: no secret to verify with (pass --secret, or create .dev.vars with npm start): signatures unchecked",
	);
}

try {
	const running = await startInbox({ port, host: values.host, secrets, print: !values.quiet });
	console.log(`inbox ready on ${running.url}`);
	console.log(`  callbacks: ${running.url}/hooks/<name>   events: ${running.url}/__inbox/events`);
	const stop = () => {
		void running.close().then(() => process.exit(0));
		// A second Ctrl-C, or a close that hangs, ends it anyway.
		setTimeout(() => process.exit(0), 2000).unref();
	};
	process.once("SIGINT", stop);
	process.once("SIGTERM", stop);
} catch (error) {
	const code = (error as NodeJS.ErrnoException).code;
	console.error(code === "EADDRINUSE" ? `inbox: port ${port} is in use (try --port)` : `inbox: ${String(error)}`);
	process.exit(1);
}
