/**
 * Starts, on loopback, what the workerd tests talk to: the Perplexity emulator
 * (the upstream) and a webhook inbox (the callback receiver). Their URLs reach
 * the relay's vars and the tests through `provide`.
 */
import type { TestProject } from "vitest/node";
import { startEmulator } from "../../tools/emulator/server.ts";
import { startInbox } from "../../tools/inbox/server.ts";
import { TEST_UPSTREAM_KEY } from "./constants.ts";

declare module "vitest" {
	export interface ProvidedContext {
		emulatorUrl: string;
		inboxUrl: string;
	}
}

export default async function setup(project: TestProject) {
	const emulator = await startEmulator({ port: 0, host: "127.0.0.1", quiet: true, apiKey: TEST_UPSTREAM_KEY });
	const inbox = await startInbox({ port: 0, host: "127.0.0.1", print: false });
	project.provide("emulatorUrl", emulator.url);
	project.provide("inboxUrl", inbox.url);
	return async () => {
		await inbox.close();
		await emulator.close();
	};
}
