// Compiles native/*.c into dist/native.node, secretfile's one way into C (docs/native.md): SO_PEERCRED and the other
// socket calls, the user database, the process hygiene, and the CLI's blocking exchange with the agent and job start.
// Rules: the Node-API headers come from the node-api-headers package (a locked devDependency), so nothing is fetched;
// without a C compiler the build goes on and says so: the CLI then runs on plain Node and the agent refuses to start.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = (p) => fileURLToPath(new URL(`.${p}`, import.meta.url)); // paths below are from the project root

/**
 * Returns the compiler's arguments that build the addon into `out` (`flags` replacing -O2: the sanitizer test's).
 * Throws when no Node-API headers are found.
 */
export function nativeArgs(out, flags = ["-O2"]) {
  const headers = [root("./node_modules/node-api-headers/include"), "/usr/include/node"].find((d) =>
    existsSync(`${d}/node_api.h`),
  );
  if (headers === undefined) throw new Error("no Node-API headers (npm install installs node-api-headers)");
  const sources = readdirSync(root("./native"))
    .filter((f) => f.endsWith(".c"))
    .map((f) => root(`./native/${f}`));
  return ["-shared", "-fPIC", ...flags, "-Wall", "-Wextra", "-Werror", "-I", headers, "-o", out, ...sources];
}

/** Builds dist/native.node; returns whether it was made. */
export function buildNative() {
  let r;
  try {
    r = spawnSync("cc", nativeArgs(root("./dist/native.node")), { encoding: "utf8" });
  } catch (err) {
    r = { status: 1, error: undefined, stderr: err.message };
  }
  if (r.status === 0) return true;
  const why = r.error ? "no C compiler (cc) found" : r.stderr.trim().split("\n").slice(-3).join(" ");
  process.stderr.write(
    `build: dist/native.node not built (${why}); the CLI will run on plain Node, ~40 ms slower to start, and the agent cannot run\n`,
  );
  return false;
}
