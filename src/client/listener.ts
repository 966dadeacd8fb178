// Whom the client trusts to hold the agent's socket before it sends values: root, or the owner of the socket's folder.
// Rules: the uid comes from the kernel (SO_PEERCRED, checked in native/request.c; on plain Node the socket file's owner,
// the same inode before and after connecting); a request that holds values is never written to any other listener.

import { lstatSync, statSync } from "node:fs";
import path from "node:path";
import { AgentUnreachableError } from "../errors.js";
import type { Request } from "../protocol/wire.js";

/** Returns true for a request that holds values (add, import): it goes only to a trusted listener. */
export function carriesValues(request: Request): boolean {
  return request.op === "add" || request.op === "import";
}

/**
 * Returns the uids that may hold the agent's socket: root, and the owner of the socket's folder (the service account,
 * or root for systemd's socket). Never throws: a folder that cannot be examined leaves root alone.
 */
export function trustedOwners(socket: string): number[] {
  try {
    const owner = statSync(path.dirname(path.resolve(socket))).uid;
    return owner === 0 ? [0] : [0, owner];
  } catch {
    return [0];
  }
}

/** The error for a listener of an untrusted uid: exit 6, naming the uid found; nothing was sent. */
export function impostor(socket: string, uid: number, owners: number[]): AgentUnreachableError {
  const folder = owners.find((u) => u !== 0);
  return new AgentUnreachableError(
    `refusing to send values to ${socket}: it is held by uid ${uid}, not by root${folder === undefined ? "" : ` or the owner of its folder (uid ${folder})`}; nothing was sent`,
    {
      hint: `another program may be posing as the agent: check who listens there (\`ss -xlp | grep ${path.basename(socket)}\`) and use the system agent's socket`,
    },
  );
}

/**
 * Plain Node's stand-in for SO_PEERCRED (it has no getsockopt): the uid that owns the socket file, which is the uid that
 * bound it, and its inode, to compare before and after connecting; undefined when it cannot be examined or is not a
 * socket. Weaker than SO_PEERCRED only in a folder others may write without the sticky bit (docs/native.md).
 */
export function socketFileHolder(socket: string): { uid: number; inode: string } | undefined {
  try {
    const st = lstatSync(socket);
    return st.isSocket() ? { uid: st.uid, inode: `${st.dev}:${st.ino}` } : undefined;
  } catch {
    return undefined;
  }
}
