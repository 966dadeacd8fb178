// The job's environment: the caller's own environment with the secrets laid over it.
// Rules: a secret wins over an inherited variable of the same name; nothing else is added; a NUL in a name or a value
// (which the store, .env files and the environment itself cannot hold) stops the job, never splits a variable in two.

import { FailureError } from "../errors.js";

/** Returns a new environment: `base` plus every secret in `secrets`. */
export function jobEnvironment(base: NodeJS.ProcessEnv, secrets: Map<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, v] of secrets) env[k] = v;
  return env;
}

/**
 * Returns `env` as the addon starts a job with it (native/spawn.c): one buffer of `NAME=value` entries, each ended by
 * a NUL. Throws FailureError naming the variable when a name or a value holds a NUL, which would end its entry early
 * and make what follows it a variable of its own.
 */
export function environmentBlock(env: Record<string, string>): Buffer {
  const entries: string[] = [];
  for (const name of Object.keys(env)) {
    const value = env[name]!;
    if (name.includes("\0") || value.includes("\0")) {
      throw new FailureError(
        `cannot give the job the variable ${JSON.stringify(name.replaceAll("\0", "\\0"))}: it holds a NUL byte`,
        {
          hint: "a value with a NUL cannot be an environment variable; store binary keys base64-encoded",
        },
      );
    }
    entries.push(`${name}=${value}\0`);
  }
  return Buffer.from(entries.join(""));
}
