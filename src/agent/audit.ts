// The audit log: one JSON line per decision, appended by the agent.
// Rules: never a value; opened append-only without following a symlink, created 0600; a line that cannot be
// written makes the request fail (no unaudited release).

import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { AccessError, FailureError } from "../errors.js";

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = constants;

/** One audit record. Names only, never values. */
export interface AuditRecord {
  op: string;
  uid: number;
  user: string | undefined;
  pid: number;
  program: string | undefined;
  cmdline: string | undefined;
  names: string[];
  given: string[];
  allowed: boolean;
  reason: string;
}

/** An append-only audit log file. */
export class AuditLog {
  readonly file: string;
  private fd: number;

  /** Opens (or creates, mode 0600) `file` for appending. Throws AccessError (4) for an unsafe file. */
  constructor(file: string) {
    this.file = file;
    try {
      this.fd = openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new AccessError(`refusing to follow a symlink at the audit log ${file}`, { hint: `remove it; the agent creates ${file}` });
      throw new FailureError(`cannot open the audit log ${file}: ${code ?? String(err)}`, {
        hint: "create its folder, owned by the service account (`sudo secretfile setup` does)",
        cause: err,
      });
    }
    const st = fstatSync(this.fd);
    if (!st.isFile() || (st.mode & 0o022) !== 0 || st.uid !== process.getuid?.()) {
      closeSync(this.fd);
      throw new AccessError(`the audit log ${file} is not a private regular file of this user (mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid})`, {
        hint: `chown $(id -u) ${file} && chmod 600 ${file}, as the service account's admin`,
      });
    }
  }

  /** Appends one record with the current time. Throws FailureError if it cannot be written. */
  write(record: AuditRecord): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`;
    try {
      writeSync(this.fd, line);
    } catch (err) {
      throw new FailureError(`cannot write the audit log ${this.file}`, { hint: "check free space", cause: err });
    }
  }

  /** Appends an event that is not a request (start, stop, policy reload). */
  event(event: string, detail: Record<string, unknown>): void {
    try {
      writeSync(this.fd, `${JSON.stringify({ time: new Date().toISOString(), event, ...detail })}\n`);
    } catch {
      // Best effort: events are not decisions.
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
