// Reading a job's .env file for `exec --env-file`: the caller's own file, variables as dotenv reads them
// (store/dotenv.ts), reserved names included, and values `secretfile:NAME` that take NAME from the store. Rules: only the
// caller and root may write the file and its folders (system/own-file.ts); a refused line is a usage error naming the
// file and line, never the line's text (it may hold a value); a value is passed on exactly as dotenv reads it.

import { UsageError } from "../errors.js";
import type { Dialect } from "../store/dotenv-dialects.js";
import { at, MAX_ENV_FILE_BYTES, parseDotenv } from "../store/dotenv.js";
import { isValidName } from "../store/names.js";
import { readNamedFile } from "../system/named-file.js";
import { checkOwnFile } from "../system/own-file.js";

/** The prefix that makes a value a reference to a secret: `API_KEY=secretfile:MERAKI_API_KEY`. */
export const REFERENCE_PREFIX = "secretfile:";

/** One assignment of an env file: a plain value, or the value of a secret. */
export type EnvEntry = { variable: string; line: number | undefined } & (
  { kind: "plain"; value: string } | { kind: "secret"; secret: string }
);

const HINT =
  "change or remove that line: the file is read as dotenv reads it, VAR=secretfile:NAME takes NAME from the store, and names must be environment-safe, values at most 64 KiB";

/**
 * Reads and parses the env file `file` as `dialect` reads it (both when undefined), `${VAR}` from `env`. Throws
 * AccessError (exit 4) when it is a symlink, or someone other than the caller or root may write it or a folder above it;
 * UsageError (exit 2) when it cannot be read, is not a regular file (a FIFO is refused, never waited on), is not UTF-8
 * text, or has a refused line (the message names `file` and the line number).
 */
export function readEnvFile(
  file: string,
  dialect: Dialect | undefined,
  env: Readonly<Record<string, string | undefined>>,
): EnvEntry[] {
  const text = readNamedFile(file, "env file", MAX_ENV_FILE_BYTES, (st) => checkOwnFile(file, st, "env file"));
  return parseEnvFile(text, file, dialect, env);
}

/**
 * Parses the text of an env file; `file` names it in errors. Throws UsageError (exit 2) at the first refused line.
 */
export function parseEnvFile(
  text: string,
  file: string,
  dialect: Dialect | undefined,
  env: Readonly<Record<string, string | undefined>>,
): EnvEntry[] {
  return parseDotenv(text, file, HINT, { dialect, env, reserved: "accept" }).map(
    ({ name: variable, value, line }): EnvEntry => {
      if (!value.startsWith(REFERENCE_PREFIX)) return { variable, line, kind: "plain", value };
      const secret = value.slice(REFERENCE_PREFIX.length);
      if (!isValidName(secret)) {
        throw new UsageError(
          `${at(file, line)}: ${variable} refers to an invalid secret name after "${REFERENCE_PREFIX}"`,
          { hint: HINT },
        );
      }
      return { variable, line, kind: "secret", secret };
    },
  );
}
