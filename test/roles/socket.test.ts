// The role table end to end, for the wiring: one row per role through bin/secretfile over a real agent socket, under
// real uids (a supplementary group, a uid with no passwd entry, the service account itself), for get, ls, exec, add,
// update and rm; each run checks the exit code the table owes, the agent's audit line for that pid, and that no value is
// printed or logged but the one released. Root only (it makes users); skipped with the reason otherwise.

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot, ownExit } from "../helpers/cli.js";
import {
  NEEDS_ROOT,
  NODE,
  unusedId,
  useSystem,
  type RunningAgent,
  type RunResult,
  type TestUser,
} from "../helpers/system.js";
import {
  EXIT,
  KINDS,
  OPERATIONS,
  outcomes,
  policyText,
  RESERVED,
  ROLES,
  STORE_NAMES,
  type Kind,
  type Role,
  type RoleId,
} from "./table.js";

const op = (id: string) => OPERATIONS.find((o) => o.id === id)!;
const sha = (v: string) => createHash("sha256").update(v, "utf8").digest("hex");
/** The store of this layer: the table's, without the reserved name (exec would hand it to every job's loader today). */
const NAMES = STORE_NAMES.filter((n) => n !== RESERVED);
const VALUES: Record<string, string> = Object.fromEntries(
  NAMES.map((n) => [n, `val-${randomBytes(12).toString("hex")}`]),
);

/** The cells this layer runs: an operation, the kind of name (for a named one), and the CLI arguments. */
const STEPS: { id: string; kind?: Kind; argv: (name: string, probe: string) => string[] }[] = [
  { id: "get", kind: "in", argv: (name) => ["get", name] },
  { id: "list", argv: () => ["ls", "--json"] },
  { id: "values (all)", argv: (_, probe) => ["exec", "--", NODE, probe, ...NAMES] },
  { id: "add", kind: "in-missing", argv: (name) => ["add", name] },
  { id: "update", kind: "in", argv: (name) => ["update", name, "--expires", "2099-12-31", "--rotate-every", "30d"] },
  { id: "rm", kind: "in", argv: (name) => ["rm", name] },
];

describe.skipIf(!isRoot)(`the role table over the socket, under real uids (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["writer", "reader", "mixed", "stranger", "member", "approver"], {
    team: ["member"],
    approvers: ["approver"],
  });
  const nopasswd = unusedId();
  let agent: RunningAgent;
  let probe: string;
  const as = (role: RoleId): TestUser | undefined =>
    role === "root" ? undefined : role === "nopasswd" ? nopasswd : (sys.users as Record<string, TestUser>)[role];

  beforeAll(async () => {
    const text = policyText((role) =>
      role.subject === "uid"
        ? `uid:${nopasswd.uid}`
        : role.subject === "group"
          ? `group:${sys.groups[role.group!].name}`
          : `user:${as(role.id)!.name}`,
    );
    agent = await sys.startAgent({ policyText: text, secrets: VALUES });
    probe = sys.world.fixture("env-probe.mjs");
  });

  /** Checks the audit line of run `r`, and that neither it nor the output holds a value but `released`. */
  function checkAudit(
    r: RunResult,
    role: Role,
    opId: string,
    name: string,
    allowed: boolean,
    extra: string[],
    released: string[],
  ): void {
    const mine = agent.auditLines().filter((l) => l.pid === r.pid);
    expect(mine.length, JSON.stringify(mine)).toBeGreaterThanOrEqual(1);
    const last = mine.at(-1)!;
    expect(last).toMatchObject({
      uid: as(role.id)?.uid ?? 0,
      allowed,
      names: op(opId).audited!(name, allowed, role.id),
    });
    const log = readFileSync(agent.auditPath, "utf8") + agent.stderr();
    for (const v of [...Object.values(VALUES), ...extra]) {
      expect(log, "a value in the audit log or the agent's output").not.toContain(v);
      if (!released.includes(v)) expect(r.stdout + r.stderr, "a value in the CLI's output").not.toContain(v);
    }
  }

  for (const step of STEPS) {
    describe(step.id, () => {
      it.for(ROLES.map((role) => [role.id, role] as const))("%s", async ([, role]) => {
        const o = op(step.id);
        const index = step.kind === undefined ? 0 : KINDS.indexOf(step.kind);
        const expected = outcomes(role, o)[index]!;
        const name = step.kind === undefined ? "" : role.names[o.verb!][step.kind];
        const value = `new-${randomBytes(12).toString("hex")}`;
        const argv = step.argv(name, probe);
        const r = await agent.run(argv, {
          as: as(role.id),
          input: step.id === "add" ? value : undefined,
        });
        expect(r.code, `${role.id}: ${r.stderr}`).toBe(ownExit(argv, EXIT[expected]));
        const sees = role.sees.filter((n) => n !== RESERVED);
        let released: string[] = [];
        if (expected === "ok" && step.id === "get") {
          expect(r.stdout).toBe(VALUES[name]);
          released = [VALUES[name]!];
        }
        if (expected === "ok" && step.id === "list")
          expect((JSON.parse(r.stdout) as { name: string }[]).map((s) => s.name)).toEqual(sees);
        if (expected === "ok" && step.id === "values (all)") {
          const env = JSON.parse(r.stdout) as Record<string, { sha256: string } | null>;
          const gets = role.gets.filter((n) => n !== RESERVED);
          for (const n of NAMES) expect(env[n]?.sha256 ?? null, n).toBe(gets.includes(n) ? sha(VALUES[n]!) : null);
        }
        if (expected !== "ok") expect(r.stdout).toBe("");
        checkAudit(r, role, step.id, name, expected === "ok", [value], released);
      });
    });
  }

  describe("get: a refused name that exists and one that does not print the same, apart from the name", () => {
    const refused = ROLES.filter((role) => outcomes(role, op("get"))[KINDS.indexOf("out")] === "denied");
    it.for(refused.map((role) => [role.id, role] as const))("%s", async ([, role]) => {
      const { out, "out-missing": missing } = role.names.read;
      const [a, b] = [
        await agent.run(["get", out], { as: as(role.id) }),
        await agent.run(["get", missing], { as: as(role.id) }),
      ];
      expect([a.code, b.code]).toEqual([4, 4]);
      expect(b.stderr.replaceAll(missing, "NAME")).toBe(a.stderr.replaceAll(out, "NAME"));
      checkAudit(a, role, "get", out, false, [], []);
    });
  });
});
