// Compiles native/*.c into dist/native.node: the CLI's non-dumpable switch and its blocking exchange with the agent
// (see native/addon.c, src/system/native.ts).
// Rules: the Node-API headers come from koffi's vendored copy (a locked dependency), so nothing is fetched; without a C
// compiler the build goes on and says so, and the CLI does the same through koffi and node:net (slower to start).

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = (p) => fileURLToPath(new URL(`.${p}`, import.meta.url)); // paths below are from the project root

/** Builds dist/native.node; returns whether it was made. */
export function buildNative() {
  const headers = [root("./node_modules/koffi/vendor/node-api-headers/include"), "/usr/include/node"].find((d) => existsSync(`${d}/node_api.h`));
  const sources = readdirSync(root("./native")).filter((f) => f.endsWith(".c")).map((f) => root(`./native/${f}`));
  const args = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", ...(headers ? ["-I", headers] : []), "-o", root("./dist/native.node"), ...sources];
  const r = spawnSync("cc", args, { encoding: "utf8" });
  if (r.status === 0) return true;
  const why = r.error ? "no C compiler (cc) found" : r.stderr.trim().split("\n").slice(-3).join(" ");
  process.stderr.write(`build: dist/native.node not built (${why}); the CLI will load koffi and node:net instead, ~40 ms slower to start\n`);
  return false;
}
