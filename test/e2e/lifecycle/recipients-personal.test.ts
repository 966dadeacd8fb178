// Recipients end to end (personal mode): a recovery key decrypts the store with the stock age CLI, and after its removal
// a store written afterwards no longer opens with it; the list beside the store is checked against the one inside, so
// a key slipped into recipients.txt stops every write and is never encrypted to; a write that died between the store
// and its list is completed by the next one.

import { appendFileSync, chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ageKeygen, ageOpens, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { tempDir } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { compileShim, faultEnv, hasCC } from "../../hardening/faults/support.js";

afterAll(removeSandboxes);

const SLOW = 240_000;
const opens = ageOpens;

/** A sandbox with a store holding K=v1, and an offline recovery identity made by age-keygen (not in the store folder). */
async function withRecovery(): Promise<{ sb: Sandbox; recovery: string; key: string }> {
  const sb = sandbox();
  await sb.add("K", "v1");
  const recovery = path.join(sb.root, "recovery.txt");
  ageKeygen(recovery);
  return { sb, recovery, key: ageRecipient(recovery) };
}

const mirror = (sb: Sandbox) => path.join(sb.dir, "recipients.txt");

describe.concurrent("recipients (personal mode)", { timeout: SLOW }, () => {
  it("a recovery key added to the store opens it with age -d; once removed, a store written afterwards does not", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const { sb, recovery, key } = await withRecovery();
    expect(opens(recovery, sb.store)).toBeUndefined();
    const added = await sb.run(["recipients", "add", key, "--label", "recovery-2026"]);
    expect(added).toMatchObject({ code: 0, stdout: "" });
    expect(added.stderr).toContain(`added recovery-2026: ${sb.store} is now encrypted to it as well (2 keys in all)`);
    // Re-encrypted at once: the recovery key opens it before any other write, with the stock age CLI.
    expect(opens(recovery, sb.store)?.secrets.K?.value).toBe("v1");
    // Every later write keeps it.
    await sb.add("L", "v2");
    expect(opens(recovery, sb.store)?.secrets.L?.value).toBe("v2");
    // recipients.txt is an age recipients file: `age -R` encrypts to the same list.
    expect(readFileSync(mirror(sb), "utf8")).toMatch(
      new RegExp(`# label: recovery-2026 \\(added [^)]+\\)\\n${key}\\n$`),
    );
    const ls = await sb.run(["recipients", "ls", "--json"]);
    expect(JSON.parse(ls.stdout)).toEqual([{ recipient: key, label: "recovery-2026", added: expect.any(String) }]);
    const table = await sb.run(["recipients", "ls"]);
    expect(table.stdout).toMatch(
      new RegExp(`^LABEL +ADDED +RECIPIENT\\nrecovery-2026 +\\d{4}-\\d\\d-\\d\\d +${key}\\n$`),
    );

    const before = path.join(sb.root, "store-before-rm.age");
    copyFileSync(sb.store, before);
    const removed = await sb.run(["recipients", "rm", "recovery-2026"]);
    expect(removed.code).toBe(0);
    expect(removed.stderr).toContain("copies written before (backups, other hosts, git history) still open with it");
    expect(opens(recovery, sb.store)).toBeUndefined();
    await sb.add("M", "v3");
    expect(opens(recovery, sb.store)).toBeUndefined();
    expect(opens(sb.identity, sb.store)?.secrets.M?.value).toBe("v3");
    // The copy from before the removal still opens with it, as the command warned.
    expect(opens(recovery, before)?.secrets.K?.value).toBe("v1");
    expect(JSON.parse((await sb.run(["recipients", "ls", "--json"])).stdout)).toEqual([]);
  });

  it("a key appended to recipients.txt by hand stops every write (exit 5), and is never encrypted to", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const { sb, recovery, key } = await withRecovery();
    expect((await sb.run(["recipients", "add", key, "--label", "recovery"])).code).toBe(0);
    const intruder = path.join(sb.root, "intruder.txt");
    ageKeygen(intruder);
    const stranger = ageRecipient(intruder);
    appendFileSync(mirror(sb), `# label: backup\n${stranger}\n`);
    const storeBefore = readFileSync(sb.store);
    const add = await sb.run(["add", "NEW"], { input: "new value" });
    expect(add.code).toBe(5);
    expect(add.stderr).toBe(
      `secretfile: error: the recipient list ${mirror(sb)} does not match the list inside ${sb.store}: it lists backup ${stranger}, which the store does not\n` +
        `secretfile: hint: someone changed it outside secretfile; \`secretfile recipients ls\` shows the store's own list. Change the list with \`secretfile recipients add|rm\`; to put the file back as the store has it, remove ${mirror(sb)} (the next change writes it again)\n`,
    );
    expect(readFileSync(sb.store).equals(storeBefore)).toBe(true);
    expect(opens(intruder, sb.store)).toBeUndefined();
    // Adding a recipient is a write too; ls shows the mismatch; reading secrets is not stopped.
    expect((await sb.run(["recipients", "add", stranger, "--label", "x"])).code).toBe(5);
    expect((await sb.run(["recipients", "ls"])).code).toBe(5);
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v1" });
    // A key removed from the file by hand is a mismatch as well.
    writeFileSync(mirror(sb), "# emptied by hand\n");
    const lacking = await sb.run(["rm", "K"]);
    expect(lacking.code).toBe(5);
    expect(lacking.stderr).toContain(`it lacks recovery ${key}`);
    // Removing the file is the documented repair: the next write puts it back as the store has it.
    rmSync(mirror(sb));
    expect((await sb.run(["add", "NEW"], { input: "new value" })).code).toBe(0);
    expect(readFileSync(mirror(sb), "utf8")).toContain(`# label: recovery `);
    expect(readFileSync(mirror(sb), "utf8")).not.toContain(stranger);
    expect(opens(recovery, sb.store)?.secrets.NEW?.value).toBe("new value");
  });

  it("refuses bad keys and labels (exit 2), duplicates (exit 1), an unknown label (exit 3); takes the host's own key", async () => {
    const sb = sandbox();
    await sb.add("K", "v1");
    const own = (await sb.run(["recipient"])).stdout.trim();
    expect(own).toMatch(/^age1[0-9a-z]{58}$/);
    const bad = await sb.run(["recipients", "add", "age1notakey", "--label", "x"]);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect(bad.stderr).toBe(
      'secretfile: error: "age1notakey" is not an age public key\nsecretfile: hint: give the age1… line that `secretfile recipient` or `age-keygen -y IDENTITY` prints\n',
    );
    const other = sandbox();
    await other.add("X", "y");
    const key = (await other.run(["recipient"])).stdout.trim();
    const label = await sb.run(["recipients", "add", key, "--label", "has space"]);
    expect(label.code).toBe(2);
    expect(label.stderr).toContain('invalid recipient label "has space"');
    expect((await sb.run(["recipients", "add", key])).code).toBe(2); // --label is required
    const mine = await sb.run(["recipients", "add", own, "--label", "me"]);
    expect(mine.code).toBe(0);
    expect(mine.stderr).toContain(
      "added me: this host's own key, so other hosts that share the store encrypt to it too",
    );
    expect((await sb.run(["recipients", "add", key, "--label", "host-b"])).code).toBe(0);
    const twice = await sb.run(["recipients", "add", key, "--label", "host-c"]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`${key} is listed already, labelled host-b`);
    const sameLabel = await sb.run([
      "recipients",
      "add",
      own.slice(0, -1) + (own.endsWith("q") ? "p" : "q"),
      "--label",
      "host-b",
    ]);
    expect(sameLabel.code).toBe(2); // a changed checksum is no key at all
    const gone = await sb.run(["recipients", "rm", "nobody"]);
    expect(gone).toMatchObject({ code: 3 });
    expect(gone.stderr).toContain(`no recipient labelled nobody in ${sb.store}`);
  });

  it("runs on a store folder only: through an agent socket it is a usage error naming the way to run it", async () => {
    const sb = sandbox();
    for (const args of [
      ["recipient"],
      ["recipients", "ls"],
      ["rekey"],
      ["export", "--recipient", "age1x", "--output", "x"],
    ]) {
      const r = await sb.run(args, {
        env: { SECRETFILE_DIR: "", SECRETFILE_SOCKET: path.join(sb.root, "agent.sock") },
      });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`works on a store folder, not through the agent (SECRETFILE_SOCKET is set)`);
      expect(r.stderr).toContain(
        `hint: in system mode run it as the service account on the state folder: sudo -u secretfile secretfile ${args[0]}`,
      );
    }
    const none = await sb.run(["recipient"]);
    expect(none).toMatchObject({ code: 1, stdout: "" });
    expect(none.stderr).toContain(`no store in ${sb.dir}`);
  });

  it("refuses a recipients.txt that others can write (exit 4)", async () => {
    const sb = sandbox();
    await sb.add("K", "v1");
    const other = sandbox();
    await other.add("X", "y");
    expect(
      (await sb.run(["recipients", "add", (await other.run(["recipient"])).stdout.trim(), "--label", "b"])).code,
    ).toBe(0);
    chmodSync(mirror(sb), 0o666);
    const r = await sb.run(["add", "L"], { input: "v" });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`the recipient list ${mirror(sb)} has mode 666: group or others can write it`);
    expect(r.stderr).toContain(`hint: chmod 644 ${mirror(sb)}`);
  });
});

describe("recipients of a post-quantum store", { timeout: SLOW }, () => {
  it("warns that an X25519 key takes the post-quantum protection away, and the stock age CLI opens the store with it", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.init(["--pq"]);
    await sb.add("K", "pq value");
    const recovery = path.join(sb.root, "recovery.txt");
    ageKeygen(recovery);
    const r = await sb.run(["recipients", "add", ageRecipient(recovery), "--label", "recovery"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "secretfile: warning: the host key is post-quantum but recovery is not: the store is now only as strong as recovery's X25519 against a future quantum computer\n",
    );
    expect(opens(recovery, sb.store)?.secrets.K?.value).toBe("pq value");
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "pq value" });
  });
});

describe("a write that dies between the store and recipients.txt", { timeout: SLOW }, () => {
  const work = tempDir("secretfile-recipients-shim-");
  let shim = "";
  beforeAll(() => {
    if (hasCC) shim = compileShim(work.dir);
  });
  afterAll(work.cleanup);

  it("leaves recipients.txt.next, which the next write takes as the list (no false alarm)", async (ctx) => {
    ctx.skip(!hasCC || !hasAge, "needs cc (fault shim) and the age CLI");
    const { sb, recovery, key } = await withRecovery();
    // The last step of `recipients add`, putting recipients.txt in place, fails: the store already holds the new list.
    const env = faultEnv(shim, "rename", "EIO", path.join(work.dir, "fault.log"), ".recipients.txt.tmp-");
    const failed = await sb.run(["recipients", "add", key, "--label", "recovery"], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `${sb.store} was written with its new recipient list, but ${mirror(sb)} was not: cannot rename the new recipients.txt into ${sb.dir}: EIO`,
    );
    expect(readFileSync(path.join(work.dir, "fault.log"), "utf8")).not.toBe("");
    expect(opens(recovery, sb.store)?.secrets.K?.value).toBe("v1");
    expect(existsSync(mirror(sb))).toBe(false);
    expect(readFileSync(`${mirror(sb)}.next`, "utf8")).toContain(key);
    // With recipients.txt present and stale (as a crash leaves it after an earlier list), the .next copy is what counts.
    writeFileSync(mirror(sb), "# an older list\n", { mode: 0o600 });
    const next = await sb.run(["add", "L"], { input: "v2" });
    expect(next).toMatchObject({ code: 0 });
    expect(readFileSync(mirror(sb), "utf8")).toContain(key);
    expect(existsSync(`${mirror(sb)}.next`)).toBe(false);
    expect(opens(recovery, sb.store)?.secrets.L?.value).toBe("v2");
  });
});
