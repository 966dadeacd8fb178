// Where the agent's files are: one flag and one environment variable per path, the flag winning.
// Rules: defaults are the system-mode paths of the design.

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

/** Returns the paths from flags, then environment variables, then the system defaults. */
export function resolvePaths(flags: Partial<AgentPaths>, env: NodeJS.ProcessEnv = process.env): AgentPaths {
  const pick = (key: keyof AgentPaths) => flags[key] ?? (env[VARIABLES[key]] || undefined) ?? SYSTEM_PATHS[key];
  return { dir: pick("dir"), socket: pick("socket"), policy: pick("policy"), audit: pick("audit") };
}
