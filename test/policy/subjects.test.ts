// A policy naming users and groups this host does not have: `policy check` warns, naming the line, and still says ok
// (issue 12, hole 14). Rules: real lookups (root, gid 0 and random names that cannot exist); the CLI part needs root.

import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../src/policy/parse.js";
import { unknownSubjects } from "../../src/policy/subjects.js";
import { isRoot, runCli } from "../helpers/cli.js";

const ghost = `sfghost_${randomBytes(4).toString("hex")}`;
const FREE_ID = 4000000000 + Math.floor(Math.random() * 1000); // no host here has such an id
const POLICY = [
  "# existing and missing subjects",
  "read user:root *",
  `read user:${ghost} A`,
  "read group:root B",
  `write group:${ghost} C`,
  "read uid:0 D",
  `read uid:${FREE_ID} E`,
  "read gid:0 F",
  `read gid:${FREE_ID} G`,
].join("\n");

describe("unknownSubjects", () => {
  it("warns of each user, group, uid and gid with no entry, by line, and of nothing else", () => {
    expect(unknownSubjects(parsePolicy(POLICY, "p"))).toEqual([
      { line: 3, message: `no user "${ghost}" on this host` },
      { line: 5, message: `no group "${ghost}" on this host` },
      { line: 7, message: `no user with uid ${FREE_ID} on this host` },
      { line: 9, message: `no group with gid ${FREE_ID} on this host` },
    ]);
  });
});

describe.skipIf(!isRoot)(`policy check${isRoot ? "" : " (skipped: needs root, a policy must be root's)"}`, () => {
  it("prints a warning naming file and line for a missing user, and still exits 0 with ok", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sf-subjects-"));
    try {
      chmodSync(dir, 0o755);
      const file = path.join(dir, "policy");
      writeFileSync(file, POLICY + "\n", { mode: 0o644 });
      const r = await runCli(["policy", "check", file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split("\n").filter(Boolean)).toEqual([
        `secretfile: warning: ${file}:3: no user "${ghost}" on this host`,
        `secretfile: warning: ${file}:5: no group "${ghost}" on this host`,
        `secretfile: warning: ${file}:7: no user with uid ${FREE_ID} on this host`,
        `secretfile: warning: ${file}:9: no group with gid ${FREE_ID} on this host`,
      ]);
      expect(r.stdout).toContain(`${file}: ok (8 rules)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
