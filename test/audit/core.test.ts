// The audit core without an agent: --since parsing, filters, reading a log's lines and tail, last reads, and
// the printing rules (no control characters reach a terminal).

import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { matchesFilter, parseSince } from "../../src/audit/filter.js";
import { decisionLine, lastReadCell, shortCommand } from "../../src/audit/format.js";
import { escapeText } from "../../src/cli/escape.js";
import { LastReads } from "../../src/audit/last-read.js";
import { auditLines, MAX_LINE_BYTES } from "../../src/audit/log-file.js";
import { parseAuditLine, type AuditDecision } from "../../src/audit/record.js";
import { tempDir } from "../helpers/cli.js";

const tmp = tempDir("secretfile-audit-core-");
afterAll(tmp.cleanup);

const decision = (over: Partial<AuditDecision> = {}): AuditDecision => ({
  time: "2026-11-03T14:02:11.482Z",
  op: "get",
  uid: 1005,
  user: "netops",
  pid: 42,
  program: "/usr/bin/node",
  cmdline: "/usr/bin/node /usr/local/bin/secretfile get API_KEY",
  names: ["API_KEY"],
  given: ["API_KEY"],
  allowed: true,
  reason: "rule at line 1 (read user:netops API_KEY)",
  ...over,
});

const collect = async (file: string, tailBytes?: number) => {
  const out: (string | null)[] = [];
  for await (const line of auditLines(file, { tailBytes })) out.push(line);
  return out;
};

describe("parseSince", () => {
  const now = new Date("2026-11-10T12:00:00Z");
  it.for([
    ["7d", "2026-11-03T12:00:00.000Z"],
    ["12h", "2026-11-10T00:00:00.000Z"],
    ["30m", "2026-11-10T11:30:00.000Z"],
    ["2w", "2026-10-27T12:00:00.000Z"],
    ["2026-11-01", "2026-11-01T00:00:00.000Z"],
    ["2026-11-01T08:30", "2026-11-01T08:30:00.000Z"],
    ["2026-11-01T08:30:00+02:00", "2026-11-01T06:30:00.000Z"],
  ])("%s is %s", ([text, iso]) => {
    expect(parseSince(text!, now).toISOString()).toBe(iso);
  });
  it.for(["yesterday", "7", "2026-02-30", "2026-13-01", "2026-11-01T25:00", "-7d", ""])(
    "refuses %j with exit 2",
    (text) => {
      expect(() => parseSince(text, now)).toThrow(expect.objectContaining({ exitCode: 2 }));
    },
  );
});

describe("matchesFilter", () => {
  it.for([
    [{}, true],
    [{ name: "API_*" }, true],
    [{ name: "OTHER" }, false],
    [{ user: "netops" }, true],
    [{ user: "1005" }, true],
    [{ user: "1006" }, false],
    [{ denied: true }, false],
    [{ since: new Date("2026-11-04T00:00:00Z") }, false],
    [{ since: new Date("2026-11-03T00:00:00Z"), user: "netops", name: "API_KEY" }, true],
  ] as const)("%j → %s", ([filter, expected]) => {
    expect(matchesFilter(decision(), filter)).toBe(expected);
  });
  it("does not count a list's shown names as being about a secret", () => {
    expect(matchesFilter(decision({ op: "list", names: [], given: ["API_KEY"] }), { name: "API_KEY" })).toBe(false);
  });
});

describe("auditLines", () => {
  it("yields every line, a last one without newline included", async () => {
    const file = path.join(tmp.dir, "plain.log");
    writeFileSync(file, "a\nb\n\nc");
    expect(await collect(file)).toEqual(["a", "b", "", "c"]);
  });

  it("drops the first, partial line of a tail", async () => {
    const file = path.join(tmp.dir, "tail.log");
    writeFileSync(file, "first line\nsecond\nthird\n");
    expect(await collect(file, 10)).toEqual(["third"]);
    expect(await collect(file, 1000)).toEqual(["first line", "second", "third"]);
  });

  it("gives null for a line past the limit and keeps going", async () => {
    const file = path.join(tmp.dir, "long.log");
    writeFileSync(file, `x\n${"y".repeat(MAX_LINE_BYTES + 10)}\nz\n`);
    expect(await collect(file)).toEqual(["x", null, "z"]);
  });

  it("refuses a symlink with exit 4 and a missing file with exit 1", async () => {
    const link = path.join(tmp.dir, "link.log");
    symlinkSync(path.join(tmp.dir, "plain.log"), link);
    await expect(collect(link)).rejects.toMatchObject({ exitCode: 4 });
    await expect(collect(path.join(tmp.dir, "none.log"))).rejects.toMatchObject({ exitCode: 1 });
  });
});

describe("parseAuditLine", () => {
  it.for([
    [JSON.stringify(decision()), "decision"],
    ['{"time":"2026-11-03T14:02:11Z","event":"start","pid":1}', "event"],
    ['{"time":"2026-11-03T14:02:11Z","op":"get","ui', "bad"],
    [JSON.stringify({ ...decision(), allowed: "yes" }), "bad"],
    ["[1,2]", "bad"],
    ["   ", "blank"],
  ])("%s is %s", ([line, kind]) => {
    expect(parseAuditLine(line!).kind).toBe(kind);
  });
});

describe("LastReads", () => {
  it("keeps the latest release of each name, whatever the order notes arrive in", () => {
    const reads = new LastReads();
    reads.note(["A"], { uid: 1, user: "one" }, "2026-11-03T10:00:00.000Z");
    reads.note(["A", "B"], { uid: 2, user: undefined }, "2026-11-02T10:00:00.000Z");
    expect(reads.get("A")).toEqual({ time: "2026-11-03T10:00:00.000Z", uid: 1, user: "one" });
    expect(reads.get("B")).toEqual({ time: "2026-11-02T10:00:00.000Z", uid: 2 });
    expect(reads.annotate([{ name: "C", created: "x", updated: "x" }])).toEqual([
      { name: "C", created: "x", updated: "x" },
    ]);
  });

  it("seeds from releases only: allowed get and values, not list nor refusals", async () => {
    const file = path.join(tmp.dir, "seed.log");
    const lines = [
      decision({ names: ["*"], given: ["A", "B"], op: "values" }),
      decision({ op: "list", given: ["C"], time: "2026-11-04T00:00:00.000Z" }),
      decision({ names: ["D"], given: [], allowed: false }),
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n{"time":"x","event":"stop"}\n{"trunc`);
    const reads = new LastReads();
    expect(await reads.seed(file)).toBe(1);
    expect(["A", "B", "C", "D"].map((n) => reads.get(n)?.user)).toEqual(["netops", "netops", undefined, undefined]);
  });
});

describe("format", () => {
  it("escapes, as the CLI prints it, every control or format character the log holds", () => {
    const line = escapeText(
      decisionLine(
        decision({
          user: "ev\u001b[2Jil",
          cmdline: "sh -c \u001b]0;pwned\u0007\u009b\u202e\u2028",
          allowed: false,
          reason: "no\nrule",
        }),
      ),
    );
    expect(line).not.toMatch(/[\p{Cc}\p{Cf}\u2028\u2029]/u);
    expect(line).toContain("ev\\u001b[2Jil(1005)");
    expect(line).toContain("\\u0007\\u009b\\u202e\\u2028");
    expect(line).toContain("(no\\u000arule)");
  });

  it("shows node running secretfile as secretfile, and other programs without their folder", () => {
    expect(shortCommand(decision())).toBe("secretfile get API_KEY");
    expect(shortCommand({ program: "/usr/bin/python3.11", cmdline: "/usr/bin/python3 job.py" })).toBe("python3 job.py");
    expect(shortCommand({ program: "(cron)", cmdline: undefined })).toBe("(cron)");
  });

  it("prints a last read as day, time and user, or -", () => {
    expect(lastReadCell({ time: "2026-11-03T14:02:11.482Z", uid: 1005, user: "netops" })).toBe(
      "2026-11-03 14:02Z netops",
    );
    expect(lastReadCell({ time: "2026-11-03T14:02:11.482Z", uid: 1005 })).toBe("2026-11-03 14:02Z uid 1005");
    expect(lastReadCell(undefined)).toBe("-");
  });
});
