// Bundles the CLI into dist/ with esbuild: one entry, code split so each mode loads only what it uses.
import { build } from "esbuild";
import { buildNative } from "./build-native.mjs";
import { readFileSync, rmSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
rmSync(new URL("./dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { secretfile: "src/cli/entry.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["koffi"],
  define: { SECRETFILE_VERSION: JSON.stringify(version) },
  banner: { js: 'import { createRequire as __sfCreateRequire } from "node:module"; const require = __sfCreateRequire(import.meta.url);' },
  chunkNames: "chunks/[name]-[hash]",
  legalComments: "none",
  logLevel: "warning",
});
buildNative();
