// Personal mode keeps the newest store it has served in store.seen (invariant 11): an older or forked store.age is
// refused with exit 5 naming both generations, until `accept-store` takes it; a store from before generations is 0.

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, removeSandboxes, sandbox } from "../../helpers/personal.js";
import { ownExit } from "../../helpers/cli.js";

afterAll(removeSandboxes);

const seenOf = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, "store.seen"), "utf8")) as { generation: number; hash: string };

describe("personal mode: store generations", { timeout: 60_000 }, () => {
  it("refuses an older store.age (exit 5, both generations named) until accept-store takes it", async () => {
    const sb = sandbox();
    await sb.init();
    await sb.add("A_KEY", "one");
    const older = readFileSync(sb.store);
    await sb.add("A_KEY", "two", ["--replace"]);
    expect(seenOf(sb.dir).generation).toBe(3); // init, add, add --replace
    writeFileSync(sb.store, older, { mode: 0o600 });

    for (const args of [["get", "A_KEY"], ["ls"], ["exec", "--", "true"]]) {
      const refused = await sb.run(args);
      expect(refused.code, args.join(" ")).toBe(ownExit(args, 5));
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(
        `error: refusing the store ${sb.store}: it is generation 2, older than generation 3`,
      );
      expect(refused.stderr).toContain("hint: put the newer store back in its place");
    }
    const write = await sb.run(["add", "B_KEY"], { input: "b" });
    expect(write.code).toBe(5); // no write on top of an older store either
    expect(readFileSync(sb.store)).toEqual(older);

    const accepted = await sb.run(["accept-store"]);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain("accepted the store: generation 2 (sha256 ");
    expect(accepted.stderr).toContain("previous: generation 3 (sha256 ");
    const now = await sb.run(["get", "A_KEY"]);
    expect([now.code, now.stdout], now.stderr).toEqual([0, "one"]);
  });

  it("refuses a fork: another store at the generation it has served", async () => {
    const here = sandbox();
    await here.init();
    await here.add("A_KEY", "one");
    const there = sandbox();
    await there.init();
    copyFileSync(here.identity, there.identity);
    copyFileSync(here.store, there.store);
    await there.add("B_KEY", "b"); // generation 3 there
    await here.add("C_KEY", "c"); // generation 3 here, other contents
    writeFileSync(here.store, readFileSync(there.store), { mode: 0o600 });

    const refused = await here.run(["get", "A_KEY"]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(
      /it is another store at generation 3 \([0-9a-f]{12}\) than the one this host has served \([0-9a-f]{12}\): a fork/,
    );
    const accepted = await here.run(["accept-store"]);
    expect(accepted.code, accepted.stderr).toBe(0);
    const b = await here.run(["get", "B_KEY"]);
    expect([b.code, b.stdout], b.stderr).toEqual([0, "b"]);
  });

  it("reads a store written before generations as generation 0; its next write is generation 1", async () => {
    const sb = sandbox();
    mkdirSync(sb.dir, { mode: 0o700 });
    for (const f of ["identity.txt", "store.age"])
      writeFileSync(path.join(sb.dir, f), readFileSync(path.join(FIXTURES, "history-compat", f)), { mode: 0o600 });
    const k = await sb.run(["get", "K"]);
    expect([k.code, k.stdout], k.stderr).toEqual([0, "k3"]);
    expect(seenOf(sb.dir).generation).toBe(0);
    await sb.add("M", "m");
    expect(seenOf(sb.dir).generation).toBe(1);
  });
});
