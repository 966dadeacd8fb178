// Approval rules end to end: a requester and two approvers in a group, an outsider with write, a reader, each under
// its own real uid, against a real agent run as a service account. Each test tries to get a change applied that must
// not be (alone, by an outsider, after expiry, over a newer write, twice, across a SIGKILL) and greps the pending
// file and the audit log for the value. Root only (it makes users); skipped with the reason otherwise.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  untilReady,
  useSystem,
  type RunningAgent,
  type RunResult,
  type TestUser,
} from "../../helpers/system.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;
const PENDING = /as change ([0-9a-f]{12}), fingerprint ([0-9a-f]{4}(?:-[0-9a-f]{4}){3})/;

describe.skipIf(!isRoot)(`approval rules under real uids (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["alice", "bob", "carol", "outsider", "reader"], { secops: ["alice", "bob", "carol"] });
  let agent: RunningAgent;
  const old = {
    MERAKI_API_KEY: value("old-meraki"),
    TRIPLE_KEY: value("old-triple"),
    SHORT_KEY: value("old-short"),
    KILL_KEY: value("old-kill"),
  };

  beforeAll(async () => {
    const g = sys.groups.secops.name;
    agent = await sys.startAgent({
      policyText: [
        `write group:${g} *`,
        `write user:${sys.users.outsider.name} *`,
        `read user:${sys.users.reader.name} *`,
        `approve 2 group:${g} MERAKI_* KILL_*`,
        `approve 3 group:${g} TRIPLE_*`,
        `approve 2 expires=1s group:${g} SHORT_*`,
        "",
      ].join("\n"),
      secrets: old,
    });
  });

  const as = (user: TestUser, args: string[], input?: string) => agent.run(args, { as: user, input });
  /** Asks for `add NAME --replace` as `user`; expects exit 7 and returns the id and fingerprint it printed. */
  async function ask(
    user: TestUser,
    name: string,
    v: string,
  ): Promise<{ id: string; fingerprint: string; r: RunResult }> {
    const r = await as(user, ["add", name, "--replace"], v);
    expect(r.code, r.stderr).toBe(7);
    const m = PENDING.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    return { id: m![1]!, fingerprint: m![2]!, r };
  }
  const get = async (name: string) => (await as(sys.users.reader, ["get", name])).stdout;
  /** The sealed file of change `id`: its request, values included (its metadata, without values, is `ID.json`). */
  const pendingFile = (id: string) => path.join(agent.dir, "pending", `${id}.age`);
  /** Every file of change `id` still in the pending folder. */
  const filesOf = (id: string) => readdirSync(path.join(agent.dir, "pending")).filter((f) => f.includes(id));
  const everything = () =>
    readFileSync(agent.auditPath, "utf8") +
    agent.stderr() +
    readdirSync(path.join(agent.dir, "pending"))
      .map((f) => readFileSync(path.join(agent.dir, "pending", f), "latin1"))
      .join("");

  it("holds a change: exit 7, invisible to the reader; the requester's and an outsider's approvals are refused; a member's applies it", async () => {
    const v = value("new-meraki");
    const { id, fingerprint, r } = await ask(sys.users.alice, "MERAKI_API_KEY", v);
    expect(r.stderr).toMatch(
      /secretfile: error: the change was not applied: add --replace MERAKI_API_KEY waits for approval/,
    );
    expect(r.stderr).toMatch(
      new RegExp(`hint: it needs 1 more of group:${sys.groups.secops.name} \\(\`secretfile approve ${id}\`\\)`),
    );
    expect(await get("MERAKI_API_KEY")).toBe(old.MERAKI_API_KEY);

    // Kept encrypted, the service account's, 0600, in a 0700 folder; no plaintext in it nor in the audit log.
    const st = statSync(pendingFile(id));
    expect([st.mode & 0o777, st.uid]).toEqual([0o600, sys.users.service.uid]);
    expect(statSync(path.dirname(pendingFile(id))).mode & 0o777).toBe(0o700);
    expect(readFileSync(pendingFile(id), "latin1")).toMatch(/^age-encryption\.org\/v1\n/);
    // Its metadata (what `pending` lists, read without decrypting anything) is as private, and holds no value.
    const meta = statSync(path.join(agent.dir, "pending", `${id}.json`));
    expect([meta.mode & 0o777, meta.uid]).toEqual([0o600, sys.users.service.uid]);
    expect(everything()).not.toContain(v);

    // The approver sees what would change and the same fingerprint; the reader sees no pending change.
    const listed = await as(sys.users.bob, ["pending", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { id, change: "add --replace", names: ["MERAKI_API_KEY"], requester: { uid: sys.users.alice.uid }, fingerprint },
    ]);
    expect(listed.stdout).not.toContain(v);
    expect((await as(sys.users.reader, ["pending"])).code).toBe(4);
    const table = await as(sys.users.bob, ["pending"]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^ID +CHANGE +NAMES +REQUESTER +REQUESTED +EXPIRES +FINGERPRINT +APPROVED BY +NEEDS$/,
    );
    expect(table.stdout).toMatch(
      new RegExp(
        `^${id} +add --replace +MERAKI_API_KEY +${sys.users.alice.name} .* ${fingerprint} +- +1 more of group:`,
        "m",
      ),
    );

    const own = await as(sys.users.alice, ["approve", id]);
    expect([own.code, own.stderr]).toEqual([4, expect.stringMatching(/may not approve its own change/)]);
    expect((await as(sys.users.outsider, ["approve", id])).code).toBe(4);
    expect((await as(sys.users.reader, ["approve", id])).code).toBe(4);
    expect(await get("MERAKI_API_KEY")).toBe(old.MERAKI_API_KEY);

    const ok = await as(sys.users.bob, ["approve", id]);
    expect([ok.code, ok.stderr]).toEqual([0, `secretfile: change ${id} is applied\n`]);
    expect(await get("MERAKI_API_KEY")).toBe(v);
    expect(filesOf(id)).toEqual([]);
    expect((await as(sys.users.carol, ["approve", id])).code).toBe(3);

    const steps = agent
      .auditLines()
      .filter((l) => String(l.reason).includes(id))
      .map((l) => [l.op, l.uid, l.allowed]);
    expect(steps).toEqual([
      ["add", sys.users.alice.uid, false],
      ["approve", sys.users.alice.uid, false],
      ["approve", sys.users.bob.uid, true],
    ]);
    expect(everything()).not.toContain(v);
  });

  it("rejects: a member's reject forgets the change, unapplied; an outsider's is refused", async () => {
    const v = value("rejected");
    const { id } = await ask(sys.users.alice, "MERAKI_API_KEY", v);
    const before = await get("MERAKI_API_KEY");
    expect((await as(sys.users.reader, ["reject", id])).code).toBe(4);
    const r = await as(sys.users.carol, ["reject", id]);
    expect([r.code, r.stderr]).toEqual([0, `secretfile: change ${id} is rejected: it will not be applied\n`]);
    expect((await as(sys.users.bob, ["approve", id])).code).toBe(3);
    expect(await get("MERAKI_API_KEY")).toBe(before);
    expect(filesOf(id)).toEqual([]);
    expect(everything()).not.toContain(v);
  });

  it("expires: after expires=1s the change cannot be approved, and the audit log says it expired", async () => {
    const v = value("new-short");
    const { id } = await ask(sys.users.alice, "SHORT_KEY", v);
    await new Promise((r) => setTimeout(r, 1_500));
    const late = await as(sys.users.bob, ["approve", id]);
    expect(late.code, late.stderr).toBe(3);
    expect(await get("SHORT_KEY")).toBe(old.SHORT_KEY);
    expect(agent.auditLines().find((l) => l.op === "expire" && String(l.reason).includes(id))).toMatchObject({
      names: ["SHORT_KEY"],
      allowed: false,
    });
    expect(filesOf(id)).toEqual([]);
    expect(everything()).not.toContain(v);
  });

  it("voids a change when the secret was written in between (another approved change), and says so", async () => {
    const first = value("first");
    const second = value("second");
    const a = await ask(sys.users.alice, "MERAKI_API_KEY", first);
    const b = await ask(sys.users.carol, "MERAKI_API_KEY", second);
    expect((await as(sys.users.bob, ["approve", b.id])).code).toBe(0);
    const stale = await as(sys.users.bob, ["approve", a.id]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(
      `change ${a.id} is void: MERAKI_API_KEY changed since the request; nothing was applied`,
    );
    expect(await get("MERAKI_API_KEY")).toBe(second);
    expect(agent.auditLines().filter((l) => String(l.reason).startsWith(`voided change ${a.id}`))).toHaveLength(1);
  });

  it("counts two approvals sent at once each once: a change that needs three applies, once", async () => {
    const v = value("new-triple");
    const { id } = await ask(sys.users.alice, "TRIPLE_KEY", v);
    const [b, c] = await Promise.all([as(sys.users.bob, ["approve", id]), as(sys.users.carol, ["approve", id])]);
    expect([b.code, c.code], b.stderr + c.stderr).toEqual([0, 0]);
    expect([b.stderr, c.stderr].filter((s) => s.includes("is applied"))).toHaveLength(1);
    expect(await get("TRIPLE_KEY")).toBe(v);
    const lines = agent.auditLines().filter((l) => l.op === "approve" && String(l.reason).includes(id));
    expect(lines.map((l) => String(l.reason).split(" ")[0])).toEqual(["approved", "applied"]);
  });

  it("keeps a pending change across a SIGKILL of the agent: still pending after the restart, applied once", async () => {
    const v = value("new-kill");
    const { id, fingerprint } = await ask(sys.users.alice, "KILL_KEY", v);
    agent.kill("SIGKILL");
    await agent.exited;
    const restarted = sys.spawnAgent(agent);
    await untilReady(restarted, agent.socket);
    agent = { ...agent, ...restarted };
    expect(await get("KILL_KEY")).toBe(old.KILL_KEY);
    const listed = JSON.parse((await as(sys.users.carol, ["pending", "--json"])).stdout) as {
      id: string;
      fingerprint: string;
    }[];
    expect(listed.find((c) => c.id === id)).toMatchObject({ fingerprint });
    expect((await as(sys.users.carol, ["approve", id])).code).toBe(0);
    expect((await as(sys.users.bob, ["approve", id])).code).toBe(3);
    expect(await get("KILL_KEY")).toBe(v);
    expect(agent.auditLines().filter((l) => String(l.reason).startsWith(`applied change ${id}`))).toHaveLength(1);
    expect(everything()).not.toContain(v);
  });

  it("resolves the people of a change again at approval: a requester removed from the group voids it, an approver removed no longer counts", async () => {
    const g = sys.groups.secops.name;
    /** Runs gpasswd (root's user database tool), as an admin would to take someone out of the group or put them back. */
    const gpasswd = (flag: "-a" | "-d", user: TestUser) => {
      const r = spawnSync("gpasswd", [flag, user.name, g], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    };
    const v = value("gone-requester");
    const { id } = await ask(sys.users.alice, "MERAKI_API_KEY", v);
    const before = await get("MERAKI_API_KEY");
    gpasswd("-d", sys.users.alice);
    try {
      const late = await as(sys.users.bob, ["approve", id]);
      expect([late.code, late.stderr]).toEqual([
        1,
        expect.stringContaining(
          `change ${id} is void: the requester ${sys.users.alice.name} (uid ${sys.users.alice.uid}) may no longer write MERAKI_API_KEY; nothing was applied`,
        ),
      ]);
      expect(await get("MERAKI_API_KEY")).toBe(before);
      expect(agent.auditLines().filter((l) => String(l.reason).startsWith(`voided change ${id}`))).toHaveLength(1);
      expect(filesOf(id)).toEqual([]);
    } finally {
      gpasswd("-a", sys.users.alice);
    }

    // Needs three: alice asks, bob agrees, bob leaves the group; carol's approval is then the second, not the third.
    const t = value("gone-approver");
    const triple = await ask(sys.users.alice, "TRIPLE_KEY", t);
    expect((await as(sys.users.bob, ["approve", triple.id])).code).toBe(0);
    gpasswd("-d", sys.users.bob);
    try {
      const c = await as(sys.users.carol, ["approve", triple.id]);
      expect([c.code, c.stderr]).toEqual([0, expect.stringMatching(/still needs 1 more of group:/)]);
      expect(await get("TRIPLE_KEY")).not.toBe(t);
    } finally {
      gpasswd("-a", sys.users.bob);
    }
    expect((await as(sys.users.carol, ["reject", triple.id])).code).toBe(0);
  });
});
