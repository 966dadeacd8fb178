// The units' text: paths systemd reads literally, hardening kept or relaxed for where things are installed.
import { describe, expect, it } from "vitest";
import { folders } from "../../src/setup/folders.js";
import { checkUnitPath, renderUnits } from "../../src/setup/units.js";
import { UsageError } from "../../src/errors.js";
import agentNodeFlags from "../../src/setup/agent-node-flags.json" with { type: "json" };

const paths = {
  dir: "/var/lib/secretfile",
  socket: "/run/secretfile/agent.sock",
  policy: "/etc/secretfile/policy",
  audit: "/var/log/secretfile/audit.log",
};
const inputs = {
  node: "/usr/bin/node",
  nodeVersion: "v20.20.0",
  launcher: "/usr/lib/node_modules/secretfile/bin/secretfile",
  user: "secretfile",
  group: "secretfile",
  paths,
};

describe("renderUnits", () => {
  it("runs the agent as the account, with the resolved node and launcher, and only its two folders writable", () => {
    const { service, socket, warnings } = renderUnits(inputs);
    expect(service).toContain(
      `ExecStart=/usr/bin/node ${agentNodeFlags.join(" ")} /usr/lib/node_modules/secretfile/bin/secretfile agent --dir /var/lib/secretfile ` +
        "--socket /run/secretfile/agent.sock --policy /etc/secretfile/policy --audit /var/log/secretfile/audit.log\n",
    );
    expect(service).toMatch(/^User=secretfile\nGroup=secretfile$/m);
    expect(service).toContain("ReadWritePaths=/var/lib/secretfile /var/log/secretfile\n");
    expect(service).toContain("ProtectHome=yes\n");
    expect(service).toContain("ProtectSystem=strict\n");
    expect(service).toContain("RestrictAddressFamilies=AF_UNIX\n");
    expect(service).not.toMatch(/^(MemoryDenyWriteExecute|PrivateUsers|ProtectProc|ProcSubset|RuntimeDirectory)=/m);
    expect(socket).toContain(
      "ListenStream=/run/secretfile/agent.sock\nSocketUser=secretfile\nSocketGroup=secretfile\nSocketMode=0666\n",
    );
    expect(warnings).toEqual([]);
  });

  it.for([
    ["v20.20.0", false],
    ["v22.13.1", false],
    ["v22.14.0", true],
    ["v23.6.0", false],
    ["v23.7.0", true],
    ["v24.0.0", true],
    ["v26.12.1", true],
  ] as const)("starts node %s with --disable-sigusr1: %s (where it has the flag)", ([nodeVersion, has]) => {
    const flags = [...agentNodeFlags, ...(has ? ["--disable-sigusr1"] : [])];
    expect(renderUnits({ ...inputs, nodeVersion }).service).toContain(
      `\nExecStart=/usr/bin/node ${flags.join(" ")} ${inputs.launcher} agent --dir `,
    );
  });

  it("is the same text for the same inputs (so a second setup keeps the files)", () => {
    expect(renderUnits(inputs)).toEqual(renderUnits(inputs));
  });

  it("keeps a node installed under a home folder readable (ProtectHome=read-only) and says so", () => {
    const { service, warnings } = renderUnits({ ...inputs, node: "/home/ops/.nvm/versions/node/v20.20.2/bin/node" });
    expect(service).toContain("ProtectHome=read-only\n");
    expect(warnings).toEqual([expect.stringContaining("/home/ops/.nvm/versions/node/v20.20.2/bin/node")]);
  });

  it("warns when a file the agent needs is under /tmp, which PrivateTmp hides", () => {
    const { warnings } = renderUnits({ ...inputs, launcher: "/tmp/x/bin/secretfile" });
    expect(warnings).toEqual([expect.stringMatching(/PrivateTmp=yes hides .*\/tmp\/x\/bin\/secretfile/)]);
  });

  it.for([
    "/opt/my apps/secretfile",
    "/opt/50%/secretfile",
    "/opt/$HOME/secretfile",
    "relative/secretfile",
    "/opt/../etc/secretfile",
    '/opt/"q"',
  ])("refuses the path %j, which systemd would not read literally", (launcher) => {
    expect(() => renderUnits({ ...inputs, launcher })).toThrow(UsageError);
    expect(() => checkUnitPath(launcher, "launcher")).toThrow(/cannot go into a systemd unit as it is/);
  });
});

describe("folders", () => {
  const account = { name: "secretfile", uid: 990, gid: 990, group: "secretfile" };

  it("gives each folder its owner and mode: state 0700, policy root 0755, audit 0700, socket 0755", () => {
    expect(folders(paths, account).map((f) => [f.dir, f.want.uid, f.want.gid, f.want.mode.toString(8)])).toEqual([
      ["/var/lib/secretfile", 990, 990, "700"],
      ["/etc/secretfile", 0, 0, "755"],
      ["/var/log/secretfile", 990, 990, "700"],
      ["/run/secretfile", 990, 990, "755"],
    ]);
  });

  it("merges folders that coincide with the same needs, and refuses ones that conflict", () => {
    expect(folders({ ...paths, audit: "/var/lib/secretfile/audit.log" }, account)).toHaveLength(3);
    expect(() => folders({ ...paths, policy: "/var/lib/secretfile/policy" }, account)).toThrow(UsageError);
  });
});
