// exec key sets and expiry through a real agent: --map, rotateEvery carried by add and list, and the expiry warning
// from the values answer. Rules: root only (it makes users and runs the agent as a service uid); skipped otherwise.

import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, request, useSystem } from "../../helpers/system.js";
import { execOwnExit } from "../../../src/errors.js";

const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});
const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

describe.skipIf(!isRoot)(`exec through the agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);

  it(
    "--map, rotateEvery through add and list, the expiry warning, and refusals before the job starts",
    { timeout: 120_000 },
    async () => {
      const { job } = sys.users;
      const prod = value("meraki");
      const old = value("old");
      const agent = await sys.startAgent({
        policyText: `read user:${job.name} MERAKI_PROD_KEY OLD_KEY\n`,
        secrets: { MERAKI_PROD_KEY: prod, HIDDEN_KEY: value("hidden") },
      });
      const probe = sys.world.fixture("env-probe.mjs");

      // root may write anything: the new fields travel in the add request.
      const add = await agent.run(["add", "OLD_KEY", "--expires", "2020-01-01", "--rotate-every", "4w"], {
        input: old,
      });
      expect(add, add.stderr).toMatchObject({ code: 0 });
      const ls = await agent.run(["ls", "--json"], { as: job });
      expect(JSON.parse(ls.stdout)).toEqual([
        expect.objectContaining({ name: "MERAKI_PROD_KEY", status: "ok" }),
        expect.objectContaining({ name: "OLD_KEY", expires: "2020-01-01", rotateEvery: 28, status: "expired" }),
      ]);

      const r = await agent.run(
        [
          "exec",
          "--map",
          "MERAKI_DASHBOARD_API_KEY=MERAKI_PROD_KEY",
          "--only",
          "OLD_KEY",
          "--",
          NODE,
          probe,
          "MERAKI_DASHBOARD_API_KEY",
          "MERAKI_PROD_KEY",
          "OLD_KEY",
          "HIDDEN_KEY",
        ],
        { as: job },
      );
      expect(r.stderr).toBe("secretfile: warning: OLD_KEY expired on 2020-01-01\n");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        MERAKI_DASHBOARD_API_KEY: sha(prod),
        MERAKI_PROD_KEY: null,
        OLD_KEY: sha(old),
        HIDDEN_KEY: null,
      });

      // The values answer carries `expiring` only for names that need attention.
      const answer = await request(agent.socket, { v: 1, op: "values", names: ["MERAKI_PROD_KEY", "OLD_KEY"] });
      expect(answer).toEqual({
        ok: true,
        op: "values",
        values: { MERAKI_PROD_KEY: prod, OLD_KEY: old },
        expiring: { OLD_KEY: { status: "expired", since: "2020-01-01" } },
      });
      expect(await request(agent.socket, { v: 1, op: "add", name: "X", value: "v", rotateEvery: 0 })).toMatchObject({
        ok: false,
        error: { code: "usage" },
      });

      // A mapped name the job may not read stops it before it starts (exit 4, naming it); so does one that does not exist (3).
      const denied = await agent.run(["exec", "--map", "DASH=HIDDEN_KEY", "--", "/bin/echo", "ran"], { as: job });
      expect(denied).toMatchObject({ code: execOwnExit(4), stdout: "" });
      expect(denied.stderr).toMatch(/^secretfile: error: user \S+ \(uid \d+\) may not read HIDDEN_KEY\n/);
      const root = await agent.run(["exec", "--map", "DASH=NO_SUCH_KEY", "--", "/bin/echo", "ran"]);
      expect(root).toMatchObject({ code: execOwnExit(3), stdout: "" });
      expect(root.stderr).toMatch(/^secretfile: error: no secret named NO_SUCH_KEY in /);
    },
  );
});
