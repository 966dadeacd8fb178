// System mode end to end with a real cron daemon (Debian's cron): a Python job run through `secretfile exec` by a
// locked-down user in the policy receives its key; a user outside the policy is refused with exit 104 (exec's own refusal, 100 + 4).

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { CRON_WAIT_MS, filesWritten, hasCron, useCron, waitFor } from "../../helpers/cron.js";
import { NEEDS_ROOT, NODE, useSystem, type RunningAgent, type TestUser } from "../../helpers/system.js";
import { execOwnExit } from "../../../src/errors.js";

describe.skipIf(!isRoot || !hasCron)(
  `system mode under a real cron daemon (${isRoot ? "needs Debian's cron: apt-get install cron" : NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["job", "outsider"]);
    const key = `key-${randomBytes(16).toString("hex")}`;
    let agent: RunningAgent;
    const cron = useCron();
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
      await cron.ensure();
    });

    afterAll(() => {
      for (const user of [sys.users.job, sys.users.outsider])
        spawnSync("crontab", ["-r", "-u", user.name], { stdio: "ignore" });
    });

    it(
      "runs a Python job through secretfile exec with its key, and refuses a user outside the policy with exit 104",
      async () => {
        await waitFor(filesWritten([out.job.status, out.outsider.status]), CRON_WAIT_MS, cron.ensure);
        const log = (role: "job" | "outsider") =>
          existsSync(out[role].log) ? readFileSync(out[role].log, "utf8") : "(no log)";
        expect(existsSync(out.job.status), `the job never ran; its log: ${log("job")}`).toBe(true);
        expect(existsSync(out.outsider.status), `the outsider's job never ran; its log: ${log("outsider")}`).toBe(true);

        expect(readFileSync(out.job.status, "utf8").trim(), log("job")).toBe("0");
        const proof = JSON.parse(log("job").trim().split("\n")[0]!) as Record<string, { sha256: string } | null>;
        expect(proof.API_KEY?.sha256).toBe(createHash("sha256").update(key, "utf8").digest("hex"));
        expect(proof.OTHER_KEY).toBeNull();
        expect(log("job")).not.toContain(key);

        expect(readFileSync(out.outsider.status, "utf8").trim(), log("outsider")).toBe(String(execOwnExit(4)));
        expect(log("outsider")).toContain(sys.users.outsider.name);
        expect(log("outsider")).not.toContain(key);

        // The agent saw each job as its own uid, through cron.
        const decisions = agent.auditLines().filter((l) => l.op === "values");
        expect(decisions).toContainEqual(
          expect.objectContaining({ uid: sys.users.job.uid, user: sys.users.job.name, allowed: true }),
        );
        expect(decisions).toContainEqual(expect.objectContaining({ uid: sys.users.outsider.uid, allowed: false }));
      },
      CRON_WAIT_MS + 20_000,
    );
  },
);
