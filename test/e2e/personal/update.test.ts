// `secretfile update NAME` in personal mode, through bin/secretfile: a secret's description, expiry and rotation
// period change without its value being asked for, read or changed; the rotation clock keeps running from the value's
// last change; every refusal has its exit code and leaves the store's bytes as they were.

import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { onTerminal, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { Store, storePaths } from "../../../src/store/store.js";
import type { SecretInfo } from "../../../src/store/document.js";

const SLOW = 240_000;

/** One secret as `ls --json` shows it. */
type Listed = SecretInfo & { status: string };

async function listed(sb: Sandbox, name: string): Promise<Listed | undefined> {
  const r = await sb.run(["ls", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Listed[]).find((s) => s.name === name);
}

afterAll(removeSandboxes);

describe.concurrent("update", { timeout: SLOW }, () => {
  it("changes the expiry, rotation period and description, never the value, its dates or its history", async () => {
    const sb = sandbox();
    await sb.add("MERAKI_API_KEY", "the-value\n", ["--description", "old text", "--rotate-every", "30d"]);
    const before = (await listed(sb, "MERAKI_API_KEY"))!;

    const r = await sb.run(
      ["update", "MERAKI_API_KEY", "--expires", "2027-03-31", "--rotate-every", "12w", "--description", "dashboard"],
      { input: "a value on stdin is never read\n" },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "secretfile: updated MERAKI_API_KEY: description set, expires 2027-03-31, rotation every 84 days; its value is unchanged\n",
    );
    expect(await listed(sb, "MERAKI_API_KEY")).toEqual({
      ...before,
      description: "dashboard",
      expires: "2027-03-31",
      rotateEvery: 84,
    });
    expect((await sb.run(["get", "MERAKI_API_KEY"])).stdout).toBe("the-value");
    const history = await sb.run(["history", "MERAKI_API_KEY", "--json"]);
    expect(JSON.parse(history.stdout) as unknown[]).toHaveLength(1);
    const table = await sb.run(["ls"]);
    expect(table.stdout).toMatch(/^MERAKI_API_KEY\s+\S+\s+2027-03-31\s+ok\s+-\s+dashboard$/m);

    // `never` and "" clear each one.
    const cleared = await sb.run(["update", "MERAKI_API_KEY", "--expires", "never", "--rotate-every", "never"]);
    expect(cleared.code, cleared.stderr).toBe(0);
    const blank = await sb.run(["update", "MERAKI_API_KEY", "--description", ""]);
    expect(blank.code, blank.stderr).toBe(0);
    expect(blank.stderr).toContain("description cleared");
    const { description: _d, rotateEvery: _r, ...bare } = before;
    expect(await listed(sb, "MERAKI_API_KEY")).toEqual(bare);
    expect((await sb.run(["get", "MERAKI_API_KEY"])).stdout).toBe("the-value");
  });

  it("never prompts on a terminal, for a change or for a refusal", async () => {
    const sb = sandbox();
    await sb.add("A_KEY", "first");
    const done = await onTerminal(sb, ["update", "A_KEY", "--expires", "2027-03-31"]);
    expect(done, done.out).toMatchObject({ code: 0, prompted: false });
    expect(done.out).toContain("updated A_KEY: expires 2027-03-31");
    const empty = await onTerminal(sb, ["update", "A_KEY"]);
    expect(empty, empty.out).toMatchObject({ code: 2, prompted: false });
    const missing = await onTerminal(sb, ["update", "B_KEY", "--expires", "never"]);
    expect(missing, missing.out).toMatchObject({ code: 3, prompted: false });
    expect((await sb.run(["get", "A_KEY"])).stdout).toBe("first");
  });

  it("leaves the rotation clock running from the value's last change: a key due stays due, `add --replace` resets it", async () => {
    const sb = sandbox();
    await sb.add("OLD_KEY", "v1", ["--rotate-every", "30d"]);
    // The value was last changed long ago (written with the store API, as if a year had passed).
    const store = await Store.open(storePaths(sb.dir));
    await store.update((doc) => {
      doc.secrets.OLD_KEY!.updated = "2025-01-01T00:00:00.000Z";
    });
    const update = await sb.run(["update", "OLD_KEY", "--description", "rotated by hand", "--rotate-every", "4w"]);
    expect(update.code, update.stderr).toBe(0);
    expect((await listed(sb, "OLD_KEY"))!).toMatchObject({ status: "due", updated: "2025-01-01T00:00:00.000Z" });
    const exec = await sb.run(["exec", "--only", "OLD_KEY", "--", "/bin/true"]);
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stderr).toContain("secretfile: warning: OLD_KEY is due for rotation since 2025-01-29");
    await sb.add("OLD_KEY", "v2", ["--replace"]);
    expect((await listed(sb, "OLD_KEY"))!).toMatchObject({ status: "ok", rotateEvery: 28 });
  });

  it.for<[string, string[], number, RegExp]>([
    [
      "no option (2)",
      ["update", "A_KEY"],
      2,
      /nothing to change for A_KEY\n.*hint: give --description TEXT, --expires DATE\|never/,
    ],
    ["a missing name (3)", ["update", "B_KEY", "--expires", "2027-03-31"], 3, /no secret named B_KEY in .*store\.age/],
    ["a reserved name (2)", ["update", "LD_PRELOAD", "--expires", "never"], 2, /LD_PRELOAD is a reserved name/],
    ["an invalid name (2)", ["update", "9KEY", "--expires", "never"], 2, /invalid secret name "9KEY"/],
    ["an impossible date (2)", ["update", "A_KEY", "--expires", "2027-02-30"], 2, /invalid expiry date "2027-02-30"/],
    ["a bad period (2)", ["update", "A_KEY", "--rotate-every", "3m"], 2, /invalid rotation period "3m"/],
    [
      "a control character in the description (2)",
      ["update", "A_KEY", "--description", "a\u001b[2Jb"],
      2,
      /a description is one line/,
    ],
    ["a value given as an argument (2)", ["update", "A_KEY", "new-value"], 2, /too many arguments/],
  ])("refuses %s, the store's bytes unchanged", async ([, args, code, message]) => {
    const sb = sandbox();
    await sb.add("A_KEY", "first", ["--expires", "2026-12-31"]);
    const bytes = readFileSync(sb.store);
    const r = await sb.run(args);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
    expect(readFileSync(sb.store).equals(bytes)).toBe(true);
  });

  it("needs a store: without one it says how to make one (exit 1) and makes none", async () => {
    const sb = sandbox();
    const r = await sb.run(["update", "A_KEY", "--expires", "never"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`no personal store in ${sb.dir}`);
    expect(existsSync(sb.store)).toBe(false);
  });
});
