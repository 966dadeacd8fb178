import { describe, expect, it } from "vitest";
import { ExitCode, FailureError } from "../../src/errors.js";
import { formatSubject, parsePolicy, parsePolicyBytes, PolicySyntaxError, type Rule } from "../../src/policy/parse.js";

const F = "/etc/secretfile/policy";

/** Runs parsePolicy and returns the PolicySyntaxError it must throw. */
function syntaxError(text: string): PolicySyntaxError {
  try {
    parsePolicy(text, F);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicySyntaxError);
    return error as PolicySyntaxError;
  }
  throw new Error("parsePolicy accepted a bad policy");
}

describe("parsePolicy: valid files", () => {
  it("parses the design's example", () => {
    const text = [
      "# /etc/secretfile/policy: one rule a line, deny by default, '#' starts a comment.",
      "# verb   who                 secret names (globs allowed)",
      "read     user:netops         MERAKI_API_KEY WEBEX_*",
      "read     group:monitoring    GRAFANA_TOKEN",
      "read     uid:1005            *",
      "write    group:secops        *",
      "",
    ].join("\n");
    expect(parsePolicy(text, F)).toEqual({
      file: F,
      rules: [
        { verb: "read", who: { kind: "user", name: "netops" }, patterns: ["MERAKI_API_KEY", "WEBEX_*"], line: 3 },
        { verb: "read", who: { kind: "group", name: "monitoring" }, patterns: ["GRAFANA_TOKEN"], line: 4 },
        { verb: "read", who: { kind: "uid", id: 1005 }, patterns: ["*"], line: 5 },
        { verb: "write", who: { kind: "group", name: "secops" }, patterns: ["*"], line: 6 },
      ],
    });
  });

  it.for<[string, string, Rule[]]>([
    ["empty file", "", []],
    ["only comments and blank lines", "# a\n\n   \n\t\n  # b\n", []],
    ["trailing comment", "read user:a A # why: the report job\n", [r("read", "user", "a", ["A"], 1)]],
    ["comment glued to a pattern", "read user:a A#B C\n", [r("read", "user", "a", ["A"], 1)]],
    ["a comment line before a rule", "  # only\nread user:a A\n", [r("read", "user", "a", ["A"], 2)]],
    ["tabs and runs of spaces", "\twrite \t gid:0\t\tA   B\t", [r("write", "gid", 0, ["A", "B"], 1)]],
    [
      "CRLF line endings",
      "read user:a A\r\nread user:b B\r\n",
      [r("read", "user", "a", ["A"], 1), r("read", "user", "b", ["B"], 2)],
    ],
    ["no final newline", "read user:a A", [r("read", "user", "a", ["A"], 1)]],
    ["a byte order mark at the start", "\ufeffread user:a A\n", [r("read", "user", "a", ["A"], 1)]],
    [
      "globs",
      "read user:a * ? A_* *_KEY A?B *A*B* ?*\n",
      [r("read", "user", "a", ["*", "?", "A_*", "*_KEY", "A?B", "*A*B*", "?*"], 1)],
    ],
    [
      "underscore and lowercase names",
      "read user:a _x lower_Case9\n",
      [r("read", "user", "a", ["_x", "lower_Case9"], 1)],
    ],
    ["a 128-character pattern", `read user:a ${"A".repeat(128)}\n`, [r("read", "user", "a", ["A".repeat(128)], 1)]],
    [
      "user names with . - $ and digits",
      "read user:svc.job-1$ A\nread group:_g9 B\n",
      [r("read", "user", "svc.job-1$", ["A"], 1), r("read", "group", "_g9", ["B"], 2)],
    ],
    ["a 64-character user name", `read user:${"u".repeat(64)} A\n`, [r("read", "user", "u".repeat(64), ["A"], 1)]],
    [
      "uid and gid bounds",
      "read uid:0 A\nread gid:4294967294 B\n",
      [r("read", "uid", 0, ["A"], 1), r("read", "gid", 4294967294, ["B"], 2)],
    ],
    [
      "line numbers count comments and blanks",
      "# c\n\nread user:a A\n\n# d\nwrite user:a A\n",
      [r("read", "user", "a", ["A"], 3), r("write", "user", "a", ["A"], 6)],
    ],
    ["non-ASCII text in a comment", "read user:a A # clé d'API, ключ\n", [r("read", "user", "a", ["A"], 1)]],
  ])("%s", ([, text, rules]) => {
    expect(parsePolicy(text, F).rules).toEqual(rules);
  });

  it("formats subjects as the file spells them", () => {
    expect(formatSubject({ kind: "user", name: "netops" })).toBe("user:netops");
    expect(formatSubject({ kind: "gid", id: 42 })).toBe("gid:42");
  });
});

describe("parsePolicy: expect", () => {
  it("parses expected readers, with every= anywhere after who, and grants nothing", () => {
    const p = parsePolicy("expect user:netops MERAKI_API_KEY every=1h\nexpect group:jobs every=2d WEBEX_*\n", F);
    expect(p.rules).toEqual([]);
    expect(p.expects).toEqual([
      { who: { kind: "user", name: "netops" }, patterns: ["MERAKI_API_KEY"], everyMs: 3600_000, line: 1 },
      { who: { kind: "group", name: "jobs" }, patterns: ["WEBEX_*"], everyMs: 2 * 86_400_000, line: 2 },
    ]);
  });
});

describe("parsePolicy: bad lines", () => {
  const WHO = "(expected user:NAME, group:NAME, uid:N, gid:N or unit:NAME)";
  const PAT = "(expected a secret name of letters, digits and _, not starting with a digit; globs * and ? allowed)";
  const UID = "(expected a decimal number from 0 to 4294967294, no leading zeros)";
  it.for<[string, string]>([
    ["reed user:a A", 'unknown verb "reed" (expected read, write, approve or expect)'],
    ["READ user:a A", 'unknown verb "READ" (expected read, write, approve or expect)'],
    ["allow user:a A", 'unknown verb "allow" (expected read, write, approve or expect)'],
    ["read", 'missing who and secret names after "read"'],
    ["write   # nothing else", 'missing who and secret names after "write"'],
    ["read user:a", 'missing secret names after "user:a"'],
    ["read user:a # A", 'missing secret names after "user:a"'],
    ["read user:a#x A", 'missing secret names after "user:a"'],
    ["read netops A", `bad who "netops" ${WHO}`],
    ["read User:netops A", `bad who "User:netops" ${WHO}`],
    ["read :netops A", `bad who ":netops" ${WHO}`],
    ["read * A", `bad who "*" ${WHO}`],
    ["read user: A", 'bad user name "" in "user:" (expected a Unix user name, at most 64 characters)'],
    ["read user:1abc A", 'bad user name "1abc" in "user:1abc" (expected a Unix user name, at most 64 characters)'],
    ["read group:a:b A", 'bad group name "a:b" in "group:a:b" (expected a Unix group name, at most 64 characters)'],
    ["read group:a$b A", 'bad group name "a$b" in "group:a$b" (expected a Unix group name, at most 64 characters)'],
    [
      `read user:${"u".repeat(65)} A`,
      `bad user name "${"u".repeat(40)}…" in "user:${"u".repeat(35)}…" (expected a Unix user name, at most 64 characters)`,
    ],
    ["read uid:-1 A", `bad uid "-1" in "uid:-1" ${UID}`],
    ["read uid:4294967295 A", `bad uid "4294967295" in "uid:4294967295" ${UID}`],
    ["read gid:99999999999 A", `bad gid "99999999999" in "gid:99999999999" ${UID}`],
    ["read uid:0100 A", `bad uid "0100" in "uid:0100" ${UID}`],
    ["read uid:1e3 A", `bad uid "1e3" in "uid:1e3" ${UID}`],
    ["read uid:0x10 A", `bad uid "0x10" in "uid:0x10" ${UID}`],
    ["read gid: A", `bad gid "" in "gid:" ${UID}`],
    ["read uid:root A", `bad uid "root" in "uid:root" ${UID}`],
    ["read user:a A.B", `bad pattern "A.B" ${PAT}`],
    ["read user:a 1A", `bad pattern "1A" ${PAT}`],
    ["read user:a A-B", `bad pattern "A-B" ${PAT}`],
    ["read user:a [AB]", `bad pattern "[AB]" ${PAT}`],
    ["read user:a A+", `bad pattern "A+" ${PAT}`],
    ["read user:a .*", `bad pattern ".*" ${PAT}`],
    ["expect", 'missing who, secret names and every=DURATION after "expect"'],
    ["expect user:a every=1h", 'missing secret names after "user:a"'],
    ["expect user:a A", "expect needs one every=DURATION (how often the job reads, e.g. every=1h), not 0"],
    [
      "expect user:a A every=1h every=2h",
      "expect needs one every=DURATION (how often the job reads, e.g. every=1h), not 2",
    ],
    ["expect user:a A every=1w", 'bad every="1w" (expected a duration such as 30m, 4h or 2d, at most 30d)'],
    ["expect netops A every=1h", `bad who "netops" ${WHO}`],
    ["read user:a A,B", `bad pattern "A,B" ${PAT}`],
    ["read user:a ÉCLÉ", `bad pattern "\\u00c9CL\\u00c9" ${PAT}`],
    ["read user:a A\u00a0B", `bad pattern "A\\u00a0B" ${PAT}`],
    [`read user:a ${"A".repeat(129)}`, `pattern "${"A".repeat(40)}…" is longer than 128 characters`],
    ["read user:a A\u001b[8m", "control character U+001B at column 14"],
    ["read user:a A\u000bB", "control character U+000B at column 14"],
    ["read user:a A\rB", "control character U+000D at column 14"],
    ["read user:a A\u0000", "control character U+0000 at column 14"],
    ["read user:a A # \u007f", "control character U+007F at column 17"],
    ["read user:a A # \u0085", "control character U+0085 at column 17"],
    ["read user:a A # \u202e", "control character U+202E at column 17"],
    ["# \u2066 hidden", "control character U+2066 at column 3"],
  ])("%j is reported", ([line, message]) => {
    const error = syntaxError(`read user:ok OK\n${line}\n`);
    expect(error.problems).toEqual([{ line: 2, message }]);
    expect(error.line).toBe(2);
    expect(error.message).toBe(`${F}:2: ${message}`);
  });

  it("reports every bad line together, with its line number, and keeps no rule", () => {
    const text = [
      "# header", //                              1
      "read user:netops MERAKI_*", //             2 ok
      "reed user:netops WEBEX_*", //              3
      "", //                                      4
      "read group:mon", //                        5
      "write uid:01 A.B OK", //                   6: two problems
      "read user:x OK # fine", //                 7 ok
      "read netops X", //                         8
    ].join("\n");
    const error = syntaxError(text);
    expect(error.problems).toEqual([
      { line: 3, message: 'unknown verb "reed" (expected read, write, approve or expect)' },
      { line: 5, message: 'missing secret names after "group:mon"' },
      { line: 6, message: `bad uid "01" in "uid:01" ${UID}` },
      { line: 6, message: `bad pattern "A.B" ${PAT}` },
      { line: 8, message: `bad who "netops" ${WHO}` },
    ]);
    expect(error.message).toBe(
      [
        `${F}:3: unknown verb "reed" (expected read, write, approve or expect)`,
        `${F}:5: missing secret names after "group:mon"`,
        `${F}:6: bad uid "01" in "uid:01" ${UID}`,
        `${F}:6: bad pattern "A.B" ${PAT}`,
        `${F}:8: bad who "netops" ${WHO}`,
      ].join("\n"),
    );
    expect(error.file).toBe(F);
    expect(error.line).toBe(3);
    expect(error).toBeInstanceOf(FailureError);
    expect(error.exitCode).toBe(ExitCode.failure);
    expect(error.code).toBe("failure");
    expect(error.hint).toBe(
      `a rule is \`read|write user:NAME|group:NAME|uid:N|gid:N PATTERN...\`; fix the lines above and check with \`secretfile policy check ${F}\``,
    );
  });

  it("says 'line' in the hint for a single bad line", () => {
    expect(syntaxError("reed user:a A").hint).toContain("fix the line above");
  });

  it("escapes quotes and backslashes in quoted text", () => {
    expect(syntaxError('read user:a A"B\\').problems).toEqual([{ line: 1, message: `bad pattern "A\\"B\\\\" ${PAT}` }]);
  });
});

describe("parsePolicyBytes", () => {
  it("parses UTF-8 bytes like the text", () => {
    const bytes = new TextEncoder().encode("\ufeffread user:a A # é\nwrite gid:5 B\n");
    expect(parsePolicyBytes(bytes, F).rules).toEqual([
      r("read", "user", "a", ["A"], 1),
      r("write", "gid", 5, ["B"], 2),
    ]);
  });

  it("reports each line that is not UTF-8, with the other bad lines", () => {
    const enc = (s: string) => [...new TextEncoder().encode(s)];
    const bytes = Uint8Array.from([
      ...enc("read user:a A\n"),
      ...enc("# caf"),
      0xe9,
      ...enc("\n"), //        2: Latin-1 é
      ...enc("reed user:a A\n"), //                  3
      ...enc("read user:a B # "),
      0xc3,
      0x28, //      4: broken sequence, no final newline
    ]);
    try {
      parsePolicyBytes(bytes, F);
      expect.unreachable("parsePolicyBytes accepted bytes that are not UTF-8");
    } catch (error) {
      expect(error).toBeInstanceOf(PolicySyntaxError);
      expect((error as PolicySyntaxError).problems).toEqual([
        { line: 2, message: "not valid UTF-8" },
        { line: 3, message: 'unknown verb "reed" (expected read, write, approve or expect)' },
        { line: 4, message: "not valid UTF-8" },
      ]);
    }
  });
});

function r(
  verb: "read" | "write",
  kind: "user" | "group" | "uid" | "gid",
  who: string | number,
  patterns: string[],
  line: number,
): Rule {
  const subject =
    typeof who === "number" ? { kind: kind as "uid" | "gid", id: who } : { kind: kind as "user" | "group", name: who };
  return { verb, who: subject, patterns, line };
}
