// Whom the client trusts to hold the agent's socket before it sends values: root, or the owner of the socket's folder.
// Rules: the uid comes from the kernel (SO_PEERCRED on the connected socket, checked in native/request.c or through
// src/system/peercred.ts); a request that holds values is never written to any other listener.

import { statSync } from "node:fs";
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
    { hint: `another program may be posing as the agent: check who listens there (\`ss -xlp | grep ${path.basename(socket)}\`) and use the system agent's socket` },
  );
}

