import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decide,
  matchesPattern,
  namedFor,
  readableNames,
  type Caller,
  type Decision,
} from "../../src/policy/evaluate.js";
import { parsePolicy, type Verb } from "../../src/policy/parse.js";

const policy = parsePolicy(
  [
    "# test policy", //                                    1
    "read     user:netops         MERAKI_API_KEY WEBEX_*", // 2
    "read     group:monitoring    GRAFANA_TOKEN", //        3
    "read     uid:1005            DB_?", //                 4
    "write    group:secops        *", //                    5
    "read     gid:2000            SHARED_*", //             6
    "write    user:netops         MERAKI_API_KEY", //       7
    "read     user:netops         *_RO", //                 8
  ].join("\n"),
  "/etc/secretfile/policy",
);

function caller(
  uid: number,
  user: string | undefined,
  groups: [number, string | undefined][],
  gid = groups[0]?.[0] ?? uid,
): Caller {
  return { uid, gid, user, groups: groups.map(([g, name]) => ({ gid: g, name })) };
}

const netops = caller(1001, "netops", [[1001, "netops"]]);
const grafana = caller(1002, "grafana", [
  [1002, "grafana"],
  [3000, "monitoring"],
]);
const anon = caller(1005, undefined, [[1005, undefined]]);
const secops = caller(1003, "alice", [
  [1003, "alice"],
  [4000, "secops"],
]);
const primary2000 = caller(1004, "bob", [[2000, "shared"]]);
const supp2000 = caller(1006, "carol", [
  [1006, "carol"],
  [2000, undefined],
]);
const primaryOnly2000 = caller(1007, "dave", [], 2000);
const nobody = caller(65534, "nobody", [[65534, "nogroup"]]);
const root = caller(0, "root", [[0, "root"]]);

describe("decide", () => {
  it.for<[string, Caller, Verb, string, Decision]>([
    ["root reads anything", root, "read", "ANYTHING", { allowed: true, reason: "root" }],
    ["root writes anything", root, "write", "NEW_KEY", { allowed: true, reason: "root" }],
    [
      "user: rule",
      netops,
      "read",
      "MERAKI_API_KEY",
      { allowed: true, reason: "rule at line 2 (read user:netops MERAKI_API_KEY)" },
    ],
    ["user: glob", netops, "read", "WEBEX_BOT", { allowed: true, reason: "rule at line 2 (read user:netops WEBEX_*)" }],
    ["user: later rule", netops, "read", "X_RO", { allowed: true, reason: "rule at line 8 (read user:netops *_RO)" }],
    [
      "user: other names denied",
      netops,
      "read",
      "GRAFANA_TOKEN",
      { allowed: false, reason: "no rule grants read of GRAFANA_TOKEN to uid 1001 (netops)" },
    ],
    [
      "user: write rule",
      netops,
      "write",
      "MERAKI_API_KEY",
      { allowed: true, reason: "rule at line 7 (write user:netops MERAKI_API_KEY)" },
    ],
    [
      "read does not imply write",
      netops,
      "write",
      "WEBEX_BOT",
      { allowed: false, reason: "no rule grants write of WEBEX_BOT to uid 1001 (netops)" },
    ],
    [
      "group: by supplementary group",
      grafana,
      "read",
      "GRAFANA_TOKEN",
      { allowed: true, reason: "rule at line 3 (read group:monitoring GRAFANA_TOKEN)" },
    ],
    [
      "group: not a user name",
      caller(1010, "monitoring", [[1010, "staff"]]),
      "read",
      "GRAFANA_TOKEN",
      { allowed: false, reason: "no rule grants read of GRAFANA_TOKEN to uid 1010 (monitoring)" },
    ],
    [
      "user: not a group name",
      caller(1011, "eve", [[1011, "netops"]]),
      "read",
      "MERAKI_API_KEY",
      { allowed: false, reason: "no rule grants read of MERAKI_API_KEY to uid 1011 (eve)" },
    ],
    [
      "uid: rule without a user name",
      anon,
      "read",
      "DB_1",
      { allowed: true, reason: "rule at line 4 (read uid:1005 DB_?)" },
    ],
    [
      "uid: ? is exactly one character",
      anon,
      "read",
      "DB_12",
      { allowed: false, reason: "no rule grants read of DB_12 to uid 1005" },
    ],
    [
      "uid: ? is not zero characters",
      anon,
      "read",
      "DB_",
      { allowed: false, reason: "no rule grants read of DB_ to uid 1005" },
    ],
    [
      "write does not imply read",
      secops,
      "read",
      "MERAKI_API_KEY",
      { allowed: false, reason: "no rule grants read of MERAKI_API_KEY to uid 1003 (alice)" },
    ],
    [
      "write by group",
      secops,
      "write",
      "MERAKI_API_KEY",
      { allowed: true, reason: "rule at line 5 (write group:secops *)" },
    ],
    [
      "gid: primary group in groups",
      primary2000,
      "read",
      "SHARED_X",
      { allowed: true, reason: "rule at line 6 (read gid:2000 SHARED_*)" },
    ],
    [
      "gid: supplementary group",
      supp2000,
      "read",
      "SHARED_X",
      { allowed: true, reason: "rule at line 6 (read gid:2000 SHARED_*)" },
    ],
    [
      "gid: primary gid field",
      primaryOnly2000,
      "read",
      "SHARED_X",
      { allowed: true, reason: "rule at line 6 (read gid:2000 SHARED_*)" },
    ],
    [
      "gid: does not match the uid",
      caller(2000, "u2000", [[1, "daemon"]]),
      "read",
      "SHARED_X",
      { allowed: false, reason: "no rule grants read of SHARED_X to uid 2000 (u2000)" },
    ],
    [
      "uid: does not match a gid",
      caller(1, "daemon", [[1005, "g"]]),
      "read",
      "DB_1",
      { allowed: false, reason: "no rule grants read of DB_1 to uid 1 (daemon)" },
    ],
    [
      "deny by default",
      nobody,
      "read",
      "MERAKI_API_KEY",
      { allowed: false, reason: "no rule grants read of MERAKI_API_KEY to uid 65534 (nobody)" },
    ],
    [
      "deny by default for write",
      nobody,
      "write",
      "X",
      { allowed: false, reason: "no rule grants write of X to uid 65534 (nobody)" },
    ],
    [
      "gid 0 is not root",
      caller(1012, "op", [[0, "root"]]),
      "read",
      "X",
      { allowed: false, reason: "no rule grants read of X to uid 1012 (op)" },
    ],
    ["invalid name denied even with *", secops, "write", "A.B", { allowed: false, reason: "not a valid secret name" }],
    ["invalid name denied for root", root, "read", "../etc", { allowed: false, reason: "not a valid secret name" }],
    ["empty name denied", secops, "write", "", { allowed: false, reason: "not a valid secret name" }],
    ["unknown verb denied", root, "delete" as Verb, "X", { allowed: false, reason: "unknown verb" }],
  ])("%s", ([, who, verb, name, expected]) => {
    expect(decide(policy, who, verb, name)).toEqual(expected);
  });

  it("denies everyone but root under an empty policy", () => {
    const empty = parsePolicy("# nothing\n", "p");
    expect(decide(empty, netops, "read", "A")).toEqual({
      allowed: false,
      reason: "no rule grants read of A to uid 1001 (netops)",
    });
    expect(decide(empty, root, "read", "A")).toEqual({ allowed: true, reason: "root" });
  });

  it("does not match an undefined user or group name against anything", () => {
    const p = parsePolicy("read user:undefined A\nread group:undefined B\n", "p");
    expect(decide(p, anon, "read", "A").allowed).toBe(false);
    expect(decide(p, supp2000, "read", "B").allowed).toBe(false);
  });
});

describe("matchesPattern", () => {
  it.for<[string, string, boolean]>([
    ["WEBEX_*", "WEBEX_BOT", true],
    ["WEBEX_*", "WEBEX_", true],
    ["WEBEX_*", "WEBEX", false],
    ["WEBEX_*", "XWEBEX_BOT", false],
    ["WEBEX_*", "webex_bot", false],
    ["*_KEY", "API_KEY", true],
    ["*_KEY", "API_KEY2", false],
    ["*", "A", true],
    ["*", "_", true],
    ["*", "A.B", false],
    ["*", "A B", false],
    ["*", "A\nB", false],
    ["*", "", false],
    ["*", "1A", false],
    ["*", "A".repeat(129), false],
    ["A*", "A.B", false],
    ["A*", "A$", false],
    ["?", "A", true],
    ["?", "AB", false],
    ["??", "AB", true],
    ["A?C", "ABC", true],
    ["A?C", "AC", false],
    ["A?C", "A.C", false],
    ["*A*B*", "XAYBZ", true],
    ["*A*B*", "AB", true],
    ["*A*B*", "BA", false],
    ["A*B*C", "AXBXBXC", true],
    ["A*B*C", "AXBXCXB", false],
    ["**", "ANY", true],
    ["?*", "A", true],
    ["*?", "", false],
    ["A", "A", true],
    ["A", "AA", false],
    ["", "A", false],
    // no regex meaning leaks in from the pattern
    [".*", "ANY", false],
    ["A.B", "AXB", false],
    ["A+", "AA", false],
    ["[AB]", "A", false],
    ["A|B", "A", false],
    ["(A)", "A", false],
    ["^A$", "A", false],
    ["A{2}", "AA", false],
    ["A\\w", "AB", false],
  ])("%j against %j is %s", ([pattern, name, expected]) => {
    expect(matchesPattern(pattern, name)).toBe(expected);
  });

  it("stays fast on patterns that would backtrack a regex", () => {
    const start = performance.now();
    expect(matchesPattern(`${"*A".repeat(60)}*B`, "A".repeat(128))).toBe(false);
    expect(performance.now() - start).toBeLessThan(200);
  });
});

describe("readableNames", () => {
  const names = ["WEBEX_BOT", "GRAFANA_TOKEN", "MERAKI_API_KEY", "DB_1", "X_RO", "bad.name"];
  it.for<[string, Caller, string[]]>([
    ["netops", netops, ["WEBEX_BOT", "MERAKI_API_KEY", "X_RO"]],
    ["grafana", grafana, ["GRAFANA_TOKEN"]],
    ["uid 1005", anon, ["DB_1"]],
    ["a writer reads nothing", secops, []],
    ["root reads every valid name", root, ["WEBEX_BOT", "GRAFANA_TOKEN", "MERAKI_API_KEY", "DB_1", "X_RO"]],
  ])("%s", ([, who, expected]) => {
    expect(readableNames(policy, who, names)).toEqual(expected);
  });
});

describe("namedFor: what a job that names nothing receives", () => {
  it("is the names the caller's read rules write out, sorted: never a glob's, a write rule's or another's", () => {
    expect(namedFor(policy, netops)).toEqual(["MERAKI_API_KEY"]);
    expect(namedFor(policy, grafana)).toEqual(["GRAFANA_TOKEN"]);
    expect(namedFor(policy, anon)).toEqual([]); // DB_? is a glob
    expect(namedFor(policy, secops)).toEqual([]); // write only
    expect(namedFor(policy, caller(0, "root", [[0, "root"]]))).toEqual([]); // root's override gives nothing unasked
  });

  it("gives root what a rule naming root writes out", () => {
    const p = parsePolicy("read user:root A_KEY B_*\nread uid:0 C_KEY\n", "/p");
    expect(namedFor(p, caller(0, "root", [[0, "root"]]))).toEqual(["A_KEY", "C_KEY"]);
  });

  // Any name a writer may choose, and any policy: a name reaches a plain exec only when a rule for the caller spells it.
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
  const pattern = fc.oneof(
    name,
    name.map((n) => `${n}*`),
    name.map((n) => `${n.slice(0, -1)}?`),
    fc.constant("*"),
  );
  it("never holds a name unless a read rule whose subject is the caller spells it out (generated names and rules)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            verb: fc.constantFrom("read", "write"),
            mine: fc.boolean(),
            patterns: fc.array(pattern, { minLength: 1, maxLength: 4 }),
          }),
          { maxLength: 6 },
        ),
        fc.array(name, { maxLength: 30 }),
        (rules, written) => {
          const text = rules
            .map((r) => `${r.verb} user:${r.mine ? "netops" : "other"} ${r.patterns.join(" ")}`)
            .join("\n");
          const p = parsePolicy(`${text}\n`, "/p");
          const spelled = new Set(rules.filter((r) => r.verb === "read" && r.mine).flatMap((r) => r.patterns));
          const got = namedFor(p, netops);
          for (const n of got) expect(spelled.has(n)).toBe(true);
          for (const n of written) if (!spelled.has(n)) expect(got).not.toContain(n);
        },
      ),
    );
  });
});
