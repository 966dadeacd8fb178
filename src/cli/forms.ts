// The options of the hot commands (get, exec, ls) as data, and the parser of the plain argv forms the small entry
// (src/cli/hot.ts) runs. The full CLI registers these same options with commander, so each is defined once.
// Rules: the parser accepts only forms commander reads the same way (an option once unless repeatable, a value that is not empty and
// does not start with "-", the right count of operands) and returns undefined for anything else, which the full CLI
// then parses, with its own messages and exit codes; no commander here.

/** One option of a command: commander's flags ("--dir <dir>", "--json", "--no-mask") and its help text. */
export interface OptionSpec {
  flags: string;
  description: string;
  /** Given more than once, each value is kept, in order (commander's collect, src/cli/options.ts). */
  repeatable?: boolean;
}

/** --dir and --socket: where the secrets are (every command that reads or writes them has both). */
export const WHERE_OPTIONS: readonly OptionSpec[] = [
  { flags: "--dir <dir>", description: "personal store folder (env SECRETFILE_DIR)" },
  { flags: "--socket <path>", description: "agent socket (env SECRETFILE_SOCKET)" },
];

/** `ls`'s own options. */
export const LS_OPTIONS: readonly OptionSpec[] = [{ flags: "--json", description: "print a JSON array" }];

/** `exec`'s own options. */
export const EXEC_OPTIONS: readonly OptionSpec[] = [
  { flags: "--only <names>", description: "only these secrets (comma-separated)" },
  {
    flags: "--map <ENV=NAME>",
    description: "give the job ENV with the value of secret NAME (repeatable)",
    repeatable: true,
  },
  {
    flags: "--env-file <file>",
    description: "variables from a .env file; VAR=secretfile:NAME takes NAME from the store (repeatable)",
    repeatable: true,
  },
  {
    flags: "--dialect <node|python>",
    description:
      "read --env-file as Node's dotenv or as python-dotenv does; without it, a variable they read differently is refused",
  },
  {
    flags: "--file <NAME|VAR=NAME>",
    description: "put NAME in a file in memory; the job gets its path in NAME_FILE, or VAR (repeatable)",
    repeatable: true,
  },
  {
    flags: "--render <TEMPLATE:VAR>",
    description: "render TEMPLATE into a file in memory; the job gets its path in VAR (repeatable; docs/render.md)",
    repeatable: true,
  },
  {
    flags: "--no-mask",
    description: "give the job the terminal directly: its output is not scanned for secret values",
  },
];

/** What a simple form parsed to: options by commander's key (camelCase, `mask` for --no-mask) and the operands. */
export interface SimpleForm {
  opts: Record<string, string | boolean | string[]>;
  operands: string[];
}

/** How a command takes operands: exactly `count` (get: 1, ls: 0), or, for `rest`, one or more passed through as they are. */
export type Operands = { count: number } | { rest: true };

interface Parsed {
  long: string;
  key: string;
  kind: "value" | "flag" | "negate";
  repeatable: boolean;
}

function describe(spec: OptionSpec): Parsed {
  const long = spec.flags.split(" ")[0]!;
  const negate = long.startsWith("--no-");
  const key = long.slice(negate ? 5 : 2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return {
    long,
    key,
    kind: spec.flags.includes("<") ? "value" : negate ? "negate" : "flag",
    repeatable: spec.repeatable === true,
  };
}

/**
 * Parses `argv` (the words after the command's) by `specs` as commander would, for the forms where that is plain: long
 * options (`--opt VALUE`, `--opt=VALUE`, flags), each at most once unless repeatable, and operands; with `rest` the first operand or
 * `--` ends the options and what follows is passed through. Returns undefined for any other form (help, short or
 * unknown options, a repeated one that is not repeatable, a missing or odd value, the wrong count of operands). Never throws.
 */
export function parseSimple(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  operands: Operands,
): SimpleForm | undefined {
  const known = new Map(specs.map((s) => [describe(s).long, describe(s)]));
  const opts: SimpleForm["opts"] = {};
  for (const o of known.values()) if (o.kind === "negate") opts[o.key] = true;
  const seen = new Set<string>();
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const rest = "rest" in operands;
    if (arg === "--") {
      if (!rest) return undefined;
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length > 1 && arg.startsWith("-")) {
      const eq = arg.indexOf("=");
      const option = known.get(eq === -1 ? arg : arg.slice(0, eq));
      if (option === undefined || (!option.repeatable && seen.has(option.long))) return undefined;
      seen.add(option.long);
      if (option.kind !== "value") {
        if (eq !== -1) return undefined;
        opts[option.key] = option.kind === "flag";
        continue;
      }
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === "" || value.startsWith("-")) return undefined;
      const before = opts[option.key];
      opts[option.key] = option.repeatable ? [...(Array.isArray(before) ? before : []), value] : value;
      continue;
    }
    if (rest) {
      words.push(...argv.slice(i));
      break;
    }
    words.push(arg);
  }
  if ("rest" in operands ? words.length === 0 : words.length !== operands.count) return undefined;
  return { opts, operands: words };
}
