// What an existing account already does on the host: the processes it runs, the files it owns where daemons keep
// theirs, the files a package's stat overrides give it. An account that does any of it is another daemon's.
// Rules: only examined (lstat, readdir, readlink of /proc/PID/exe, /proc/PID/status), never opened through a link
// and never a process's memory (no cmdline); the agent's own processes and the folders setup makes are not counted.

import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";

/** Where to look, so tests can point it elsewhere. */
export interface UseFiles {
  proc: string;
  /** dpkg's stat overrides (`owner group mode path` a line). */
  statOverride: string;
  /** Folders scanned two levels deep for entries the account owns. */
  daemonFolders: string[];
}

/** The real host's. */
export const USE_FILES: UseFiles = {
  proc: "/proc",
  statOverride: "/var/lib/dpkg/statoverride",
  daemonFolders: ["/etc", "/var/lib", "/var/cache", "/var/log", "/var/spool", "/run", "/srv", "/opt", "/home"],
};

/** The account, and what of it is the agent's own. */
export interface AccountUse {
  name: string;
  uid: number;
  /** Its primary group's name, when it has one. */
  group: string | undefined;
  /** The node the agent runs (its real path): processes of it are the agent's. */
  agentNode: string;
  /** The folders setup makes for the agent (state, audit, socket): entries in them are setup's. */
  ownFolders: string[];
}

/** Returns what gives `account` a use on the host already, one short phrase each, or [] for none. Never throws. */
export function accountUse(account: AccountUse, files: UseFiles = USE_FILES): string[] {
  const problems: string[] = [];
  const procs = processesOf(account.uid, account.agentNode, files.proc);
  if (procs.length > 0) problems.push(`running processes (${some(procs)})`);
  const owned = ownedEntries(account.uid, files.daemonFolders, account.ownFolders);
  if (owned.length > 0) problems.push(`files of its own (${some(owned)})`);
  const given = statOverrides(files.statOverride, account.name, account.group);
  if (given.length > 0) problems.push(`files a package gives it (${files.statOverride}: ${some(given)})`);
  return problems;
}

// The first three of `items`, and how many more.
function some(items: string[]): string {
  const more = items.length > 3 ? `, and ${items.length - 3} more` : "";
  return items.slice(0, 3).join(", ") + more;
}

// `pid NAME` of each running process of this root whose real, effective, saved or file-system uid is `uid`, but the
// agent's own.
function processesOf(uid: number, agentNode: string, proc: string): string[] {
  const found: string[] = [];
  const root = target(path.join(proc, "self", "root"));
  for (const pid of list(proc).filter((e) => /^\d+$/.test(e))) {
    const status = read(path.join(proc, pid, "status"));
    const uids = /^Uid:\s+(.*)$/m
      .exec(status ?? "")?.[1]
      ?.split(/\s+/)
      .map(Number);
    if (uids === undefined || !uids.includes(uid)) continue;
    // A zombie has ended: it runs nothing (an init that reaps late leaves the agent's own for a while).
    if (/^State:\s+[ZX]/m.test(status ?? "")) continue;
    // A process chrooted elsewhere (a container's, a build root's) is that root's user of the number, not this name's.
    if (target(path.join(proc, pid, "root")) !== root) continue;
    // An upgrade replaces the program under a running agent: the kernel then names it "PATH (deleted)".
    if (target(path.join(proc, pid, "exe"))?.replace(/ \(deleted\)$/, "") === agentNode) continue;
    const name = /^Name:\s+(.*)$/m.exec(status ?? "")?.[1] ?? "?";
    found.push(`pid ${pid} ${name}`);
  }
  return found;
}

// Entries of `folders` (and of their sub-folders) that `uid` owns, outside `skip` and what it holds.
function ownedEntries(uid: number, folders: string[], skip: string[]): string[] {
  const found: string[] = [];
  const inside = (p: string) => skip.some((s) => p === s || p.startsWith(`${s}/`));
  const walk = (dir: string, depth: number) => {
    for (const name of list(dir).sort()) {
      const p = path.join(dir, name);
      if (inside(p)) continue;
      const st = lstat(p);
      if (st === undefined) continue;
      if (st.uid === uid) found.push(p);
      else if (depth > 1 && st.isDirectory()) walk(p, depth - 1);
    }
  };
  for (const folder of folders) walk(folder, 2);
  return found;
}

// The paths dpkg's stat overrides give to the user `name` or the group `group`.
function statOverrides(file: string, name: string, group: string | undefined): string[] {
  const found: string[] = [];
  for (const line of (read(file) ?? "").split("\n")) {
    const [owner, grp, , p] = line.trim().split(/\s+/);
    if (p !== undefined && (owner === name || (group !== undefined && grp === group))) found.push(p);
  }
  return found;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function lstat(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

// The target of a /proc link (a program, a root folder), or undefined when it cannot be read.
function target(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}
