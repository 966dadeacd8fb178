// The import rule of docs/architecture.md, checked on every file of src/: a module imports only from the layers below
// its own (src/errors.ts is below them all); nothing outside src/cli/ imports commander.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";

const SRC = path.join(ROOT, "src");

/**
 * Each folder of src/ and its place, lowest first. Within the second layer the order is store < policy < protocol <
 * audit < render (the record format reads the policy's names, the wire types the store's); the folders of one rank never import
 * one another.
 */
const RANK: Record<string, number> = {
  errors: 0,
  system: 1,
  store: 2,
  policy: 2.1,
  protocol: 2.2,
  audit: 2.3,
  render: 2.4,
  agent: 3,
  client: 3,
  exec: 3,
  setup: 4,
  doctor: 4,
  cli: 5,
};

/** Every .ts file below `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The module (first folder below src/, or `errors` for src/errors.ts) that `file` belongs to. */
const moduleOf = (file: string) =>
  path
    .relative(SRC, file)
    .split(path.sep)[0]!
    .replace(/\.[jt]s$/, "");

/** Every module specifier `text` imports or re-exports, static, type-only or dynamic. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms)) found.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

/** Returns the imports in `text`, the text of `file` in src/, that break the rule, as `file → what (why)`. */
function breaches(file: string, text: string): string[] {
  const bad: string[] = [];
  const from = moduleOf(file);
  const rel = path.relative(ROOT, file);
  for (const spec of specifiers(text)) {
    if (spec === "commander" && from !== "cli") bad.push(`${rel} → commander (only src/cli/ uses commander)`);
    if (!spec.startsWith(".")) continue;
    const to = moduleOf(path.resolve(path.dirname(file), spec));
    if (to === from) continue;
    if (RANK[from] === undefined || RANK[to] === undefined)
      bad.push(`${rel} → ${spec} (a folder docs/architecture.md does not place)`);
    else if (RANK[to] >= RANK[from]) bad.push(`${rel} → ${spec} (${from} may not import ${to})`);
  }
  return bad;
}

describe("the layers of src/ (docs/architecture.md)", () => {
  const files = sources(SRC);

  it("every folder of src/ has its place", () => {
    expect([...new Set(files.map(moduleOf))].filter((m) => RANK[m] === undefined)).toEqual([]);
  });

  it("no module imports one of its own layer or above, and only the CLI imports commander", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((f) => breaches(f, readFileSync(f, "utf8")))).toEqual([]);
  });

  it("the check sees a breach of each kind", () => {
    const probe = (module: string, text: string) => breaches(path.join(SRC, module, "probe.ts"), text);
    expect(probe("store", 'import { x } from "../agent/agent.js";')).toHaveLength(1);
    expect(probe("system", 'import type { Y } from "../client/backend.js";')).toHaveLength(1);
    expect(probe("agent", 'const m = await import("../cli/main.js");')).toHaveLength(1);
    expect(probe("exec", 'export { z } from "../client/agent.js";')).toHaveLength(1);
    expect(probe("audit", 'import {\n  a,\n} from "../agent/audit.js";')).toHaveLength(1);
    expect(probe("policy", 'import { Command } from "commander";')).toHaveLength(1);
    expect(probe("cli", 'import { Command } from "commander";\nimport { s } from "../store/store.js";')).toEqual([]);
  });
});
