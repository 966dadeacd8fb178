// setup's last step on the package's hosts: systemd reading the package's unit folder, and the init script without it.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { ActionLog } from "../../src/setup/actions.js";
import { start } from "../../src/setup/systemd.js";
import { tempDir } from "../helpers/cli.js";

const paths = {
  dir: "/var/lib/secretfile",
  socket: "/run/secretfile/agent.sock",
  policy: "/etc/secretfile/policy",
  audit: "/var/log/secretfile/audit.log",
};
const run = { node: "/usr/lib/secretfile/node", launcher: "/usr/lib/secretfile/bin/secretfile" };
const changes = { service: "kept", socket: "kept" } as const;

function fakeSystemctl(): { file: string; calls: () => string[] } {
  const { dir, cleanup } = tempDir("sf-systemctl-");
  onTestFinished(cleanup);
  const file = path.join(dir, "systemctl");
  const log = path.join(dir, "calls");
  writeFileSync(log, "");
  writeFileSync(file, `#!/bin/sh\necho "$*" >> ${log}\n`);
  chmodSync(file, 0o755);
  return { file, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

describe("setup's start step for the Debian package", () => {
  it.for(["/lib/systemd/system", "/usr/lib/systemd/system"])(
    "with systemd and the units in %s (the package's), starts the socket",
    async (unitsDir) => {
      const fake = fakeSystemctl();
      const log = new ActionLog();
      await start(
        { systemd: true, unitsDir, changes, user: "secretfile", run, paths, systemctl: fake.file, initScript: null },
        log,
      );
      expect(fake.calls()).toEqual(["enable --now secretfile.socket"]);
    },
  );

  it("without systemd, with the init script, says `service secretfile start` instead of a runuser line", async () => {
    const fake = fakeSystemctl();
    const log = new ActionLog();
    await start(
      {
        systemd: false,
        unitsDir: "/lib/systemd/system",
        changes,
        user: "secretfile",
        run,
        paths,
        systemctl: fake.file,
        initScript: "/etc/init.d/secretfile",
      },
      log,
    );
    expect(fake.calls()).toEqual([]);
    expect(log.actions).toHaveLength(1);
    expect(log.actions[0]).toMatchObject({ kind: "next" });
    expect(log.actions[0]!.text).toContain(
      "start the agent with `service secretfile start` (the init script /etc/init.d/secretfile",
    );
    expect(log.actions[0]!.text).not.toContain("runuser");
  });
});
