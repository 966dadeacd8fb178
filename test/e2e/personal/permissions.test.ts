// Personal mode end to end: unsafe modes, owners and symlinks are refused (exit 4) with the fix in the hint,
// and init creates every file with its final private mode whatever the umask.

import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isRoot, notStarted, ownExit } from "../../helpers/cli.js";
import { modeOf, removeSandboxes, runWithUmask, sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

const octal = (mode: number) => mode.toString(8).padStart(3, "0");

describe.concurrent("personal mode: unsafe files", { timeout: SLOW }, () => {
  it("an identity or store that group or others can read or write is refused (exit 4) with the chmod fix", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const [what, file] of [
      ["identity", sb.identity],
      ["store", sb.store],
    ] as const) {
      for (const mode of [0o640, 0o604, 0o620]) {
        chmodSync(file, mode);
        const r = await sb.run(["get", "K"]);
        chmodSync(file, 0o600);
        const can = mode & 0o022 ? "write" : "read";
        got[`${what} ${octal(mode)}`] = r;
        want[`${what} ${octal(mode)}`] = {
          code: 4,
          signal: null,
          stdout: "",
          stderr: `secretfile: error: the ${what} ${file} has mode ${octal(mode)}: group or others can ${can} it\nsecretfile: hint: chmod 600 ${file}\n`,
        };
      }
    }
    expect(got).toEqual(want);
  });

  it("every command refuses a store of mode 0640 (exit 4) and changes nothing", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    chmodSync(sb.store, 0o640);
    const before = readFileSync(sb.store);
    const commands = [
      ["get", "K"],
      ["ls"],
      ["ls", "--json"],
      ["exec", "--", "true"],
      ["add", "L"],
      ["add", "K", "--replace"],
      ["rm", "K"],
    ];
    const got: Record<string, unknown> = {};
    for (const args of commands) {
      const r = await sb.run(args, { input: "new" });
      got[args.join(" ")] = [r.code, r.stdout, r.stderr.includes(`secretfile: hint: chmod 600 ${sb.store}\n`)];
    }
    expect(got).toEqual(Object.fromEntries(commands.map((args) => [args.join(" "), [ownExit(args, 4), "", true]])));
    expect(readFileSync(sb.store).equals(before)).toBe(true);
    expect(modeOf(sb.store)).toBe(0o640);
  });

  it("accepts an owner-only identity of mode 0400 and a folder of mode 0755 (readable, not writable, by others)", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    chmodSync(sb.identity, 0o400);
    chmodSync(sb.dir, 0o755);
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v", stderr: "" });
    expect((await sb.run(["add", "L"], { input: "w" })).code).toBe(0);
    expect(modeOf(sb.store)).toBe(0o600);
  });

  it("a store folder that group or others can write is refused (exit 4) with the chmod fix", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const [mode, fix] of [
      [0o770, 0o750],
      [0o1777, 0o755],
    ] as const) {
      chmodSync(sb.dir, mode);
      const get = await sb.run(["get", "K"]);
      const add = await sb.run(["add", "L"], { input: "w" });
      chmodSync(sb.dir, 0o700);
      const stderr = `secretfile: error: the folder ${sb.dir} has mode ${octal(mode & 0o777)}: group or others can write it\nsecretfile: hint: chmod ${octal(fix)} ${sb.dir}\n`;
      got[octal(mode)] = [get, add];
      want[octal(mode)] = [
        { code: 4, signal: null, stdout: "", stderr },
        { code: 4, signal: null, stdout: "", stderr },
      ];
    }
    expect(got).toEqual(want);
    expect((await sb.run(["get", "L"])).code).toBe(3);
  });

  it("an identity, store or folder owned by another uid is refused (exit 4) with a chown hint", async (ctx) => {
    ctx.skip(!isRoot, "needs root to chown files to another uid");
    const sb = sandbox();
    await sb.add("K", "v");
    const got: Record<string, unknown> = {};
    for (const [what, file] of [
      ["identity", sb.identity],
      ["store", sb.store],
      ["folder", sb.dir],
    ] as const) {
      chownSync(file, 65534, 65534);
      const r = await sb.run(["get", "K"]);
      chownSync(file, 0, 0);
      got[what] = r;
    }
    for (const [what, file] of [
      ["identity", sb.identity],
      ["store", sb.store],
      ["folder", sb.dir],
    ] as const) {
      expect(got[what], what).toEqual({
        code: 4,
        signal: null,
        stdout: "",
        stderr: `secretfile: error: the ${what} ${file} is owned by uid 65534, not by you (uid 0)\nsecretfile: hint: sudo chown 0 ${file}  (or run secretfile as its owner)\n`,
      });
    }
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v" });
  });
});

describe.concurrent("personal mode: symlinks are not followed", { timeout: SLOW }, () => {
  it("identity.txt replaced by a symlink to a valid identity is refused (exit 4)", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const real = path.join(sb.root, "real-identity.txt");
    copyFileSync(sb.identity, real);
    chmodSync(real, 0o600);
    unlinkSync(sb.identity);
    symlinkSync(real, sb.identity);
    const stderr = `secretfile: error: refusing to follow a symlink at the identity ${sb.identity}\nsecretfile: hint: replace the link with the real file, or point secretfile at the real folder\n`;
    for (const args of [["get", "K"], ["ls"], ["add", "L"]]) {
      expect(await sb.run(args, { input: "w" }), args.join(" ")).toEqual({
        code: ownExit(args, 4),
        signal: null,
        stdout: "",
        stderr: stderr + (args[0] === "exec" ? notStarted(4) : ""),
      });
    }
  });

  it("store.age replaced by a symlink to a valid store is refused (exit 4), and add does not write through it", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const real = path.join(sb.root, "real-store.age");
    copyFileSync(sb.store, real);
    chmodSync(real, 0o600);
    const before = readFileSync(real);
    unlinkSync(sb.store);
    symlinkSync(real, sb.store);
    const stderr = `secretfile: error: refusing to follow a symlink at the store ${sb.store}\nsecretfile: hint: replace the link with the real file, or point secretfile at the real folder\n`;
    for (const args of [
      ["get", "K"],
      ["ls", "--json"],
      ["exec", "--", "true"],
      ["add", "L"],
      ["add", "K", "--replace"],
      ["rm", "K"],
    ]) {
      expect(await sb.run(args, { input: "w" }), args.join(" ")).toEqual({
        code: ownExit(args, 4),
        signal: null,
        stdout: "",
        stderr: stderr + (args[0] === "exec" ? notStarted(4) : ""),
      });
    }
    expect(lstatSync(sb.store).isSymbolicLink()).toBe(true);
    expect(readFileSync(real).equals(before)).toBe(true);
  });

  it("a store folder that is a symlink is refused (exit 4)", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const link = path.join(sb.root, "link");
    symlinkSync(sb.dir, link);
    const r = await sb.run(["get", "K", "--dir", link]);
    expect(r).toEqual({
      code: 4,
      signal: null,
      stdout: "",
      stderr: `secretfile: error: refusing to use ${link}: it is a symlink\nsecretfile: hint: point --dir at the real folder\n`,
    });
  });

  it("init does not create files through a dangling symlink planted at identity.txt or store.age", async () => {
    const sb = sandbox();
    const got: Record<string, unknown> = {};
    for (const planted of ["identity.txt", "store.age"]) {
      const dir = path.join(sb.root, `plant-${planted}`);
      const target = path.join(sb.root, `target-${planted}`);
      const other = path.join(dir, planted === "store.age" ? "identity.txt" : "store.age");
      mkdirSync(dir, { mode: 0o700 });
      symlinkSync(target, path.join(dir, planted));
      const r = await sb.run(["init", "--dir", dir]);
      got[planted] = { code: r.code, stdout: r.stdout, target: existsSync(target), other: existsSync(other) };
    }
    expect(got).toEqual({
      "identity.txt": { code: 1, stdout: "", target: false, other: false },
      "store.age": { code: 4, stdout: "", target: false, other: false },
    });
  });
});

describe.concurrent("personal mode: files are created private", { timeout: SLOW }, () => {
  it("init makes identity and store 0600 and the folder 0700 even with umask 000", async () => {
    const sb = sandbox();
    const dir = path.join(sb.root, "a", "b", "store");
    const r = await runWithUmask("000", ["init", "--dir", dir], sb.env);
    expect(r.code).toBe(0);
    expect(
      [modeOf(dir), modeOf(path.join(dir, "identity.txt")), modeOf(path.join(dir, "store.age"))].map(octal),
    ).toEqual(["700", "600", "600"]);
    const add = await runWithUmask("000", ["add", "K", "--dir", dir], sb.env, "v");
    expect(add.code).toBe(0);
    const replace = await runWithUmask("000", ["add", "K", "--replace", "--dir", dir], sb.env, "w");
    expect(replace.code).toBe(0);
    expect(octal(modeOf(path.join(dir, "store.age")))).toBe("600");
    expect(await sb.run(["get", "K", "--dir", dir])).toMatchObject({ code: 0, stdout: "w" });
  });

  it("add creating the store makes the same modes with umask 000", async () => {
    const sb = sandbox();
    const r = await runWithUmask("000", ["add", "K"], sb.env, "v");
    expect(r.code).toBe(0);
    expect([modeOf(sb.dir), modeOf(sb.identity), modeOf(sb.store)].map(octal)).toEqual(["700", "600", "600"]);
  });

  it("init --pq makes the same modes with umask 000", async () => {
    const sb = sandbox();
    const r = await runWithUmask("000", ["init", "--pq"], sb.env);
    expect(r.code).toBe(0);
    expect([modeOf(sb.dir), modeOf(sb.identity), modeOf(sb.store)].map(octal)).toEqual(["700", "600", "600"]);
  });
});
