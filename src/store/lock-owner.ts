// Who holds a store's lock: a record inside the lock folder, so a lock whose holder died on this host is known at once.
// Rules: a holder is declared dead only on the same boot and pid namespace, when its pid is gone, a zombie or reused;
// anything unknown (another host, no /proc, an unreadable or half-written record) counts as alive.

import crypto from "node:crypto";
import { constants, lstatSync, openSync, readFileSync, unlinkSync, writeSync, closeSync, readlinkSync } from "node:fs";
import path from "node:path";
import { errnoOf } from "../system/errno.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = constants;

/** The name of the record inside the lock folder. */
export const OWNER_FILE = "owner";

/** What a holder writes about itself: its pid and what tells this process apart from a later one with the same pid. */
export interface OwnerRecord {
  v: 1;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat, field 22); null without /proc. */
  start: string | null;
  /** The kernel's boot id; null without /proc. */
  boot: string | null;
  /** The pid namespace, e.g. "pid:[4026531836]"; null without /proc. */
  pidns: string | null;
  /** Unique to this acquisition. */
  token: string;
}

/** This process as a lock holder, minus the token (computed once). */
let self: Omit<OwnerRecord, "token"> | undefined;

function whoAmI(): Omit<OwnerRecord, "token"> {
  self ??= {
    v: 1,
    pid: process.pid,
    start: procStat(process.pid)?.start ?? null,
    boot: readOr("/proc/sys/kernel/random/boot_id"),
    pidns: linkOr("/proc/self/ns/pid"),
  };
  return self;
}

/** Returns a new record of this process for one acquisition (made before the lock folder, to write it at once). */
export function newOwner(): OwnerRecord {
  return { ...whoAmI(), token: crypto.randomBytes(8).toString("hex") };
}

/**
 * Writes `record` into the lock folder `lockDir` this process has just made; returns it, or undefined when it could
 * not be written (then only the lock's age tells others it is stale). Never throws.
 */
export function writeOwner(lockDir: string, record: OwnerRecord): OwnerRecord | undefined {
  const file = path.join(lockDir, OWNER_FILE);
  let fd: number | undefined;
  try {
    // One write of a few dozen bytes: a reader sees nothing, or the whole line (a short file counts as unknown).
    fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    writeSync(fd, `${JSON.stringify(record)}\n`);
    return record;
  } catch {
    if (fd !== undefined) unlinkQuiet(file);
    return undefined;
  } finally {
    if (fd !== undefined) closeQuiet(fd);
  }
}

/** Returns the record in the lock folder `lockDir`, or undefined when there is none or it is unreadable. Never throws. */
export function readOwner(lockDir: string): OwnerRecord | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path.join(lockDir, OWNER_FILE), O_RDONLY | O_NOFOLLOW);
    const text = readFileSync(fd, "utf8");
    if (!text.endsWith("\n") || text.length > 1024) return undefined;
    const r = JSON.parse(text) as Partial<OwnerRecord>;
    if (r.v !== 1 || !Number.isInteger(r.pid) || (r.pid ?? 0) <= 0 || typeof r.token !== "string") return undefined;
    return r as OwnerRecord;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeQuiet(fd);
  }
}

/** Removes this process's record from `lockDir` if it is still the one written (before the folder is removed). */
export function removeOwner(lockDir: string, mine: OwnerRecord | undefined): void {
  if (mine === undefined) return;
  if (readOwner(lockDir)?.token === mine.token) unlinkQuiet(path.join(lockDir, OWNER_FILE));
}

/**
 * Returns true when the process that wrote `record` is certainly gone: same boot and pid namespace as this process,
 * and its pid no longer exists, is a zombie, or now belongs to a process started at another time.
 */
export function holderIsDead(record: OwnerRecord): boolean {
  const me = whoAmI();
  if (me.boot === null || me.pidns === null || record.boot !== me.boot || record.pidns !== me.pidns) return false;
  if (record.pid === me.pid) return record.start !== me.start;
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if (errnoOf(err) === "ESRCH") return true;
    if (errnoOf(err) !== "EPERM") return false;
  }
  const now = procStat(record.pid);
  if (now === undefined) return false;
  return now.state === "Z" || now.state === "X" || (record.start !== null && now.start !== record.start);
}

/** Returns true when `lockDir` is still the folder holding `mine` (same inode, same record). Never throws. */
export function stillHeld(lockDir: string, ino: number | undefined, mine: OwnerRecord | undefined): boolean {
  try {
    if (ino !== undefined && lstatSync(lockDir).ino !== ino) return false;
  } catch {
    return false;
  }
  return mine === undefined || readOwner(lockDir)?.token === mine.token;
}

/** The state and start time of a process, from /proc/PID/stat; undefined when unreadable. */
function procStat(pid: number): { state: string; start: string } | undefined {
  const text = readOr(`/proc/${pid}/stat`);
  if (text === null) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces or parentheses: count from the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const start = fields[19];
  return state === undefined || start === undefined ? undefined : { state, start };
}

function readOr(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function linkOr(file: string): string | null {
  try {
    return readlinkSync(file);
  } catch {
    return null;
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone already, or not ours to remove
  }
}

function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing to do
  }
}
