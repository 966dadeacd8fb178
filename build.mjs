// Bundles the CLI into dist/secretfile.cjs with esbuild, compiles dist/hygiene.node (build-native.mjs), then makes the
// bundle's V8 code cache dist/secretfile.cjs.cache by running it through the common commands in a child Node (see
// cache-training.mjs), so start-up skips compiling.
// Rules: one file, each command's code and the cryptography evaluated only when used (esbuild turns `await import()`
// into a lazy initializer); the cache holds compiled code of this bundle only, made from throwaway data, never a secret.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildNative } from "./build-native.mjs";

// Modules loaded on first use instead of when the bundle starts, as `importer → module`: each gets an object that
// requires the real module when a property is first read. commander needs node:child_process only to run executable
// subcommands (secretfile has none); proper-lockfile (with graceful-fs and signal-exit) only for a write, not a read.
// Each costs every start a few milliseconds otherwise.
const LOAD_ON_USE = [
  { importer: /[\\/]node_modules[\\/]commander[\\/]/, module: "node:child_process" },
  { importer: /[\\/]src[\\/]store[\\/]lock\.ts$/, module: "proper-lockfile" },
];
const loadOnUse = {
  name: "load-on-use",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) =>
      LOAD_ON_USE.some((l) => l.module === args.path && l.importer.test(args.importer)) ? { path: args.path, namespace: "load-on-use" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "load-on-use" }, (args) => ({
      // esbuild's interop asks for __esModule when the module is imported: answered without loading it.
      contents: `let real; module.exports = new Proxy({}, { get: (_, key) => key === "__esModule" ? undefined : (real ??= require(${JSON.stringify(args.path)}))[key] });`,
      loader: "js",
      resolveDir: process.cwd(),
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
  plugins: [loadOnUse],
  legalComments: "none",
  // Whitespace and comments out, every character ASCII: bin/secretfile reads the bundle as latin1, the fastest way
  // to a JavaScript string, which is the same string only for ASCII (checked below).
  minifyWhitespace: true,
  charset: "ascii",
  logLevel: "warning",
});

if (readFileSync(new URL("./dist/secretfile.cjs", import.meta.url)).some((byte) => byte > 0x7f)) {
  throw new Error("dist/secretfile.cjs is not all ASCII, but bin/secretfile reads it as latin1");
}

buildNative();

// A child Node, so that the cache is made under the same V8 flags a plain `node` start has.
const training = fileURLToPath(new URL("./cache-training.mjs", import.meta.url));
const env = { ...process.env };
delete env.NODE_OPTIONS;
const made = spawnSync(process.execPath, [training], { env, input: "throwaway-training-value\n", stdio: ["pipe", "ignore", "pipe"], encoding: "utf8", timeout: 120_000 });
if (made.status !== 0) {
  // The CLI works without a cache, only slower to start: say so and go on.
  process.stderr.write(`build: no code cache was made (${made.status ?? made.signal}): ${made.stderr.trim().slice(-800)}\n`);
}
