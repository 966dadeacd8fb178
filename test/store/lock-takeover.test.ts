// The takeover file of the store's lock (src/store/lock.ts): a writer killed after it removed an abandoned lock and
// before it removed its own takeover file left that file behind for good; the next writer now removes it when the
// waiter that made it is dead, and leaves a live waiter's alone.

import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox } from "../helpers/personal.js";

afterAll(removeSandboxes);

/** A pid that no process has now: one of a child that has exited. */
function deadPid(): number {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number.parseInt(child.stdout, 10);
}

describe("the lock's takeover file", () => {
  it.for([
    ["a dead waiter's is removed by the next write", deadPid, false],
    ["a live waiter's is left alone", () => process.pid, true],
  ] as const)("%s", async ([, pid, stays]) => {
    const sb = sandbox();
    expect((await sb.run(["add", "K"], { input: "first" })).code).toBe(0);
    const mutex = path.join(sb.dir, "store.age.lock.takeover");
    writeFileSync(mutex, `${pid()}\n`);
    const add = await sb.run(["add", "K", "--replace"], { input: "second" });
    expect(add.code, add.stderr).toBe(0);
    expect(existsSync(mutex)).toBe(stays);
  });
});
