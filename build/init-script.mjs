// /etc/init.d/secretfile rendered from packaging/init.d/secretfile: for the package (build/package.mjs) and for the
// tests that run it against a temporary root (test/package/init-script.test.ts).
// Rules: every @NAME@ of the template is filled, or rendering throws; the pidfile and the agent's message log are in
// folders only root writes, never in the service account's (the socket's, the audit log's).

/** Where the package's init script keeps the agent's pid and messages: /run and /var/log, which are root's. */
export const INIT_SCRIPT_FILES = { pidfile: "/run/secretfile.pid", log: "/var/log/secretfile-agent.log" };

/**
 * Returns the init script of `template` (the text of packaging/init.d/secretfile) with `values` filled in: node, its
 * flags (an array), the launcher, the service account, the agent's paths, the pidfile, the log and the version.
 * Throws when a placeholder is left without a value.
 */
export function renderInitScript(template, values) {
  const fill = {
    NODE: values.node,
    NODE_FLAGS: values.nodeFlags.join(" "),
    LAUNCHER: values.launcher,
    USER: values.user,
    DIR: values.paths.dir,
    SOCKET: values.paths.socket,
    POLICY: values.paths.policy,
    AUDIT: values.paths.audit,
    PIDFILE: values.pidfile,
    AGENT_LOG: values.log,
    VERSION: values.version,
  };
  const text = template.replace(/@([A-Z_]+)@/g, (all, name) => fill[name] ?? all);
  const left = /@[A-Z_]+@/.exec(text);
  if (left !== null) throw new Error(`init script: no value for ${left[0]}`);
  return text;
}
