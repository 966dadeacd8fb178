// System mode with an audit log that cannot be written (a real full tmpfs): no value leaves the agent unaudited. The
// agent writes the lines of one event-loop turn together and answers those requests only afterwards, so every request
// of a turn whose write fails is refused (exit 1, the log named, what to do), and once space is freed the same agent
// serves again, its hash chain going on from what really reached the file.

import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hashLine } from "../../../src/audit/chain.js";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, request, useSystem } from "../../helpers/system.js";
import { fill, prepareFiles, withAuditOnTmpfs } from "./support.js";

const VALUE = "audited-value-7f3c9a";

describe.skipIf(!isRoot)(
  `system mode: the audit log's file system is full (${NEEDS_ROOT})`,
  { timeout: 300_000 },
  () => {
    const sys = useSystem(["reader"]);

    it("refuses every request while a line cannot be written, gives no value, and serves again once there is room", async (ctx) => {
      const { service, reader } = sys.users;
      const files = await prepareFiles(sys.world, service, `read user:${reader.name} *\n`, { K: VALUE });
      await withAuditOnTmpfs(sys.world, service, files, ctx, async (_agent, onTmpfs, mnt) => {
        const env = { SECRETFILE_SOCKET: files.socket };
        const ok = await sys.world.run(["get", "K"], { as: reader, env });
        expect([ok.code, ok.stdout], ok.stderr).toEqual([0, VALUE]);

        const filler = path.join(mnt, "filler");
        fill(filler);
        // The log's last page may still hold a few lines: those requests are served (and audited) until it is full.
        let served = 0;
        while (served < 200 && (await request(files.socket, { v: 1, op: "get", name: "K" })).ok) served++;
        expect(served).toBeLessThan(200);
        const refused = await sys.world.run(["get", "K"], { as: reader, env });
        expect([refused.code, refused.stdout]).toEqual([1, ""]);
        expect(refused.stderr).toContain(`secretfile: error: cannot write the audit log ${onTmpfs.audit}: ENOSPC`);
        expect(refused.stderr).toContain(`secretfile: hint: free some space on the file system of ${onTmpfs.audit}`);
        expect(refused.stderr).not.toContain(VALUE);
        // Many at once (root may read everything, so only the audit log stands in the way): each one refused, no value.
        const answers = await Promise.all(
          Array.from({ length: 40 }, () => request(files.socket, { v: 1, op: "get", name: "K" })),
        );
        for (const a of answers) expect(a).toMatchObject({ ok: false, error: { code: "failure" } });
        expect(JSON.stringify(answers)).not.toContain(VALUE);

        rmSync(filler);
        const again = await sys.world.run(["get", "K"], { as: reader, env });
        expect([again.code, again.stdout], again.stderr).toEqual([0, VALUE]);
        const more = await Promise.all(
          Array.from({ length: 40 }, () => request(files.socket, { v: 1, op: "get", name: "K" })),
        );
        for (const a of more) expect(a).toMatchObject({ ok: true, value: VALUE });

        // The chain goes on from the bytes in the file: a line the full disk cut short is ended, and the next names it.
        const lines = readFileSync(onTmpfs.audit, "utf8").split("\n").slice(0, -1);
        const decisions = lines.filter((l) => l.includes('"op":"get"') && l.includes('"allowed":true'));
        expect(decisions.length).toBe(1 + served + 1 + 40);
        const cut = lines.filter((l) => !l.endsWith("}"));
        for (let i = 1; i < lines.length; i++) {
          if (lines[i]!.endsWith("}"))
            expect((JSON.parse(lines[i]!) as { prev?: unknown }).prev, `line ${i + 1}`).toBe(hashLine(lines[i - 1]!));
        }
        const verify = await sys.world.run(["audit", "verify", "--audit", onTmpfs.audit]);
        if (cut.length === 0) expect(verify.code, verify.stderr).toBe(0);
        else {
          expect(verify.code).toBe(5);
          expect(verify.stderr).toContain("it is not a complete JSON record");
          expect(verify.stderr).not.toContain("does not follow");
        }
      });
    });
  },
);
