// Where the agent's files are: one flag and one environment variable per path, the flag winning.
// Rules: defaults are the system-mode paths of the design; a sealed identity comes only from systemd's credentials folder.

import { existsSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";

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

/** The longest socket path, in UTF-8 bytes: sun_path holds 108 bytes, its terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Refuses a socket path that does not fit in sun_path whole (108 bytes or more): the kernel, or a client copying it,
 * would cut it short, and the shorter path may be another socket. Throws UsageError (2) naming it.
 */
export function checkSocketPath(socket: string): void {
  const bytes = Buffer.byteLength(socket, "utf8");
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(
      `the socket path ${socket} is ${bytes} bytes; a Unix socket path has at most ${MAX_SOCKET_PATH_BYTES}`,
      {
        hint: "use a shorter path for --socket or SECRETFILE_SOCKET",
      },
    );
  }
}

/**
 * Returns the marker that shows this host is set up for system mode (its policy file or state folder exists), or
 * undefined. SECRETFILE_POLICY and SECRETFILE_STATE_DIR move them (tests, unusual hosts). Never throws.
 */
export function systemHostMarker(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const markers = [env.SECRETFILE_POLICY || SYSTEM_PATHS.policy, env.SECRETFILE_STATE_DIR || SYSTEM_PATHS.dir];
  return markers.find((file) => existsSync(file));
}
