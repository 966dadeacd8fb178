// A store older than the one the agent has served is refused (invariant 11): a running agent serves on the newer store
// it holds, a restarted one serves nothing and says why; root alone takes the older store with `accept-store`, audited.

import { chownSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, untilReady, useSystem } from "../../helpers/system.js";

describe.skipIf(!isRoot)(`system mode: store generations (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["job"]);

  it("refuses an older store while running and after a restart, until root accepts it", async () => {
    const { job, service } = sys.users;
    const agent = await sys.startAgent({ policyText: `read user:${job.name} A_KEY\n`, secrets: { A_KEY: "old" } });
    const store = path.join(agent.dir, "store.age");
    const older = readFileSync(store);
    const first = await agent.run(["get", "A_KEY"], { as: job });
    expect([first.code, first.stdout], first.stderr).toEqual([0, "old"]);
    const replaced = await agent.run(["add", "A_KEY", "--replace"], { input: "new" });
    expect(replaced.code, replaced.stderr).toBe(0);
    const seen = JSON.parse(readFileSync(path.join(agent.dir, "store.seen"), "utf8")) as { generation: number };

    // Shipped back as configuration management does: a file renamed over the store.
    const shipOlder = () => {
      const tmp = path.join(agent.dir, "incoming");
      writeFileSync(tmp, older, { mode: 0o600 });
      chownSync(tmp, service.uid, service.gid);
      renameSync(tmp, store);
    };
    shipOlder();
    const refusals = () => agent.auditLines().filter((l) => l.event === "store-refused");
    const held = await agent.run(["get", "A_KEY"], { as: job });
    expect([held.code, held.stdout], held.stderr).toEqual([0, "new"]);
    expect(agent.stderr()).toMatch(/refusing the store .*store\.age: it is generation \d+, older than generation/);
    expect(agent.stderr()).toContain("serving on the store it holds");
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]).toMatchObject({ serving: "held", generation: seen.generation - 1 });

    // Restarted with only the older store: it starts, serves nothing, and every client is told why.
    await agent.stop();
    const again = sys.spawnAgent(agent);
    await untilReady(again, agent.socket);
    const refused = await agent.run(["get", "A_KEY"], { as: job });
    expect(refused.code).toBe(5);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/refusing the store .*older than generation/);
    expect(refused.stderr).toContain("accept-store");
    expect(again.stderr()).toContain("serving nothing until it is resolved");
    expect(refusals().at(-1)).toMatchObject({ serving: "nothing" });
    const write = await agent.run(["add", "B_KEY"], { input: "b" });
    expect(write.code, write.stderr).toBe(5); // a write on the older store is refused too

    // Only root may take it, and the taking is audited.
    const notRoot = await agent.run(["accept-store"], { as: job });
    expect(notRoot.code).toBe(4);
    expect(notRoot.stderr).toContain("only root may");
    const accepted = await agent.run(["accept-store"]);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain(`accepted the store: generation ${seen.generation - 1}`);
    expect(accepted.stderr).toContain(`previous: generation ${seen.generation}`);
    const lines = agent.auditLines();
    expect(lines.filter((l) => l.op === "accept-store").map((l) => l.allowed)).toEqual([false, true]);
    expect(lines.at(-1)).toMatchObject({
      event: "store-accepted",
      generation: seen.generation - 1,
      previous: { generation: seen.generation },
    });
    const now = await agent.run(["get", "A_KEY"], { as: job });
    expect([now.code, now.stdout], now.stderr).toEqual([0, "old"]);
    await again.stop();
  });
});
