/** The Hono environment every router shares: the Worker's bindings and the authenticated tenant. */
export interface AppEnv {
	Bindings: Env;
	Variables: { tenant: string };
}
