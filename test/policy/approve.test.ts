// The `approve N [expires=DUR] WHO... NAMES...` rule: how it parses, what `policy check` refuses, and how its people
// are counted (a uid once, root as one of anyone's, the requester first).

import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { unknownSubjects } from "../../src/policy/subjects.js";
import { isRoot, runCli } from "../helpers/cli.js";
import { approvalRulesFor, approvalsMissing, countsFor, decide, type Caller } from "../../src/policy/evaluate.js";
import { DEFAULT_APPROVAL_MS, formatDuration, parsePolicy, PolicySyntaxError } from "../../src/policy/parse.js";

const F = "/etc/secretfile/policy";

function problems(text: string): string[] {
  try {
    parsePolicy(text, F);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicySyntaxError);
    return (err as PolicySyntaxError).problems.map((p) => `${p.line}: ${p.message}`);
  }
  throw new Error("parsePolicy accepted a bad policy");
}

function caller(uid: number, user: string, groups: string[] = []): Caller {
  return {
    uid,
    gid: uid,
    user,
    groups: [{ gid: uid, name: user }, ...groups.map((name, i) => ({ gid: 5000 + i, name }))],
  };
}

describe("approve rules: parsing", () => {
  it("parses N, who (by prefix) and names; the default expiry is 24 h; read and write rules are unchanged", () => {
    const policy = parsePolicy(
      "write group:secops *\napprove 2 group:secops user:alice uid:1005 MERAKI_* WEBEX_*\n",
      F,
    );
    expect(policy.rules).toEqual([{ verb: "write", who: { kind: "group", name: "secops" }, patterns: ["*"], line: 1 }]);
    expect(policy.approvals).toEqual([
      {
        count: 2,
        who: [
          { kind: "group", name: "secops" },
          { kind: "user", name: "alice" },
          { kind: "uid", id: 1005 },
        ],
        patterns: ["MERAKI_*", "WEBEX_*"],
        expiresMs: DEFAULT_APPROVAL_MS,
        line: 2,
      },
    ]);
    expect(DEFAULT_APPROVAL_MS).toBe(24 * 3600_000);
  });

  it("has no approvals field when the file has no approve rule (policies are compared whole elsewhere)", () => {
    expect(parsePolicy("read user:a A\n", F)).toEqual({
      file: F,
      rules: [{ verb: "read", who: { kind: "user", name: "a" }, patterns: ["A"], line: 1 }],
    });
  });

  it.for<[string, number]>([
    ["1s", 1000],
    ["90m", 90 * 60_000],
    ["4h", 4 * 3600_000],
    ["2d", 2 * 86_400_000],
    ["30d", 30 * 86_400_000],
  ])("expires=%s", ([text, ms]) => {
    const rule = parsePolicy(`approve 3 expires=${text} group:secops A_*\n`, F).approvals![0]!;
    expect(rule.expiresMs).toBe(ms);
    expect(formatDuration(rule.expiresMs)).toBe(text);
  });

  it.for<[string, RegExp]>([
    ["approve", /missing the number of people/],
    ["approve 1 group:secops A", /bad count "1".*from 2 to 20/],
    ["approve 0 group:secops A", /bad count "0"/],
    ["approve 21 group:secops A", /bad count "21"/],
    ["approve two group:secops A", /bad count "two"/],
    ["approve 02 group:secops A", /bad count "02"/],
    ["approve 2 A_*", /missing who/],
    ["approve 2 group:secops", /missing secret names/],
    ["approve 2 group:secops A user:bob", /who "user:bob" after the secret names/],
    ["approve 2 host:web1 A", /bad who "host:web1"/],
    ["approve 2 group:sec*ops A", /bad group name/],
    ["approve 2 group:secops A-B", /bad pattern "A-B"/],
    ["approve 2 expires=0s group:secops A", /bad expires="0s"/],
    ["approve 2 expires=31d group:secops A", /bad expires="31d"/],
    ["approve 2 expires=4 group:secops A", /bad expires="4"/],
    ["approve 2 expires=1w group:secops A", /bad expires="1w"/],
    ["approve 2 user:alice A", /approve 2 can never be met: its who names only 1 person/],
    ["approve 3 user:alice uid:1001 A", /approve 3 can never be met: its who names only 2 people/],
    ["approve 2 user:alice user:alice A", /can never be met: its who names only 1 person/],
  ])("refuses %j", ([line, message]) => {
    const got = problems(`read user:a A\n${line}\n`);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^2: /);
    expect(got[0]).toMatch(message);
  });

  it("accepts a rule of named people that names enough of them, and one with a group whatever N", () => {
    expect(parsePolicy("approve 2 user:alice uid:1001 A\napprove 20 group:secops B\n", F).approvals).toHaveLength(2);
  });

  it("reports every bad line of a file, approve lines among them", () => {
    expect(
      problems("approve 1 group:g A\nread user:a A\nfrobnicate user:b B\napprove 2 user:x Y\n").map((p) =>
        p.slice(0, 2),
      ),
    ).toEqual(["1:", "3:", "4:"]);
  });
});

describe("approve rules: who counts", () => {
  const policy = parsePolicy(
    [
      "write group:secops *",
      "approve 2 group:secops MERAKI_* WEBEX_*",
      "approve 3 expires=4h user:alice user:bob uid:1003 WEBEX_*",
    ].join("\n"),
    F,
  );
  const alice = caller(1001, "alice", ["secops"]);
  const bob = caller(1002, "bob", ["secops"]);
  const carol = caller(1003, "carol");
  const dave = caller(1004, "dave", ["secops"]);
  const root = caller(0, "root");
  const outsider = caller(1005, "eve");

  it("finds the rules of a change by any of its names", () => {
    expect(approvalRulesFor(policy, ["MERAKI_API_KEY"]).map((r) => r.line)).toEqual([2]);
    expect(approvalRulesFor(policy, ["WEBEX_TOKEN"]).map((r) => r.line)).toEqual([2, 3]);
    expect(approvalRulesFor(policy, ["OTHER", "WEBEX_X"]).map((r) => r.line)).toEqual([2, 3]);
    expect(approvalRulesFor(policy, ["GRAFANA"])).toEqual([]);
  });

  it("counts a member, root, and never an outsider", () => {
    const rule = approvalRulesFor(policy, ["MERAKI_API_KEY"])[0]!;
    expect([alice, bob, carol, root, outsider].map((c) => countsFor(rule, c))).toEqual([
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  it("needs N distinct uids: the same uid twice counts once, an outsider not at all", () => {
    const rules = approvalRulesFor(policy, ["MERAKI_API_KEY"]);
    expect(approvalsMissing(rules, [alice]).map((m) => m.missing)).toEqual([1]);
    expect(approvalsMissing(rules, [alice, alice]).map((m) => m.missing)).toEqual([1]);
    expect(approvalsMissing(rules, [alice, outsider]).map((m) => m.missing)).toEqual([1]);
    expect(approvalsMissing(rules, [outsider, alice]).map((m) => m.missing)).toEqual([1]);
    expect(approvalsMissing(rules, [alice, bob])).toEqual([]);
    expect(approvalsMissing(rules, [root, dave])).toEqual([]);
  });

  it("needs every rule of the change met", () => {
    const rules = approvalRulesFor(policy, ["WEBEX_TOKEN"]);
    expect(approvalsMissing(rules, [alice, bob]).map((m) => [m.rule.line, m.missing])).toEqual([[3, 1]]);
    expect(approvalsMissing(rules, [alice, bob, carol])).toEqual([]);
    expect(approvalsMissing(rules, [alice, dave, carol]).map((m) => [m.rule.line, m.missing])).toEqual([[3, 1]]);
  });

  it("grants nothing by itself: an approver without write may not write", () => {
    expect(decide(policy, carol, "write", "WEBEX_TOKEN").allowed).toBe(false);
    expect(decide(policy, carol, "read", "WEBEX_TOKEN").allowed).toBe(false);
  });
});

describe("approve rules: policy check", () => {
  const ghost = `sfghost_${randomBytes(4).toString("hex")}`;

  it("warns of an approver the host does not have, by line", () => {
    expect(unknownSubjects(parsePolicy(`read user:root A\napprove 2 group:root user:${ghost} A\n`, F))).toEqual([
      { line: 2, message: `no user "${ghost}" on this host` },
    ]);
  });

  it.skipIf(!isRoot)(
    `lists approve rules in line order with their expiry, and refuses an impossible one${isRoot ? "" : " (skipped: needs root, a policy must be root's)"}`,
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "sf-approve-"));
      try {
        chmodSync(dir, 0o755);
        const file = path.join(dir, "policy");
        writeFileSync(
          file,
          "write group:root *\napprove 2 group:root MERAKI_*\nread user:root *\napprove 3 expires=4h group:root WEBEX_*\n",
          { mode: 0o644 },
        );
        const ok = await runCli(["policy", "check", file]);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toBe(
          [
            `   1: write group:root *`,
            `   2: approve 2 expires=1d group:root MERAKI_*`,
            `   3: read user:root *`,
            `   4: approve 3 expires=4h group:root WEBEX_*`,
            `${file}: ok (4 rules)`,
            "",
          ].join("\n"),
        );
        writeFileSync(file, "approve 2 user:root MERAKI_*\n", { mode: 0o644 });
        const bad = await runCli(["policy", "check", file]);
        expect([bad.code, bad.stdout]).toEqual([1, ""]);
        expect(bad.stderr).toContain(`${file}:1: approve 2 can never be met: its who names only 1 person`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
