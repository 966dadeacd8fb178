// The agent client: each operation is one request on a fresh connection to the agent's socket.
// Rules: no cryptography here (the agent holds the key); an unreachable agent is exit 6 with a hint; a request is sent
// again only when it cannot have been carried out (no connection was made, or the agent answered `busy`).

import net from "node:net";
import { AgentUnreachableError, FailureError, UsageError } from "../errors.js";
import { BUSY, errorFromAnswer, MAX_REQUEST_BYTES, type Answer, type ErrorAnswer, type Request } from "../protocol/wire.js";
import type { SecretInfo } from "../store/document.js";
import type { History, Rollback } from "../store/history.js";
import type { AddOptions, ImportResult } from "../store/operations.js";
import { errnoName, isNativeError, native, type Native } from "../system/native.js";
import type { Backend, SecretValues } from "./backend.js";

/** The largest answer read, in bytes (10,000 values of 64 KiB would not fit; a store that large is refused). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** The backend that asks the agent at `socket`. */
export class AgentBackend implements Backend {
  readonly socket: string;

  constructor(socket: string) {
    this.socket = socket;
  }

  async get(name: string): Promise<string> {
    return expect(await this.ask({ v: 1, op: "get", name }), "get").value;
  }

  async list(): Promise<SecretInfo[]> {
    return expect(await this.ask({ v: 1, op: "list" }), "list").secrets;
  }

  async values(names: string[] | undefined): Promise<SecretValues> {
    const answer = expect(await this.ask(names === undefined ? { v: 1, op: "values" } : { v: 1, op: "values", names }), "values");
    return { values: new Map(Object.entries(answer.values)), expiring: answer.expiring ?? {} };
  }

  async add(name: string, value: string, opts: AddOptions): Promise<void> {
    expect(await this.ask({ v: 1, op: "add", name, value, ...opts }), "add");
  }

  async remove(name: string): Promise<void> {
    expect(await this.ask({ v: 1, op: "rm", name }), "rm");
  }

  async history(name: string): Promise<History> {
    const { versions, keep } = expect(await this.ask({ v: 1, op: "history", name }), "history");
    return { versions, keep };
  }

  async rollback(name: string, to: number | undefined): Promise<Rollback> {
    const { restored, version } = expect(await this.ask({ v: 1, op: "rollback", name, to }), "rollback");
    return { restored, version };
  }

  async importSecrets(secrets: { name: string; value: string }[], replace: boolean): Promise<ImportResult> {
    const request: Request = { v: 1, op: "import", secrets, replace };
    const bytes = Buffer.byteLength(JSON.stringify(request));
    if (bytes >= MAX_REQUEST_BYTES) {
      throw new UsageError(`the import is ${bytes} bytes as one request, more than the agent takes (${MAX_REQUEST_BYTES})`, {
        hint: "split the file in smaller ones and import each (each import is all or nothing)",
      });
    }
    const { added, replaced } = expect(await this.ask(request), "import");
    return { added, replaced };
  }

  async historyKeep(keep: number | undefined): Promise<number> {
    return expect(await this.ask({ v: 1, op: "settings", historyKeep: keep }), "settings").historyKeep;
  }

  /** Returns the agent's answer to `ping`, for `doctor`. */
  async ping(): Promise<Answer> {
    return this.ask({ v: 1, op: "ping" }, false);
  }

  /**
   * Sends one request and resolves with its answer; throws the agent's error as a typed error. While nothing accepts
   * the connection (the agent restarting), tries again for up to `RESTART_WAIT_MS`; the request was not sent then.
   * While the agent answers `busy` (this uid is over its rate), tries again after the pause it asks for, plus a random
   * share of it so that jobs refused together do not come back together, for up to `BUSY_WAIT_MS` in all.
   */
  private async ask(request: Request, retry = true): Promise<Answer> {
    const started = Date.now();
    let busySince: number | undefined;
    for (let delay = 50, tries = 1; ; delay = Math.min(delay * 2, 400), tries++) {
      try {
        return await this.askOnce(request);
      } catch (err) {
        if (err instanceof Busy) {
          busySince ??= Date.now();
          const pause = err.retryAfterMs * (1 + Math.random() / 2);
          if (!retry || Date.now() - busySince + pause > BUSY_WAIT_MS) throw errorFromAnswer(err.answer);
          await sleep(pause);
          continue;
        }
        if (!(err instanceof NotConnected)) throw err;
        const waited = Date.now() - started;
        if (!retry || !RETRYABLE.has(err.cause.code ?? "") || waited + delay > RESTART_WAIT_MS) {
          throw unreachable(this.socket, err.cause, tries > 1 ? waited : 0);
        }
        await sleep(delay);
      }
    }
  }

  /** Sends `request` once: through the native addon when the build made it (no node:net to load), else node:net. */
  private askOnce(request: Request): Promise<Answer> {
    const line = `${JSON.stringify(request)}\n`;
    const addon = native();
    return addon === undefined ? this.askOverNet(line) : this.askNatively(addon, line);
  }

  private askNatively(addon: Native, line: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const bytes = Buffer.from(line);
      let answer: Buffer;
      try {
        answer = addon.exchange(this.socket, bytes, MAX_ANSWER_BYTES);
      } catch (err) {
        if (!isNativeError(err)) throw err;
        const code = errnoName(err.errno);
        if (!err.connected) reject(new NotConnected(Object.assign(new Error(`${err.message} ${this.socket}`), { code, errno: err.errno })));
        else if (code === "EMSGSIZE") reject(oversized(this.socket));
        else reject(closedEarly(this.socket, code === "ENODATA" ? "" : ` (${code})`));
        return;
      } finally {
        bytes.fill(0); // the request of `add` or `import` holds values
      }
      settle(textOf([answer]), resolve, reject);
    });
  }

  private askOverNet(line: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const conn = net.createConnection(this.socket);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      let connected = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        conn.destroy();
        fn();
      };
      conn.on("connect", () => {
        connected = true;
        conn.write(line);
      });
      conn.on("data", (chunk: Buffer) => {
        const nl = chunk.indexOf(0x0a);
        chunks.push(nl === -1 ? chunk : chunk.subarray(0, nl));
        size += chunk.length;
        if (nl !== -1) finish(() => settle(textOf(chunks), resolve, reject));
        else if (size > MAX_ANSWER_BYTES) finish(() => reject(oversized(this.socket)));
      });
      conn.on("error", (err: NodeJS.ErrnoException) =>
        finish(() => reject(connected ? closedEarly(this.socket, ` (${err.code ?? err.message})`) : new NotConnected(err))),
      );
      conn.on("close", () => finish(() => reject(closedEarly(this.socket, ""))));
    });
  }
}

function closedEarly(socket: string, why: string): AgentUnreachableError {
  return new AgentUnreachableError(`the agent at ${socket} closed the connection without answering${why}`, {
    hint: "the request may or may not have been carried out; run the command again, and if it keeps failing look at the agent's log: `journalctl -u secretfile`",
  });
}

function oversized(socket: string): FailureError {
  return new FailureError(`the agent at ${socket} sent an oversized answer`);
}

/**
 * How long a client keeps trying to connect while nothing accepts (an agent restarting), in ms. An agent starts in
 * in well under this on an idle host but takes longer on a busy one (bench/limits.md), which is when cron jobs pile up.
 */
const RESTART_WAIT_MS = 5_000;

/** How long a client keeps sending a request again while the agent answers `busy`, in ms. */
const BUSY_WAIT_MS = 2_000;

/** The pause asked for when a `busy` answer has none (or a meaningless one), in ms. */
const BUSY_DEFAULT_PAUSE_MS = 100;

/** Connection errors that mean nothing took the request: no socket, nobody listening, backlog full. */
const RETRYABLE = new Set(["ENOENT", "ECONNREFUSED", "EAGAIN"]);

/** The connection was never made, so the request was not delivered. */
class NotConnected extends Error {
  override readonly cause: NodeJS.ErrnoException;
  constructor(cause: NodeJS.ErrnoException) {
    super(cause.message);
    this.cause = cause;
  }
}

/** The agent answered `busy`: the request was not carried out and may be sent again after `retryAfterMs`. */
class Busy extends Error {
  readonly answer: ErrorAnswer;
  readonly retryAfterMs: number;
  constructor(answer: ErrorAnswer) {
    super(answer.error.message);
    this.answer = answer;
    const ms = answer.error.retryAfterMs;
    this.retryAfterMs = typeof ms === "number" && ms >= 1 ? ms : BUSY_DEFAULT_PAUSE_MS;
  }
}

function settle(line: string, resolve: (a: Answer) => void, reject: (e: Error) => void): void {
  let answer: Answer | ErrorAnswer;
  try {
    answer = JSON.parse(line) as Answer | ErrorAnswer;
  } catch (cause) {
    reject(new FailureError("the agent sent an answer that is not JSON", { cause }));
    return;
  }
  if (answer.ok) resolve(answer);
  else reject(answer.error?.code === BUSY ? new Busy(answer) : errorFromAnswer(answer));
}

/** Returns the answer's text and zeroes its bytes, which hold values (the text is a string JavaScript cannot erase). */
function textOf(chunks: Buffer[]): string {
  const bytes = Buffer.concat(chunks);
  const text = bytes.toString("utf8");
  bytes.fill(0);
  for (const chunk of chunks) chunk.fill(0);
  return text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function expect<Op extends Answer["op"]>(answer: Answer, op: Op): Extract<Answer, { op: Op }> {
  if (answer.op !== op) throw new FailureError(`the agent answered "${answer.op}" to a "${op}" request`);
  return answer as Extract<Answer, { op: Op }>;
}

function unreachable(socket: string, err: NodeJS.ErrnoException, waitedMs: number): AgentUnreachableError {
  const why = err.code === "ENOENT" ? "no socket there" : err.code === "ECONNREFUSED" ? "nothing is listening" : (err.code ?? err.message);
  const waited = waitedMs > 0 ? `, tried for ${(waitedMs / 1000).toFixed(1)} s` : "";
  return new AgentUnreachableError(`cannot reach the agent at ${socket} (${why}${waited})`, {
    hint: "is it running? `systemctl status secretfile.socket secretfile`; or use --dir for a personal store",
    cause: err,
  });
}
