// The files in examples/ work as shipped: the crontab line's command, run as a job user against a real agent; the
// systemd service and timer, checked by `systemd-analyze verify`; and the Python job run through `secretfile exec`.

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isRoot, ROOT, tempDir } from "../helpers/cli.js";
import { removeSandboxes, sandbox } from "../helpers/personal.js";
import { NEEDS_ROOT, NODE, useSystem, type RunningAgent, type TestUser } from "../helpers/system.js";
import { execOwnExit } from "../../src/errors.js";

const EXAMPLES = path.join(ROOT, "examples");
const PYTHON = "/usr/bin/python3";
const INSTALLED = "/usr/local/bin/secretfile";
const JOB = "/opt/jobs/report.py";
const hasPython = existsSync(PYTHON);
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const fingerprint = (key: string) => createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12);

/** The crontab's variable assignments and the command of its one job line. */
function crontabJob(): { env: Record<string, string>; command: string } {
  const env: Record<string, string> = {};
  const commands: string[] = [];
  for (const line of readFileSync(path.join(EXAMPLES, "crontab"), "utf8").split("\n")) {
    const text = line.trim();
    if (text === "" || text.startsWith("#")) continue;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(text);
    if (assignment !== null) env[assignment[1]!] = assignment[2]!;
    else commands.push(text.split(/\s+/).slice(5).join(" "));
  }
  expect(commands).toHaveLength(1);
  return { env, command: commands[0]! };
}

/** The ExecStart= command of examples/report.service. */
function serviceCommand(): string {
  const m = /^ExecStart=(.*)$/m.exec(readFileSync(path.join(EXAMPLES, "report.service"), "utf8"));
  return m![1]!;
}

describe.skipIf(!isRoot || !hasPython)(
  `examples against a real agent (${isRoot ? "needs /usr/bin/python3" : NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["report", "outsider"]);
    const key = `report-${randomBytes(16).toString("hex")}`;
    let agent: RunningAgent;
    /** The installed command and the job, as the world has them. */
    let wrapper: string;
    let job: string;

    beforeAll(async () => {
      agent = await sys.startAgent({
        policyText: `read user:${sys.users.report.name} MERAKI_API_KEY\n`,
        secrets: { MERAKI_API_KEY: key, OTHER_KEY: "other" },
      });
      const dir = sys.world.mkdir("installed", 0o755);
      wrapper = path.join(dir, "secretfile");
      writeFileSync(wrapper, `#!/bin/sh\nexec ${NODE} ${sys.world.bin} "$@"\n`, { mode: 0o755 });
      job = path.join(dir, "report.py");
      copyFileSync(path.join(EXAMPLES, "report.py"), job);
      chmodSync(job, 0o755);
    });

    /** Runs a shipped command line through /bin/sh as `as`, with cron's environment, our paths put in for the shipped ones. */
    const runAsCron = async (command: string, as: TestUser, env: Record<string, string> = {}) => {
      expect(command).toContain(INSTALLED);
      expect(command).toContain(JOB);
      const local = command.replaceAll(INSTALLED, wrapper).replaceAll(JOB, job);
      const child = spawn("/bin/sh", ["-c", local], {
        // What cron sets, plus the test agent's socket (in production the default socket is used).
        env: {
          PATH: "/usr/bin:/bin",
          SHELL: "/bin/sh",
          HOME: sys.world.root,
          LOGNAME: as.name,
          ...env,
          SECRETFILE_SOCKET: agent.socket,
        },
        cwd: sys.world.root,
        uid: as.uid,
        gid: as.gid,
        stdio: ["pipe", "pipe", "pipe"],
      });
      return collect(child);
    };

    it("the crontab line gives the job its key, and only to the user the policy names", async () => {
      const { env, command } = crontabJob();
      const r = await runAsCron(command, sys.users.report, env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`report: MERAKI_API_KEY sha256:${fingerprint(key)}; dry run, no API called\n`);
      expect(r.stdout + r.stderr).not.toContain(key);
      const refused = await runAsCron(command, sys.users.outsider, env);
      expect(refused.code).toBe(execOwnExit(4)); // exec's own refusal, not a job's status
      expect(refused.stdout).toBe("");
    });

    it("the service's ExecStart= runs the same way", async () => {
      const r = await runAsCron(serviceCommand(), sys.users.report);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`sha256:${fingerprint(key)}`);
    });
  },
);

describe("examples/report.service and report.timer", () => {
  it.skipIf(!hasAnalyze)(
    `pass systemd-analyze verify${hasAnalyze ? "" : " (skipped: systemd-analyze is not installed)"}`,
    () => {
      const { dir, cleanup } = tempDir("secretfile-units-");
      try {
        // verify checks that ExecStart='s program exists: point it at this checkout's launcher and job.
        const service = readFileSync(path.join(EXAMPLES, "report.service"), "utf8")
          .replaceAll(INSTALLED, path.join(ROOT, "bin", "secretfile"))
          .replaceAll(JOB, path.join(EXAMPLES, "report.py"));
        writeFileSync(path.join(dir, "report.service"), service);
        copyFileSync(path.join(EXAMPLES, "report.timer"), path.join(dir, "report.timer"));
        const r = spawnSync(
          "systemd-analyze",
          ["verify", path.join(dir, "report.service"), path.join(dir, "report.timer")],
          { encoding: "utf8" },
        );
        expect(r.status, r.stderr).toBe(0);
        // Unknown or misspelt settings are only warnings: there must be none.
        expect(r.stderr).toBe("");
        expect(service).toMatch(/^User=report$/m);
        expect(readFileSync(path.join(EXAMPLES, "report.timer"), "utf8")).toMatch(/^OnCalendar=hourly$/m);
      } finally {
        cleanup();
      }
    },
  );
});

describe.skipIf(!hasPython)("examples/report.py through secretfile exec (personal mode)", () => {
  afterAll(removeSandboxes);
  const job = path.join(EXAMPLES, "report.py");

  it("reads its key from the environment and prints only a fingerprint", async () => {
    const sb = sandbox();
    const key = `k-${randomBytes(16).toString("hex")}`;
    await sb.add("MERAKI_API_KEY", key);
    const r = await sb.run(["exec", "--only", "MERAKI_API_KEY", "--", PYTHON, job]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`report: MERAKI_API_KEY sha256:${fingerprint(key)}; dry run, no API called\n`);
    const dry = await sb.run(["exec", "--", PYTHON, job, "--dry-run"], {
      env: { REPORT_URL: "https://api.example.com/v1/report" },
    });
    expect(dry.stdout).toContain("(would call https://api.example.com/v1/report)");
  });

  it("says how to run it when its key is missing, with exit 78", async () => {
    const sb = sandbox();
    await sb.add("OTHER_KEY", "x");
    const r = await sb.run(["exec", "--only", "OTHER_KEY", "--", PYTHON, job]);
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toContain("secretfile exec --only MERAKI_API_KEY");
  });
});
