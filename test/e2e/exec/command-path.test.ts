// exec finds COMMAND with the caller's own PATH, through the native starter and the fallback (SECRETFILE_NATIVE=0).
// Rules: a PATH held in the store (written in-process, as a store from before names were refused would hold it) or
// given by `--map PATH=NAME` reaches the job's environment but never chooses the program: a planted `true` or `sh`
// never runs; a folder of PATH the caller may not search is skipped (127, as a shell says), 126 only for a file found.

import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEntry } from "../../../src/store/document.js";
import { Store, storePaths } from "../../../src/store/store.js";
import { isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, walkFiles, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

const STARTERS = [
  ["the native starter", {}],
  ["node:child_process (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
] as const;

/** Plants `true` and `sh` in `<root>/evil`, each leaving a file in `<root>/ran` when run; returns the folder. */
function plant(root: string): { evil: string; ran: string } {
  const evil = path.join(root, "evil");
  const ran = path.join(root, "ran");
  mkdirSync(evil);
  mkdirSync(ran);
  for (const name of ["true", "sh"])
    writeFileSync(path.join(evil, name), `#!/bin/sh\ntouch ${ran}/${name}\n`, { mode: 0o755 });
  return { evil, ran };
}

describe.each(STARTERS)("exec through %s resolves COMMAND with the caller's PATH", (_how, extraEnv) => {
  let sb: Sandbox;
  let evil: string;
  let ran: string;
  beforeAll(async () => {
    sb = sandbox(extraEnv);
    await sb.add("JOB_KEY", "command-path-value-0123");
    ({ evil, ran } = plant(sb.root));
    await sb.add("EVIL_DIRS", `${evil}:/usr/bin:/bin`);
    // A store written before PATH was a refused name: the value goes in under the store API, past `add`.
    const store = await Store.open(storePaths(sb.dir));
    await store.update((doc) =>
      setEntry(doc.secrets, "PATH", {
        value: `${evil}:/usr/bin:/bin`,
        created: "2026-01-01T00:00:00.000Z",
        updated: "2026-01-01T00:00:00.000Z",
      }),
    );
  });

  it.for([
    ["masked", []],
    ["--no-mask", ["--no-mask"]],
  ] as const)("a PATH in the store never runs a planted program (%s)", async ([, mode]) => {
    const r = await sb.run(["exec", ...mode, "--", "true"]);
    expect(r.code, r.stderr).toBe(0);
    const sh = await sb.run(["exec", ...mode, "--", "sh", "-c", "exit 4"]);
    expect(sh.code, sh.stderr).toBe(4);
    expect(walkFiles(ran)).toEqual([]);
  });

  it("--map PATH=NAME gives the job that PATH (the reader's choice) but the program is still the caller's", async () => {
    const r = await sb.run([
      "exec",
      "--map",
      "PATH=EVIL_DIRS",
      "--map",
      "JOB_KEY=JOB_KEY",
      "--",
      "sh",
      "-c",
      'echo "$PATH"; exit 5',
    ]);
    expect([r.code, r.stdout], r.stderr).toEqual([5, "[EVIL_DIRS]\n"]);
    const plain = await sb.run(["exec", "--no-mask", "--map", "PATH=EVIL_DIRS", "--", "true"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(existsSync(path.join(ran, "sh")) || existsSync(path.join(ran, "true"))).toBe(false);
  });

  it.for([
    ["masked", []],
    ["--no-mask", ["--no-mask"]],
  ] as const)(
    "--map PATH=NAME with --file (secretfile stays while the job runs) runs the caller's program too (%s)",
    async ([, mode]) => {
      const r = await sb.run([
        "exec",
        ...mode,
        "--file",
        "JOB_KEY",
        "--map",
        "PATH=EVIL_DIRS",
        "--",
        "sh",
        "-c",
        'test -f "$JOB_KEY_FILE" && exit 6',
      ]);
      expect(r.code, r.stderr).toBe(6);
      expect(walkFiles(ran)).toEqual([]);
    },
  );
});

describe.each(STARTERS)("exec through %s searches PATH as a shell does", (_how, extraEnv) => {
  let sb: Sandbox;
  let locked: string;
  let plainDir: string;
  const nobody = { uid: 65534, gid: 65534 };
  beforeAll(async () => {
    if (!isRoot) return;
    sb = sandbox(extraEnv);
    locked = path.join(sb.root, "locked");
    plainDir = path.join(sb.root, "plain");
    mkdirSync(locked, { mode: 0o000 });
    chmodSync(locked, 0o000);
    mkdirSync(plainDir);
    writeFileSync(path.join(plainDir, "not-a-program"), "echo never\n", { mode: 0o644 });
    mkdirSync(path.join(plainDir, "a-folder"));
    chownSync(sb.root, nobody.uid, nobody.gid);
    chownSync(sb.home, nobody.uid, nobody.gid);
    const r = await sb.run(["init"], nobody);
    expect(r.code, r.stderr).toBe(0);
    expect((await sb.run(["add", "JOB_KEY"], { ...nobody, input: "search-path-value-0123" })).code).toBe(0);
  });
  const run = (args: string[]) =>
    sb.run(["exec", "--", ...args], { ...nobody, env: { PATH: `${locked}:${plainDir}:/usr/bin:/bin` } });

  it.skipIf(!isRoot)(
    "skips a folder it may not search: a typo is 127, command not found, with a hint naming the folder",
    async () => {
      const typo = await run(["pyhton3"]);
      expect(typo.code).toBe(127);
      expect(typo.stderr).toContain("secretfile: error: cannot run pyhton3: command not found\n");
      expect(typo.stderr).toContain(
        `secretfile: hint: check the command's name; folders of PATH you may not search were skipped: ${locked}\n`,
      );
      expect(typo.stderr).not.toContain("chmod");
      expect((await run(["sh", "-c", "exit 3"])).code).toBe(3);
    },
  );

  it.skipIf(!isRoot)(
    "is 126 only for a file found that may not be run (the hint names it), and passes a folder over",
    async () => {
      const found = await run(["not-a-program"]);
      expect([found.code, found.stderr]).toEqual([
        126,
        expect.stringContaining("cannot run not-a-program: permission denied"),
      ]);
      expect(found.stderr).toContain(path.join(plainDir, "not-a-program"));
      expect((await run(["a-folder"])).code).toBe(127);
    },
  );
});
