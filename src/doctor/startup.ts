// What in the environment makes every secretfile start slower (a job's key costs a Node start each time).
// Rules: a warning, never a failure (the commands still work); only what was measured (bench/limits.md), with the fix.

import { warn, type Finding } from "./finding.js";

/**
 * Returns a warning when `env` sets NODE_EXTRA_CA_CERTS: Node reads and parses that file at every start of every Node
 * program (about 55 ms here with the system's bundle, against about 25 ms for `node -e 0`), and secretfile makes no
 * TLS connection. An empty value costs nothing. Never throws.
 */
export function checkStartup(env: NodeJS.ProcessEnv): Finding[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === "") return [];
  return [
    warn(
      `NODE_EXTRA_CA_CERTS is set (${file}): Node loads those certificates at every start, which made each secretfile command about 55 ms slower where measured (bench/limits.md); secretfile makes no TLS connection`,
      "leave it out of the environment of the jobs that run secretfile: set NODE_EXTRA_CA_CERTS= (empty) at the top of their crontab, or remove it from /etc/environment if it is set there for everyone",
    ),
  ];
}
