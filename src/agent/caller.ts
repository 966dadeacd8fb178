// Who is calling: the kernel's peer credentials, the user database, and what /proc says of the process.
// Rules: identity comes only from SO_PEERCRED, never from anything the client sends; /proc details are for the audit log only.

import { closeSync, constants, openSync, readlinkSync, readSync } from "node:fs";
import type { Caller } from "../policy/evaluate.js";
import type { PeerCred } from "../system/peercred.js";
import { lookupUser } from "../system/users.js";

/** A caller with what the audit log records about its process. */
export interface IdentifiedCaller extends Caller {
  pid: number;
  program: string | undefined;
  cmdline: string | undefined;
}

const USER_CACHE_MS = 10_000;
const userCache = new Map<string, { at: number; caller: Caller }>();

/** Completes the kernel's credentials with the user database and /proc (the costly part, done once a connection is admitted). */
export function describeCaller(cred: PeerCred): IdentifiedCaller {
  return { ...resolveUser(cred.uid, cred.gid), pid: cred.pid, ...processInfo(cred.pid) };
}

function resolveUser(uid: number, gid: number): Caller {
  const key = `${uid}:${gid}`;
  const hit = userCache.get(key);
  if (hit !== undefined && Date.now() - hit.at < USER_CACHE_MS) return hit.caller;
  const info = lookupUser(uid, gid);
  const caller: Caller = { uid, gid, user: info.user, groups: info.groups };
  if (userCache.size > 10_000) userCache.clear();
  userCache.set(key, { at: Date.now(), caller });
  return caller;
}

/** The longest command line kept in the audit log, in characters. */
const MAX_CMDLINE = 1024;
/** Enough bytes for MAX_CMDLINE characters of UTF-8; reused, as the agent reads one process at a time. */
const procBuffer = Buffer.alloc(MAX_CMDLINE * 4);

function processInfo(pid: number): { program: string | undefined; cmdline: string | undefined } {
  let program: string | undefined;
  try {
    program = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // Only readable for our own uid (or with CAP_SYS_PTRACE): the comm name stands in.
    const comm = readProc(pid, "comm");
    program = comm === undefined ? undefined : `(${comm.trim()})`;
  }
  const cmdline = readProc(pid, "cmdline")?.replace(/\0+$/, "").replaceAll("\0", " ").slice(0, MAX_CMDLINE);
  return { program, cmdline };
}

/** Returns the start of /proc/PID/FILE as text (one read: open, read, close), or undefined when it cannot be read. */
function readProc(pid: number, file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/${file}`, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    return procBuffer.toString("utf8", 0, readSync(fd, procBuffer, 0, procBuffer.length, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
