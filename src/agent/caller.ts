// Who is calling: the kernel's peer credentials and the user database (what /proc says of it: proc-reader.ts).
// Rules: identity comes only from SO_PEERCRED, never from anything the client sends; /proc details are for the audit
// log only, and are read off the agent's thread.

import type { AuditRecord } from "../audit/record.js";
import type { Caller } from "../policy/evaluate.js";
import type { PeerCred } from "../system/peercred.js";
import { lookupUser } from "../system/users.js";

/** A caller with what the audit log records about its process. */
export interface IdentifiedCaller extends Caller {
  pid: number;
  program: string | undefined;
  cmdline: string | undefined;
}

/** What an audit line says was decided, apart from who asked. */
export type Decision = Omit<AuditRecord, "uid" | "user" | "pid" | "program" | "cmdline">;

/** Returns the audit record of `decision` on a request of `caller`: who asked (kernel and /proc), then what was decided. */
export function recordOf(caller: IdentifiedCaller, decision: Decision): AuditRecord {
  const { op, ...rest } = decision;
  return {
    op,
    uid: caller.uid,
    user: caller.user,
    pid: caller.pid,
    program: caller.program,
    cmdline: caller.cmdline,
    ...rest,
  };
}

const USER_CACHE_MS = 10_000;
const userCache = new Map<string, { at: number; caller: Caller }>();

/**
 * Completes the kernel's credentials with the user database (done once a connection is admitted); `program` and
 * `cmdline` are left for the server to fill from /proc (ProcReader) before the first request that is audited.
 */
export function describeCaller(cred: PeerCred): IdentifiedCaller {
  return { ...resolveUser(cred.uid, cred.gid), pid: cred.pid, program: undefined, cmdline: undefined };
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
