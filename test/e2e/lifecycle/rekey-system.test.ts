// rekey in system mode: the service account rekeys its state folder while the agent serves it; the agent keeps
// answering, writes made through it in the meantime open with the new identity, and after --finish it reloads the new
// identity by itself. root is told to run the command as the store's owner instead of making the files its own.

import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ageDecrypt, hasAge } from "../../helpers/age.js";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem } from "../../helpers/system.js";

const SLOW = 300_000;

describe.skipIf(!isRoot)(`rekey under a running agent (${NEEDS_ROOT})`, { timeout: SLOW }, () => {
  const sys = useSystem(["job"]);

  it("the agent serves throughout, takes writes in between, and picks up the new identity after --finish", async () => {
    const { job, service } = sys.users;
    const agent = await sys.startAgent({
      policyText: `read user:${job.name} *\n`,
      secrets: { API_KEY: "before-rekey" },
    });
    const asService = (args: string[]) => sys.world.run([...args, "--dir", agent.dir], { as: service });

    const byRoot = await sys.world.run(["rekey", "--dir", agent.dir]);
    expect(byRoot.code).toBe(4);
    expect(byRoot.stderr).toContain(
      `secretfile: error: ${agent.dir} belongs to uid ${service.uid}; root does not work on another account's store`,
    );
    expect(byRoot.stderr).toContain(
      `secretfile: hint: run it as the store's owner: sudo -u '#${service.uid}' secretfile rekey --dir ${agent.dir}`,
    );
    expect(existsSync(path.join(agent.dir, "identity.txt.new"))).toBe(false);

    const before = (await asService(["recipient"])).stdout.trim();
    expect((await asService(["rekey"])).code).toBe(0);
    const after = (await asService(["recipient"])).stdout.trim();
    expect(after).not.toBe(before);
    expect(await agent.run(["get", "API_KEY"], { as: job })).toMatchObject({ code: 0, stdout: "before-rekey" });
    // A write through the agent, which loaded the old identity at start: it must encrypt to the new one too.
    expect((await agent.run(["add", "DURING"], { input: "written-between" })).code).toBe(0);
    if (hasAge)
      expect(ageDecrypt(path.join(agent.dir, "identity.txt"), path.join(agent.dir, "store.age")).toString()).toContain(
        "written-between",
      );
    expect((await asService(["rekey", "--finish"])).code).toBe(0);
    expect(existsSync(path.join(agent.dir, "identity.txt.old"))).toBe(false);
    // The store now opens only with the new identity: the agent reloads identity.txt and goes on serving.
    expect(await agent.run(["get", "DURING"], { as: job })).toMatchObject({ code: 0, stdout: "written-between" });
    expect((await agent.run(["add", "AFTER"], { input: "after-finish" })).code).toBe(0);
    expect(await agent.run(["get", "AFTER"], { as: job })).toMatchObject({ code: 0, stdout: "after-finish" });
    // The service account (without the agent) opens it with the new identity as well.
    expect((await sys.world.run(["get", "AFTER", "--dir", agent.dir], { as: service })).stdout).toBe("after-finish");
    expect(agent.alive()).toBe(true);
  });
});
