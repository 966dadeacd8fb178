// `secretfile agent`: the helper that runs as the service account and serves the socket.

import { Option, type Command } from "commander";
import { resolvePaths } from "../../system/paths.js";
import { note } from "../report.js";

/** Registers `agent`. */
export function register(program: Command): void {
  program
    .command("agent")
    .description("serve secrets on a Unix socket to the users the policy allows (run by the service account)")
    .addOption(new Option("--dir <dir>", "state folder with identity.txt and store.age (env SECRETFILE_DIR)"))
    .addOption(new Option("--socket <path>", "socket to listen on (env SECRETFILE_SOCKET)"))
    .addOption(new Option("--policy <file>", "policy file (env SECRETFILE_POLICY)"))
    .addOption(new Option("--audit <file>", "audit log (env SECRETFILE_AUDIT)"))
    .action(async (flags: { dir?: string; socket?: string; policy?: string; audit?: string }) => {
      // SIGHUP reloads the policy, as daemons do (and no longer kills an agent started by hand with its SSH session).
      let reload: (() => Promise<void>) | undefined = undefined;
      process.on("SIGHUP", () => {
        note(
          reload === undefined
            ? "SIGHUP before the agent was ready: the policy it loads is the current one"
            : "reloading the policy on SIGHUP",
        );
        void reload?.();
      });
      const { startAgent } = await import("../../agent/agent.js");
      const paths = resolvePaths(flags);
      const agent = await startAgent({ paths, log: (msg) => note(msg) });
      reload = agent.reload;
      note(
        `agent ${process.pid} serving ${paths.dir}/store.age on ${process.env.LISTEN_FDS ? "the socket systemd passed" : paths.socket}`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          note(`stopping on ${signal}`);
          void agent.close().then(resolve);
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
    });
}
