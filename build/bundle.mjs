// Bundles the CLI into dist/secretfile.cjs (and typage into dist/age.cjs) with esbuild, compiles dist/native.node
// (build/native.mjs), then makes the bundle's V8 code caches by running it through the common commands in child Nodes
// (build/cache-training.mjs): dist/secretfile.cjs.cache for every command, and a smaller one for each of the hot commands
// (dist/secretfile.cjs.get.cache, .exec.cache), so start-up skips compiling.
// Rules: one file, each command's code and the cryptography evaluated only when used (esbuild turns `await import()`
// into a lazy initializer); the cache holds compiled code of this bundle only, made from throwaway data, never a secret.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildNative } from "./native.mjs";

// Modules loaded on first use instead of when the bundle starts, as `importer → module`: each gets an object that
// requires the real module when a property is first read (so the importer takes its default export, not names).
// commander needs node:child_process only to run executable subcommands (secretfile has none); proper-lockfile (with
// graceful-fs and signal-exit) only for a write, not a read; the agent client node:net, and `exec` node:child_process,
// node:tty and the streams, only when the build has no native addon (src/system/native.ts); dotenv only when a .env
// file is read (`import`, `exec --env-file`); node:crypto only for a write (below). Each costs every start a few
// milliseconds otherwise. node:os (errno names for a failure, the home folder when HOME is unset, signal numbers off
// Linux or without the addon) and node:module (the inspector check's fallback) cost a start about 0.15 ms each
// (docs/benchmarks.md).
const LOAD_ON_USE = [
  { importer: /[\\/]node_modules[\\/]commander[\\/]/, module: "node:child_process" },
  {
    importer: /[\\/]src[\\/](system[\\/]native|client[\\/]backend|exec[\\/]run|exec[\\/]signals)\.ts$/,
    module: "node:os",
  },
  { importer: /[\\/]src[\\/]system[\\/]inspector\.ts$/, module: "node:module" },
  // node:crypto on a personal read: the primitives come from the addon (src/store/primitives.ts), and the store's hash
  // from store.seen when the file is the one recorded there (src/store/generation.ts), so node:crypto is
  // loaded only for a write's random bytes and sealing, or where the addon has no OpenSSL to call.
  {
    importer: /[\\/]src[\\/]store[\\/](primitives|x25519|payload|atomic|files|lock-owner|generation)\.ts$/,
    module: "node:crypto",
  },
  { importer: /[\\/]src[\\/]store[\\/]lock\.ts$/, module: "proper-lockfile" },
  { importer: /[\\/]src[\\/]store[\\/]dotenv\.ts$/, module: "dotenv" },
  { importer: /[\\/]src[\\/]client[\\/]agent\.ts$/, module: "node:net" },
  ...["node:child_process", "node:stream/promises", "node:tty"].map((module) => ({
    importer: /[\\/]src[\\/]exec[\\/]run\.ts$/,
    module,
  })),
];
const loadOnUse = {
  name: "load-on-use",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) =>
      LOAD_ON_USE.some((l) => l.module === args.path && l.importer.test(args.importer))
        ? { path: args.path, namespace: "load-on-use" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "load-on-use" }, (args) => ({
      // esbuild's interop asks for __esModule when the module is imported: answered without loading it.
      contents: `let real; module.exports = new Proxy({}, { get: (_, key) => key === "__esModule" ? undefined : (real ??= require(${JSON.stringify(args.path)}))[key] });`,
      loader: "js",
      resolveDir: process.cwd(),
    }));
  },
};

// typage (age-encryption, its @noble curves and post-quantum code: much of it, bench/limits.md) goes into its own file,
// dist/age.cjs, required only for a post-quantum key or store, an armored file or a store the native path refuses:
// every start reads, and the code cache holds, only the rest. One library, self-contained, so nothing is shared
// across the two files.
// The launcher loads each such file with its code cache when it is one of its PARTS: checked here, so the two agree.
const launcher = createRequire(import.meta.url)("../bin/secretfile");
const SEPARATE = { "age-encryption": "./age.cjs" };
for (const file of Object.values(SEPARATE)) {
  if (!launcher.PARTS.includes(file))
    throw new Error(`${file} is not one of bin/secretfile's PARTS, which would load it without its code cache`);
}
const separate = {
  name: "separate",
  setup(b) {
    // A small module in the bundle stands for the library and requires its file when first imported (an external
    // `import()` would stay a real dynamic import, which the launcher's vm.Script cannot run).
    b.onResolve({ filter: /.*/ }, (args) =>
      Object.hasOwn(SEPARATE, args.path)
        ? { path: args.path, namespace: "separate" }
        : args.namespace === "separate"
          ? { path: args.path, external: true }
          : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "separate" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(SEPARATE[args.path])});`,
      loader: "js",
    }));
  },
};

const BUILD_ID = randomBytes(8).toString("hex");
/** The bundles, each from its entry: the launcher's BUNDLES name the same files. */
const BUNDLES = [
  { entry: "src/cli/entry.ts", file: launcher.BUNDLES.full },
  ...launcher.HOT_BUNDLES.map(({ word, mode, file }) => ({ entry: "src/cli/hot.ts", file, hot: word, mode })),
];
// The version is package.json's, unless SECRETFILE_BUILD_VERSION says otherwise (build/package.mjs, for a test's
// upgrade package); the commit is the checkout's (or SECRETFILE_BUILD_COMMIT's, for a copy), "unknown" outside git.
const version =
  process.env.SECRETFILE_BUILD_VERSION ||
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], {
  cwd: fileURLToPath(new URL("..", import.meta.url)),
  encoding: "utf8",
});
const commit =
  process.env.SECRETFILE_BUILD_COMMIT ||
  (head.status === 0 && /^[0-9a-f]+$/.test(head.stdout.trim()) ? head.stdout.trim() : "unknown");
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
// The full CLI, and the small entry for the hot commands (src/cli/hot.ts: no commander, no command table) once for
// each, holding only that command's code, the same way.
for (const { entry, file, hot, mode } of BUNDLES) {
  await build({
    entryPoints: [entry],
    outfile: `dist/${file}`,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    define: {
      SECRETFILE_VERSION: JSON.stringify(version),
      SECRETFILE_COMMIT: JSON.stringify(commit),
      // The bundle's own file (a CommonJS script run by bin/secretfile): its URL made only when asked for, since
      // pathToFileURL costs a start about 0.3 ms.
      "import.meta.url": "__sfImportMeta.url",
      "import.meta.dirname": "__dirname",
      "import.meta.filename": "__filename",
      ...(hot === undefined ? {} : { SECRETFILE_HOT: JSON.stringify(hot) }),
      ...(hot === undefined ? {} : { SECRETFILE_AGENT_ONLY: JSON.stringify(mode === "agent") }),
    },
    // The first line is the build's id: bin/secretfile uses a code cache only when its first line is the same.
    banner: {
      js: `// secretfile ${version} build ${BUILD_ID}\n"use strict";\nconst __sfImportMeta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };`,
    },
    plugins: [loadOnUse, separate],
    legalComments: "none",
    // Whitespace and comments out, every character ASCII: bin/secretfile reads the bundle as latin1, the fastest way
    // to a JavaScript string, which is the same string only for ASCII (checked below).
    minify: true,
    keepNames: true,
    charset: "ascii",
    metafile: process.env.SECRETFILE_BUILD_META === "1",
    logLevel: "warning",
  }).then((r) => r.metafile && writeFileSync(`dist/${file}.meta.json`, JSON.stringify(r.metafile)));
}

for (const [name, file] of Object.entries(SEPARATE)) {
  // The same first line as the bundle's: the launcher uses a code cache only when its first line is the file's.
  await build({
    entryPoints: [name],
    outfile: `dist/${file}`,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    legalComments: "none",
    minifyWhitespace: true,
    charset: "ascii",
    banner: { js: `// secretfile ${version} build ${BUILD_ID}` },
    logLevel: "warning",
  });
}
for (const file of [...BUNDLES.map((b) => b.file), ...Object.values(SEPARATE)]) {
  if (readFileSync(new URL(`../dist/${file}`, import.meta.url)).some((byte) => byte > 0x7f)) {
    throw new Error(`dist/${file} is not all ASCII, but bin/secretfile reads it as latin1`);
  }
}

buildNative();

// Child Nodes, so that each cache is made under the same V8 flags a plain `node` start has, and holds only what its
// commands compiled: first the full CLI's cache for every command (which also makes the throwaway store), then the
// small entry's, one per bundle of it (the launcher's HOT_BUNDLES).
const training = fileURLToPath(new URL("./cache-training.mjs", import.meta.url));
const env = { ...process.env };
delete env.NODE_OPTIONS;
const tmp = mkdtempSync(path.join(os.tmpdir(), "secretfile-cache-"));
try {
  for (const set of ["all", ...launcher.HOT_BUNDLES.map((b) => b.file)]) {
    const made = spawnSync(process.execPath, [training, set, tmp], {
      env,
      input: "throwaway-training-value\n",
      stdio: ["pipe", "ignore", "pipe"],
      encoding: "utf8",
      timeout: 120_000,
    });
    if (made.status !== 0) {
      // The CLI works without a cache, only slower to start: say so and go on.
      process.stderr.write(
        `build: no code cache was made for ${set} (${made.status ?? made.signal}): ${made.stderr.trim().slice(-800)}\n`,
      );
      if (set === "all") break;
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
