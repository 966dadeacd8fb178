// `secretfile import FILE`: every variable of a .env file, as dotenv reads it (Node's or python-dotenv, store/dotenv.ts),
// into the store in one write, all or nothing. Rules: counts, names and lines are reported, never a value; a refused
// line stops everything (exit 2) naming the file and line, a reserved name included (stored names reach other users'
// jobs); --dry-run writes nothing and lists how the file is read and what an import would add, replace, skip and refuse.

import type { Command } from "commander";
import { ExitCode, NoStoreError } from "../../errors.js";
import { REFERENCE_PREFIX } from "../../exec/env-file.js";
import { describeDialect, dialectOf } from "../../store/dotenv-dialects.js";
import {
  at,
  parseDotenv,
  readDotenv,
  readDotenvFile,
  type DotenvLine,
  type DotenvOptions,
} from "../../store/dotenv.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

interface ImportOptions extends WhereOptions {
  replace?: boolean;
  dryRun?: boolean;
  dialect?: string;
}

/** What an import does with a file's variables: the secrets it writes, and those it skips (with why). */
interface Plan {
  secrets: { name: string; value: string; line: number | undefined }[];
  skipped: { name: string; line: number | undefined; why: string }[];
}

/** Registers `import`. */
export function register(program: Command): void {
  withWhere(program.command("import"))
    .description(
      "add every variable of a .env file, as dotenv reads it, in one write (all or nothing); never prints a value",
    )
    .argument("<FILE>", "the .env file")
    .option("--replace", "replace names that exist (their current values are kept in their history)")
    .option("--dry-run", "write nothing: list the names it would add or replace and the lines it would refuse, and why")
    .option(
      "--dialect <node|python>",
      "read the file as Node's dotenv or as python-dotenv does; without it, a variable they read differently is refused",
    )
    .action(async (file: string, opts: ImportOptions) => {
      const read: DotenvOptions = { dialect: dialectOf(opts.dialect), env: process.env, reserved: "refuse" };
      const text = readDotenvFile(file);
      if (opts.dryRun === true) return dryRun(file, text, opts, read);
      const hint = `change or remove that line, then import again (nothing was imported); \`secretfile import --dry-run ${file}\` lists every line it refuses`;
      const { secrets, skipped } = plan(parseDotenv(text, file, hint, read));
      const skippedNotes = skipped.map((s) => `${at(file, s.line)}: ${s.name} skipped: ${s.why}`);
      if (secrets.length === 0) {
        skippedNotes.forEach((s) => note(s));
        note(`nothing to import from ${file}`);
        return;
      }
      const done = await (
        await backendOf(opts)
      ).importSecrets(
        secrets.map(({ name, value }) => ({ name, value })),
        opts.replace === true,
      );
      skippedNotes.forEach((s) => note(s));
      note(`imported ${file}: ${done.added.length} added, ${done.replaced.length} replaced, ${skipped.length} skipped`);
      if (done.added.length > 0) note(`added ${names(done.added)}`);
      if (done.replaced.length > 0) note(`replaced ${names(done.replaced)}`);
      note(`${file} still holds the values in plain text: remove it once the import is checked`);
    });
}

/** Sorts the variables dotenv read into those to write and those skipped: an empty value, a `secretfile:` reference. */
function plan(entries: DotenvLine[]): Plan {
  const out: Plan = { secrets: [], skipped: [] };
  for (const { name, value, line } of entries) {
    if (value === "") out.skipped.push({ name, line, why: "its value is empty" });
    else if (value.startsWith(REFERENCE_PREFIX))
      out.skipped.push({ name, line, why: `its value is a reference (${REFERENCE_PREFIX}…), not a value` });
    else out.secrets.push({ name, value, line });
  }
  return out;
}

/**
 * `import --dry-run`: one line on standard output for each variable (add, replace, skip) and each refused line, in
 * line order, never a value; exits as the import would (2 for a refused line, 1 for a name that exists without
 * --replace). A name exists when the caller may list it.
 */
async function dryRun(file: string, text: string, opts: ImportOptions, read: DotenvOptions): Promise<void> {
  const { entries, refused } = readDotenv(text, read);
  const { secrets, skipped } = plan(entries);
  const existing = new Set<string>();
  if (secrets.length > 0) {
    try {
      for (const s of await (await backendOf(opts)).list()) existing.add(s.name);
    } catch (err) {
      if (!(err instanceof NoStoreError)) throw err;
    }
  }
  const replacing = secrets.filter((s) => existing.has(s.name));
  const rows: { line: number | undefined; what: string }[] = [
    ...secrets.map((s) => ({
      line: s.line,
      what: !existing.has(s.name)
        ? `add ${s.name}`
        : opts.replace === true
          ? `replace ${s.name}`
          : `replace ${s.name} (needs --replace)`,
    })),
    ...skipped.map((s) => ({ line: s.line, what: `skip ${s.name}: ${s.why}` })),
    ...refused.map((r) => ({ line: r.line, what: `refuse: ${r.why}` })),
  ].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  process.stdout.write(rows.map((r) => `${at(file, r.line)}: ${r.what}\n`).join(""));
  const counts = `${secrets.length - replacing.length} to add, ${replacing.length} to replace, ${skipped.length} skipped, ${refused.length} refused`;
  note(`dry run of ${file}, read ${describeDialect(read.dialect)}: ${counts}; nothing was imported`);
  if (refused.length > 0) process.exitCode = ExitCode.usage;
  else if (replacing.length > 0 && opts.replace !== true) process.exitCode = ExitCode.failure;
}

/** Returns the names as a list for a person: all of them up to 30, else the first 30 and how many more. */
function names(list: string[]): string {
  return list.length <= 30
    ? list.join(", ")
    : `${list.slice(0, 30).join(", ")} and ${list.length - 30} more (\`secretfile ls\` lists them)`;
}
