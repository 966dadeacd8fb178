// History and rollback through a real agent: who may list versions (a reader or a writer of the name), who may roll
// back (a writer), who may change the limit (root), and every one of these decisions in the audit log, never a value.
// Rules: root only (it makes users and runs the agent as a service uid); skipped otherwise.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, request, useSystem } from "../../helpers/system.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

describe.skipIf(!isRoot)(`history and rollback through the agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["reader", "writer", "stranger"]);

  it(
    "readers and writers see versions, writers roll back, root sets the limit; all audited, no value anywhere",
    { timeout: 240_000 },
    async () => {
      const { reader, writer, stranger } = sys.users;
      const values = [value("v1"), value("v2"), value("v3"), value("v4")];
      const agent = await sys.startAgent({
        policyText: `read user:${reader.name} API_KEY\nwrite user:${writer.name} API_KEY\n`,
        secrets: { API_KEY: values[0]! },
      });
      for (const v of values.slice(1))
        expect(await agent.run(["add", "API_KEY", "--replace"], { as: writer, input: v })).toMatchObject({ code: 0 });

      // Versions and dates: the reader and the writer (who may not read the value) both see them.
      for (const who of [reader, writer]) {
        const r = await agent.run(["history", "API_KEY", "--json"], { as: who });
        expect(r.code, r.stderr).toBe(0);
        expect((JSON.parse(r.stdout) as { version: number }[]).map((v) => v.version)).toEqual([4, 3, 2, 1]);
      }
      const denied = await agent.run(["history", "API_KEY"], { as: stranger });
      expect(denied).toMatchObject({ code: 4, stdout: "" });
      expect(denied.stderr).toBe(
        `secretfile: error: user ${stranger.name} (uid ${stranger.uid}) may not read API_KEY\n` +
          `secretfile: hint: an admin can grant it in ${agent.policy}, e.g. \`read user:${stranger.name} API_KEY\`\n`,
      );

      // Rollback is a write: the reader is refused, the writer may, and it can be undone.
      const readerBack = await agent.run(["rollback", "API_KEY"], { as: reader });
      expect(readerBack).toMatchObject({ code: 4 });
      expect(readerBack.stderr).toMatch(/^secretfile: error: user \S+ \(uid \d+\) may not write API_KEY\n/);
      const back = await agent.run(["rollback", "API_KEY", "--to", "2"], { as: writer });
      expect(back).toMatchObject({ code: 0, stdout: "" });
      expect(back.stderr).toBe(
        "secretfile: API_KEY is back to the value of version 2, as version 5\nsecretfile: `secretfile rollback API_KEY` undoes it\n",
      );
      expect(await agent.run(["get", "API_KEY"], { as: reader })).toMatchObject({ code: 0, stdout: values[1] });
      expect(await agent.run(["get", "API_KEY"], { as: writer })).toMatchObject({ code: 4 }); // write still does not imply read
      expect(await agent.run(["rollback", "API_KEY"], { as: writer })).toMatchObject({ code: 0 });
      expect(await agent.run(["get", "API_KEY"], { as: reader })).toMatchObject({ code: 0, stdout: values[3] });
      expect(await agent.run(["rollback", "API_KEY", "--to", "99"], { as: writer })).toMatchObject({ code: 3 });

      // The limit is the store's: root may change it, nobody else; anyone may see it.
      const notRoot = await agent.run(["history", "--keep", "1"], { as: writer });
      expect(notRoot).toMatchObject({ code: 4, stdout: "" });
      expect(notRoot.stderr).toBe(
        `secretfile: error: user ${writer.name} (uid ${writer.uid}) may not change the history limit of ${agent.dir}/store.age\n` +
          "secretfile: hint: only root may: `sudo secretfile history --keep N`\n",
      );
      expect(await agent.run(["history", "--keep", "2"])).toMatchObject({
        code: 0,
        stderr: "secretfile: each secret now keeps up to 2 earlier values\n",
      });
      expect(await agent.run(["history", "--json"], { as: stranger })).toMatchObject({
        code: 0,
        stdout: '{"keep":2}\n',
      });
      const kept = await agent.run(["history", "API_KEY", "--json"], { as: reader });
      expect((JSON.parse(kept.stdout) as { version: number }[]).map((v) => v.version)).toEqual([6, 5, 4]);

      // Malformed requests are usage errors, and the agent keeps serving.
      expect(await request(agent.socket, { v: 1, op: "rollback", name: "API_KEY", to: 0 })).toMatchObject({
        ok: false,
        error: { code: "usage" },
      });
      expect(await request(agent.socket, { v: 1, op: "history" })).toMatchObject({
        ok: false,
        error: { code: "usage" },
      });
      expect(await request(agent.socket, { v: 1, op: "settings", historyKeep: 101 })).toMatchObject({
        ok: false,
        error: { code: "usage" },
      });
      expect(await request(agent.socket, { v: 1, op: "ping" })).toMatchObject({ ok: true });

      // Every decision is in the audit log, with the names and never a value.
      const all = agent.auditLines();
      // A change's intent line (before it) is left aside here: one per change allowed, each before its outcome.
      expect(all.filter((l) => l.intent === true).map((l) => l.op)).toEqual([
        "add",
        "add",
        "add",
        "rollback",
        "rollback",
        "rollback",
        "settings",
      ]);
      const lines = all.filter((l) => l.intent !== true);
      const of = (op: string) => lines.filter((l) => l.op === op).map((l) => [l.user, l.allowed]);
      expect(of("history")).toEqual([
        [reader.name, true],
        [writer.name, true],
        [stranger.name, false],
        [reader.name, true],
      ]);
      expect(of("rollback")).toEqual([
        [reader.name, false],
        [writer.name, true],
        [writer.name, true],
        [writer.name, false],
      ]);
      expect(of("settings")).toEqual([
        [writer.name, false],
        ["root", true],
        [stranger.name, true],
      ]);
      expect(lines.find((l) => l.op === "rollback" && l.allowed === true)).toMatchObject({
        names: ["API_KEY"],
        reason: expect.stringMatching(/^rolled back to version 2 as version 5: rule at line 2 /),
      });
      const audit = readFileSync(agent.auditPath, "utf8") + agent.stderr();
      for (const v of values) expect(audit).not.toContain(v);
    },
  );
});
