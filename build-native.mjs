// Compiles native/hygiene.c into dist/hygiene.node: the CLI's non-dumpable switch (see src/cli/hygiene.ts).
// Rules: the Node-API headers come from koffi's vendored copy (a locked dependency), so nothing is fetched; without a C
// compiler the build goes on and says so, and the CLI falls back to koffi (the same protection, ~30 ms slower a start).

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Builds dist/hygiene.node; returns whether it was made. */
export function buildNative() {
  const headers = [root("./node_modules/koffi/vendor/node-api-headers/include"), "/usr/include/node"].find((d) => existsSync(`${d}/node_api.h`));
  const args = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", ...(headers ? ["-I", headers] : []), "-o", root("./dist/hygiene.node"), root("./native/hygiene.c")];
  const r = spawnSync("cc", args, { encoding: "utf8" });
  if (r.status === 0) return true;
  const why = r.error ? "no C compiler (cc) found" : r.stderr.trim().split("\n").slice(-3).join(" ");
  process.stderr.write(`build: dist/hygiene.node not built (${why}); the CLI will load koffi to make itself non-dumpable, ~30 ms slower to start\n`);
  return false;
}
