// Post-quantum end to end in system mode: `setup --pq` makes the service account a hybrid ML-KEM-768 + X25519 host
// key, and the agent serves that store to every command as it would an X25519 one. Rules: root only; skipped otherwise.

import { createHash } from "node:crypto";
import { chownSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, untilReady, useSystem, writePolicy } from "../../helpers/system.js";

const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});

describe.skipIf(!isRoot)(`post-quantum identities (system mode) (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "writer"]);

  it(
    "setup --pq, then an agent serves add, get, ls, exec, history, rollback, import and rm from the hybrid store",
    { timeout: 240_000 },
    async () => {
      const { service, job, writer } = sys.users;
      const base = sys.world.mkdir("pq", 0o755);
      const files = {
        base,
        dir: path.join(base, "var/lib/secretfile"),
        socket: path.join(base, "run/secretfile/agent.sock"),
        policy: path.join(base, "etc/secretfile/policy"),
        audit: path.join(base, "var/log/secretfile/audit.log"),
      };
      const flags = ["--dir", files.dir, "--socket", files.socket, "--policy", files.policy, "--audit", files.audit];
      const setup = await sys.world.run([
        "setup",
        ...flags,
        "--units-dir",
        path.join(base, "units"),
        "--user",
        service.name,
        "--adopt-user",
        "--pq",
      ]); // the helper's account has a home with content and a non-system uid
      expect(setup.code, setup.stderr).toBe(0);
      const identity = path.join(files.dir, "identity.txt");
      expect(readFileSync(identity, "utf8")).toMatch(/^AGE-SECRET-KEY-PQ-1[0-9A-Z]+$/m);
      const header = () => readFileSync(path.join(files.dir, "store.age"), "latin1").split("\n---")[0]!;
      expect(header()).toMatch(/\n-> mlkem768x25519 /);

      writePolicy(files.policy, `read user:${job.name} APP_*\nwrite user:${writer.name} APP_*\n`);
      const agent = sys.spawnAgent(files);
      await untilReady(agent, files.socket);
      const run = (args: string[], as?: typeof job, input?: string) =>
        sys.world.run(args, { as, input, env: { SECRETFILE_SOCKET: files.socket } });

      expect(await run(["add", "APP_KEY"], writer, "pq-1")).toMatchObject({ code: 0 });
      expect(await run(["add", "APP_KEY", "--replace"], writer, "pq-2")).toMatchObject({ code: 0 });
      expect(await run(["get", "APP_KEY"], job)).toMatchObject({ code: 0, stdout: "pq-2" });
      const ls = await run(["ls", "--json"], job);
      expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name)).toEqual(["APP_KEY"]);
      const probe = sys.world.fixture("env-probe.mjs");
      const exec = await run(["exec", "--only", "APP_KEY", "--", NODE, probe, "APP_KEY"], job);
      expect(exec.code, exec.stderr).toBe(0);
      expect(JSON.parse(exec.stdout)).toEqual({ APP_KEY: sha("pq-2") });

      const history = await run(["history", "APP_KEY", "--json"], job);
      expect((JSON.parse(history.stdout) as { version: number }[]).map((v) => v.version)).toEqual([2, 1]);
      expect(await run(["rollback", "APP_KEY"], writer)).toMatchObject({ code: 0 });
      expect(await run(["get", "APP_KEY"], job)).toMatchObject({ code: 0, stdout: "pq-1" });

      const env = path.join(sys.world.root, "pq-app.env");
      writeFileSync(env, "APP_IMPORTED='from a .env'\n", { mode: 0o600 });
      chownSync(env, writer.uid, writer.gid);
      expect(await run(["import", env], writer)).toMatchObject({ code: 0 });
      expect(await run(["get", "APP_IMPORTED"], job)).toMatchObject({ code: 0, stdout: "from a .env" });
      expect(await run(["rm", "APP_IMPORTED"], writer)).toMatchObject({ code: 0 });
      expect(await run(["get", "APP_IMPORTED"], job)).toMatchObject({ code: 3 });

      // Still encrypted to the hybrid recipient alone after all these writes.
      expect(
        header()
          .split("\n")
          .filter((l) => l.startsWith("-> "))
          .map((l) => l.split(" ")[1]),
      ).toEqual(["mlkem768x25519"]);
      expect(agent.alive()).toBe(true);
    },
  );
});
