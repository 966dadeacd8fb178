// The job's environment: the caller's own environment with the secrets laid over it.
// Rules: a secret wins over an inherited variable of the same name; nothing else is added.

/** Returns a new environment: `base` plus every secret in `secrets`. */
export function jobEnvironment(base: NodeJS.ProcessEnv, secrets: Map<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, v] of secrets) env[k] = v;
  return env;
}
