// The agent's socket server: framing, limits and one caller identity per connection.
// Rules: any bytes a client sends end in an answer or a dropped connection, never a crash; the caller is who the
// kernel says connected; answers go only to the connection that asked; one uid's connections and requests are
// limited (per-uid count and token bucket) so it cannot starve the others; request and answer bytes are zeroed
// once used.

import { unlinkSync } from "node:fs";
import type net from "node:net";
import path from "node:path";
import { FailureError, SecretfileError, UsageError } from "../errors.js";
import { describeCaller, type IdentifiedCaller } from "./caller.js";
import type { ProcReader } from "./proc-reader.js";
import { handle, type AgentContext } from "./handle.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { listenAll, type Listen } from "./listeners.js";
import { peerCredentials, requireUnixSocket, type PeerCred } from "../system/peercred.js";
import { busyAnswer, errorAnswer, parseRequest, type Answer, type ErrorAnswer } from "../protocol/wire.js";
import { UidRates } from "./rate.js";
import { checkSocketFolder, clearStaleSocket } from "./socket-path.js";

export { DEFAULT_LIMITS, type Limits };

/** Requests queued on one connection past which it is dropped. */
const MAX_QUEUED = 64;
/** Connections the kernel holds for the agent before it accepts them (capped by net.core.somaxconn): a cron minute's worth. */
const BACKLOG = 4096;
/** The least time a uid over its rate waits: its refused connection is answered after it, its connection rests for it. */
const BUSY_PAUSE_MS = 100;

export type { Listen };

/** A running agent. */
export interface RunningAgent {
  server: net.Server;
  close(): Promise<void>;
}

/**
 * Starts serving `ctx` on `listen`. Throws FailureError when the socket is in use or cannot be made,
 * AccessError when something other than a socket sits at its path or its folder is unsafe.
 */
export async function serve(
  listen: Listen,
  ctx: AgentContext,
  limits: Limits,
  log: (msg: string) => void,
  procs?: ProcReader,
): Promise<RunningAgent> {
  const perUid = new Map<number, number>();
  const rates = new UidRates(limits.ratePerUid, limits.burstPerUid);
  const onConnection = (socket: net.Socket) => {
    // The kernel's word first (cheap); the user database and /proc only for a connection that is admitted.
    let cred: PeerCred;
    try {
      cred = peerCredentials(socket, true);
    } catch (err) {
      log(`dropped a connection: cannot read its peer credentials (${String(err)})`);
      socket.destroy();
      return;
    }
    const open = (perUid.get(cred.uid) ?? 0) + 1;
    perUid.set(cred.uid, open);
    socket.once("close", () => {
      const left = (perUid.get(cred.uid) ?? 1) - 1;
      if (left <= 0) perUid.delete(cred.uid);
      else perUid.set(cred.uid, left);
    });
    socket.on("error", () => socket.destroy());
    if (open > limits.maxConnectionsPerUid) {
      reply(socket, busyAnswer(`too many connections at once from uid ${cred.uid}`, BUSY_PAUSE_MS));
      refuse(socket);
      return;
    }
    // A connection takes one token and may carry one request on it; each further request takes another.
    const wait = rates.take(cred.uid);
    if (wait > 0) {
      // Answered only after a pause: a uid that reconnects in a loop then costs the agent little, and holds one of
      // its own connections (capped per uid) while it waits.
      const pause = Math.max(wait, BUSY_PAUSE_MS);
      const timer = setTimeout(() => {
        reply(socket, busyAnswer(`too many requests from uid ${cred.uid}`, pause));
        refuse(socket);
      }, pause);
      socket.once("close", () => clearTimeout(timer));
      socket.resume(); // read and discard what it sends meanwhile
      return;
    }
    let caller: IdentifiedCaller;
    try {
      caller = describeCaller(cred);
    } catch (err) {
      log(`dropped a connection: cannot identify uid ${cred.uid} (${err instanceof Error ? err.name : typeof err})`);
      socket.destroy();
      return;
    }
    serveConnection(socket, caller, ctx, limits, rates, log, procs);
  };
  if ("path" in listen) {
    checkSocketFolder(path.dirname(listen.path));
    await clearStaleSocket(listen.path);
  } else {
    // Checked once here, so that each connection accepted from it needs only SO_PEERCRED.
    try {
      requireUnixSocket(listen.fd, `cannot serve on the socket systemd passed (fd ${listen.fd})`);
    } catch (err) {
      throw new FailureError((err as Error).message, {
        hint: "its socket unit must listen on a path: ListenStream=/run/secretfile/agent.sock",
        cause: err,
      });
    }
  }
  const listeners = await listenAll(listen, {
    backlog: BACKLOG,
    // The socket admits everyone; the policy decides what each caller gets. (Its folder admits no one else's files.)
    mode: 0o666,
    maxConnections: limits.maxConnections,
    onConnection,
    onDrop: () => log("dropped a connection: too many at once"),
    onError: (err) => log(`socket error: ${String(err)}`),
  });
  const { server } = listeners;
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        void listeners.close().then(resolve);
        if ("path" in listen) {
          try {
            unlinkSync(listen.path);
          } catch {
            // already gone
          }
        }
      }),
  };
}

function serveConnection(
  socket: net.Socket,
  caller: IdentifiedCaller,
  ctx: AgentContext,
  limits: Limits,
  rates: UidRates,
  log: (msg: string) => void,
  procs: ProcReader | undefined,
): void {
  // The caller's /proc is read once, off this thread (src/agent/proc-reader.ts), from the moment its connection is
  // admitted, so that the read goes on while its request comes in; its first audited request waits for it.
  let described = procs === undefined;
  const reading = procs?.read(caller.pid, caller.uid);
  const describe = async () => {
    const info = await reading!;
    caller.program = info.program;
    caller.cmdline = info.cmdline;
    described = true;
  };
  let pending: Buffer[] = [];
  let size = 0;
  let busy = false;
  let ended = false;
  let paid = 1; // the connection's token pays for its first request
  const lines: string[] = [];
  // Idle connections are dropped, and so is a request that trickles in for longer than the same time. The idle clock
  // does not count while the agent works (a slow write, a large store, a busy disk is answered, not dropped): a
  // timeout that comes then starts the clock again, rather than stopping and restarting it for every request.
  socket.setTimeout(limits.idleMs);
  socket.on("timeout", () => {
    if (busy) socket.setTimeout(limits.idleMs);
    else socket.destroy();
  });
  // Made only for a request that arrives in pieces: the common one-chunk request needs no timer and no listener.
  let deadline: NodeJS.Timeout | undefined;
  let watched = false;
  const startDeadline = () => {
    deadline = setTimeout(() => socket.destroy(), limits.idleMs);
    if (watched) return;
    watched = true;
    socket.once("close", () => clearTimeout(deadline));
  };

  const pump = async () => {
    if (busy) return;
    busy = true;
    while (lines.length > 0 && !socket.destroyed) {
      const line = lines.shift()!;
      // Over its audit budget, a uid waits as it does over its rate: nothing of it is handled, so nothing is logged.
      const overRate = paid > 0 ? 0 : rates.take(caller.uid);
      const wait = Math.max(overRate, ctx.audit.budget?.wait(caller.uid) ?? 0);
      if (paid > 0) paid--;
      if (wait > 0) {
        // Refused, and then this connection rests: nothing more is read or answered on it for a while, so a flood
        // waits in its own socket buffer instead of making the agent spin on refusals.
        const pause = Math.max(wait, BUSY_PAUSE_MS);
        reply(
          socket,
          busyAnswer(`too many ${overRate > 0 ? "requests" : "audit log bytes"} from uid ${caller.uid}`, pause),
        );
        socket.pause();
        await new Promise((resolve) => setTimeout(resolve, pause));
        // The socket can close during the await; TS keeps the narrowing of the loop's condition.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
        if (!socket.destroyed) socket.resume();
        continue;
      }
      let answer: Answer | ErrorAnswer;
      try {
        const req = parseRequest(line);
        if (!described && req.op !== "ping") await describe();
        answer = await handle(req, caller, ctx);
      } catch (err) {
        if (!(err instanceof SecretfileError)) log(`request failed: ${err instanceof Error ? err.name : typeof err}`);
        answer = errorAnswer(err);
      }
      // The socket can close while handle() awaits; TS keeps the narrowing of the loop's condition.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
      if (!socket.destroyed) reply(socket, answer);
    }
    busy = false;
    if (ended && !socket.destroyed) finish(socket);
  };

  /** Joins the pieces of one line, and zeroes them: a line may hold a value (`add`). */
  const takeLine = (): string => {
    const whole = Buffer.concat(pending);
    const line = whole.toString("utf8");
    whole.fill(0);
    for (const p of pending) p.fill(0);
    pending = [];
    size = 0;
    return line;
  };

  socket.on("data", (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      // A whole line in this chunk (the usual request) is decoded where it lies; one begun in an earlier chunk is joined.
      if (pending.length === 0) lines.push(chunk.toString("utf8", start, nl));
      else {
        pending.push(Buffer.from(chunk.subarray(start, nl)));
        lines.push(takeLine());
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      // A copy past the limit is not worth making: the connection is about to be refused.
      if (size + chunk.length - start <= limits.maxRequestBytes) pending.push(Buffer.from(chunk.subarray(start)));
      size += chunk.length - start;
    }
    chunk.fill(0);
    if (size === 0) {
      clearTimeout(deadline);
      deadline = undefined;
    } else if (deadline === undefined) {
      startDeadline();
    }
    if (size > limits.maxRequestBytes) {
      reply(socket, errorAnswer(new UsageError(`request larger than ${limits.maxRequestBytes} bytes`)));
      socket.end();
      socket.destroySoon();
      for (const p of pending) p.fill(0);
      pending = [];
      lines.length = 0;
      return;
    }
    if (lines.length > MAX_QUEUED) {
      reply(socket, errorAnswer(new UsageError("too many requests queued on one connection")));
      socket.destroy(); // the refusal went out in the write above, if the socket had room for it
      return;
    }
    void pump();
  });
  socket.on("end", () => {
    // A last request without its newline, followed by a half-close, is still a request.
    if (size > 0 && size <= limits.maxRequestBytes) {
      lines.push(takeLine());
      clearTimeout(deadline);
    }
    ended = true;
    if (lines.length > 0) void pump();
    else if (!busy) finish(socket);
  });
}

/**
 * Closes a connection the client has half-closed and that has every answer: once the kernel holds them all, a close
 * delivers them as well as a shutdown would, with one system call and one callback fewer; otherwise it ends it.
 */
function finish(socket: net.Socket): void {
  if (socket.writableLength === 0) socket.destroy();
  else socket.end();
}

/**
 * Ends a refused connection: what the client sent is read and discarded (a socket nobody reads never sees the
 * client's end, and would stay open, counted against every uid's room), and it is destroyed if still open in 1 s.
 */
function refuse(socket: net.Socket): void {
  socket.end();
  socket.resume();
  socket.setTimeout(1_000, () => socket.destroy());
}

/**
 * Writes one answer line; its bytes (which may hold values) are zeroed once the kernel has them. Written at once: a
 * connection's answers come one per handled request, each after its own audit write, so there is nothing to gather.
 */
function reply(socket: net.Socket, answer: Answer | ErrorAnswer): void {
  const bytes = Buffer.from(`${JSON.stringify(answer)}\n`);
  socket.write(bytes, () => bytes.fill(0));
}
