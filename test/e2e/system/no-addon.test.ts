// Without the native addon (a copy of the package without dist/native.node, or SECRETFILE_NATIVE=0) the agent refuses to
// start, saying what it needs and how to get it, before it listens; the CLI still runs personal mode on plain Node, and
// what needs the C library (the user database of `policy check`) fails saying the same (docs/native.md).

import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, isRoot, runCli } from "../../helpers/cli.js";
import { copyApp } from "../../helpers/global-setup.js";
import { NEEDS_ROOT, prepareAgent, spawnAgent, useSystem, writePolicy, type AgentFiles } from "../../helpers/system.js";

describe.skipIf(!isRoot)(`without the native addon (${isRoot ? "" : NEEDS_ROOT})`, () => {
  const sys = useSystem([]);
  let files: AgentFiles;
  let bare = ""; // a copy of the package without the addon
  beforeAll(async () => {
    files = await prepareAgent(sys.world, sys.users.service, { policyText: "read user:root *\n" });
    bare = copyApp();
    rmSync(path.join(bare, "dist", "native.node"));
  });
  afterAll(() => rmSync(path.dirname(bare), { recursive: true, force: true }));

  it("the agent with SECRETFILE_NATIVE=0 is exit 1 saying so, and never listens", async () => {
    const agent = spawnAgent(sys.world, sys.users.service, files, { SECRETFILE_NATIVE: "0" });
    try {
      const ended = await Promise.race([
        agent.exited,
        new Promise((r) => setTimeout(() => r("still running after 15 s"), 15_000)),
      ]);
      expect(ended).toEqual({ code: 1, signal: null });
      expect(agent.stderr()).toContain(
        "secretfile: error: the agent needs secretfile's native addon, and SECRETFILE_NATIVE=0 turns it off\n",
      );
      expect(agent.stderr()).toContain("secretfile: hint: unset SECRETFILE_NATIVE\n");
      expect(existsSync(files.socket)).toBe(false);
    } finally {
      await agent.stop();
    }
  });

  it("the agent of a package without dist/native.node is exit 1 naming the file and how to get it", async () => {
    const r = await runCli(
      ["agent", "--dir", files.dir, "--socket", files.socket, "--policy", files.policy, "--audit", files.audit],
      {
        bin: path.join(bare, "bin", "secretfile"),
        uid: sys.users.service.uid,
        gid: sys.users.service.gid,
        env: cleanEnv({ HOME: sys.world.root }),
      },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      `secretfile: error: the agent needs secretfile's native addon, and ${path.join(bare, "dist", "native.node")} is missing or cannot be loaded\n`,
    );
    expect(r.stderr).toContain(
      "secretfile: hint: install secretfile's Debian package or the npm package for linux-x64",
    );
    expect(existsSync(files.socket)).toBe(false);
  });

  it("the CLI of that package keeps personal mode on plain Node", async () => {
    const dir = sys.world.mkdir("personal", 0o700);
    const run = (args: string[], input?: string) =>
      runCli(args, { bin: path.join(bare, "bin", "secretfile"), input, env: cleanEnv({ HOME: sys.world.root }) });
    expect((await run(["init", "--dir", dir])).code).toBe(0);
    expect((await run(["add", "--dir", dir, "K"], "plain-node\n")).code).toBe(0);
    expect(await run(["get", "--dir", dir, "K"])).toMatchObject({ code: 0, stdout: "plain-node" });
    const exec = await run(["exec", "--dir", dir, "--", "/bin/sh", "-c", 'test "$K" = plain-node && echo ran']);
    expect([exec.code, exec.stdout], exec.stderr).toEqual([0, "ran\n"]);
  });

  it("policy check, which asks the user database, is exit 1 saying it needs the addon", async () => {
    const policy = path.join(sys.world.mkdir("etc", 0o755), "policy");
    writePolicy(policy, "read user:root *\n");
    const r = await sys.world.run(["policy", "check", policy], { env: { SECRETFILE_NATIVE: "0" } });
    expect([r.code, r.stderr]).toEqual([
      1,
      "secretfile: error: looking up users and groups needs secretfile's native addon, and SECRETFILE_NATIVE=0 turns it off\nsecretfile: hint: unset SECRETFILE_NATIVE\n",
    ]);
  });
});
