// The two readings of a .env file, Node's dotenv and python-dotenv, and where they part: a variable they read
// differently is named with its line and how the readings differ. Rules: never a value, nor a name that is not
// environment-safe (it may be a pasted value), in what is returned; equal values only are agreement.

import { UsageError } from "../errors.js";
import { isValidName } from "./names.js";
import type { PythonVariable } from "./python-dotenv.js";

/** How a .env file is read: as Node's dotenv (`node`) or as python-dotenv's dotenv_values() (`python`). */
export type Dialect = "node" | "python";

/** The dialects, for the option's check and its message. */
export const DIALECTS: readonly Dialect[] = ["node", "python"];

/** Returns the dialect `--dialect` names, or undefined when none is given. Throws UsageError (exit 2) for another word. */
export function dialectOf(option: string | undefined): Dialect | undefined {
  if (option === undefined || (DIALECTS as readonly string[]).includes(option)) return option as Dialect | undefined;
  throw new UsageError(`--dialect needs ${DIALECTS.join(" or ")}, got ${JSON.stringify(option.slice(0, 40))}`, {
    hint: DIALECT_HINT,
  });
}

/** Says in words how a file is read, for --dry-run. */
export function describeDialect(dialect: Dialect | undefined): string {
  if (dialect === "python") return "as python-dotenv reads it (--dialect python)";
  if (dialect === "node") return "as Node's dotenv reads it (--dialect node)";
  return "as python-dotenv reads it, checked against Node's dotenv (no --dialect: a variable they read differently is refused)";
}

/** The hint of a file the two readings part on. */
export const DIALECT_HINT =
  "say how the file is read: --dialect python (as python-dotenv's load_dotenv() and dotenv_values() read it) or --dialect node (as Node's dotenv reads it); docs/import.md lists where they differ";

/** A variable the two readings part on: the line (if found), how they differ (never a value), and the hint. */
export interface Parting {
  line: number | undefined;
  why: string;
  hint: string;
}

/**
 * Returns each variable Node's dotenv (`node`) and python-dotenv (`python`) read differently, in no set order: set by
 * one and not the other, or set to different values; a name that is not environment-safe is left to the refusal
 * every reading makes of it. `nodeLine` finds the line of a name Node's dotenv sets.
 */
export function partings(
  node: Readonly<Record<string, string>>,
  python: ReadonlyMap<string, PythonVariable>,
  nodeLine: (name: string) => number | undefined,
): Parting[] {
  const out: Parting[] = [];
  const names = new Set([...Object.keys(node), ...python.keys()]);
  for (const name of names) {
    const n = Object.hasOwn(node, name) ? node[name] : undefined;
    const p = python.get(name);
    const pv = p?.value ?? undefined; // a name without "=": load_dotenv sets nothing
    if (n === pv || !isValidName(name)) continue;
    out.push({
      line: p?.line ?? nodeLine(name),
      why: `Node's dotenv and python-dotenv read ${name} differently: ${how(n, p)}`,
      hint: DIALECT_HINT,
    });
  }
  return out;
}

/** Says how Node's value `n` and python-dotenv's variable `p` differ, from how the value was written, never from it. */
function how(n: string | undefined, p: PythonVariable | undefined): string {
  if (p?.value == null) return "Node's dotenv sets it, python-dotenv does not read that line (or reads no value)";
  if (n === undefined)
    return "python-dotenv sets it, Node's dotenv does not read that line (a quoted name, or a form it skips)";
  const raw = p.raw!;
  const expands = raw !== p.value ? "python-dotenv expands ${…} in it (from earlier lines or your environment)" : "";
  if (raw === n) return `${expands}, Node's dotenv keeps \${…} as written`;
  const also = expands === "" ? "" : `; and ${expands}`;
  if (p.quote === "" && raw.startsWith("`"))
    return `Node's dotenv reads \`…\` as quotes, python-dotenv keeps the backticks${also}`;
  if (p.quote === "" && raw.includes("#"))
    return `Node's dotenv ends an unquoted value at '#', python-dotenv only at a blank then '#'${also}`;
  if (p.quote !== "")
    return `python-dotenv unescapes \\" \\' \\\\ \\t and the like inside quotes, Node's dotenv keeps each backslash but \\n and \\r (in double quotes)${also}`;
  return `they read its quotes, comments or blanks differently${also}`;
}
