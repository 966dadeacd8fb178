// rekey end to end (personal mode): a new host identity, the old one kept as identity.txt.old until --finish; killed
// with SIGKILL at every step, the store still opens (the CLI finds the identity that opens it), a write still works,
// and running the command again completes the rekey.

import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageKeygen, ageOpens, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { removeSandboxes, sandbox, sleep, startCli, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

const SLOW = 300_000;

/** The secrets' values in `file` as `age -d -i identity` decrypts them, or undefined when it does not open. */
const opens = (identity: string, file: string): Record<string, string> | undefined => {
  const doc = existsSync(identity) ? ageOpens(identity, file) : undefined;
  return doc && Object.fromEntries(Object.entries(doc.secrets).map(([k, v]) => [k, v.value]));
};

/** A store with K=v1, a recovery key in its list, and that recovery identity's file. */
async function prepared(): Promise<{ sb: Sandbox; recovery: string; first: string }> {
  const sb = sandbox();
  await sb.add("K", "v1");
  const recovery = path.join(sb.root, "recovery.txt");
  ageKeygen(recovery);
  expect((await sb.run(["recipients", "add", ageRecipient(recovery), "--label", "recovery"])).code).toBe(0);
  return { sb, recovery, first: ageRecipient(sb.identity) };
}

/** Runs `secretfile ARGS` paused at `step`, kills it with SIGKILL there, and waits for it to end. */
async function killAt(sb: Sandbox, args: string[], step: string): Promise<void> {
  const flag = path.join(sb.root, `paused-${step.replace(/\W/g, "_")}`);
  const run = startCli(args, { ...sb.env, SECRETFILE_TEST_PAUSE: step, SECRETFILE_TEST_PAUSE_FILE: flag });
  // `as boolean`: set by the callback, which TS's narrowing of a `let` does not see.
  let ended = false as boolean;
  void run.done.then(() => (ended = true));
  const started = Date.now();
  while (!existsSync(flag)) {
    if (ended) throw new Error(`ended before ${step}: ${run.stderr()}`);
    if (Date.now() - started > 100_000) throw new Error(`never reached ${step}: ${run.stderr()}`);
    await sleep(20);
  }
  run.kill("SIGKILL");
  expect((await run.done).signal).toBe("SIGKILL");
}

const files = (sb: Sandbox) =>
  readdirSync(sb.dir)
    .filter((f) => !f.startsWith("."))
    .sort();

describe.concurrent("rekey", { timeout: SLOW }, () => {
  it("makes a new identity; the store opens with both until --finish, then with the new one only", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const { sb, recovery, first } = await prepared();
    const oldCopy = path.join(sb.root, "first-identity.txt");
    copyFileSync(sb.identity, oldCopy);
    const r = await sb.run(["rekey"]);
    expect(r).toMatchObject({ code: 0, stdout: "" });
    const second = ageRecipient(sb.identity);
    expect(second).not.toBe(first);
    expect(r.stderr).toBe(
      `secretfile: ${sb.identity} is a new identity (public key ${second})\n` +
        `secretfile: the previous identity (${first}) is kept in ${sb.identity}.old, and ${sb.store} opens with either\n` +
        `secretfile: back up ${sb.identity}; hosts and recipients lists that name the old key need the new one; then run \`secretfile rekey --finish\`\n`,
    );
    expect(readFileSync(`${sb.identity}.old`).equals(readFileSync(oldCopy))).toBe(true);
    expect((await sb.run(["get", "K"])).stdout).toBe("v1");
    // A write while the rekey waits is encrypted to both (and to the listed recovery key).
    await sb.add("L", "v2");
    for (const id of [sb.identity, oldCopy, recovery]) expect(opens(id, sb.store)).toEqual({ K: "v1", L: "v2" });
    const again = await sb.run(["rekey"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("a rekey is already waiting to be finished");
    const fin = await sb.run(["rekey", "--finish"]);
    expect(fin).toMatchObject({ code: 0 });
    expect(fin.stderr).toContain(`removed ${sb.identity}.old; ${sb.store} is encrypted to ${second} only`);
    expect(files(sb)).toEqual(["identity.txt", "recipients.txt", "store.age", "store.seen"]);
    expect(opens(oldCopy, sb.store)).toBeUndefined();
    expect(opens(sb.identity, sb.store)).toEqual({ K: "v1", L: "v2" });
    expect(opens(recovery, sb.store)).toEqual({ K: "v1", L: "v2" });
    expect((await sb.run(["recipient"])).stdout).toBe(`${second}\n`);
  });

  it("finds the identity that opens the store: a backup from before the rekey opens with identity.txt.old", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE); // the recovery identity comes from age-keygen
    const { sb } = await prepared();
    const backup = path.join(sb.root, "backup.age");
    copyFileSync(sb.store, backup);
    expect((await sb.run(["rekey"])).code).toBe(0);
    copyFileSync(backup, sb.store); // restored: encrypted to the old identity only
    // An older store than the one served (the rekey wrote a newer one): refused until taken on purpose.
    expect((await sb.run(["get", "K"])).code).toBe(5);
    expect((await sb.run(["accept-store"])).code).toBe(0);
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v1", stderr: "" });
    // A write then encrypts to identity.txt (and still to the old one until --finish).
    await sb.add("L", "v2");
    expect((await sb.run(["rekey", "--finish"])).code).toBe(0);
    expect(await sb.run(["get", "L"])).toMatchObject({ code: 0, stdout: "v2" });
  });

  it("--pq makes a post-quantum hybrid identity", async () => {
    const sb = sandbox();
    await sb.add("K", "v1");
    expect((await sb.run(["rekey", "--pq"])).code).toBe(0);
    expect((await sb.run(["recipient"])).stdout).toMatch(/^age1pq1/);
    expect((await sb.run(["rekey", "--finish"])).code).toBe(0);
    expect((await sb.run(["get", "K"])).stdout).toBe("v1");
  });

  // Each step after which a SIGKILL leaves a different set of files.
  const STEPS = [
    { step: "rekey:new-identity", then: "resume" },
    { step: "rekey:reencrypted", then: "resume" },
    { step: "rekey:old-kept", then: "resume" },
    { step: "rekey:swapped", then: "finish" },
    { step: "rekey:finish-reencrypted", then: "finish" },
  ] as const;

  it.for(STEPS)(
    "killed with SIGKILL at $step: the store opens, takes writes, and the rekey completes",
    async ({ step, then }, ctx) => {
      ctx.skip(!hasAge, NO_AGE);
      const { sb, recovery, first } = await prepared();
      const firstCopy = path.join(sb.root, "first-identity.txt");
      copyFileSync(sb.identity, firstCopy);
      if (step.startsWith("rekey:finish")) {
        expect((await sb.run(["rekey"])).code).toBe(0);
        await killAt(sb, ["rekey", "--finish"], step);
      } else {
        await killAt(sb, ["rekey"], step);
      }
      // One of the identity files opens the store with the stock age CLI, and so does the recovery key.
      const candidates = ["identity.txt", "identity.txt.old", "identity.txt.new"].map((f) => path.join(sb.dir, f));
      expect(candidates.some((id) => opens(id, sb.store)?.K === "v1")).toBe(true);
      expect(opens(recovery, sb.store)).toEqual({ K: "v1" });
      // secretfile finds the right one, and writes (taking over the lock the killed process held).
      expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v1", stderr: "" });
      await sb.add("L", "v2");
      const pendingNew = existsSync(`${sb.identity}.new`) ? ageRecipient(`${sb.identity}.new`) : undefined;
      if (then === "resume") {
        const again = await sb.run(["rekey"]);
        expect(again.code).toBe(0);
        expect(again.stderr).toContain(
          pendingNew === undefined
            ? "is a new identity"
            : `completed an interrupted rekey: ${sb.identity} is a new identity (public key ${pendingNew})`,
        );
      } else {
        expect((await sb.run(["rekey"])).code).toBe(1); // waiting for --finish: no second rekey on top
      }
      expect((await sb.run(["rekey", "--finish"])).code).toBe(0);
      expect(files(sb)).toEqual(["identity.txt", "recipients.txt", "store.age", "store.seen"]);
      expect(ageRecipient(sb.identity)).not.toBe(first);
      expect(opens(sb.identity, sb.store)).toEqual({ K: "v1", L: "v2" });
      expect(opens(firstCopy, sb.store)).toBeUndefined();
      expect(opens(recovery, sb.store)).toEqual({ K: "v1", L: "v2" });
    },
  );
});
