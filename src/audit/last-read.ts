// When each secret was last released, and to whom: kept by the agent in memory, seeded from the audit log's tail.
// Rules: only a release counts (an allowed get or values), never a list or a refusal; a later time always wins, so
// seeding and live reads may interleave; seeding reads at most SEED_BYTES and never follows a symlink.

import type { LastRead, SecretInfo } from "../store/document.js";
import { auditLines } from "./log-file.js";
import { namesRead, parseAuditLine } from "./record.js";

/** How much of the audit log's end is read at start: 16 MiB, some 60,000 decisions. */
export const SEED_BYTES = 16 * 1024 * 1024;

/** Who asked: a uid and its user name, when it has one. */
export interface Reader {
  uid: number;
  user: string | undefined;
}

/** The last release of each secret name. */
export class LastReads {
  private readonly byName = new Map<string, LastRead>();

  /** Records that `reader` was given `names` at `time` (now when omitted); an older time never replaces a newer one. */
  note(names: readonly string[], reader: Reader, time: string = new Date().toISOString()): void {
    const read: LastRead =
      reader.user === undefined ? { time, uid: reader.uid } : { time, uid: reader.uid, user: reader.user };
    for (const name of names) {
      const known = this.byName.get(name);
      if (known === undefined || Date.parse(known.time) <= Date.parse(time)) this.byName.set(name, read);
    }
  }

  /** Returns the last release of `name`, or undefined when none is known. */
  get(name: string): LastRead | undefined {
    return this.byName.get(name);
  }

  /** Returns `secrets` with `lastRead` set on those with a known release (new objects; the input is not changed). */
  annotate(secrets: SecretInfo[]): SecretInfo[] {
    return secrets.map((s) => {
      const lastRead = this.byName.get(s.name);
      return lastRead === undefined ? s : { ...s, lastRead };
    });
  }

  /**
   * Reads the last `maxBytes` of the audit log `file` and records every release in it. Resolves with the number of
   * releases seen. Throws the errors of auditLines (the agent logs them and starts without history).
   */
  async seed(file: string, maxBytes = SEED_BYTES): Promise<number> {
    let seen = 0;
    for await (const line of auditLines(file, { tailBytes: maxBytes })) {
      // Most lines are not releases: skip them before paying for JSON.parse.
      if (
        line === null ||
        !line.includes('"allowed":true') ||
        !(line.includes('"op":"get"') || line.includes('"op":"values"') || line.includes('"op":"credential"'))
      )
        continue;
      const parsed = parseAuditLine(line);
      if (parsed.kind !== "decision") continue;
      const names = namesRead(parsed.record);
      if (names.length === 0) continue;
      this.note(names, { uid: parsed.record.uid, user: parsed.record.user }, parsed.record.time);
      seen++;
    }
    return seen;
  }
}
