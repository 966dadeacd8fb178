// System mode end to end with a real cron daemon (Debian's cron): a Python job run through `secretfile exec` by a
// locked-down user in the policy receives its key; a user outside the policy is refused with exit 4.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, useSystem, type RunningAgent, type TestUser } from "../../helpers/system.js";

const CRON = "/usr/sbin/cron";
const hasCron = existsSync(CRON) && spawnSync("which", ["crontab"]).status === 0;
/** A job runs at the next minute boundary; allow one missed minute (a crontab installed just as the minute turns). */
const WAIT_MS = 130_000;

/** Returns the pid of a live cron daemon already running on this machine, if any. */
function runningCron(): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^Name:\s+cron$/m.test(status) && !/^State:\s+Z/m.test(status)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** Waits until every file holds a full line, or `ms` passed; calls `tick` every half second meanwhile. */
async function waitForFiles(files: string[], ms: number, tick: () => Promise<void>): Promise<void> {
  const until = Date.now() + ms;
  const done = () => files.every((f) => existsSync(f) && readFileSync(f, "utf8").endsWith("\n"));
  while (!done() && Date.now() < until) {
    await tick();
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!isRoot || !hasCron)(
  `system mode under a real cron daemon (${isRoot ? "needs Debian's cron: apt-get install cron" : NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["job", "outsider"]);
    const key = `key-${randomBytes(16).toString("hex")}`;
    let agent: RunningAgent;
    let cron: ChildProcess | undefined;
    const out: Record<"job" | "outsider", { dir: string; log: string; status: string }> = {} as never;

    beforeAll(async () => {
      const { world, users } = sys;
      agent = await sys.startAgent({
        policyText: `read user:${users.job.name} API_KEY\n`,
        secrets: { API_KEY: key, OTHER_KEY: `other-${key}` },
      });
      const job = world.fixture("secret-proof.py");
      const install = (role: "job" | "outsider", user: TestUser) => {
        const dir = world.mkdir(`cron-${role}`, 0o755, user);
        out[role] = { dir, log: path.join(dir, "job.log"), status: path.join(dir, "status") };
        // cron's environment: PATH=/usr/bin:/bin, SHELL=/bin/sh, HOME from passwd; so absolute paths everywhere.
        const line =
          `* * * * * SECRETFILE_SOCKET=${agent.socket} ${NODE} ${world.bin} exec --only API_KEY -- /usr/bin/python3 ${job} API_KEY OTHER_KEY` +
          ` >> ${out[role].log} 2>&1; echo $? > ${out[role].status}.tmp && mv ${out[role].status}.tmp ${out[role].status}\n`;
        const tab = path.join(world.root, `crontab-${role}`);
        writeFileSync(tab, line, { mode: 0o644 });
        const r = spawnSync("crontab", ["-u", user.name, tab], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`crontab -u ${user.name} failed: ${r.stderr}`);
      };
      install("job", users.job);
      install("outsider", users.outsider);
      await ensureCron();
    });

    /** Reuses a cron daemon already running here, else starts one (and checks again later: a reused one may stop). */
    async function ensureCron(): Promise<void> {
      if (cron !== undefined && cron.exitCode === null && cron.signalCode === null) return;
      if (runningCron() !== undefined) return;
      cron = spawn(CRON, ["-f"], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 500));
      if (cron.exitCode !== null && runningCron() === undefined)
        throw new Error(`${CRON} -f exited at once (${cron.exitCode})`);
    }

    afterAll(async () => {
      for (const user of [sys.users.job, sys.users.outsider])
        spawnSync("crontab", ["-r", "-u", user.name], { stdio: "ignore" });
      if (cron !== undefined && cron.exitCode === null && cron.signalCode === null) {
        const ended = new Promise((r) => cron!.once("exit", r));
        cron.kill("SIGTERM");
        await ended;
      }
    });

    it(
      "runs a Python job through secretfile exec with its key, and refuses a user outside the policy with exit 4",
      async () => {
        await waitForFiles([out.job.status, out.outsider.status], WAIT_MS, ensureCron);
        const log = (role: "job" | "outsider") =>
          existsSync(out[role].log) ? readFileSync(out[role].log, "utf8") : "(no log)";
        expect(existsSync(out.job.status), `the job never ran; its log: ${log("job")}`).toBe(true);
        expect(existsSync(out.outsider.status), `the outsider's job never ran; its log: ${log("outsider")}`).toBe(true);

        expect(readFileSync(out.job.status, "utf8").trim(), log("job")).toBe("0");
        const proof = JSON.parse(log("job").trim().split("\n")[0]!) as Record<string, { sha256: string } | null>;
        expect(proof.API_KEY?.sha256).toBe(createHash("sha256").update(key, "utf8").digest("hex"));
        expect(proof.OTHER_KEY).toBeNull();
        expect(log("job")).not.toContain(key);

        expect(readFileSync(out.outsider.status, "utf8").trim(), log("outsider")).toBe("4");
        expect(log("outsider")).toContain(sys.users.outsider.name);
        expect(log("outsider")).not.toContain(key);

        // The agent saw each job as its own uid, through cron.
        const decisions = agent.auditLines().filter((l) => l.op === "values");
        expect(decisions).toContainEqual(
          expect.objectContaining({ uid: sys.users.job.uid, user: sys.users.job.name, allowed: true }),
        );
        expect(decisions).toContainEqual(expect.objectContaining({ uid: sys.users.outsider.uid, allowed: false }));
      },
      WAIT_MS + 20_000,
    );
  },
);
