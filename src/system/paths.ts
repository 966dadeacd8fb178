// Where the agent's files are: one flag and one environment variable per path, the flag winning.
// Rules: defaults are the system-mode paths of the design; a sealed identity comes only from systemd's credentials folder.

import { existsSync } from "node:fs";
import path from "node:path";

/** The agent's paths. */
export interface AgentPaths {
  /** State folder holding identity.txt and store.age. */
  dir: string;
  socket: string;
  policy: string;
  audit: string;
}

/** The system-mode defaults. */
export const SYSTEM_PATHS: AgentPaths = {
  dir: "/var/lib/secretfile",
  socket: "/run/secretfile/agent.sock",
  policy: "/etc/secretfile/policy",
  audit: "/var/log/secretfile/audit.log",
};

const VARIABLES: Record<keyof AgentPaths, string> = {
  dir: "SECRETFILE_DIR",
  socket: "SECRETFILE_SOCKET",
  policy: "SECRETFILE_POLICY",
  audit: "SECRETFILE_AUDIT",
};

/** The file name of the socket systemd's LoadCredential= connects to, beside the agent's socket (agent/credentials.ts). */
export const CREDENTIALS_SOCKET = "credentials.sock";

/** The name of the systemd credential that holds a sealed identity (`setup --seal systemd-creds`). */
export const IDENTITY_CREDENTIAL = "secretfile-identity";

/** Where `setup --seal` puts the sealed identity by default: the folder systemd's credential store reads. */
export const DEFAULT_CREDENTIAL = `/etc/credstore.encrypted/${IDENTITY_CREDENTIAL}`;

/**
 * Returns the sealed identity systemd decrypted for the agent ($CREDENTIALS_DIRECTORY/secretfile-identity, loaded by the
 * unit's LoadCredentialEncrypted=), or undefined when the agent was given none (then it uses identity.txt).
 */
export function sealedIdentity(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (dir === undefined || dir === "" || !path.isAbsolute(dir)) return undefined;
  const file = path.join(dir, IDENTITY_CREDENTIAL);
  return existsSync(file) ? file : undefined;
}

/** Returns the paths from flags, then environment variables, then the system defaults. */
export function resolvePaths(flags: Partial<AgentPaths>, env: NodeJS.ProcessEnv = process.env): AgentPaths {
  const pick = (key: keyof AgentPaths) => flags[key] ?? (env[VARIABLES[key]] || undefined) ?? SYSTEM_PATHS[key];
  return { dir: pick("dir"), socket: pick("socket"), policy: pick("policy"), audit: pick("audit") };
}
