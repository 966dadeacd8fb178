// The test world made once per run (vitest's globalSetup), not once per file: the build when the sources are newer
// than dist/, and one world-readable copy of the built CLI that every system-mode test file runs (helpers/system.ts).
// Rules: nothing outside a temporary folder is written but dist/; the copy is removed when the run ends.

import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { NODE, ROOT } from "./cli.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The folder of the shared, world-readable copy of the built CLI (dist/, bin/, package.json). */
    sharedApp: string;
  }
}

/** The folders whose files the build reads, and the file it makes last. */
const SOURCES = ["src", "bin", "build", "native", "package.json"];
const BUILT = path.join(ROOT, "dist", "secretfile.cjs");

/** Returns the newest modification time (ms) of `file` or of any file below it. */
function newest(file: string): number {
  const st = statSync(file);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

/** Builds dist/ (npm run build) unless it is newer than every source. Throws with the build's output. */
function buildIfStale(): void {
  const sources = Math.max(
    ...SOURCES.map((s) => path.join(ROOT, s))
      .filter(existsSync)
      .map(newest),
  );
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= sources) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, "build", "bundle.mjs")], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the build failed:\n${r.stdout}${r.stderr}`);
}

/** Copies the built package into a new world-readable folder and checks that the copy runs; returns its path. */
export function copyApp(app = path.join(mkdtempSync(path.join(os.tmpdir(), "secretfile-app-")), "app")): string {
  const root = path.dirname(app);
  mkdirSync(app, { recursive: true });
  cpSync(path.join(ROOT, "dist"), path.join(app, "dist"), { recursive: true });
  cpSync(path.join(ROOT, "bin"), path.join(app, "bin"), { recursive: true });
  cpSync(path.join(ROOT, "package.json"), path.join(app, "package.json"));
  chmodSync(root, 0o755);
  const r = spawnSync("chmod", ["-R", "a+rX", app]);
  if (r.status !== 0) throw new Error(`chmod -R a+rX ${app} failed`);
  const probe = spawnSync(NODE, [path.join(app, "bin", "secretfile"), "--version"], { encoding: "utf8" });
  if (probe.status !== 0) throw new Error(`the copied CLI does not run: ${probe.stderr}`);
  return app;
}

/** vitest's globalSetup: builds if needed, copies the CLI once, and returns the teardown that removes the copy. */
export default function setup(project: TestProject): () => void {
  buildIfStale();
  const app = copyApp();
  project.provide("sharedApp", app);
  return () => rmSync(path.dirname(app), { recursive: true, force: true });
}
