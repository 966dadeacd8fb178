// On a host set up for system mode (its policy file or its state folder exists), a command without --dir or
// SECRETFILE_DIR uses the agent: with the agent down it is exit 6 with a hint for systemd hosts and the others, and no
// personal store is made; `doctor` (root included) reports the down agent as a problem with its fix. The markers are
// moved into a temporary folder with SECRETFILE_POLICY and SECRETFILE_STATE_DIR (src/system/paths.ts).

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";
import { SYSTEM_PATHS } from "../../../src/system/paths.js";
import { ownExit } from "../../helpers/cli.js";

afterAll(removeSandboxes);

/** A sandbox whose host looks set up for system mode by `marker`, with neither SECRETFILE_DIR nor SECRETFILE_SOCKET. */
function systemHost(marker: "policy" | "state folder") {
  const sb = sandbox();
  // Laid over the sandbox's environment: empty is unset. A 1 s deadline spares each test the 5 s restart wait.
  const env: NodeJS.ProcessEnv = { ...sb.env, SECRETFILE_DIR: "", SECRETFILE_TIMEOUT: "1" };
  const policy = path.join(sb.root, "etc", "policy");
  const state = path.join(sb.root, "state");
  if (marker === "policy") {
    mkdirSync(path.dirname(policy));
    writeFileSync(policy, "read uid:0 *\n", { mode: 0o644 });
  } else {
    mkdirSync(state, { mode: 0o700 });
  }
  env.SECRETFILE_POLICY = policy;
  env.SECRETFILE_STATE_DIR = state;
  const personal = path.join(sb.home, ".config", "secretfile");
  return { sb, env, personal, run: (args: string[], input?: string) => sb.run(args, { env, input }) };
}

describe.skipIf(existsSync(SYSTEM_PATHS.socket))(
  `a host set up for system mode, its agent down (skipped if ${SYSTEM_PATHS.socket} exists)`,
  () => {
    it.for(["policy", "state folder"] as const)(
      "with its %s: add is exit 6 with the start hint, and makes no personal store",
      async (marker) => {
        const host = systemHost(marker);
        const r = await host.run(["add", "MERAKI_API_KEY"], "the-value");
        expect([r.code, r.stdout]).toEqual([6, ""]);
        expect(r.stderr).toContain(
          `secretfile: error: cannot reach the agent at ${SYSTEM_PATHS.socket} (no socket there`,
        );
        expect(r.stderr).toContain(
          "`systemctl start secretfile.socket` (systemd), else `/etc/init.d/secretfile start`, or `runuser -u secretfile -- secretfile agent &`",
        );
        expect(r.stderr).not.toContain("added");
        expect(existsSync(host.personal)).toBe(false);
      },
    );

    it.for([["get", "K"], ["ls"], ["rm", "K"], ["exec", "--", "true"]])("%s is exit 6 too", async (args) => {
      const host = systemHost("policy");
      const r = await host.run(args);
      expect([r.code, r.stdout]).toEqual([ownExit(args, 6), ""]);
      expect(existsSync(host.personal)).toBe(false);
    });

    it("--dir still picks a personal store there", async () => {
      const host = systemHost("policy");
      const r = await host.run(["add", "--dir", path.join(host.sb.root, "mine"), "K"], "v");
      expect([r.code, r.stderr.split("\n").at(-2)]).toEqual([0, "secretfile: added K"]);
    });

    it("doctor says system mode and reports the down agent as a problem with its fix, exit 1", async () => {
      const host = systemHost("policy");
      const r = await host.run(["doctor"]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout.split("\n")[0]).toBe(
        `system mode: the agent at ${SYSTEM_PATHS.socket} (this host is set up for system mode (${host.env.SECRETFILE_POLICY} exists))`,
      );
      expect(r.stdout).toContain(`FAIL no agent socket at ${SYSTEM_PATHS.socket}: the agent is not running`);
      expect(r.stdout).toContain("     fix: start it as root: `systemctl start secretfile.socket` (systemd)");
      expect(r.stdout).not.toContain("no problems found");
    });
  },
);
