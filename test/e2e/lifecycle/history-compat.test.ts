// A store that a secretfile from before history (commit d0209e5) wrote after replacing a secret in a store with
// history, committed as a fixture (test/fixtures/history-compat/README.md says how it was made): today's secretfile
// reads it, and what the old write dropped is what docs/history.md says (the whole history and the limit).

import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, removeSandboxes, sandbox } from "../../helpers/personal.js";

const WRITTEN_BY_OLD = path.join(FIXTURES, "history-compat");

describe("a store written by a secretfile from before history", () => {
  afterAll(removeSandboxes);

  it("keeps every secret's latest value, and has dropped the history and the limit, as documented", async () => {
    const sb = sandbox();
    mkdirSync(sb.dir, { mode: 0o700 });
    for (const name of ["identity.txt", "store.age"]) {
      copyFileSync(path.join(WRITTEN_BY_OLD, name), path.join(sb.dir, name));
      chmodSync(path.join(sb.dir, name), 0o600);
    }
    const versions = async (name: string) =>
      (JSON.parse((await sb.run(["history", name, "--json"])).stdout) as { version: number }[]).map((v) => v.version);
    // The old write replaced K (k2 → k3) and kept L; the history of both and the limit of 3 are gone.
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "k3" });
    expect(await sb.run(["get", "L"])).toMatchObject({ code: 0, stdout: "l2" });
    expect(await versions("K")).toEqual([1]);
    expect(await versions("L")).toEqual([1]);
    expect(await sb.run(["history"])).toMatchObject({
      stderr: "secretfile: each secret keeps up to 5 earlier values\n",
    });
    // And it is a store like any other: today's write keeps history again.
    expect(await sb.add("K", "k4", ["--replace"])).toMatchObject({ code: 0 });
    expect(await versions("K")).toEqual([2, 1]);
  });
});
