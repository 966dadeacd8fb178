// `secretfile get NAME`: the value on standard output, exactly, nothing added.

import type { Command } from "commander";
import { checkName } from "../../store/names.js";
import { writeFully } from "../../system/write-fd.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";

/** Registers `get`. */
export function register(program: Command): void {
  withWhere(program.command("get"))
    .description("print a secret's value on standard output, with nothing added")
    .argument("<NAME>", "the secret's name")
    .action(getAction);
}

/** Runs `get NAME` (for the full CLI and the small entry, src/cli/hot.ts). Throws the backend's errors. */
export async function getAction(name: string, opts: WhereOptions): Promise<void> {
  checkName(name);
  writeOut(await (await backendOf(opts)).get(name));
}

/**
 * Writes `value` to standard output and zeroes the bytes it wrote from; directly, rather than through process.stdout,
 * which for a pipe (`KEY=$(secretfile get NAME)`) loads node:net and its streams.
 */
function writeOut(value: string): void {
  const bytes = Buffer.from(value);
  try {
    writeFully(1, bytes);
  } finally {
    bytes.fill(0);
  }
}
