/** The relay's version, sent as `user-agent: sonar-relay/<version>` on every webhook. Kept equal to package.json's. */
export const VERSION = "0.1.0";
export const USER_AGENT = `sonar-relay/${VERSION}`;
