// Who is calling: the kernel's peer credentials, the user database, and what /proc says of the process.
// Rules: identity comes only from SO_PEERCRED, never from anything the client sends; /proc details are for the audit log only.

import { readFileSync, readlinkSync } from "node:fs";
import type net from "node:net";
import type { Caller } from "../policy/evaluate.js";
import { peerCredentials, type PeerCred } from "./peercred.js";
import { lookupUser } from "./users.js";

/** A caller with what the audit log records about its process. */
export interface IdentifiedCaller extends Caller {
  pid: number;
  program: string | undefined;
  cmdline: string | undefined;
}

const USER_CACHE_MS = 10_000;
const userCache = new Map<string, { at: number; caller: Caller }>();

/** Identifies the process at the other end of `socket`. Throws FailureError if the kernel cannot say. */
export function identify(socket: net.Socket): IdentifiedCaller {
  return describeCaller(peerCredentials(socket));
}

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

function processInfo(pid: number): { program: string | undefined; cmdline: string | undefined } {
  let program: string | undefined;
  let cmdline: string | undefined;
  try {
    program = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // Only readable for our own uid (or with CAP_SYS_PTRACE): the comm name stands in.
    try {
      program = `(${readFileSync(`/proc/${pid}/comm`, "utf8").trim()})`;
    } catch {
      program = undefined;
    }
  }
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").split("\0").join(" ").slice(0, 1024);
  } catch {
    cmdline = undefined;
  }
  return { program, cmdline };
}
