// import through a real agent: one request, one write, all or nothing; a name the caller may not write stops it;
// the audit log names every name imported and holds no value. Rules: root only; skipped otherwise.

import { randomBytes } from "node:crypto";
import { chownSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, request, useSystem, type TestUser } from "../../helpers/system.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

describe.skipIf(!isRoot)(`import through the agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["writer", "job"]);

  it(
    "imports a .env in one request; a name outside the grant or an existing one stops all of it",
    { timeout: 240_000 },
    async () => {
      const { writer, job } = sys.users;
      const v = { a: value("a"), b: value("b"), c: value("c"), old: value("old"), other: value("other") };
      const agent = await sys.startAgent({
        policyText: `write user:${writer.name} APP_*\nread user:${job.name} APP_*\n`,
        secrets: { APP_OLD: v.old },
      });
      const envFile = (name: string, text: string, owner: TestUser) => {
        const file = path.join(sys.world.root, name);
        writeFileSync(file, text, { mode: 0o600 });
        chownSync(file, owner.uid, owner.gid);
        return file;
      };

      const good = envFile(
        "good.env",
        `# the app's keys\nexport APP_A=${v.a}\nAPP_B='${v.b}' # quoted\nAPP_C="${v.c}"\nAPP_EMPTY=\n`,
        writer,
      );
      const r = await agent.run(["import", good], { as: writer });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`secretfile: imported ${good}: 3 added, 0 replaced, 1 skipped\n`);
      for (const [name, want] of [
        ["APP_A", v.a],
        ["APP_B", v.b],
        ["APP_C", v.c],
      ]) {
        expect(await agent.run(["get", name!], { as: job })).toMatchObject({ code: 0, stdout: want });
      }

      // One name outside the writer's grant: refused (exit 4) naming it, and the others are not imported either.
      const outside = envFile("outside.env", `APP_D=${v.other}\nOTHER_KEY=${v.other}\n`, writer);
      const denied = await agent.run(["import", outside], { as: writer });
      expect(denied).toMatchObject({ code: 4, stdout: "" });
      expect(denied.stderr).toMatch(/^secretfile: error: user \S+ \(uid \d+\) may not write OTHER_KEY\n/);
      expect(await agent.run(["get", "APP_D"], { as: job })).toMatchObject({ code: 3 });

      // An existing name without --replace: exit 1, nothing written; with --replace the old value goes to history.
      const again = envFile("again.env", `APP_OLD=${v.other}\nAPP_E=${v.other}\n`, writer);
      const exists = await agent.run(["import", again], { as: writer });
      expect(exists).toMatchObject({ code: 1, stdout: "" });
      expect(exists.stderr).toBe(
        `secretfile: error: APP_OLD already exists in ${agent.dir}/store.age; nothing was imported\n` +
          "secretfile: hint: import again with --replace to replace them (their current values are kept in their history)\n",
      );
      expect(await agent.run(["get", "APP_E"], { as: job })).toMatchObject({ code: 3 });
      expect(await agent.run(["import", again, "--replace"], { as: writer })).toMatchObject({ code: 0 });
      expect(await agent.run(["get", "APP_OLD"], { as: job })).toMatchObject({ code: 0, stdout: v.other });
      expect(await agent.run(["rollback", "APP_OLD"], { as: writer })).toMatchObject({ code: 0 });
      expect(await agent.run(["get", "APP_OLD"], { as: job })).toMatchObject({ code: 0, stdout: v.old });

      // The file is read by the caller, as the caller: one it cannot read is its own error, before the agent is asked.
      const rootOnly = envFile("root-only.env", `APP_F=${v.other}\n`, { name: "root", uid: 0, gid: 0 });
      expect(await agent.run(["import", rootOnly], { as: writer })).toMatchObject({
        code: 2,
        stderr: `secretfile: error: cannot read the env file ${rootOnly} (permission denied)\n`,
      });

      // More than one request may carry: refused by the client before anything is sent, with what to do.
      const big = envFile(
        "big.env",
        Array.from({ length: 10 }, (_, i) => `APP_BIG_${i}=${"x".repeat(60_000)}\n`).join(""),
        writer,
      );
      const tooBig = await agent.run(["import", big], { as: writer });
      expect(tooBig).toMatchObject({ code: 2, stdout: "" });
      expect(tooBig.stderr).toMatch(
        /^secretfile: error: the import is \d+ bytes as one request, more than the agent takes \(524288\)\nsecretfile: hint: split the file/,
      );
      expect(await agent.run(["get", "APP_BIG_0"], { as: job })).toMatchObject({ code: 3 });

      // The wire: a name twice, or a bad entry, is a usage error.
      const twice = {
        v: 1,
        op: "import",
        secrets: [
          { name: "APP_X", value: "1" },
          { name: "APP_X", value: "2" },
        ],
      };
      expect(await request(agent.socket, twice)).toMatchObject({ ok: false, error: { code: "usage" } });
      expect(await request(agent.socket, { v: 1, op: "import", secrets: [{ name: "APP_X" }] })).toMatchObject({
        ok: false,
        error: { code: "usage" },
      });

      const lines = agent.auditLines().filter((l) => l.op === "import");
      // A change has its intent line first (written before the store changes); a refusal keeps its first name and a count.
      expect(lines.map((l) => [l.user, l.names, l.allowed, l.intent === true, l.omitted ?? 0])).toEqual([
        [writer.name, ["APP_A", "APP_B", "APP_C"], true, true, 0],
        [writer.name, ["APP_A", "APP_B", "APP_C"], true, false, 0],
        [writer.name, ["OTHER_KEY"], false, false, 1],
        [writer.name, ["APP_OLD", "APP_E"], true, true, 0],
        [writer.name, ["APP_OLD"], false, false, 1],
        [writer.name, ["APP_OLD", "APP_E"], true, true, 0],
        [writer.name, ["APP_OLD", "APP_E"], true, false, 0],
      ]);
      expect(lines[1]!.reason).toMatch(/^imported \(3 added, 0 replaced\): rule at line 1 /);
      const audit = readFileSync(agent.auditPath, "utf8") + agent.stderr();
      for (const secret of Object.values(v)) expect(audit).not.toContain(secret);
    },
  );
});
