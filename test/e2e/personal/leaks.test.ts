// Personal mode end to end: a secret value never reaches disk in plaintext, stderr, ls, or any argv.
// Rules: the value is random and distinctive; every file under the sandbox is grepped after every step.

import { randomBytes } from "node:crypto";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Result } from "../../helpers/cli.js";
import {
  filesContaining,
  FIXTURES,
  holdsPiece,
  removeSandboxes,
  sandbox,
  sleep,
  startCli,
  type Sandbox,
} from "../../helpers/personal.js";
import { execOwnExit } from "../../../src/errors.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

/** A random 40-character value that cannot appear anywhere by chance. */
const distinctive = () => `sfleak${randomBytes(24).toString("base64url").slice(0, 34)}`;

/**
 * Runs the CLI and checks that no value, nor any 10-character piece of one, is in its stderr, its stdout
 * (unless allowed), or any file under the sandbox.
 */
async function step(
  sb: Sandbox,
  values: string[],
  args: string[],
  input: string | Buffer = "",
  opts: { stdoutMayHold?: string } = {},
): Promise<Result> {
  const r = await sb.run(args, { input });
  for (const v of values) {
    expect(holdsPiece(r.stderr, v), `stderr of secretfile ${args.join(" ")}: ${r.stderr}`).toBe(false);
    if (v !== opts.stdoutMayHold) expect(holdsPiece(r.stdout, v), `stdout of secretfile ${args.join(" ")}`).toBe(false);
    expect(filesContaining(sb.root, v), `files after secretfile ${args.join(" ")}`).toEqual([]);
  }
  return r;
}

/** Returns the pids of `pid` and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process is gone
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, ppid] of parent) if (ppid === tree[i]) tree.push(child);
  return tree;
}

describe.concurrent("personal mode: values do not leak", { timeout: SLOW }, () => {
  it("not in files, stderr or ls output, through add, replace, failures, exec, rm", async () => {
    const sb = sandbox();
    const v1 = distinctive();
    const v2 = distinctive();
    const all = [v1, v2];
    expect((await step(sb, all, ["add", "LEAK_KEY", "--description", "leak test"], `${v1}\n`)).code).toBe(0);
    expect((await step(sb, all, ["add", "OTHER"], "other")).code).toBe(0);
    expect((await step(sb, all, ["get", "LEAK_KEY"], "", { stdoutMayHold: v1 })).stdout).toBe(v1);
    // Failures with the value on standard input or in the store.
    expect((await step(sb, all, ["add", "LEAK_KEY"], v2)).code).toBe(1);
    expect((await step(sb, all, ["add", "BAD-NAME"], v2)).code).toBe(2);
    expect((await step(sb, all, ["add", "NUL_KEY"], `${v2}\0${v2}`)).code).toBe(2);
    expect((await step(sb, all, ["add", "UTF_KEY"], Buffer.concat([Buffer.from(v2), Buffer.from([0xff])]))).code).toBe(
      2,
    );
    expect((await step(sb, all, ["add", "BIG_KEY"], v2.repeat(2000))).code).toBe(2);
    expect((await step(sb, all, ["add", "EXP_KEY", "--expires", "soon"], v2)).code).toBe(2);
    expect((await step(sb, all, ["get", "NOPE"])).code).toBe(3);
    expect((await step(sb, all, ["ls"])).stdout).toContain("LEAK_KEY");
    expect((await step(sb, all, ["ls", "--json"])).stdout).toContain("LEAK_KEY");
    expect((await step(sb, all, ["exec", "--", "no-such-command-for-secretfile", v1])).code).toBe(127);
    expect((await step(sb, all, ["exec", "--only", "LEAK_KEY,NOPE", "--", "true"])).code).toBe(execOwnExit(3));
    expect((await step(sb, all, ["exec", "--", "sh", "-c", 'test "$LEAK_KEY" = "$0" && exit 3', v1])).code).toBe(3);
    expect((await step(sb, all, ["exec", "--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
    // Replace, then remove: neither the old nor the new value is left anywhere.
    expect((await step(sb, all, ["add", "LEAK_KEY", "--replace"], v2)).code).toBe(0);
    expect((await step(sb, all, ["get", "LEAK_KEY"], "", { stdoutMayHold: v2 })).stdout).toBe(v2);
    expect((await step(sb, all, ["rm", "LEAK_KEY"])).code).toBe(0);
    expect((await step(sb, all, ["add", "LEAK_KEY"], v1)).code).toBe(0);
  });

  it("not in stderr when the store is unsafe or damaged, or the identity is garbage", async () => {
    const sb = sandbox();
    const v = distinctive();
    await sb.add("LEAK_KEY", v);
    chmodSync(sb.store, 0o644);
    expect((await step(sb, [v], ["get", "LEAK_KEY"])).code).toBe(4);
    expect((await step(sb, [v], ["add", "LEAK_KEY", "--replace"], v)).code).toBe(4);
    chmodSync(sb.store, 0o600);
    const good = readFileSync(sb.store);
    writeFileSync(sb.store, good.subarray(0, good.length - 3));
    expect((await step(sb, [v], ["get", "LEAK_KEY"])).code).toBe(5);
    expect((await step(sb, [v], ["exec", "--", "true"])).code).toBe(execOwnExit(5));
    writeFileSync(sb.store, good);
    writeFileSync(sb.identity, "AGE-SECRET-KEY-1NOTAKEY\n");
    expect((await step(sb, [v], ["get", "LEAK_KEY"])).code).toBe(5);
  });

  it("not in the temporary file of a writer killed in the middle of add", async () => {
    const sb = sandbox();
    const v = distinctive();
    await sb.add("LEAK_KEY", v);
    for (const delay of [150, 220, 290]) {
      const job = startCli(["add", "LEAK_KEY", "--replace"], sb.env, `${v}${delay}`);
      await sleep(delay);
      job.kill("SIGKILL");
      await job.done;
      expect(filesContaining(sb.root, v)).toEqual([]);
    }
  });

  it("not in the argv of secretfile, of the job, or of any process it starts, nor in secretfile's own environment", async () => {
    const sb = sandbox();
    const v = distinctive();
    await sb.add("LEAK_KEY", v);
    const job = startCli(["exec", "--", process.execPath, path.join(FIXTURES, "argv-probe.mjs"), "LEAK_KEY"], sb.env);
    await job.waitFor("ready\n");
    const report = JSON.parse(job.stdout().split("\n")[0]!) as Record<string, unknown>;
    expect(report).toEqual({ seen: true, ppid: job.pid, self: false, parent: false, parentEnv: false });
    const tree = processTree(job.pid);
    expect(tree.length).toBeGreaterThanOrEqual(2);
    const seen: Record<number, { argv: string; holds: boolean }> = {};
    for (const pid of tree) {
      const argv = readFileSync(`/proc/${pid}/cmdline`);
      seen[pid] = { argv: argv.toString().split("\0").join(" ").trim(), holds: holdsPiece(argv, v) };
    }
    expect(Object.values(seen).filter((p) => p.holds)).toEqual([]);
    expect(holdsPiece(readFileSync(`/proc/${job.pid}/environ`), v)).toBe(false);
    expect(seen[job.pid]?.argv).toContain("exec");
    job.kill("SIGTERM");
    const r = await job.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(filesContaining(sb.root, v)).toEqual([]);
  });
});
