// Checking one path for doctor: is it there, the right kind, owned by the right user, with a safe mode.
// Rules: lstat only (a symlink is reported, never followed); "unsafe" means what secretfile or the agent would refuse
// (a fail); looser than the documented mode but still accepted is a warning; every problem carries its fix, and a fix
// on a path in a folder another account owns follows no link there: chown -h, or run as that account.

import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { errnoOf } from "../system/errno.js";
import { fail, octal, ok, shellQuote, sudo, warn, type Finding } from "./finding.js";

/** What a path must be. */
export interface PathRules {
  /** e.g. "the identity". */
  what: string;
  kind: "file" | "folder" | "socket";
  /** The uid that must own it. */
  owner: number;
  /** Mode bits that make it unsafe (a fail), e.g. 0o077 for a private file. */
  forbidden: number;
  /** The documented mode; bits beyond it that are not forbidden give a warning. */
  mode: number;
}

/**
 * Returns the findings for `file` under `rules` (one ok, or one per problem), or null when nothing is there.
 * Never throws: a path that cannot be examined is a failure finding.
 */
export async function inspectPath(file: string, rules: PathRules): Promise<Finding[] | null> {
  const q = shellQuote(file);
  let st;
  try {
    st = await fs.lstat(file);
  } catch (err) {
    if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") return null;
    return [
      fail(
        `cannot examine ${rules.what} ${file}: ${errnoOf(err) ?? String(err)}`,
        errnoOf(err) === "EACCES" ? `sudo secretfile doctor` : undefined,
      ),
    ];
  }
  // Whoever owns the folder may swap `file` for a link at any time: what follows or moves it runs as that account.
  const as = await folderAccount(file);
  if (st.isSymbolicLink()) {
    // The link's target goes into its place, moved by that account: root never moves a file a link names into
    // another account's folder (a link to /etc/shadow would hand it over).
    const target = await linkTarget(file);
    return [
      fail(
        `${rules.what} ${file} is a symlink: secretfile refuses to follow it`,
        `${as ?? sudo()}rm ${q} && ${as ?? sudo()}mv -T ${shellQuote(target)} ${q}`,
      ),
    ];
  }
  const rightKind = rules.kind === "file" ? st.isFile() : rules.kind === "folder" ? st.isDirectory() : st.isSocket();
  if (!rightKind)
    return [
      fail(
        `${rules.what} ${file} is not a ${rules.kind === "file" ? "regular file" : rules.kind}`,
        `${as ?? sudo()}mv -T ${q} ${shellQuote(`${file}.bak`)}`,
      ),
    ];
  const findings: Finding[] = [];
  const mine = st.uid === process.getuid?.();
  if (st.uid !== rules.owner) {
    findings.push(
      fail(
        `${rules.what} ${file} is owned by ${await userName(st.uid)}, not by ${await userName(rules.owner)}`,
        `${sudo()}chown -h ${await chownName(rules.owner)} ${q}`,
      ),
    );
  }
  const mode = st.mode & 0o7777;
  const bad = mode & rules.forbidden;
  // chmod follows a link: in another account's folder it runs as that account (which owns the file once chowned).
  const chmod = `${as ?? (mine || rules.owner === process.getuid?.() ? "" : sudo())}chmod ${octal(rules.mode).slice(1)} ${q}`;
  if (bad !== 0) {
    const can = [bad & 0o044 ? "read" : "", bad & 0o022 ? "write" : "", bad & 0o011 ? "enter" : ""]
      .filter((w) => w !== "")
      .join(" and ");
    findings.push(fail(`${rules.what} ${file} has mode ${octal(mode)}: group or others can ${can} it`, chmod));
  } else if ((mode & ~rules.mode) !== 0) {
    findings.push(
      warn(`${rules.what} ${file} has mode ${octal(mode)}, looser than the documented ${octal(rules.mode)}`, chmod),
    );
  }
  if (findings.length === 0) findings.push(ok(`${rules.what} ${file} (${await userName(st.uid)}, ${octal(mode)})`));
  return findings;
}

/**
 * Returns the prefix that runs a command as the account owning the folder of `file` (`runuser -u NAME -- ` as root,
 * `sudo -u NAME ` otherwise), or undefined when that folder is root's or this process's own (or cannot be examined).
 */
async function folderAccount(file: string): Promise<string | undefined> {
  let st;
  try {
    st = await fs.lstat(path.dirname(file));
  } catch {
    return undefined;
  }
  const me = process.getuid?.();
  if (st.uid === 0 || st.uid === me) return undefined;
  const name = await plainName(st.uid);
  if (me !== 0) return `sudo -u ${name ?? `'#${st.uid}'`} `;
  return name !== undefined
    ? `runuser -u ${name} -- `
    : `setpriv --reuid=${st.uid} --regid=${st.gid} --clear-groups -- `;
}

// The path a link leads to (every link on the way resolved), or what it names when that does not exist.
async function linkTarget(link: string): Promise<string> {
  try {
    return await fs.realpath(link);
  } catch {
    return path.resolve(path.dirname(link), await fs.readlink(link).catch(() => ""));
  }
}

/** Returns the uid owning `file` (not followed), or undefined when it cannot be examined. Never throws. */
export async function ownerOf(file: string): Promise<number | undefined> {
  try {
    return (await fs.lstat(file)).uid;
  } catch {
    return undefined;
  }
}

/** Returns `name (uid N)` for a uid, or `uid N` when it has no name (or the lookup fails). Never throws. */
export async function userName(uid: number): Promise<string> {
  const name = await nameOf(uid);
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`;
}

async function chownName(uid: number): Promise<string> {
  return (await plainName(uid)) ?? String(uid);
}

// The user name of `uid` when it needs no quoting in a command, else undefined.
async function plainName(uid: number): Promise<string | undefined> {
  const name = await nameOf(uid);
  return name !== undefined && /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) ? name : undefined;
}

async function nameOf(uid: number): Promise<string | undefined> {
  try {
    if (uid === process.getuid?.()) return os.userInfo().username;
    const { lookupUser } = await import("../system/users.js");
    return lookupUser(uid).user;
  } catch {
    return undefined;
  }
}
