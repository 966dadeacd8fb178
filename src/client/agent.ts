// The agent client: each operation is one request on a fresh connection to the agent's socket.
// Rules: no cryptography here (the agent holds the key); an unreachable agent is exit 6 with a hint; a request is sent
// again only when it cannot have been carried out (no connection was made, or the agent answered `busy`); every wait,
// retries included, ends at one deadline (SECRETFILE_TIMEOUT); a value goes only to a listener of root or the socket
// folder's owner.

import type { Accepted } from "../store/generation.js";
import net from "node:net";
import { AgentUnreachableError, FailureError, UsageError } from "../errors.js";
import {
  BUSY,
  errorFromAnswer,
  MAX_REQUEST_BYTES,
  type Answer,
  type ErrorAnswer,
  type Request,
} from "../protocol/wire.js";
import type { SecretInfo } from "../store/document.js";
import type { History, Rollback } from "../store/history.js";
import type { AddOptions, ImportResult, MetadataChange } from "../store/operations.js";
import type { ApproveResult, PendingInfo } from "../protocol/pending.js";
import { errnoOf } from "../system/errno.js";
import { errnoName, isNativeError, native, type Native } from "../system/native.js";
import { checkSocketPath } from "../system/paths.js";
import type { Backend, SecretValues } from "./backend.js";
import { agentTimeoutMs, isWrite, TIMEOUT_VARIABLE } from "./deadline.js";
import { carriesValues, impostor, socketFileHolder, trustedOwners } from "./listener.js";
import { ClosedEarlyError, closedEarly, oversized, unreachable } from "./unreachable.js";

/** The largest answer read, in bytes (10,000 values of 64 KiB would not fit; a store that large is refused). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** The backend that asks the agent at `socket`. */
export class AgentBackend implements Backend {
  readonly socket: string;
  /** How long one operation may wait on the agent in all, in ms. */
  readonly timeoutMs: number;

  /**
   * Throws UsageError (2) for a socket path too long for sun_path, or a bad SECRETFILE_TIMEOUT when `timeoutMs` is not
   * given.
   */
  constructor(socket: string, timeoutMs: number = agentTimeoutMs()) {
    checkSocketPath(socket);
    this.socket = socket;
    this.timeoutMs = timeoutMs;
  }

  async get(name: string): Promise<string> {
    return expect(await this.ask({ v: 1, op: "get", name }), "get").value;
  }

  async list(): Promise<SecretInfo[]> {
    return expect(await this.ask({ v: 1, op: "list" }), "list").secrets;
  }

  async values(names: string[] | undefined): Promise<SecretValues> {
    const answer = expect(
      await this.ask(names === undefined ? { v: 1, op: "values" } : { v: 1, op: "values", names }),
      "values",
    );
    return { values: new Map(Object.entries(answer.values)), expiring: answer.expiring ?? {}, missing: answer.missing };
  }

  async add(name: string, value: string, opts: AddOptions): Promise<void> {
    expect(await this.ask({ v: 1, op: "add", name, value, ...opts }), "add");
  }

  async holder(name: string): Promise<string | undefined> {
    const answer = expect(await this.ask({ v: 1, op: "exists", name }), "exists");
    return answer.exists ? answer.store : undefined;
  }

  async update(name: string, change: MetadataChange): Promise<void> {
    expect(await this.ask({ v: 1, op: "update", name, ...change }), "update");
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
      throw new UsageError(
        `the import is ${bytes} bytes as one request, more than the agent takes (${MAX_REQUEST_BYTES})`,
        {
          hint: "split the file in smaller ones and import each (each import is all or nothing)",
        },
      );
    }
    const { added, replaced } = expect(await this.ask(request), "import");
    return { added, replaced };
  }

  async historyKeep(keep: number | undefined): Promise<number> {
    return expect(await this.ask({ v: 1, op: "settings", historyKeep: keep }), "settings").historyKeep;
  }

  async pending(): Promise<PendingInfo[]> {
    return expect(await this.ask({ v: 1, op: "pending" }), "pending").changes;
  }

  async approve(id: string, force: boolean): Promise<ApproveResult> {
    const {
      ok: _ok,
      op: _op,
      ...result
    } = expect(await this.ask({ v: 1, op: "approve", id, ...(force ? { force } : {}) }), "approve");
    return result;
  }

  async reject(id: string): Promise<void> {
    expect(await this.ask({ v: 1, op: "reject", id }), "reject");
  }

  async acceptStore(): Promise<Accepted> {
    const { facts, previous } = expect(await this.ask({ v: 1, op: "accept-store" }), "accept-store");
    return { facts, previous };
  }

  /** Returns the agent's answer to `ping`, for `doctor`. */
  async ping(): Promise<Answer> {
    return this.ask({ v: 1, op: "ping" }, false);
  }

  /**
   * Sends one request and resolves with its answer; throws the agent's error as a typed error. While nothing accepts
   * the connection (the agent restarting), tries again for up to `RESTART_WAIT_MS`; the request was not sent then.
   * While the agent answers `busy` (this uid is over its rate), tries again after the pause it asks for, plus a random
   * share of it so that jobs refused together do not come back together, for up to `BUSY_WAIT_MS` in all. A request
   * that only reads, whose connection the agent closed without answering (it was stopping), is sent again within the
   * same wait as a refused connection. All of it
   * within `timeoutMs`: then AgentUnreachableError (6), saying a change may have been applied, and never sent again.
   */
  private async ask(request: Request, retry = true): Promise<Answer> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    let busySince: number | undefined;
    for (let delay = 50, tries = 1; ; delay = Math.min(delay * 2, 400), tries++) {
      try {
        return await this.askOnce(request, deadline);
      } catch (err) {
        if (err instanceof Busy) {
          busySince ??= Date.now();
          const pause = err.retryAfterMs * (1 + Math.random() / 2);
          if (!retry || Date.now() - busySince + pause > BUSY_WAIT_MS || Date.now() + pause >= deadline)
            throw errorFromAnswer(err.answer);
          await sleep(pause);
          continue;
        }
        const waited = Date.now() - started;
        // An agent stopping (a restart, an upgrade) may close a connection it took without answering: a request that
        // only reads is sent again, within the same wait as a refused connection; a write never is.
        if (
          err instanceof ClosedEarlyError &&
          retry &&
          !isWrite(request) &&
          waited + delay <= RESTART_WAIT_MS &&
          Date.now() + delay < deadline
        ) {
          await sleep(delay);
          continue;
        }
        if (!(err instanceof NotConnected)) throw err;
        if (
          !retry ||
          !RETRYABLE.has(errnoOf(err.cause) ?? "") ||
          waited + delay > RESTART_WAIT_MS ||
          Date.now() + delay >= deadline
        ) {
          throw unreachable(this.socket, err.cause, tries > 1 ? waited : 0);
        }
        await sleep(delay);
      }
    }
  }

  /**
   * Sends `request` once, by `deadline` (ms since the epoch): through the native addon when the build made it (no
   * node:net to load), else node:net. A request that carries values goes only to a listener this client trusts.
   */
  private askOnce(request: Request, deadline: number): Promise<Answer> {
    const line = `${JSON.stringify(request)}\n`;
    const addon = native();
    const exchange: Exchange = {
      line,
      deadline,
      owners: carriesValues(request) ? trustedOwners(this.socket) : null,
      write: isWrite(request),
    };
    return addon === undefined ? this.askOverNet(exchange) : this.askNatively(addon, exchange);
  }

  private askNatively(addon: Native, ex: Exchange): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const bytes = Buffer.from(ex.line);
      let answer: Buffer;
      try {
        answer = addon.exchange(this.socket, bytes, MAX_ANSWER_BYTES, Math.max(ex.deadline - Date.now(), 0), ex.owners);
      } catch (err) {
        if (!isNativeError(err)) throw err;
        const code = errnoName(err.errno);
        if (code === "ENAMETOOLONG") checkSocketPath(this.socket); // throws UsageError (2) naming it
        if (code === "ETIMEDOUT") reject(this.timedOut(ex, err.connected));
        else if (!err.connected)
          reject(
            new NotConnected(Object.assign(new Error(`${err.message} ${this.socket}`), { code, errno: err.errno })),
          );
        else if (code === "EPERM" && err.peerUid !== undefined)
          reject(impostor(this.socket, err.peerUid, ex.owners ?? []));
        else if (code === "EMSGSIZE") reject(oversized(this.socket));
        else reject(closedEarly(this.socket, code === "ENODATA" ? "" : ` (${code})`));
        return;
      } finally {
        bytes.fill(0); // the request of `add` or `import` holds values
      }
      settle(textOf([answer]), resolve, reject);
    });
  }

  private askOverNet(ex: Exchange): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const before = ex.owners === null ? undefined : socketFileHolder(this.socket);
      const conn = net.createConnection(this.socket);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      let connected = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.destroy();
        fn();
      };
      const timer = setTimeout(
        () => finish(() => reject(this.timedOut(ex, connected))),
        Math.max(ex.deadline - Date.now(), 0),
      );
      conn.on("connect", () => {
        connected = true;
        if (ex.owners === null) {
          conn.write(ex.line);
          return;
        }
        // No SO_PEERCRED in plain Node: the socket file's owner, the same file before and after connecting.
        const after = socketFileHolder(this.socket);
        if (after !== undefined && after.inode === before?.inode && ex.owners.includes(after.uid)) conn.write(ex.line);
        else finish(() => reject(impostor(this.socket, after?.uid ?? before?.uid ?? -1, ex.owners ?? [])));
      });
      conn.on("data", (chunk: Buffer) => {
        const nl = chunk.indexOf(0x0a);
        chunks.push(nl === -1 ? chunk : chunk.subarray(0, nl));
        size += chunk.length;
        if (nl !== -1) finish(() => settle(textOf(chunks), resolve, reject));
        else if (size > MAX_ANSWER_BYTES) finish(() => reject(oversized(this.socket)));
      });
      conn.on("error", (err: Error) =>
        finish(() =>
          reject(connected ? closedEarly(this.socket, ` (${errnoOf(err) ?? err.message})`) : new NotConnected(err)),
        ),
      );
      conn.on("close", () => finish(() => reject(closedEarly(this.socket, ""))));
    });
  }

  /** The deadline passed: exit 6; a change that reached the agent may have been made. */
  private timedOut(ex: Exchange, sent: boolean): AgentUnreachableError {
    const seconds = `${this.timeoutMs / 1000} s`;
    return new AgentUnreachableError(
      `the agent at ${this.socket} did not answer within ${seconds} (${TIMEOUT_VARIABLE})`,
      {
        hint:
          ex.write && sent
            ? "the change may have been applied; check with `secretfile ls` before retrying"
            : `the agent may be stopped or overloaded: look at it (\`systemctl status secretfile\`) and restart it if it is stuck; ${TIMEOUT_VARIABLE} (seconds) sets how long to wait`,
      },
    );
  }
}

/** One request on its way: its line, its deadline, the uids trusted to receive it (null: any), whether it changes the store. */
interface Exchange {
  line: string;
  deadline: number;
  owners: number[] | null;
  write: boolean;
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
  override readonly cause: Error;
  constructor(cause: Error) {
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
  // The agent's JSON is cast, not checked: keep the guard against an answer without "error".
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
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
