// Preparing a bench run: the build, a private copy of the CLI, the tools, and stores of known sizes.
// Rules: everything lives in one temporary folder removed at the end; the repository's dist/ is only read (others may
// rebuild it at any time); a store is checked through the CLI after it is written.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Encrypter, identityToRecipient } from "age-encryption";
import { launcherFor } from "../build/launcher.mjs";
import { baseEnv, runOnce } from "./procs.mjs";

/** The repository's root folder. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Runs a command that must succeed; returns its stdout. Throws with its stderr. */
export function must(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
    ...opts,
  });
  if (r.status !== 0)
    throw new Error(
      `${argv.join(" ")} failed (${r.status ?? r.signal ?? r.error?.message}): ${String(r.stderr ?? "")
        .trim()
        .slice(0, 800)}`,
    );
  return r.stdout;
}

/** Builds dist/ with `npm run build`. Throws when the build fails. */
export function build() {
  must(["npm", "run", "build", "--silent"], { cwd: ROOT, stdio: ["ignore", "inherit", "pipe"] });
}

/**
 * Copies the built CLI (dist/, bin/, package.json) into `<base>/app`, readable by every uid, and lays it out as the
 * Debian package installs it: the launcher's `#!` names this Node (build/launcher.mjs) and the command is a symlink to
 * it (`usr/bin/secretfile`); the launcher as a clone or `npm install -g` has it, through `#!/usr/bin/env`, is kept
 * beside it as `bin/secretfile-env`, for one row that shows what that costs. Checks that the copy runs; rebuilds and
 * retries when another process was rebuilding dist/ meanwhile. Returns { app, bin, envBin, version }.
 */
export function copyApp(base) {
  const app = path.join(base, "app");
  for (let attempt = 1; ; attempt++) {
    rmSync(app, { recursive: true, force: true });
    mkdirSync(app, { recursive: true });
    try {
      cpSync(path.join(ROOT, "dist"), path.join(app, "dist"), { recursive: true });
      cpSync(path.join(ROOT, "bin"), path.join(app, "bin"), { recursive: true });
      cpSync(path.join(ROOT, "package.json"), path.join(app, "package.json"));
      const launcher = path.join(app, "bin", "secretfile");
      const envBin = path.join(app, "bin", "secretfile-env");
      renameSync(launcher, envBin);
      writeFileSync(launcher, launcherFor(readFileSync(envBin, "utf8"), process.execPath), { mode: 0o755 });
      mkdirSync(path.join(app, "usr", "bin"), { recursive: true });
      const bin = path.join(app, "usr", "bin", "secretfile");
      symlinkSync("../../bin/secretfile", bin);
      must(["chmod", "-R", "a+rX", app]);
      const probe = spawnSync(bin, ["--version"], { encoding: "utf8", env: baseEnv(base) });
      if (probe.status === 0) return { app, bin, envBin, version: probe.stdout.trim() };
      if (attempt >= 3) throw new Error(`the copied CLI does not run: ${probe.stderr}`);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
    build();
  }
}

/** The Debian packages that provide each peer tool. */
const PACKAGES = { age: "age", pass: "pass", gpg: "gnupg", time: "time" };

/** Returns the path of `tool` on PATH, or undefined. */
export function which(tool) {
  const r = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Finds age, pass, gpg and GNU time; as root with apt-get and `install` set, installs the missing ones from Debian
 * (apt-get update only when a first try fails). Returns { tools: { age?, pass?, gpg?, time? }, installLog }.
 */
export function findTools(install) {
  const find = () => ({
    age: which("age"),
    pass: which("pass"),
    gpg: which("gpg"),
    time: existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined,
  });
  let tools = find();
  const missing = Object.keys(PACKAGES).filter((k) => tools[k] === undefined);
  const log = [];
  if (missing.length > 0 && install && process.getuid?.() === 0 && which("apt-get")) {
    const pkgs = [...new Set(missing.map((k) => PACKAGES[k]))];
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const apt = (args) => spawnSync("apt-get", args, { encoding: "utf8", env, timeout: 300_000 });
    log.push(`installing ${pkgs.join(" ")} with apt-get`);
    let r = apt(["install", "-y", "-qq", "--no-install-recommends", ...pkgs]);
    if (r.status !== 0) {
      apt(["update", "-qq"]);
      r = apt(["install", "-y", "-qq", "--no-install-recommends", ...pkgs]);
    }
    if (r.status !== 0) log.push(`apt-get install failed: ${String(r.stderr).trim().slice(0, 300)}`);
    tools = find();
  }
  return { tools, installLog: log };
}

/** Returns a secret value like an API key: 32 random bytes, base64url (43 characters). */
function apiKey() {
  return randomBytes(32).toString("base64url");
}

/**
 * Makes a personal store of `count` secrets in `dir`: `secretfile init --dir`, then the store document written
 * directly (adding 10,000 secrets one by one would take an hour), then checked with `secretfile ls --json`.
 * Returns { dir, identity, names, values: Map }.
 */
export async function makeStore(cli, dir, count, prefix = "BENCH_KEY_") {
  must([cli.bin, "init", "--dir", dir], { env: baseEnv(path.dirname(dir)) });
  const identityFile = path.join(dir, "identity.txt");
  const identity = readFileSync(identityFile, "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-"));
  const now = new Date().toISOString();
  const secrets = {};
  const values = new Map();
  const names = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${String(i).padStart(5, "0")}`;
    const value = apiKey();
    names.push(name);
    values.set(name, value);
    secrets[name] = { value, created: now, updated: now };
  }
  // The document format of src/store/document.ts, version 1; the `ls` check below catches a format change.
  const doc = { format: "secretfile-store", version: 1, secrets };
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(identity));
  const sealed = await e.encrypt(new TextEncoder().encode(JSON.stringify(doc)));
  const store = path.join(dir, "store.age");
  const tmp = `${store}.bench-tmp`;
  writeFileSync(tmp, sealed, { mode: 0o600 });
  renameSync(tmp, store);
  const listed = JSON.parse(must([cli.bin, "ls", "--json", "--dir", dir], { env: baseEnv(path.dirname(dir)) }));
  const listedCount = Array.isArray(listed) ? listed.length : Object.keys(listed.secrets ?? listed).length;
  if (listedCount !== count) {
    throw new Error(
      `the store written for the bench lists ${listedCount} secrets, not ${count}: bench/prepare.mjs is out of date with src/store/document.ts`,
    );
  }
  return { dir, identity: identityFile, store, names, values };
}

/** Copies a store's identity and store file into a new folder `dir` (0700); returns the copy's description. */
export function copyStore(src, dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const f of ["identity.txt", "store.age"]) {
    copyFileSync(path.join(src.dir, f), path.join(dir, f));
    chmodSync(path.join(dir, f), 0o600);
  }
  return { ...src, dir, identity: path.join(dir, "identity.txt"), store: path.join(dir, "store.age") };
}

/** Writes a .env of the store's secrets into `dir` for dotenvx; returns the folder. */
export function makeDotenv(store, dir) {
  mkdirSync(dir, { recursive: true });
  const lines = [...store.values].map(([k, v]) => `${k}="${v}"`);
  writeFileSync(path.join(dir, ".env"), `${lines.join("\n")}\n`, { mode: 0o600 });
  return dir;
}

/** Returns dotenvx from the project's dev dependencies: { bin, version } or undefined when it is not installed. */
export function findDotenvx() {
  const bin = path.join(ROOT, "node_modules", ".bin", "dotenvx");
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? { bin, version: r.stdout.trim() } : undefined;
}

/**
 * Makes a password store of the store's secrets in `<base>/pass` with a gpg key without passphrase in a temporary
 * GNUPGHOME. Returns { env, name, stop() } (stop ends the gpg-agent it started), or throws.
 */
export function makePass(tools, store, base) {
  const gnupg = path.join(base, "gnupg");
  mkdirSync(gnupg, { recursive: true, mode: 0o700 });
  const env = baseEnv(base, { GNUPGHOME: gnupg, PASSWORD_STORE_DIR: path.join(base, "pass") });
  must(
    [
      tools.gpg,
      "--batch",
      "--pinentry-mode",
      "loopback",
      "--passphrase",
      "",
      "--quick-gen-key",
      "secretfile bench <bench@localhost.invalid>",
      "future-default",
      "default",
      "never",
    ],
    { env },
  );
  const fpr = /^fpr:+([0-9A-F]+):/m.exec(
    must([tools.gpg, "--batch", "--with-colons", "--list-secret-keys"], { env }),
  )?.[1];
  if (fpr === undefined) throw new Error("gpg made no key");
  must([tools.pass, "init", fpr], { env });
  for (const [name, value] of [...store.values].slice(0, 10))
    must([tools.pass, "insert", "-m", name], { env, input: `${value}\n` });
  const name = store.names[0];
  const check = runOnce({ label: "pass show", argv: [tools.pass, "show", name], env, cwd: base, stdout: "pipe" });
  if (check.code !== 0 || check.stdout.trim() !== store.values.get(name))
    throw new Error(`pass show does not return the value: ${check.stderr}`);
  return {
    env,
    name,
    stop: () => spawnSync("gpgconf", ["--kill", "all"], { env, stdio: "ignore" }),
  };
}

/** Returns the versions of the peer tools found, for the report. */
export function peerVersions(tools, dotenvx) {
  const first = (argv) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
    return r.status === 0
      ? String(r.stdout || r.stderr)
          .trim()
          .split("\n")[0]
      : undefined;
  };
  const deb = (pkg) => first(["dpkg-query", "-W", "-f", "${Version}", pkg]);
  return {
    node: process.version,
    dotenvx: dotenvx?.version,
    age: tools.age ? first([tools.age, "--version"]) : undefined,
    pass: tools.pass ? (deb("pass") ?? "found") : undefined,
    gpg: tools.gpg ? first([tools.gpg, "--version"]) : undefined,
  };
}
