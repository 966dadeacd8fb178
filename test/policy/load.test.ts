import { execFileSync } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AccessError, ExitCode, FailureError, type SecretfileError } from "../../src/errors.js";
import { loadPolicyFile, POLICY_MAX_BYTES, policyFileStamp } from "../../src/policy/load.js";
import { PolicySyntaxError } from "../../src/policy/parse.js";

const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = "(skipped: needs root to make root-owned and foreign-owned files)";
const GOOD = "# test\nread user:netops MERAKI_* # why\nwrite group:secops *\n";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "secretfile-policy-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` at `name` in the temp folder with exactly `mode` (chmod defeats the umask). */
async function policyAt(name: string, text: string | Uint8Array, mode = 0o644): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

/** Returns the error loadPolicyFile rejects with, failing the test if it resolves. */
async function loadError(path: string): Promise<SecretfileError> {
  const error = await loadPolicyFile(path).then(
    () => expect.unreachable(`loadPolicyFile accepted ${path}`),
    (e: unknown) => e,
  );
  return error as SecretfileError;
}

describe("loadPolicyFile", () => {
  it.skipIf(!isRoot)(`loads a root-owned 0644 file ${NEEDS_ROOT}`, async () => {
    const path = await policyAt("policy", GOOD);
    expect(await loadPolicyFile(path)).toEqual({
      file: path,
      rules: [
        { verb: "read", who: { kind: "user", name: "netops" }, patterns: ["MERAKI_*"], line: 2 },
        { verb: "write", who: { kind: "group", name: "secops" }, patterns: ["*"], line: 3 },
      ],
    });
  });

  it.skipIf(!isRoot).for<[number]>([[0o600], [0o400], [0o640], [0o444]])(
    `accepts mode %o ${NEEDS_ROOT}`,
    async ([mode]) => {
      const path = await policyAt("policy", GOOD, mode);
      expect((await loadPolicyFile(path)).rules).toHaveLength(2);
    },
  );

  it.skipIf(!isRoot).for<[number, string, string]>([
    [0o664, "0664", "group"],
    [0o646, "0646", "others"],
    [0o666, "0666", "group and others"],
    [0o620, "0620", "group"],
    [0o602, "0602", "others"],
    [0o1777, "1777", "group and others"],
  ])(`refuses mode %o (writable by %s) ${NEEDS_ROOT}`, async ([mode, shown, who]) => {
    const path = await policyAt("policy", GOOD, mode);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(AccessError);
    expect(error.exitCode).toBe(ExitCode.denied);
    expect(error.message).toBe(`refusing policy file ${path}: mode ${shown} lets ${who} write it`);
    expect(error.hint).toBe(`as root, run: chown root:root ${path} && chmod 644 ${path}`);
  });

  it.skipIf(!isRoot)(`refuses a file owned by uid 65534 ${NEEDS_ROOT}`, async () => {
    const path = await policyAt("policy", GOOD, 0o644);
    await chown(path, 65534, 65534);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(AccessError);
    expect(error.exitCode).toBe(ExitCode.denied);
    expect(error.message).toBe(`refusing policy file ${path}: owned by uid 65534 (mode 0644), not by root`);
    expect(error.hint).toBe(`as root, run: chown root:root ${path} && chmod 644 ${path}`);
  });

  it.skipIf(!isRoot)(`refuses a root-group file owned by another user ${NEEDS_ROOT}`, async () => {
    const path = await policyAt("policy", GOOD, 0o600);
    await chown(path, 1, 0);
    expect((await loadError(path)).message).toBe(
      `refusing policy file ${path}: owned by uid 1 (mode 0600), not by root`,
    );
  });

  it.skipIf(!isRoot)(`shell-quotes an awkward path in the hint ${NEEDS_ROOT}`, async () => {
    const path = await policyAt("it's policy", GOOD, 0o666);
    const quoted = `'${dir}/it'\\''s policy'`;
    expect((await loadError(path)).hint).toBe(`as root, run: chown root:root ${quoted} && chmod 644 ${quoted}`);
  });

  it.for<[string]>([["to a good file"], ["dangling"]])("refuses a symlink %s", async ([kind]) => {
    const target = kind === "dangling" ? join(dir, "nowhere") : await policyAt("real", GOOD);
    const link = join(dir, "policy");
    await symlink(target, link);
    const error = await loadError(link);
    expect(error).toBeInstanceOf(AccessError);
    expect(error.exitCode).toBe(ExitCode.denied);
    expect(error.message).toBe(`refusing to follow a symlink at policy file ${link}`);
    expect(error.hint).toBe(
      "name the real file with --policy, or replace the link with a regular file owned by root with mode 0644",
    );
  });

  it.for<[string]>([["policy"], ["no-such-dir/policy"]])("reports a missing file (%s)", async ([name]) => {
    const path = join(dir, name);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(FailureError);
    expect(error.exitCode).toBe(ExitCode.failure);
    expect(error.message).toBe(`policy file ${path} does not exist`);
    expect(error.hint).toBe(
      `as root, run \`secretfile setup\` (with sudo: \`sudo secretfile setup\`), or create ${path} owned by root with mode 0644, one rule a line`,
    );
  });

  it("refuses a directory", async () => {
    const path = join(dir, "policy");
    await mkdir(path);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(AccessError);
    expect(error.message).toBe(`refusing policy file ${path}: not a regular file`);
  });

  it("refuses a FIFO without hanging", async () => {
    const path = join(dir, "policy");
    execFileSync("mkfifo", [path]);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(AccessError);
    expect(error.message).toBe(`refusing policy file ${path}: not a regular file`);
  }, 5000);

  it.skipIf(!isRoot)(`refuses a file over 1 MiB ${NEEDS_ROOT}`, async () => {
    const path = await policyAt("policy", `${"#".repeat(POLICY_MAX_BYTES)}\n`);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(FailureError);
    expect(error).not.toBeInstanceOf(PolicySyntaxError);
    expect(error.message).toBe(
      `policy file ${path} is ${POLICY_MAX_BYTES + 1} bytes; the limit is ${POLICY_MAX_BYTES} (1 MiB)`,
    );
  });

  it.skipIf(!isRoot)(`reads a file of exactly 1 MiB ${NEEDS_ROOT}`, async () => {
    const rule = "read user:a A\n";
    const path = await policyAt("policy", rule + "#".repeat(POLICY_MAX_BYTES - rule.length));
    expect((await loadPolicyFile(path)).rules).toHaveLength(1);
  });

  it.skipIf(!isRoot)(`reports syntax errors with the path and line numbers ${NEEDS_ROOT}`, async () => {
    const bytes = Uint8Array.from([...new TextEncoder().encode("read user:a A\nreed user:a A\n# "), 0xff, 0x0a]);
    const path = await policyAt("policy", bytes);
    const error = await loadError(path);
    expect(error).toBeInstanceOf(PolicySyntaxError);
    expect(error.exitCode).toBe(ExitCode.failure);
    expect(error.message).toBe(
      `${path}:2: unknown verb "reed" (expected read, write, approve or expect)\n${path}:3: not valid UTF-8`,
    );
  });
});

describe("policyFileStamp", () => {
  it("is stable while nothing changes, and changes when the content changes", async () => {
    const path = await policyAt("policy", GOOD);
    const first = await policyFileStamp(path);
    expect(first).toMatch(/^\d+:\d+:\d+:\d+:\d+$/);
    expect(await policyFileStamp(path)).toBe(first);
    await writeFile(path, `${GOOD}read user:b B\n`);
    expect(await policyFileStamp(path)).not.toBe(first);
  });

  it("changes on chmod (ctime), so a newly unsafe mode is noticed", async () => {
    const path = await policyAt("policy", GOOD);
    const first = await policyFileStamp(path);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await chmod(path, 0o666);
    expect(await policyFileStamp(path)).not.toBe(first);
  });

  it("changes when the file is replaced by another of the same size", async () => {
    const path = await policyAt("policy", GOOD);
    const first = await policyFileStamp(path);
    const other = await policyAt("other", GOOD.replace("netops", "netopz"));
    await rm(path);
    execFileSync("mv", [other, path]);
    expect(await policyFileStamp(path)).not.toBe(first);
  });

  it("says 'missing' for a missing file and does not follow a symlink", async () => {
    expect(await policyFileStamp(join(dir, "none"))).toBe("missing");
    expect(await policyFileStamp(join(dir, "none", "deeper"))).toBe("missing");
    const link = join(dir, "link");
    await symlink(join(dir, "none"), link);
    expect(await policyFileStamp(link)).not.toBe("missing");
  });
});
