// The job's environment: the caller's own environment with the secrets laid over it.
// Rules: a secret wins over an inherited variable of the same name; nothing else is added; a NUL in a name or a value
// (which the store, .env files and the environment itself cannot hold) stops the job, never splits a variable in two.

import { FailureError } from "../errors.js";

/** What a job's environment is made of: the caller's variables, and the secrets that win over them. */
export interface JobEnvironment {
  base: NodeJS.ProcessEnv;
  secrets: Map<string, string>;
}

/** Returns the job's environment as an object (for execve and node:child_process). */
export function environmentRecord({ base, secrets }: JobEnvironment): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, v] of secrets) env[k] = v;
  return env;
}

/**
 * Returns the job's environment as the addon starts a job with it (native/spawn.c): one buffer of `NAME=value`
 * entries, each ended by a NUL, the inherited variables a secret does not replace first. Made in one pass, with no
 * object of all the variables in between: with 10,000 secrets every pass costs a start milliseconds
 * (bench/limits.md). Throws FailureError naming the variable when a name or a value holds a NUL, which would end its
 * entry early and make what follows it a variable of its own.
 */
export function environmentBlock({ base, secrets }: JobEnvironment): Buffer {
  let text = "";
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !secrets.has(name)) text += entry(name, value);
  }
  for (const [name, value] of secrets) text += entry(name, value);
  return Buffer.from(text);
}

/** Returns `NAME=value` and its NUL; throws FailureError when either holds a NUL of its own. */
function entry(name: string, value: string): string {
  if (name.includes("\0") || value.includes("\0")) {
    throw new FailureError(
      `cannot give the job the variable ${JSON.stringify(name.replaceAll("\0", "\\0"))}: it holds a NUL byte`,
      {
        hint: "a value with a NUL cannot be an environment variable; store binary keys base64-encoded",
      },
    );
  }
  return `${name}=${value}\0`;
}
