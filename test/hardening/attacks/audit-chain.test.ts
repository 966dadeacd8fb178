// Attack: editing the audit log to hide a read. Every line carries the SHA-256 of the line before it, so
// `secretfile audit verify` finds a removed, changed, reordered, inserted or cut line and names it (exit 5), and
// says "intact" (exit 0) for a log only the agent wrote, across agent restarts; the other audit readers still work.

import { randomBytes } from "node:crypto";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../../src/agent/audit.js";
import type { AuditRecord } from "../../../src/audit/record.js";
import { GENESIS, hashLine } from "../../../src/audit/chain.js";
import { isRoot, runCli, tempDir } from "../../helpers/cli.js";
import { NEEDS_ROOT, prepareAgent, useSystem } from "../../helpers/system.js";
import { ready, spawnAgentWith } from "./agents.js";

const tmp = tempDir("secretfile-chain-");
afterAll(tmp.cleanup);

const record = (i: number): AuditRecord => ({
  op: "get",
  uid: 1000 + i,
  user: `user${i}`,
  pid: 4000 + i,
  program: "/usr/bin/python3",
  cmdline: `python3 /opt/jobs/job${i}.py`,
  names: [`KEY_${i}`],
  given: [`KEY_${i}`],
  allowed: true,
  reason: "rule at line 1",
});

/** Writes a fresh chained log of `n` decisions (with a start event first) through the agent's own writer. */
function chainedLog(name: string, n: number): string {
  const file = path.join(tmp.dir, name);
  const log = new AuditLog(file);
  log.event("start", { pid: 1 });
  for (let i = 1; i < n; i++) log.write(record(i));
  log.close();
  return file;
}

const linesOf = (file: string) => readFileSync(file, "utf8").split("\n").slice(0, -1);
const verify = (file: string) => runCli(["audit", "verify", "--audit", file]);

describe("the audit log's hash chain", () => {
  it("chains every line to the one before, the first to the genesis hash", () => {
    const lines = linesOf(chainedLog("plain.log", 5));
    expect(lines).toHaveLength(5);
    expect((JSON.parse(lines[0]!) as { prev?: unknown }).prev).toBe(GENESIS);
    for (let i = 1; i < lines.length; i++)
      expect((JSON.parse(lines[i]!) as { prev?: unknown }).prev, `line ${i + 1}`).toBe(hashLine(lines[i - 1]!));
  });

  it("goes on across a restart, from the hash of the last line already there", () => {
    const file = chainedLog("restart.log", 3);
    const before = linesOf(file);
    const again = new AuditLog(file);
    expect(again.head).toBe(hashLine(before.at(-1)!));
    again.write(record(9));
    again.close();
    const after = linesOf(file);
    expect((JSON.parse(after[3]!) as { prev?: unknown }).prev).toBe(hashLine(before[2]!));
  });

  it("ends a line cut short by a crash before appending, so the next line does not run into it", async () => {
    const file = chainedLog("cut.log", 3);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.slice(0, -20), { mode: 0o600 });
    const again = new AuditLog(file);
    again.write(record(7));
    again.close();
    const lines = linesOf(file);
    expect(lines).toHaveLength(4);
    expect((JSON.parse(lines[3]!) as { uid?: unknown }).uid).toBe(1007);
    const r = await verify(file);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("secretfile: line 3: it is not a complete JSON record");
  });

  it("verify says intact (exit 0) with the line count and last hash", async () => {
    const file = chainedLog("intact.log", 12);
    const r = await verify(file);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe(`the audit log ${file} is intact: 12 lines, last hash ${hashLine(linesOf(file).at(-1)!)}\n`);
  });

  const tamperings: [string, (lines: string[]) => string[], RegExp[]][] = [
    ["a removed line", (l) => [...l.slice(0, 5), ...l.slice(6)], [/line 6: it does not follow line 5/]],
    [
      "a changed user name",
      (l) => l.map((x, i) => (i === 4 ? x.replace('"user":"user4"', '"user":"nobody"') : x)),
      [/line 6: it does not follow line 5: line 5 was changed/],
    ],
    [
      "a changed value of allowed",
      (l) => l.map((x, i) => (i === 7 ? x.replace('"allowed":true', '"allowed":false') : x)),
      [/line 9: it does not follow line 8/],
    ],
    [
      "two lines swapped",
      (l) => [...l.slice(0, 4), l[5]!, l[4]!, ...l.slice(6)],
      [/line 5: it does not follow line 4/, /line 6: it follows line 4, not line 5/],
    ],
    ["the first line removed", (l) => l.slice(1), [/line 1: it does not start the chain/]],
    [
      "a line inserted, without a hash",
      (l) => [...l.slice(0, 3), JSON.stringify({ time: new Date().toISOString(), ...record(99) }), ...l.slice(3)],
      [
        /line 4: it carries no chain hash/,
        /line 5: it follows line 3, not line 4: line 4 does not belong between them/,
      ],
    ],
    [
      "a line inserted, with a copied hash",
      (l) => [...l.slice(0, 3), l[3]!.replace('"uid":1003', '"uid":1099'), ...l.slice(3)],
      [/line 5: it follows line 3, not line 4: line 4 does not belong between them/],
    ],
    [
      "the last line cut short",
      (l) => [...l.slice(0, -1), l.at(-1)!.slice(0, 30)],
      [/line 12: it is not a complete JSON record/],
    ],
  ];

  it.for(tamperings)("verify finds %s, names the line and exits 5", async ([, tamper, expected]) => {
    const original = linesOf(chainedLog(`t-${randomBytes(4).toString("hex")}.log`, 12));
    const file = path.join(tmp.dir, `tampered-${randomBytes(4).toString("hex")}.log`);
    writeFileSync(file, `${tamper(original).join("\n")}\n`, { mode: 0o600 });
    const r = await verify(file);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toBe("");
    for (const re of expected) expect(r.stderr).toMatch(re);
    expect(r.stderr).toMatch(
      new RegExp(`secretfile: error: the audit log ${file} is not intact: its hash chain breaks at line \\d+`),
    );
    expect(r.stderr).toContain("secretfile: hint: compare it with a backup");
  });

  it("a log written before the chain: its unchained first lines are reported, not failed", async () => {
    const file = path.join(tmp.dir, "legacy.log");
    writeFileSync(file, `${JSON.stringify({ time: "2026-11-01T00:00:00.000Z", ...record(1) })}\n`, { mode: 0o600 });
    const log = new AuditLog(file);
    log.write(record(2));
    log.close();
    const r = await verify(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("the first 1 line of");
    expect(r.stderr).toContain("predates the hash chain");
  });

  it("refuses a symlink (exit 4) and a missing file (exit 1); the other readers ignore the new field", async () => {
    const file = chainedLog("readers.log", 4);
    const link = path.join(tmp.dir, "link.log");
    symlinkSync(file, link);
    expect((await verify(link)).code).toBe(4);
    expect((await verify(path.join(tmp.dir, "none.log"))).code).toBe(1);
    const shown = await runCli(["audit", "--audit", file]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim().split("\n")).toHaveLength(3);
    expect(shown.stderr).not.toContain("skipped");
  });
});

describe.skipIf(!isRoot)(`the audit chain of a real agent across restarts (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);
  it(
    "verifies intact after two agent runs, matches the hash the agent logged at stop, and breaks where a line is removed",
    { timeout: 120_000 },
    async () => {
      const secret = `v-${randomBytes(8).toString("hex")}`;
      const files = await prepareAgent(sys.world, sys.users.service, {
        policyText: `read user:${sys.users.job.name} K\n`,
        secrets: { K: secret },
      });
      const first = await ready(spawnAgentWith(sys, files));
      const env = { SECRETFILE_SOCKET: first.socket };
      for (const name of ["K", "OTHER", "K"]) await sys.world.run(["get", name], { as: sys.users.job, env });
      await first.stop();
      const second = await ready(spawnAgentWith(sys, first));
      for (const name of ["K", "NOPE"]) await sys.world.run(["get", name], { as: sys.users.job, env });
      await second.stop();

      const logged = /ends at sha256 ([0-9a-f]{64})/.exec(second.stderr())?.[1];
      const continued = /continues from sha256 ([0-9a-f]{64})/.exec(second.stderr())?.[1];
      const endedFirst = /ends at sha256 ([0-9a-f]{64})/.exec(first.stderr())?.[1];
      expect(continued, "the second run goes on from where the first ended").toBe(endedFirst);
      const r = await sys.world.run(["audit", "verify", "--audit", first.audit]);
      expect(r.code, r.stderr).toBe(0);
      const lines = readFileSync(first.audit, "utf8").split("\n").slice(0, -1);
      expect(r.stdout).toBe(`the audit log ${first.audit} is intact: ${lines.length} lines, last hash ${logged}\n`);
      expect(lines.length).toBeGreaterThanOrEqual(9); // start, 3 decisions, stop, start, 2 decisions, stop

      // Hide the refused read of OTHER: the chain breaks right after it.
      const at = lines.findIndex((l) => l.includes('"names":["OTHER"]'));
      expect(at).toBeGreaterThan(0);
      writeFileSync(first.audit, `${[...lines.slice(0, at), ...lines.slice(at + 1)].join("\n")}\n`);
      const broken = await sys.world.run(["audit", "verify", "--audit", first.audit]);
      expect(broken.code).toBe(5);
      expect(broken.stderr).toContain(`secretfile: line ${at + 1}: it does not follow line ${at}`);
    },
  );
});
