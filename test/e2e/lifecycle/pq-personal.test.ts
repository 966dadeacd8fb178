// Post-quantum end to end in personal mode: `init --pq` makes a hybrid ML-KEM-768 + X25519 identity, and every
// command works on its store as on an X25519 one; the store stays encrypted to the hybrid recipient after writes.
// Debian's age 1.1.1 cannot read hybrid identities or files, so there is no interop test with it here.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

const ENV_PROBE = path.join(FIXTURES, "env-probe.mjs");
const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});
/** The recipient stanzas in the store's age header: the type of each `-> TYPE …` line. */
const stanzas = (sb: Sandbox) =>
  readFileSync(sb.store, "latin1")
    .split("\n---")[0]!
    .split("\n")
    .filter((l) => l.startsWith("-> "))
    .map((l) => l.split(" ")[1]);

describe("post-quantum identities (personal mode)", () => {
  it(
    "init --pq, then add, get, ls, exec, history, rollback, import and rm all work on the hybrid store",
    { timeout: 240_000 },
    async () => {
      const sb = sandbox();
      const init = await sb.run(["init", "--pq"]);
      expect(init.code, init.stderr).toBe(0);
      expect(init.stderr).toMatch(/^secretfile: created \S+identity\.txt \(public key age1pq1[0-9a-z]+\)\n/);
      expect(readFileSync(sb.identity, "utf8")).toMatch(
        /^# public key: age1pq1[0-9a-z]+\nAGE-SECRET-KEY-PQ-1[0-9A-Z]+\n$/m,
      );
      expect(stanzas(sb)).toEqual(["mlkem768x25519"]);

      await sb.add("API_KEY", "pq-value-1");
      await sb.add("API_KEY", "pq-value-2", ["--replace"]);
      await sb.add("OTHER_KEY", "pq-other", ["--description", "second"]);
      expect(await sb.run(["get", "API_KEY"])).toMatchObject({ code: 0, stdout: "pq-value-2" });
      const ls = await sb.run(["ls", "--json"]);
      expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name)).toEqual(["API_KEY", "OTHER_KEY"]);
      const exec = await sb.run(["exec", "--", process.execPath, ENV_PROBE, "API_KEY", "OTHER_KEY"]);
      expect(exec.code, exec.stderr).toBe(0);
      expect(JSON.parse(exec.stdout)).toEqual({ API_KEY: sha("pq-value-2"), OTHER_KEY: sha("pq-other") });

      const history = await sb.run(["history", "API_KEY", "--json"]);
      expect((JSON.parse(history.stdout) as { version: number }[]).map((v) => v.version)).toEqual([2, 1]);
      expect(await sb.run(["rollback", "API_KEY"])).toMatchObject({ code: 0 });
      expect(await sb.run(["get", "API_KEY"])).toMatchObject({ code: 0, stdout: "pq-value-1" });

      const env = path.join(sb.root, "app.env");
      writeFileSync(env, "IMPORTED_ONE=one\nexport IMPORTED_TWO='two'\n", { mode: 0o600 });
      expect(await sb.run(["import", env])).toMatchObject({ code: 0 });
      expect(await sb.run(["get", "IMPORTED_TWO"])).toMatchObject({ code: 0, stdout: "two" });

      expect(await sb.run(["rm", "OTHER_KEY"])).toMatchObject({ code: 0 });
      expect(await sb.run(["get", "OTHER_KEY"])).toMatchObject({ code: 3 });
      // Every write re-encrypted to the hybrid recipient only: never an X25519 stanza beside it.
      expect(stanzas(sb)).toEqual(["mlkem768x25519"]);
    },
  );
});
