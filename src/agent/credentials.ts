// The agent as systemd's credential provider: `LoadCredential=ID:/run/secretfile/credentials.sock` in a unit.
// Rules: a connection counts only from uid 0 (systemd's helper for the unit; any process can bind any abstract name)
// and names its unit and credential ID only through its bound address; the policy's `read unit:GLOB` rules decide;
// a refusal must make the unit fail to start (an empty close would start it with an empty file: docs/systemd.md),
// so it is answered with more than systemd's credential size limit; every delivery and refusal is audited first.

import net from "node:net";
import path from "node:path";
import { decideUnit } from "../policy/evaluate.js";
import { getSecret } from "../store/operations.js";
import { CREDENTIALS_SOCKET } from "../system/paths.js";
import { localAddress, peerAddress } from "../system/sockaddr.js";
import { peerCredentials } from "../system/peercred.js";
import type { AgentContext } from "./handle.js";
import { describeCaller } from "./caller.js";

/** What a refused unit is sent: systemd 252 fails the unit (243/CREDENTIALS) past its limit, which is under 1 MiB. */
export const REFUSAL_BYTES = 1024 * 1024 + 1;
/** A connection that has not been answered by then is dropped. */
const DEADLINE_MS = 10_000;

let refusal: Buffer | undefined;
/** When a connection of each non-root uid was last logged. */
const dropped = new Map<number, number>();

/** The unit and credential ID systemd's bound address names, or undefined when it is not such an address. */
export interface CredentialPeer {
  unit: string;
  id: string;
}

// systemd 252 writes the random number with "%" PRIx64: 1 to 16 hex digits, not zero-padded.
const ADDRESS = /^\0[0-9a-f]{1,16}\/unit\/([^/\0]{1,256})\/([^/\0]{1,256})$/;

/** Returns the unit and ID of an address `\0<hex>/unit/<unit>/<ID>` (systemd 252's form), else undefined. */
export function parseCredentialPeer(address: string): CredentialPeer | undefined {
  const m = ADDRESS.exec(address);
  return m === null ? undefined : { unit: m[1]!, id: m[2]! };
}

/** Returns the listening descriptor among systemd's (LISTEN_FDS, from 3) bound to a path ending in CREDENTIALS_SOCKET. */
export function credentialsFd(env: NodeJS.ProcessEnv): number | undefined {
  if (env.LISTEN_FDS === undefined || Number(env.LISTEN_PID) !== process.pid) return undefined;
  for (let fd = 3; fd < 3 + Number(env.LISTEN_FDS); fd++) {
    try {
      if (path.basename(localAddress(fd)) === CREDENTIALS_SOCKET) return fd;
    } catch {
      // not a socket of ours
    }
  }
  return undefined;
}

/** Serves credential requests on the listening descriptor `fd`; resolves with a close function once listening. */
export async function serveCredentials(
  fd: number,
  ctx: AgentContext,
  log: (msg: string) => void,
): Promise<() => Promise<void>> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.setTimeout(DEADLINE_MS, () => socket.destroy());
    deliver(socket, ctx, log).catch((err: unknown) => {
      log(`credential request failed: ${err instanceof Error ? err.message : String(err)}`);
      refuse(socket);
    });
  });
  server.on("error", (err) => log(`credential socket error: ${String(err)}`));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ fd }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

async function deliver(socket: net.Socket, ctx: AgentContext, log: (msg: string) => void): Promise<void> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  const cred = peerCredentials(socket, true);
  if (cred.uid !== 0) {
    // Not systemd: dropped with nothing. Not audited line by line (any user can connect, and must not fill the log):
    // the journal says so, once a minute per uid.
    socket.destroy();
    const last = dropped.get(cred.uid) ?? 0;
    if (Date.now() - last > 60_000) {
      if (dropped.size > 1000) dropped.clear();
      dropped.set(cred.uid, Date.now());
      log(
        `credential socket: dropped a connection from uid ${cred.uid} (pid ${cred.pid}): only systemd (uid 0) asks for credentials`,
      );
    }
    return;
  }
  const caller = describeCaller(cred);
  const address = peerAddress(fd);
  const peer = parseCredentialPeer(address);
  const record = (allowed: boolean, reason: string, given: string[]) =>
    ctx.audit.record({
      op: "credential",
      uid: cred.uid,
      user: peer === undefined ? caller.user : `unit:${peer.unit}`,
      pid: cred.pid,
      program: caller.program,
      cmdline: caller.cmdline,
      names: peer === undefined ? [] : [peer.id],
      given,
      allowed,
      reason,
    });
  if (peer === undefined) {
    await record(
      false,
      `not a systemd credential request (its address ${JSON.stringify(address.slice(0, 300))} names no unit)`,
      [],
    );
    refuse(socket);
    return;
  }
  const now = await ctx.policy.current();
  if (!now.ok) {
    await record(false, `policy ${ctx.policy.file} is invalid`, []);
    refuse(socket);
    return;
  }
  const decision = decideUnit(now.policy, peer.unit, peer.id);
  if (!decision.allowed) {
    await record(false, decision.reason, []);
    refuse(socket);
    return;
  }
  let value: string;
  try {
    value = getSecret(await ctx.read(), peer.id, ctx.store.paths.store).value;
  } catch (err) {
    await record(false, `no secret named ${peer.id}`, []);
    throw err;
  }
  const time = await record(true, `unit ${peer.unit}: ${decision.reason}`, [peer.id]);
  ctx.lastRead.note([peer.id], { uid: 0, user: `unit:${peer.unit}` }, time);
  const bytes = Buffer.from(value, "utf8");
  socket.end(bytes, () => bytes.fill(0));
}

// More than systemd accepts, then the end: the unit fails to start at its CREDENTIALS step (docs/systemd.md).
function refuse(socket: net.Socket): void {
  if (socket.destroyed) return;
  refusal ??= Buffer.alloc(REFUSAL_BYTES);
  socket.end(refusal);
}
