// The client sends values only to a listener it trusts: before `add` or `import` writes a value, the listener's uid
// (SO_PEERCRED on the connected socket) must be root or the owner of the socket's folder; otherwise exit 6 naming the
// uid found, and nothing is sent. An impostor under another uid, in a sticky folder (like /tmp) owned by a third uid,
// listens where the agent should; on the native path and on node:net.

import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, useSystem, type TestUser } from "../../helpers/system.js";

describe.skipIf(!isRoot)(`a listener of another uid is sent no value (${isRoot ? "" : NEEDS_ROOT})`, () => {
  const sys = useSystem(["impostor", "owner", "writer"]);
  let fixture = "";
  let folder = "";
  const listeners: ChildProcess[] = [];
  let envFile = "";
  beforeAll(() => {
    fixture = sys.world.fixture("stand-in-agent.mjs");
    folder = sys.world.mkdir("shared", 0o1777, sys.users.owner);
    envFile = path.join(sys.world.mkdir("envs", 0o755), "keys.env");
    writeFileSync(envFile, "A=the-value\n", { mode: 0o644 });
  });
  afterAll(() => {
    for (const l of listeners) l.kill("SIGKILL");
  });

  /** Starts the stand-in on `socket` as `user` (root when undefined); `lines()` is what it reports per connection. */
  async function listen(socket: string, user: TestUser | undefined, answer = false): Promise<() => string[]> {
    const proc = spawn(NODE, [fixture, socket, ...(answer ? ["answer"] : [])], {
      stdio: ["ignore", "pipe", "inherit"],
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    });
    listeners.push(proc);
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    while (!out.includes("ready\n")) await new Promise((r) => setTimeout(r, 10));
    return () => out.split("\n").filter((l) => l.startsWith("conn "));
  }

  let n = 0;
  describe.each([
    ["the native addon", {}],
    ["node:net (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
  ] as const)("through %s", (_how, extraEnv) => {
    it.for([
      ["add", ["add", "K"], "the-value"],
      ["import", ["import", "ENV_FILE"], ""],
    ] as const)("%s to an impostor's socket is exit 6 naming its uid, and sends nothing", async ([, args, input]) => {
      const socket = path.join(folder, `agent-${++n}.sock`);
      const lines = await listen(socket, sys.users.impostor);
      for (const as of [undefined, sys.users.writer]) {
        const r = await sys.world.run(
          args.map((a) => (a === "ENV_FILE" ? envFile : a)),
          { as, input, env: { SECRETFILE_SOCKET: socket, ...extraEnv } },
        );
        expect([r.code, r.stdout], r.stderr).toEqual([6, ""]);
        expect(r.stderr).toContain(
          `refusing to send values to ${socket}: it is held by uid ${sys.users.impostor.uid}, not by root or the owner of its folder (uid ${sys.users.owner.uid}); nothing was sent`,
        );
        expect(r.stderr).not.toContain("the-value");
      }
      await new Promise((r) => setTimeout(r, 200));
      // Each connection the impostor saw carried no byte.
      expect(lines().length).toBeGreaterThan(0);
      expect(lines().every((l) => l.endsWith(" 0"))).toBe(true);
    });

    it("add to a listener of the folder's owner, or of root, is sent", async () => {
      for (const user of [sys.users.owner, undefined]) {
        const socket = path.join(folder, `agent-${++n}.sock`);
        await listen(socket, user, true);
        const r = await sys.world.run(["add", "K"], { input: "v", env: { SECRETFILE_SOCKET: socket, ...extraEnv } });
        expect([r.code, r.stderr]).toEqual([0, "secretfile: added K\n"]);
      }
    });
  });
});
