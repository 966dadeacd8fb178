// Starting the agent after setup: the systemctl calls for each state of the units, and the by-hand command.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { ActionLog } from "../../src/setup/actions.js";
import { start, SYSTEM_UNITS_DIR, type UnitChanges } from "../../src/setup/systemd.js";
import { FailureError } from "../../src/errors.js";
import { tempDir } from "../helpers/cli.js";

const paths = {
  dir: "/var/lib/secretfile",
  socket: "/run/secretfile/agent.sock",
  policy: "/etc/secretfile/policy",
  audit: "/var/log/secretfile/audit.log",
};
const run = { node: "/usr/bin/node", launcher: "/usr/lib/node_modules/secretfile/bin/secretfile" };

// A systemctl that records its arguments, one call a line, and exits with `status`.
function fakeSystemctl(status = 0): { file: string; calls: () => string[] } {
  const { dir, cleanup } = tempDir("sf-systemctl-");
  onTestFinished(cleanup);
  const file = path.join(dir, "systemctl");
  const log = path.join(dir, "calls");
  writeFileSync(log, "");
  writeFileSync(file, `#!/bin/sh\necho "$*" >> ${log}\necho "fake failure" >&2\nexit ${status}\n`);
  chmodSync(file, 0o755);
  return { file, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

describe("start", () => {
  it.for<[string, UnitChanges, string[]]>([
    ["first install", { service: "created", socket: "created" }, ["daemon-reload", "enable --now secretfile.socket"]],
    ["nothing changed", { service: "kept", socket: "kept" }, ["enable --now secretfile.socket"]],
    [
      "the service changed",
      { service: "updated", socket: "kept" },
      ["daemon-reload", "enable --now secretfile.socket", "try-restart secretfile.service"],
    ],
    [
      "the socket changed",
      { service: "updated", socket: "updated" },
      ["daemon-reload", "enable --now secretfile.socket", "restart secretfile.socket"],
    ],
  ])("with systemd, %s: runs systemctl %j", async ([, changes, expected]) => {
    const fake = fakeSystemctl();
    const log = new ActionLog();
    await start(
      { systemd: true, unitsDir: SYSTEM_UNITS_DIR, changes, user: "secretfile", run, paths, systemctl: fake.file },
      log,
    );
    expect(fake.calls()).toEqual(expected);
    expect(log.actions.map((a) => `${a.kind} ${a.text}`)).toEqual(expected.map((c) => `ran systemctl ${c}`));
  });

  it("fails with systemctl's message and a hint when systemctl fails", async () => {
    const fake = fakeSystemctl(1);
    const changes: UnitChanges = { service: "kept", socket: "kept" };
    const started = start(
      { systemd: true, unitsDir: SYSTEM_UNITS_DIR, changes, user: "secretfile", run, paths, systemctl: fake.file },
      new ActionLog(),
    );
    await expect(started).rejects.toBeInstanceOf(FailureError);
    await expect(started).rejects.toThrow("systemctl enable --now secretfile.socket failed (exit 1): fake failure");
  });

  it.for([
    { systemd: false, unitsDir: SYSTEM_UNITS_DIR, why: "systemd is not running here" },
    { systemd: true, unitsDir: "/tmp/units", why: "the units are in /tmp/units, not /etc/systemd/system" },
  ])(
    "without systemd or outside its folder ($why), starts nothing and says how to start the agent",
    async ({ systemd, unitsDir, why }) => {
      const fake = fakeSystemctl();
      const log = new ActionLog();
      await start(
        {
          systemd,
          unitsDir,
          changes: { service: "created", socket: "created" },
          user: "secretfile",
          run,
          paths,
          systemctl: fake.file,
        },
        log,
      );
      expect(fake.calls()).toEqual([]);
      expect(log.actions.slice(0, 1)).toEqual([
        {
          kind: "next",
          text:
            `${why}, so nothing was started; start the agent by hand as root: runuser -u secretfile -- /usr/bin/node ` +
            "/usr/lib/node_modules/secretfile/bin/secretfile agent --dir /var/lib/secretfile --socket /run/secretfile/agent.sock " +
            "--policy /etc/secretfile/policy --audit /var/log/secretfile/audit.log &",
        },
      ]);
      expect(log.actions.slice(1).map((a) => a.text)).toEqual(
        systemd ? [] : ["/run is emptied at boot: after a reboot, run setup again before starting the agent"],
      );
    },
  );
});
