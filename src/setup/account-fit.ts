// Whether an existing account may become the service account: it must have no other role on the host.
// Rules: a system uid (SYS_UID_MIN..SYS_UID_MAX of login.defs, default 100–999), no login shell, no home with content,
// no password, no supplementary group, no crontab; each finding is named, and nothing is changed here.

import { readdirSync, readFileSync, lstatSync } from "node:fs";
import path from "node:path";
import { FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { lookupUser } from "../system/users.js";

/** The shells that let no one log in. */
export const NO_LOGIN_SHELLS = ["/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"];

/** The host files the checks read; tests may point them elsewhere. */
export interface HostFiles {
  loginDefs: string;
  shadow: string;
  /** Folders where a user's crontab would be, named as the user (Debian's, then Red Hat's). */
  crontabs: string[];
}

/** The real host's files. */
export const HOST_FILES: HostFiles = {
  loginDefs: "/etc/login.defs",
  shadow: "/etc/shadow",
  crontabs: ["/var/spool/cron/crontabs", "/var/spool/cron"],
};

/** A user as the user database returns it. */
export interface ExistingUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/**
 * Returns what gives `user` another role than the service account's, one short phrase each ("the login shell
 * /bin/bash", "a crontab (/var/spool/cron/crontabs/x)"), or [] for an account fit for the agent alone. A home that is
 * `stateDir` may hold the state folder's own files (`ownState`). Throws FailureError when a host file cannot be read.
 */
export function accountProblems(
  user: ExistingUser,
  stateDir: string,
  ownState: (entry: string) => boolean,
  files: HostFiles = HOST_FILES,
): string[] {
  const problems: string[] = [];
  const [min, max] = systemUidRange(files.loginDefs);
  if (user.uid < min || user.uid > max)
    problems.push(
      `uid ${user.uid}, not a system account's (SYS_UID_MIN..SYS_UID_MAX of ${files.loginDefs}: ${min}–${max})`,
    );
  if (!NO_LOGIN_SHELLS.includes(user.shell)) problems.push(`the login shell ${user.shell || "/bin/sh (none set)"}`);
  const home = homeEntries(user.home, path.resolve(user.home) === path.resolve(stateDir) ? ownState : () => false);
  if (home > 0) problems.push(`a home with content (${user.home}: ${home} entr${home === 1 ? "y" : "ies"})`);
  const password = shadowPassword(files.shadow, user.name);
  if (password !== undefined && !LOCKED.includes(password)) {
    problems.push(
      password === "" ? `an empty password in ${files.shadow} (a login needs none)` : `a password in ${files.shadow}`,
    );
  }
  const extra = lookupUser(user.uid, user.gid).groups.filter((g) => g.gid !== user.gid);
  if (extra.length > 0) problems.push(`supplementary groups (${extra.map((g) => g.name ?? String(g.gid)).join(", ")})`);
  for (const dir of files.crontabs) {
    const tab = path.join(dir, user.name);
    if (exists(tab)) problems.push(`a crontab (${tab})`);
  }
  return problems;
}

// The password fields of an account no one can log in to with a password (useradd's `!`, `!!`, `*`).
const LOCKED = ["!", "!!", "*", "!*", "*LK*"];

/** Returns [SYS_UID_MIN, SYS_UID_MAX] from `loginDefs`, 100 and 999 where it sets none (or does not exist). */
export function systemUidRange(loginDefs: string): [number, number] {
  const text = readOptional(loginDefs) ?? "";
  const value = (key: string, fallback: number) => {
    const m = new RegExp(`^[ \\t]*${key}[ \\t]+([0-9]+)[ \\t]*$`, "m").exec(text);
    return m === null ? fallback : Number(m[1]);
  };
  return [value("SYS_UID_MIN", 100), value("SYS_UID_MAX", 999)];
}

// The password field of `name` in the shadow file, or undefined when it has no entry there (an NSS account, say).
function shadowPassword(shadow: string, name: string): string | undefined {
  const text = readOptional(shadow);
  if (text === undefined) return undefined;
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) return fields[1] ?? "";
  }
  return undefined;
}

// The number of entries in `home` that are not `own`; a home that is not a folder counts as one, a missing one as none.
function homeEntries(home: string, own: (entry: string) => boolean): number {
  if (home === "" || !exists(home)) return 0;
  try {
    return readdirSync(home).filter((e) => !own(e)).length;
  } catch (err) {
    if (errnoOf(err) === "ENOTDIR") return 1;
    throw new FailureError(`cannot list the home ${home}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw new FailureError(`cannot read ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") return false;
    throw new FailureError(`cannot inspect ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
}
