// The agent's socket server: framing, limits and one caller identity per connection.
// Rules: any bytes a client sends end in an answer or a dropped connection, never a crash; the caller is who the
// kernel says connected; answers go only to the connection that asked.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import { AccessError, FailureError, SecretfileError, UsageError } from "../errors.js";
import { identify, type IdentifiedCaller } from "./caller.js";
import { handle, type AgentContext } from "./handle.js";
import { errorAnswer, MAX_REQUEST_BYTES, parseRequest, type Answer, type ErrorAnswer } from "./protocol.js";

/** The limits that keep one client from hurting the others. */
export interface Limits {
  /** Largest request line, bytes. */
  maxRequestBytes: number;
  /** A connection silent this long (or with a request unfinished this long) is dropped, ms. */
  idleMs: number;
  /** Connections open at once, all callers together. */
  maxConnections: number;
  /** Connections open at once for one uid. */
  maxConnectionsPerUid: number;
}

/** Defaults sized for hundreds of jobs starting in the same second. */
export const DEFAULT_LIMITS: Limits = { maxRequestBytes: MAX_REQUEST_BYTES, idleMs: 10_000, maxConnections: 4096, maxConnectionsPerUid: 1024 };

/** Where to listen: a socket path, or a file descriptor handed over by systemd. */
export type Listen = { path: string } | { fd: number };

/** A running agent. */
export interface RunningAgent {
  server: net.Server;
  close(): Promise<void>;
}

/**
 * Starts serving `ctx` on `listen`. Throws FailureError when the socket is in use or cannot be made,
 * AccessError when something other than a socket sits at its path.
 */
export async function serve(listen: Listen, ctx: AgentContext, limits: Limits, log: (msg: string) => void): Promise<RunningAgent> {
  const perUid = new Map<number, number>();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
    let caller: IdentifiedCaller;
    try {
      caller = identify(socket);
    } catch (err) {
      log(`dropped a connection: cannot read its peer credentials (${String(err)})`);
      socket.destroy();
      return;
    }
    const open = (perUid.get(caller.uid) ?? 0) + 1;
    perUid.set(caller.uid, open);
    socket.once("close", () => {
      const left = (perUid.get(caller.uid) ?? 1) - 1;
      if (left <= 0) perUid.delete(caller.uid);
      else perUid.set(caller.uid, left);
    });
    if (open > limits.maxConnectionsPerUid) {
      reply(socket, errorAnswer(new FailureError(`too many connections from uid ${caller.uid}`, { hint: "retry shortly" })));
      socket.end();
      return;
    }
    serveConnection(socket, caller, ctx, limits, log);
  });
  server.maxConnections = limits.maxConnections;
  server.on("drop", () => log("dropped a connection: too many at once"));
  if ("path" in listen) await clearStaleSocket(listen.path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new FailureError(`cannot listen on ${"path" in listen ? listen.path : `fd ${listen.fd}`}: ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen("path" in listen ? { path: listen.path } : { fd: listen.fd }, () => resolve());
  });
  // The socket admits everyone; the policy decides what each caller gets.
  if ("path" in listen) chmodSync(listen.path, 0o666);
  server.on("error", (err) => log(`socket error: ${String(err)}`));
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
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

function serveConnection(socket: net.Socket, caller: IdentifiedCaller, ctx: AgentContext, limits: Limits, log: (msg: string) => void): void {
  let pending: Buffer[] = [];
  let size = 0;
  let busy = false;
  let ended = false;
  const lines: string[] = [];
  // Idle connections are dropped, and so is a request that trickles in for longer than the same time.
  socket.setTimeout(limits.idleMs, () => socket.destroy());
  let deadline: NodeJS.Timeout | undefined;
  socket.once("close", () => clearTimeout(deadline));
  socket.on("error", () => socket.destroy());

  const pump = async () => {
    if (busy) return;
    busy = true;
    while (lines.length > 0 && !socket.destroyed) {
      const line = lines.shift()!;
      let answer: Answer | ErrorAnswer;
      try {
        answer = await handle(parseRequest(line), caller, ctx);
      } catch (err) {
        if (!(err instanceof SecretfileError)) log(`request failed: ${err instanceof Error ? err.name : typeof err}`);
        answer = errorAnswer(err);
      }
      if (!socket.destroyed) reply(socket, answer);
    }
    busy = false;
    if (ended && !socket.destroyed) socket.end();
  };

  socket.on("data", (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      pending.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(pending).toString("utf8"));
      pending = [];
      size = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      size += chunk.length - start;
    }
    if (size === 0) {
      clearTimeout(deadline);
      deadline = undefined;
    } else {
      deadline ??= setTimeout(() => socket.destroy(), limits.idleMs);
    }
    if (size > limits.maxRequestBytes) {
      reply(socket, errorAnswer(new UsageError(`request larger than ${limits.maxRequestBytes} bytes`)));
      socket.end();
      socket.destroySoon();
      pending = [];
      lines.length = 0;
      return;
    }
    if (lines.length > 64) {
      reply(socket, errorAnswer(new UsageError("too many requests queued on one connection")));
      socket.destroy();
      return;
    }
    void pump();
  });
  socket.on("end", () => {
    // A last request without its newline, followed by a half-close, is still a request.
    if (size > 0) {
      lines.push(Buffer.concat(pending).toString("utf8"));
      pending = [];
      size = 0;
      clearTimeout(deadline);
    }
    ended = true;
    if (lines.length > 0) void pump();
    else if (!busy) socket.end();
  });
}

function reply(socket: net.Socket, answer: Answer | ErrorAnswer): void {
  socket.write(`${JSON.stringify(answer)}\n`);
}

/** Removes a socket file left by an agent that died; refuses anything that is not a socket, or a live agent's socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new AccessError(`refusing to replace ${path}: it is not a socket`, { hint: "move it aside; the agent creates its socket there" });
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) {
    throw new FailureError(`another agent is already listening on ${path}`, { hint: "stop it first (`systemctl stop secretfile`), or use another --socket" });
  }
  unlinkSync(path);
}
