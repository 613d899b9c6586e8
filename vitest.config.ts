/**
 * Two projects:
 * - `workers`: unit and integration tests inside workerd (the real runtime), through
 *   @cloudflare/vitest-plugin. A global setup starts the Perplexity emulator and a
 *   webhook inbox on loopback for them.
 * - `node`: the Node-side tools (emulator, inbox) and the end-to-end tests that start
 *   the real stack (wrangler dev + emulator + inbox) and drive it over HTTP.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		projects: [
			{
				test: {
					name: "node",
					environment: "node",
					include: ["test/node/**/*.test.ts"],
					testTimeout: 30_000,
				},
			},
		],
	},
});
