// Bundles the CLI into dist/secretfile.cjs with esbuild, then makes its V8 code cache dist/secretfile.cjs.cache by
// running the bundle through the common commands in a child Node (see cache-training.mjs), so start-up skips compiling.
// Rules: one file, each command's code and the cryptography evaluated only when used (esbuild turns `await import()`
// into a lazy initializer); the cache holds compiled code of this bundle only, made from throwaway data, never a secret.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// commander requires node:child_process at load, only to run executable subcommands (secretfile has none); loading it
// costs every command a few milliseconds. Commander gets an object that loads the real module on first use instead.
const lazyChildProcessForCommander = {
  name: "lazy-child-process-for-commander",
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: "lazy-child-process", namespace: "secretfile-shim" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "secretfile-shim" }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_, key) => require("node:child_process")[key] });',
      loader: "js",
    }));
  },
};

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
rmSync(new URL("./dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ["src/cli/entry.ts"],
  outfile: "dist/secretfile.cjs",
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["koffi"],
  define: { SECRETFILE_VERSION: JSON.stringify(version), "import.meta.url": "__sfImportMetaUrl" },
  // The first line is the build's id: bin/secretfile uses a code cache only when its first line is the same.
  banner: {
    js: `// secretfile ${version} build ${randomBytes(8).toString("hex")}\n"use strict";\nconst __sfImportMetaUrl = require("node:url").pathToFileURL(__filename).href;`,
  },
  plugins: [lazyChildProcessForCommander],
  legalComments: "none",
  logLevel: "warning",
});

// A child Node, so that the cache is made under the same V8 flags a plain `node` start has.
const training = fileURLToPath(new URL("./cache-training.mjs", import.meta.url));
const env = { ...process.env };
delete env.NODE_OPTIONS;
const made = spawnSync(process.execPath, [training], { env, input: "throwaway-training-value\n", stdio: ["pipe", "ignore", "pipe"], encoding: "utf8", timeout: 120_000 });
if (made.status !== 0) {
  // The CLI works without a cache, only slower to start: say so and go on.
  process.stderr.write(`build: no code cache was made (${made.status ?? made.signal}): ${made.stderr.trim().slice(-800)}\n`);
}
