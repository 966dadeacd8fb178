// Holes 1, 8 and 14 (add on a terminal) in personal mode, through bin/secretfile: reserved names are refused by add,
// import and rollback and never set by exec implicitly; writer text is refused when written and shown escaped.
// Rules: a refusal is exit 2 naming the name and leaves the store's bytes as they were; an old store (written here with
// the store API, as an older version could have) is still usable, its reserved names held back with a warning.

import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, onTerminal, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { setEntry } from "../../../src/store/document.js";
import { Store, storePaths } from "../../../src/store/store.js";
import { execOwnExit } from "../../../src/errors.js";

const ENV_PROBE = path.join(FIXTURES, "env-probe.mjs");
const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});
const SLOW = 240_000;
const HOLE_1 = ["PATH", "LD_PRELOAD", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV", "HTTPS_PROXY", "https_proxy"];

/** Writes `secrets` (with their descriptions) into the sandbox's store with the store API, bypassing every check. */
async function oldStore(sb: Sandbox, secrets: Record<string, { value: string; description?: string }>): Promise<void> {
  const store = existsSync(sb.store)
    ? await Store.open(storePaths(sb.dir))
    : await Store.create(storePaths(sb.dir), { pq: false });
  await store.update((doc) => {
    for (const [name, s] of Object.entries(secrets))
      setEntry(doc.secrets, name, { ...s, created: "2025-01-01T00:00:00.000Z", updated: "2025-01-01T00:00:00.000Z" });
  });
}

/** A folder holding a `true` that leaves a marker file when it runs; returns both paths. */
function plantedTrue(sb: Sandbox): { dir: string; marker: string } {
  const dir = path.join(sb.root, "evil");
  const marker = path.join(sb.root, "planted-true-ran");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "true"), `#!/bin/sh\ntouch ${marker}\n`);
  chmodSync(path.join(dir, "true"), 0o755);
  return { dir, marker };
}

afterAll(removeSandboxes);

describe.concurrent("reserved names in personal mode", { timeout: SLOW }, () => {
  it.for(HOLE_1)("add %s is exit 2 naming it, with the --map hint, and creates no store", async (name) => {
    const sb = sandbox();
    const r = await sb.run(["add", name], { input: "/tmp/evil:/usr/bin:/bin" });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`secretfile: error: ${name} is a reserved name`);
    expect(r.stderr).toContain(`secretfile: hint: store it under another name, e.g. APP_${name}`);
    expect(r.stderr).toContain(`--map ${name}=APP_${name}`);
    expect(existsSync(sb.store)).toBe(false);
  });

  it("add --replace, import and rollback of a reserved name are exit 2 and leave the store's bytes as they were", async () => {
    const sb = sandbox();
    await sb.add("FINE_KEY", "fine");
    await oldStore(sb, { PATH: { value: "/tmp/evil:/usr/bin" } });
    const before = readFileSync(sb.store);
    const replace = await sb.run(["add", "PATH", "--replace"], { input: "/tmp/evil2" });
    expect(replace.code, replace.stderr).toBe(2);
    expect(replace.stderr).toContain("PATH is a reserved name");
    const file = path.join(sb.root, "job.env");
    writeFileSync(file, "A_KEY=a\nB_KEY=b\nLD_PRELOAD=/tmp/evil.so\n");
    const imported = await sb.run(["import", file]);
    expect(imported.code, imported.stderr).toBe(2);
    expect(imported.stderr).toContain(`${file}:3: LD_PRELOAD is a reserved name`);
    const rollback = await sb.run(["rollback", "PATH"]);
    expect(rollback.code, rollback.stderr).toBe(2);
    expect(rollback.stderr).toContain("PATH is a reserved name");
    expect(readFileSync(sb.store).equals(before)).toBe(true);
    expect((await sb.run(["rm", "PATH"])).code).toBe(0); // an admin can still clean an old store
  });

  it("exec of an old store holding PATH runs the caller's true, not a planted one, and warns naming PATH", async () => {
    const sb = sandbox();
    const { dir, marker } = plantedTrue(sb);
    await oldStore(sb, {
      PATH: { value: `${dir}:/usr/bin:/bin` },
      LD_PRELOAD: { value: "/tmp/evil.so" },
      A_KEY: { value: "a value" },
    });
    const r = await sb.run(["exec", "--", "true"], { env: { PATH: "/usr/local/bin:/usr/bin:/bin" } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toMatch(/^secretfile: warning: LD_PRELOAD is not given to the job: it is a reserved name/m);
    expect(r.stderr).toMatch(/^secretfile: warning: PATH is not given to the job: it is a reserved name/m);
    const probe = await sb.run(["exec", "--", process.execPath, ENV_PROBE, "PATH", "LD_PRELOAD", "A_KEY"], {
      env: { PATH: "/usr/bin:/bin" },
    });
    expect(JSON.parse(probe.stdout)).toEqual({ PATH: sha("/usr/bin:/bin"), LD_PRELOAD: null, A_KEY: sha("a value") });
  });

  it("--only of a reserved store name is exit 2 with the --map hint; --map of a reserved variable is the reader's choice", async () => {
    const sb = sandbox();
    await oldStore(sb, { PATH: { value: "/tmp/evil" } });
    await sb.add("CORP_PROXY", "http://proxy.corp:3128");
    const only = await sb.run(["exec", "--only", "PATH", "--", "true"]);
    expect(only.code, only.stderr).toBe(execOwnExit(2));
    expect(only.stderr).toContain("--map PATH=PATH");
    const file = await sb.run(["exec", "--file", "LD", "--", "true"]);
    expect(file.code, file.stderr).toBe(execOwnExit(2));
    expect(file.stderr).toContain("--file LD_FILE=LD");
    const mapped = await sb.run([
      "exec",
      "--map",
      "HTTPS_PROXY=CORP_PROXY",
      "--",
      process.execPath,
      ENV_PROBE,
      "HTTPS_PROXY",
      "CORP_PROXY",
    ]);
    expect(mapped.code, mapped.stderr).toBe(0);
    expect(JSON.parse(mapped.stdout)).toEqual({ HTTPS_PROXY: sha("http://proxy.corp:3128"), CORP_PROXY: null });
  });
});

describe.concurrent("a writer's text in personal mode", { timeout: SLOW }, () => {
  it.for([
    ["U+009B", "\u009b31m"],
    ["U+202E", "\u202egnp.exe"],
    ["ESC", "\u001b[2J"],
  ])("add --description holding %s is exit 2 and stores nothing", async ([, bad]) => {
    const sb = sandbox();
    const r = await sb.run(["add", "A_KEY", "--description", `before ${bad} after`], { input: "v" });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("without control or format characters");
    expect(existsSync(sb.store)).toBe(false);
  });

  it("an old store's description with CSI, bidi and ESC is shown escaped by ls and ls --json", async () => {
    const sb = sandbox();
    const description = "a\u009b31mb\u202ec\u001b[2Jd\u2028e";
    await oldStore(sb, { A_KEY: { value: "v", description } });
    const ls = await sb.run(["ls"]);
    expect(ls.code, ls.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex -- the test looks for control characters in the output
    expect(ls.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/u);
    expect(ls.stdout).toContain("a\\u009b31mb\\u202ec\\u001b[2Jd\\u2028e");
    const json = await sb.run(["ls", "--json"]);
    expect(json.stdout).not.toMatch(/[\u007f-\u009f\u202e\u2028]/u);
    expect((JSON.parse(json.stdout) as { description: string }[])[0]!.description).toBe(description);
  });

  it("an audit log line whose program and command line hold ESC and CSI is shown escaped by `secretfile audit`", async () => {
    const sb = sandbox();
    const log = path.join(sb.root, "audit.log");
    const record = {
      time: "2026-11-03T14:02:11.000Z",
      op: "get",
      uid: 1005,
      user: "netops",
      pid: 42,
      program: "/tmp/\u001b]0;owned\u0007x",
      cmdline: "x \u009b2J \u202eevil",
      names: ["A_KEY"],
      given: ["A_KEY"],
      allowed: true,
      reason: "read rule",
    };
    writeFileSync(log, `${JSON.stringify(record)}\n`);
    const r = await sb.run(["audit", "--audit", log]);
    expect(r.code, r.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex -- the test looks for control characters in the output
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/u);
    expect(r.stdout).toContain("x \\u009b2J \\u202eevil");
    writeFileSync(log, `${JSON.stringify({ ...record, cmdline: undefined })}\n`);
    const program = await sb.run(["audit", "--audit", log]);
    expect(program.stdout).toContain("/tmp/\\u001b]0;owned\\u0007x");
    const json = await sb.run(["audit", "--audit", log, "--json"]);
    expect(json.stdout).not.toMatch(/[\u007f-\u009f\u202e]/u);
    expect((JSON.parse(json.stdout) as { program?: unknown }).program).toBe(record.program);
  });
});

describe.concurrent("add on a terminal", { timeout: SLOW }, () => {
  it("refuses an existing name before it asks for the value", async () => {
    const sb = sandbox();
    await sb.add("A_KEY", "first");
    const r = await onTerminal(sb, ["add", "A_KEY"]);
    expect(r.code, r.out).toBe(1);
    expect(r.prompted, r.out).toBe(false);
    expect(r.out).toContain("A_KEY already exists");
    expect((await sb.run(["get", "A_KEY"])).stdout).toBe("first");
  });

  it("asks for the value of a new name, and of an existing one with --replace", async () => {
    const sb = sandbox();
    await sb.add("A_KEY", "first");
    const added = await onTerminal(sb, ["add", "B_KEY"]);
    expect(added, added.out).toMatchObject({ code: 0, prompted: true });
    const replaced = await onTerminal(sb, ["add", "A_KEY", "--replace"]);
    expect(replaced, replaced.out).toMatchObject({ code: 0, prompted: true });
    expect((await sb.run(["get", "A_KEY"])).stdout).toBe("typed-at-the-prompt");
  });
});
