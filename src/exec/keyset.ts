// Which secrets a job gets, and under which names: --only, --map, --env-file and --file combined into one key set.
// Rules: with none of them the job gets the backend's list under its own names (the caller's own store, or the names
// the policy writes out for it), except a reserved name (reserved-names.ts) and a variable the job inherits already;
// with any of them, exactly what they name and nothing else, a reserved variable only when the reader names it as one
// (--map, VAR=…); a variable bound twice to different things is a usage error naming both.

import { UsageError } from "../errors.js";
import { checkName, isValidName } from "../store/names.js";
import { reservedBecause, STEERS } from "../store/reserved-names.js";
import type { EnvEntry } from "./env-file.js";

/** A variable the job gets, and where its value comes from. */
export type Binding = { variable: string; from: string } & (
  { kind: "secret"; secret: string } | { kind: "file"; secret: string } | { kind: "plain"; value: string }
);

/** The key set of one job. */
export interface KeySet {
  /** The store names to ask for, each once, in the order first named. */
  names: string[];
  /** The secrets to write as files, each once. */
  files: string[];
  /** Every variable the job gets from secretfile. */
  bindings: Binding[];
}

/** What the command line asked for. */
export interface KeySetRequest {
  /** --only: names given to the job under their own names. */
  only?: string[];
  /** --map: `ENV_NAME=SECRET_NAME` pairs. */
  map?: string[];
  /** --env-file: the parsed files. */
  envFiles?: { file: string; entries: EnvEntry[] }[];
  /** --file: `NAME` (the job gets NAME_FILE) or `VAR=NAME` (the job gets VAR), the path of a file holding NAME. */
  files?: string[];
}

/**
 * Returns the job's key set, or undefined when nothing selects secrets (the job then gets the backend's list:
 * implicitVariables).
 * Throws UsageError (exit 2) for a bad name or pair, or a variable bound twice to different things.
 */
export function buildKeySet(req: KeySetRequest): KeySet | undefined {
  const bindings = new Map<string, Binding>();
  const bind = (b: Binding) => {
    const old = bindings.get(b.variable);
    if (old === undefined) bindings.set(b.variable, b);
    else if (!sameSource(old, b)) throw new UsageError(`${b.variable} is given twice: by ${old.from} and by ${b.from}`);
  };
  for (const name of req.only ?? [])
    bind({
      variable: implicitName(checkName(name), `--only ${name}`, `--map ${name}=${name}`),
      from: `--only ${name}`,
      kind: "secret",
      secret: name,
    });
  for (const pair of req.map ?? []) {
    const [variable, secret] = splitPair(
      pair,
      "--map",
      "ENV_NAME=SECRET_NAME",
      "MERAKI_DASHBOARD_API_KEY=MERAKI_PROD_KEY",
    );
    bind({ variable, from: `--map ${pair}`, kind: "secret", secret });
  }
  for (const { file, entries } of req.envFiles ?? []) {
    for (const e of entries) {
      const from = e.line === undefined ? file : `${file}:${e.line}`;
      bind(
        e.kind === "plain"
          ? { variable: e.variable, from, kind: "plain", value: e.value }
          : { variable: e.variable, from, kind: "secret", secret: e.secret },
      );
    }
  }
  for (const spec of req.files ?? []) {
    const [variable, secret] = spec.includes("=")
      ? splitPair(spec, "--file", "NAME or VAR=NAME", "GOOGLE_APPLICATION_CREDENTIALS=GCP_KEY")
      : [
          implicitName(`${checkName(spec)}_FILE`, `--file ${spec}`, `--file ${`${spec}_FILE`.slice(0, 128)}=${spec}`),
          spec,
        ];
    bind({ variable, from: `--file ${spec}`, kind: "file", secret });
  }
  if (req.only === undefined && req.map === undefined && req.envFiles === undefined && req.files === undefined)
    return undefined;
  const all = [...bindings.values()];
  const names = new Set<string>();
  const files = new Set<string>();
  for (const b of all) {
    if (b.kind !== "plain") names.add(b.secret);
    if (b.kind === "file") files.add(b.secret);
  }
  return { names: [...names], files: [...files], bindings: all };
}

/**
 * Returns the variables the job gets from `set`: plain values, secret values from `values` (by store name) and file
 * paths from `paths` (by store name). Every secret the set names must be in `values`, every file in `paths`.
 */
export function keySetVariables(
  set: KeySet,
  values: Map<string, string>,
  paths: Map<string, string>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of set.bindings) {
    const value = b.kind === "plain" ? b.value : b.kind === "secret" ? values.get(b.secret) : paths.get(b.secret);
    if (value === undefined) throw new Error(`no ${b.kind} for ${b.variable}`);
    out.set(b.variable, value);
  }
  return out;
}

/** A secret the job does not get without asking for it by name, and why. */
export interface Withheld {
  name: string;
  why: string;
}

/**
 * Returns the variables a job gets when nothing selects secrets: each secret of `values` under its own name, but for
 * the reserved names and the variables the job inherits already in `inherited` (the reader's own wins), which are
 * returned as `withheld`, sorted, for a warning. When none is withheld, `variables` is `values` itself (with 10,000
 * secrets a copy costs a start about 2 ms).
 */
export function implicitVariables(
  values: Map<string, string>,
  inherited: NodeJS.ProcessEnv,
): { variables: Map<string, string>; withheld: Withheld[] } {
  const withheld: Withheld[] = [];
  // Looked up in a set: each lookup in process.env is a call into the C library's environment (about 0.7 µs).
  const inheritedNames = new Set(Object.entries(inherited).flatMap(([k, v]) => (v === undefined ? [] : [k])));
  for (const name of values.keys()) {
    const reserved = reservedBecause(name);
    if (reserved !== undefined) {
      withheld.push({
        name,
        why: `it is a reserved name (${reserved}: ${STEERS}); remove the secret (\`secretfile rm ${name}\`) or give it by name: --map ${name}=${name}`,
      });
    } else if (inheritedNames.has(name)) {
      withheld.push({
        name,
        why: `the job's own environment sets it already, and keeps its value; to give the job the secret instead: --only ${name}`,
      });
    }
  }
  if (withheld.length === 0) return { variables: values, withheld };
  const held = new Set(withheld.map((w) => w.name));
  const variables = new Map([...values].filter(([name]) => !held.has(name)));
  return { variables, withheld: withheld.sort((a, b) => (a.name < b.name ? -1 : 1)) };
}

/** Returns `variable`, bound by `from` without the reader naming it; throws UsageError (exit 2) when it is reserved. */
function implicitName(variable: string, from: string, explicit: string): string {
  const why = reservedBecause(variable);
  if (why !== undefined) {
    throw new UsageError(`${from} would set ${variable}, a reserved name (${why}: ${STEERS})`, {
      hint: `to set it all the same, name the variable yourself: ${explicit}`,
    });
  }
  return variable;
}

function splitPair(pair: string, flag: string, form: string, example: string): [string, string] {
  const at = pair.indexOf("=");
  const variable = pair.slice(0, at);
  const secret = pair.slice(at + 1);
  if (at === -1 || !isValidName(variable) || !isValidName(secret)) {
    throw new UsageError(`${flag} needs ${form}, got ${JSON.stringify(pair.slice(0, 80))}`, {
      hint: `e.g. ${flag} ${example}; names are letters, digits and '_'`,
    });
  }
  return [variable, secret];
}

function sameSource(a: Binding, b: Binding): boolean {
  if (a.kind === "plain") return b.kind === "plain" && a.value === b.value;
  return b.kind === a.kind && a.secret === b.secret;
}
