// `secretfile import FILE`: every NAME=value line of a .env file into the store in one write, all or nothing.
// Rules: counts and names are reported, never a value; a bad line stops everything, naming the file and line.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { REFERENCE_PREFIX } from "../../exec/env-file.js";
import { parseDotenv, readDotenvFile } from "../../store/dotenv.js";
import { checkValue } from "../../store/names.js";
import { checkWritableName } from "../../store/reserved-names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

const HINT = "lines are NAME=value, with an optional `export `, the value bare, 'single' or \"double\" quoted; '#' starts a comment";

/** Registers `import`. */
export function register(program: Command): void {
  withWhere(program.command("import"))
    .description("add every NAME=value of a .env file in one write (all or nothing); never prints a value")
    .argument("<FILE>", "the .env file")
    .option("--replace", "replace names that exist (their current values are kept in their history)")
    .action(async (file: string, opts: WhereOptions & { replace?: boolean }) => {
      const secrets: { name: string; value: string }[] = [];
      const skipped: string[] = [];
      for (const { name, value, line } of parseDotenv(readDotenvFile(file), file, HINT)) {
        if (value === "") skipped.push(`${file}:${line}: ${name} skipped: its value is empty`);
        else if (value.startsWith(REFERENCE_PREFIX)) skipped.push(`${file}:${line}: ${name} skipped: its value is a reference (${REFERENCE_PREFIX}…), not a value`);
        else secrets.push({ name: checkLine(file, line, () => checkWritableName(name)), value: checkLine(file, line, () => checkValue(name, new TextEncoder().encode(value))) });
      }
      if (secrets.length === 0) {
        skipped.forEach((s) => note(s));
        note(`nothing to import from ${file}`);
        return;
      }
      const done = await (await backendOf(opts)).importSecrets(secrets, opts.replace === true);
      skipped.forEach((s) => note(s));
      note(`imported ${file}: ${done.added.length} added, ${done.replaced.length} replaced, ${skipped.length} skipped`);
      if (done.added.length > 0) note(`added ${names(done.added)}`);
      if (done.replaced.length > 0) note(`replaced ${names(done.replaced)}`);
      note(`${file} still holds the values in plain text: remove it once the import is checked`);
    });
}

/** Returns the names as a list for a person: all of them up to 30, else the first 30 and how many more. */
function names(list: string[]): string {
  return list.length <= 30 ? list.join(", ") : `${list.slice(0, 30).join(", ")} and ${list.length - 30} more (\`secretfile ls\` lists them)`;
}

/** Runs `check`; a usage error it throws gets the file and line in front (and a hint when it had none). */
function checkLine<T>(file: string, line: number, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${file}:${line}: ${err.message}`, { hint: err.hint ?? `change or remove line ${line} of ${file}, then import again (nothing was imported)`, cause: err });
    throw err;
  }
}
