// System mode, the audit log on a real full tmpfs: a change whose audit line cannot be written is not made. The
// agent writes and flushes a change's intent line before it touches the store; when that fails, `add --replace`
// exits 1 naming the log, the store still decrypts to the old value, and the log holds no line of the change.

import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, request, useSystem } from "../../helpers/system.js";
import { fill, prepareFiles, readStore, withAuditOnTmpfs } from "./support.js";

const OLD = "old-value-4be1";
const NEW = "new-value-93ac";

describe.skipIf(!isRoot)(`system mode: a change on a full audit log (${NEEDS_ROOT})`, { timeout: 300_000 }, () => {
  const sys = useSystem(["admin"]);

  it("add --replace exits 1, the store keeps the old value and the log has no line of it; with room again it is made, intent first", async (ctx) => {
    const { service, admin } = sys.users;
    const files = await prepareFiles(sys.world, service, `write user:${admin.name} K\n`, { K: OLD });
    await withAuditOnTmpfs(sys.world, service, files, ctx, async (_agent, onTmpfs, mnt) => {
      const env = { SECRETFILE_SOCKET: files.socket };
      const filler = path.join(mnt, "filler");
      fill(filler);
      // What room the log's last page has left is taken by root's reads (each one audited) until one cannot be.
      let served = 0;
      while (served < 200 && (await request(files.socket, { v: 1, op: "get", name: "K" })).ok) served++;
      expect(served).toBeLessThan(200);

      const refused = await sys.world.run(["add", "--replace", "K"], { as: admin, env, input: NEW });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`secretfile: error: cannot write the audit log ${onTmpfs.audit}: ENOSPC`);
      expect((await readStore(files.dir)).secrets.K?.value).toBe(OLD);
      const before = readFileSync(onTmpfs.audit, "utf8");
      expect(before).not.toContain('"op":"add"');

      rmSync(filler);
      const made = await sys.world.run(["add", "--replace", "K"], { as: admin, env, input: NEW });
      expect(made.code, made.stderr).toBe(0);
      expect((await readStore(files.dir)).secrets.K?.value).toBe(NEW);
      const adds = readFileSync(onTmpfs.audit, "utf8")
        .split("\n")
        .filter((l) => l.includes('"op":"add"'))
        .map((l) => JSON.parse(l) as { intent?: boolean; reason: string; allowed: boolean });
      expect(adds.map((a) => [a.intent === true, a.allowed, a.reason.split(":")[0]])).toEqual([
        [true, true, "replacing"],
        [false, true, "replaced"],
      ]);
      const shown = await sys.world.run(["audit", "--audit", onTmpfs.audit, "--name", "K"]);
      expect(shown.stdout).toMatch(/ intent +add +K /);
      expect(shown.stdout).toMatch(/ allowed +add +K /);
    });
  });
});
