// export end to end: an age file of the whole store, encrypted to the given recipients only, to a new file or to a pipe;
// never plaintext on disk, never over an existing file, never to a terminal.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageDecrypt, ageKeygen, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { BIN } from "../../helpers/cli.js";
import { filesContaining, removeSandboxes, sandbox } from "../../helpers/personal.js";

/** A decrypted export, as far as these tests read it. */
type StoreJson = { secrets: Record<string, { value: string } | undefined> };

afterAll(removeSandboxes);

const SLOW = 240_000;
const VALUE = "export-secret-value-0123456789";

async function store() {
  const sb = sandbox();
  await sb.add("API_KEY", VALUE, ["--description", "dashboard"]);
  await sb.add("OTHER", "second value");
  const backup = path.join(sb.root, "backup-identity.txt");
  ageKeygen(backup);
  return { sb, backup, key: ageRecipient(backup) };
}

describe.concurrent("export", { timeout: SLOW }, () => {
  it("--output writes a new 0600 age file that age -d opens with the recipient's identity, and nothing else does", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const { sb, backup, key } = await store();
    const second = path.join(sb.root, "second-identity.txt");
    ageKeygen(second);
    const out = path.join(sb.root, "export.age");
    const r = await sb.run(["export", "--recipient", key, "--recipient", ageRecipient(second), "--output", out]);
    expect(r).toEqual({
      code: 0,
      signal: null,
      stdout: "",
      stderr: `secretfile: wrote ${out}: 2 secrets encrypted to 2 recipients; \`age -d -i IDENTITY ${out}\` opens it\n`,
    });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    for (const id of [backup, second]) {
      const doc = JSON.parse(ageDecrypt(id, out).toString("utf8"));
      expect(doc).toMatchObject({
        format: "secretfile-store",
        version: 2,
        secrets: { API_KEY: { value: VALUE, description: "dashboard" }, OTHER: { value: "second value" } },
      });
    }
    // Encrypted to the recipients given only: not to the host identity.
    expect(spawnSync("age", ["-d", "-i", sb.identity, out]).status).not.toBe(0);
    expect(filesContaining(sb.root, VALUE)).toEqual([]);
  });

  it("refuses to overwrite a file (exit 1), and leaves it as it was", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE); // the recipient comes from age-keygen
    const { sb, key } = await store();
    const out = path.join(sb.root, "existing.age");
    writeFileSync(out, "keep me");
    const r = await sb.run(["export", "--recipient", key, "--output", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secretfile: error: the export file ${out} already exists\nsecretfile: hint: keep it, or move it aside to start over\n`,
    );
    expect(readFileSync(out, "utf8")).toBe("keep me");
  });

  it("writes to standard output when it is not a terminal", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const { sb, backup, key } = await store();
    const out = path.join(sb.root, "piped.age");
    const r = spawnSync(process.execPath, [BIN, "export", "--recipient", key], { env: sb.env });
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toBe("secretfile: exported 2 secrets encrypted to 1 recipient\n");
    expect(r.stdout.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    writeFileSync(out, r.stdout);
    expect((JSON.parse(ageDecrypt(backup, out).toString("utf8")) as StoreJson).secrets.API_KEY?.value).toBe(VALUE);
  });

  it("refuses to write to a terminal (exit 2) and checks the recipient before decrypting (exit 2)", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE); // the recipient comes from age-keygen
    const { sb, key } = await store();
    // `script` gives the command a terminal as its standard output.
    const cmd = `${process.execPath} ${BIN} export --recipient ${key}; echo "exit=$?"`;
    const tty = spawnSync("script", ["-qec", cmd, "/dev/null"], { env: sb.env, encoding: "utf8" });
    expect(tty.stdout).toContain("secretfile: error: refusing to write an age file to the terminal");
    expect(tty.stdout).toContain(
      "secretfile: hint: pass --output FILE, or redirect: secretfile export --recipient R > FILE",
    );
    expect(tty.stdout).toContain("exit=2");
    expect(tty.stdout).not.toContain("age-encryption.org");
    const out = path.join(sb.root, "bad.age");
    const bad = await sb.run(["export", "--recipient", "age1nope", "--output", out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"age1nope" is not an age public key');
    expect(existsSync(out)).toBe(false);
    expect((await sb.run(["export", "--output", out])).code).toBe(2); // --recipient is required
  });
});
