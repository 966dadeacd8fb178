// The man pages' one source (docs/man/) against the CLI: every command `secretfile --help` lists (and each subcommand)
// has its section in secretfile(1), with exactly the long options its `--help` lists; and both pages convert.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";
// @ts-expect-error: a build script, plain JavaScript without types
import * as manScript from "../../build/man.mjs";

/** build/man.mjs, typed as far as this test uses it. */
const { documentedCommands, manPage } = manScript as {
  documentedCommands: (markdown: string) => Record<string, string[]>;
  manPage: (markdown: string, meta: { version: string; date: string }) => string;
};

const source = readFileSync(path.join(ROOT, "docs/man/secretfile.1.md"), "utf8");
const documented = documentedCommands(source);

// The commands of a --help text's "Commands:" list (without `help`).
function commandsOf(help: string): string[] {
  const list = help.split("\nCommands:\n")[1] ?? "";
  return list
    .split("\n")
    .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== "help");
}

// The long options of a --help text's "Options:" list (without --help).
function optionsOf(help: string): string[] {
  const list = (help.split("\nOptions:\n")[1] ?? "").split("\nCommands:\n")[0]!;
  return [...list.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((o) => o !== "--help");
}

// Each --help once: the machine is shared, and a CLI start is not free.
const helps = new Map<string, Promise<string>>();
function help(words: string[]): Promise<string> {
  const key = words.join(" ");
  if (!helps.has(key)) {
    helps.set(
      key,
      runCli([...words, "--help"]).then((r) => {
        expect(r.code).toBe(0);
        return r.stdout;
      }),
    );
  }
  return helps.get(key)!;
}

async function allCommands(): Promise<string[]> {
  const all: string[] = [];
  for (const top of commandsOf(await help([]))) {
    const subs = commandsOf(await help([top]));
    // A command with subcommands and options of its own (audit) is documented as both.
    if (subs.length === 0 || optionsOf(await help([top])).length > 0) all.push(top);
    all.push(...subs.map((s) => `${top} ${s}`));
  }
  return all;
}

describe("secretfile(1) follows --help", () => {
  it("documents every command, and no command the CLI does not have", async () => {
    expect(Object.keys(documented).sort()).toEqual((await allCommands()).sort());
  });

  it("documents exactly the options of each command", async () => {
    for (const command of await allCommands()) {
      expect({ command, options: [...(documented[command] ?? [])].sort() }).toEqual({
        command,
        options: optionsOf(await help(command.split(" "))).sort(),
      });
    }
  });

  it("documents every exit code of the design and every variable the options name", async () => {
    for (const code of ["0", "1", "2", "3", "4", "5", "6", "7"]) expect(source).toContain(`- \`${code}\`: `);
    const envs = new Set<string>();
    for (const command of await allCommands())
      for (const m of (await help(command.split(" "))).matchAll(/env (SECRETFILE_[A-Z_]+)/g)) envs.add(m[1]!);
    for (const env of envs) expect(source).toContain(`- \`${env}\`: `);
  });

  it.for(["secretfile.1.md", "secretfile-policy.5.md"])(
    "%s converts to troff with a title, sections and no raw Markdown",
    (file) => {
      const troff = manPage(readFileSync(path.join(ROOT, "docs/man", file), "utf8"), {
        version: "0.0.0",
        date: "2026-01-01",
      });
      expect(troff).toMatch(/^\.\\" Generated from docs\/man\//);
      expect(troff).toMatch(/\n\.TH SECRETFILE/);
      expect(troff).toContain("\n.SH NAME\n");
      expect(troff).not.toMatch(/^(##|- `|```)/m);
    },
  );

  it("refuses Markdown outside the subset it converts", () => {
    expect(() => manPage("# x(1) -- y\n\n> a quote\n", { version: "0", date: "2026-01-01" })).toThrow(
      /outside the subset/,
    );
  });
});
