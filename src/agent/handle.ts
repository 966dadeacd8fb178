// Answering one request: check the caller against the policy, then read or change the store, then audit.
// Rules: deny by default; a name the caller may not read is refused before its existence is looked up; every
// decision is audited before the answer leaves (a request whose audit line is not written fails); a change's intent
// line is on disk before the store changes (a change whose line cannot be written is not made), its outcome follows;
// values only ever go into the answer; a write of a reserved name is refused (exit 2) for every caller, before the
// policy is asked; a change to a name an `approve` rule gives is held as a pending change (approvals.ts), not applied;
// `update` changes no value, and is never held.

import { AccessError, PendingError, SecretfileError, StaleStoreError, UsageError } from "../errors.js";
import { decide, grantsAny, namedFor, readPatternsFor } from "../policy/evaluate.js";
import type { Verb } from "../policy/parse.js";
import { listSecrets, type StoreDocument } from "../store/document.js";
import { attentionOf } from "../store/expiry.js";
import { checkDescription, checkExpires, checkValue } from "../store/names.js";
import { historyKeep, setHistoryKeep } from "../store/history.js";
import { checkWritableName, isReservedName } from "../store/reserved-names.js";
import {
  checkMetadataChange,
  describeMetadataChange,
  getSecret,
  importSecrets,
  pickValues,
  putSecret,
  removeSecret,
  rollbackSecret,
  secretHistory,
  updateSecret,
} from "../store/operations.js";
import type { Store } from "../store/store.js";
import type { Accepted, StoreFacts } from "../store/generation.js";
import type { LastReads } from "../audit/last-read.js";
import { answerApprovals, holdIfRuled, type Approvals } from "./approvals.js";
import { PendingLimitError } from "./pending-limits.js";
import type { AuditLog } from "./audit.js";
import { recordOf, type IdentifiedCaller } from "./caller.js";
import type { PolicyState } from "./policy-state.js";
import { PROTOCOL_VERSION, type Answer, type Request } from "../protocol/wire.js";

/** What a request handler works with. */
export interface AgentContext {
  store: Store;
  policy: PolicyState;
  audit: AuditLog;
  /** The last release of each secret, shown by `list` (`secretfile ls`). */
  lastRead: LastReads;
  /** Returns the decrypted document, cached until the store file changes: shared, so never change it. */
  read(): Promise<StoreDocument>;
  /** The facts of the store served; undefined before one is. */
  served?(): StoreFacts | undefined;
  /** Why the store file on disk is refused while an older-served one is kept; undefined when it is not refused. */
  refusal?(): string | undefined;
  /** Records the store on disk as the newest served, whatever the record held (root's `accept-store`). */
  accept(): Promise<Accepted>;
  /** Changes the document under the store's lock. */
  update<T>(change: (doc: StoreDocument) => T): Promise<T>;
  /** Pending changes of approval rules (approvals.ts); absent: files in `pending/` of the store's folder. */
  approvals?: Approvals;
}

/** Answers `req` from `caller`; throws a SecretfileError to be sent back (after it has been audited). */
export async function handle(req: Request, caller: IdentifiedCaller, ctx: AgentContext): Promise<Answer> {
  const file = ctx.store.paths.store;
  const audit = (names: string[], given: string[], allowed: boolean, reason: string) =>
    ctx.audit.record(recordOf(caller, { op: req.op, names, given, allowed, reason }));

  // An invalid policy counts as one with no rules: everyone but root is refused until it is fixed.
  const now = await ctx.policy.current();
  const policy = now.ok ? now.policy : { file: ctx.policy.file, rules: [] };

  /** Audits a refusal; resolves with the AccessError to throw (rejects with FailureError when it cannot be audited). */
  const refuse = async (verb: Verb, names: string[], what: string, reason: string, example: string) => {
    await audit(names, [], false, now.ok ? reason : `policy ${ctx.policy.file} is invalid`);
    return new AccessError(`${describe(caller)} may not ${verb} ${what}`, {
      hint: now.ok
        ? `an admin can grant it in ${ctx.policy.file}, e.g. \`${verb} ${caller.user === undefined ? `uid:${caller.uid}` : `user:${caller.user}`} ${example}\``
        : `the agent refuses every request until the policy is fixed: ${now.error.message}`,
    });
  };
  /** Checks every name; resolves with the reasons for the audit log, or audits and throws AccessError on a refusal. */
  const authorize = async (verb: Verb, names: string[]): Promise<string> => {
    const reasons = new Set<string>();
    for (const name of names) {
      const decision = decide(policy, caller, verb, name);
      // The refused name first: a refusal's line keeps only it and the count of the others.
      if (!decision.allowed)
        throw await refuse(verb, [name, ...names.filter((n) => n !== name)], name, decision.reason, name);
      reasons.add(decision.reason);
    }
    return [...reasons].join("; ");
  };
  /** The names the caller may read; a caller no read rule names at all is refused (exit 4), not given nothing. */
  const readable = async (names: string[]): Promise<string[]> => {
    if (!grantsAny(policy, caller, "read"))
      throw await refuse("read", ["*"], "any secret", `no read rule names uid ${caller.uid}`, "NAME");
    return names.filter((n) => decide(policy, caller, "read", n).allowed);
  };

  /**
   * The names a job that asked for none receives: those a read rule gives the caller literally. A caller no read rule
   * names is refused (exit 4); one whose rules name only globs, or root with none naming it, is told to name them
   * (exit 2): a glob, and root's override, grant the right to ask, never to receive unasked.
   */
  const namedOnly = async (): Promise<string[]> => {
    await readable([]); // as for list: refused before the store is read
    const listed = namedFor(policy, caller);
    if (listed.length > 0) return listed;
    const globs = readPatternsFor(policy, caller);
    await audit(["*"], [], false, "asked for no name, and no read rule names one literally");
    throw new UsageError(
      `${describe(caller)} asked for no secret by name, and no read rule of ${ctx.policy.file} names one for it literally` +
        (globs.length === 0 ? "" : ` (its rules give ${globs.join(" ")} only to ask for by name)`),
      {
        hint:
          "name the keys the job needs: `secretfile exec --only NAME,... -- COMMAND` (or --map, --env-file); " +
          "a job is given unasked only the names a read rule writes out for its user",
      },
    );
  };

  /**
   * Makes a change: its intent line (`doing`) on disk first, then the change, then its outcome line (`done`). A change
   * whose intent cannot be written is not made (FailureError); a failed change gets its outcome line in the catch
   * below; an outcome line that cannot be written after the change was made does not undo it (the intent stands).
   */
  const change = async <T>(
    names: string[],
    doing: string,
    fn: (doc: StoreDocument) => T,
    done: (result: T) => string,
  ): Promise<T> => {
    await ctx.audit.commit(
      recordOf(caller, { op: req.op, names, given: [], allowed: true, reason: doing, intent: true }),
    );
    const result = await ctx.update(fn);
    await audit(names, [], true, done(result)).catch(() => undefined);
    return result;
  };

  try {
    switch (req.op) {
      case "ping": {
        // The store's facts for `doctor`: what is served, and the refusal of the file on disk, if any.
        const refused = await ctx.read().then(
          () => ctx.refusal?.(),
          (err: unknown) => (err instanceof StaleStoreError ? err.message : undefined),
        );
        const store = ctx.served?.();
        return { ok: true, op: "ping", agent: "secretfile", version: PROTOCOL_VERSION, store, refused };
      }
      case "get": {
        const reason = await authorize("read", [req.name]);
        const value = getSecret(await ctx.read(), req.name, file).value;
        const time = await audit([req.name], [req.name], true, reason);
        ctx.lastRead.note([req.name], caller, time);
        return { ok: true, op: "get", value };
      }
      case "list": {
        await readable([]); // a caller no read rule names is refused before the store is read
        const doc = await ctx.read();
        const names = await readable(Object.keys(doc.secrets));
        const shown = new Set(names);
        const secrets = listSecrets(doc).filter((s) => shown.has(s.name));
        await audit([], names, true, "list of readable names");
        return { ok: true, op: "list", secrets: ctx.lastRead.annotate(secrets) };
      }
      case "values": {
        // Without names: the names a read rule gives the caller literally (namedFor), never every readable one.
        const listed = req.names === undefined ? await namedOnly() : undefined;
        const reason =
          listed === undefined ? await authorize("read", req.names!) : "the names a read rule gives by name";
        const doc = await ctx.read();
        const names = req.names ?? listed!.filter((n) => Object.hasOwn(doc.secrets, n));
        const missing = listed?.filter((n) => !Object.hasOwn(doc.secrets, n)) ?? [];
        const values = Object.fromEntries(pickValues(doc, names, file));
        const expiring = attentionOf(doc.secrets, names, new Date());
        const time = await audit(req.names ?? ["*"], names, true, reason);
        ctx.lastRead.note(names, caller, time);
        return {
          ok: true,
          op: "values",
          values,
          ...(Object.keys(expiring).length === 0 ? {} : { expiring }),
          ...(missing.length === 0 ? {} : { missing }),
        };
      }
      case "add": {
        checkWritableName(req.name);
        const reason = await authorize("write", [req.name]);
        const value = checkValue(req.name, new TextEncoder().encode(req.value));
        const description = req.description === undefined ? undefined : checkDescription(req.description);
        const expires = req.expires === undefined ? undefined : checkExpires(req.expires);
        await holdIfRuled(
          ctx,
          policy,
          caller,
          {
            op: "add",
            name: req.name,
            value,
            opts: { replace: req.replace, description, expires, rotateEvery: req.rotateEvery },
          },
          reason,
        );
        await change(
          [req.name],
          `${req.replace ? "replacing" : "adding"}: ${reason}`,
          (doc) =>
            putSecret(
              doc,
              req.name,
              value,
              { replace: req.replace, description, expires, rotateEvery: req.rotateEvery },
              file,
            ),
          () => `${req.replace ? "replaced" : "added"}: ${reason}`,
        );
        return { ok: true, op: "add" };
      }
      case "update": {
        // A secret's description, expiry or rotation period, never its value: an `approve` rule guards values (what a
        // job receives), so it is not held; an expiry or a due rotation only makes `exec` warn.
        checkWritableName(req.name);
        const reason = await authorize("write", [req.name]);
        const { v: _v, op: _op, name, ...asked } = req;
        const checked = checkMetadataChange(name, asked);
        const what = describeMetadataChange(checked);
        await change(
          [name],
          `updating (${what}): ${reason}`,
          (doc) => updateSecret(doc, name, checked, file),
          () => `updated (${what}): ${reason}`,
        );
        return { ok: true, op: "update" };
      }
      case "exists": {
        // Whether `add` without --replace would be refused, asked before the value is typed: a writer learns as much
        // from that refusal, so it is authorized as a write of the name and tells nothing more.
        const reason = await authorize("write", [req.name]);
        const exists = Object.hasOwn((await ctx.read()).secrets, req.name);
        await audit([req.name], [], true, `existence checked: ${reason}`);
        return { ok: true, op: "exists", exists, store: file };
      }
      case "rm": {
        const reason = await authorize("write", [req.name]);
        await holdIfRuled(ctx, policy, caller, { op: "rm", name: req.name }, reason);
        await change(
          [req.name],
          `removing: ${reason}`,
          (doc) => removeSecret(doc, req.name, file),
          () => `removed: ${reason}`,
        );
        return { ok: true, op: "rm" };
      }
      case "history": {
        // Versions and dates, never values: a caller who may read the name or write it may see them.
        const read = decide(policy, caller, "read", req.name);
        const decision = read.allowed ? read : decide(policy, caller, "write", req.name);
        if (!decision.allowed) throw await refuse("read", [req.name], req.name, read.reason, req.name);
        const history = secretHistory(await ctx.read(), req.name, file);
        await audit([req.name], [], true, `history: ${decision.reason}`);
        return { ok: true, op: "history", ...history };
      }
      case "rollback": {
        checkWritableName(req.name);
        const reason = await authorize("write", [req.name]);
        await holdIfRuled(ctx, policy, caller, { op: "rollback", name: req.name, to: req.to }, reason);
        const done = await change(
          [req.name],
          `rolling back${req.to === undefined ? "" : ` to version ${req.to}`}: ${reason}`,
          (doc) => rollbackSecret(doc, req.name, req.to, file),
          (d) => `rolled back to version ${d.restored} as version ${d.version}: ${reason}`,
        );
        return { ok: true, op: "rollback", ...done };
      }
      case "import": {
        const names = req.secrets.map((s) => s.name);
        names.forEach(checkWritableName);
        const reason = await authorize("write", names);
        const secrets = req.secrets.map((s) => ({
          name: s.name,
          value: checkValue(s.name, new TextEncoder().encode(s.value)),
        }));
        await holdIfRuled(ctx, policy, caller, { op: "import", secrets, replace: req.replace === true }, reason);
        const done = await change(
          names,
          `importing${req.replace === true ? " (replacing)" : ""}: ${reason}`,
          (doc) => importSecrets(doc, secrets, req.replace === true, file),
          (d) => `imported (${d.added.length} added, ${d.replaced.length} replaced): ${reason}`,
        );
        return { ok: true, op: "import", ...done };
      }
      case "pending":
      case "approve":
      case "reject":
        return await answerApprovals(req, caller, ctx, policy);
      case "settings": {
        if (req.historyKeep === undefined) {
          const keep = historyKeep(await ctx.read());
          await audit([], [], true, "history limit read");
          return { ok: true, op: "settings", historyKeep: keep };
        }
        // A store-wide setting (lowering it drops old values of every secret): root's, as the policy is.
        if (caller.uid !== 0) {
          await audit([], [], false, "only root may change the history limit");
          throw new AccessError(`${describe(caller)} may not change the history limit of ${file}`, {
            hint: "only root may: `sudo secretfile history --keep N`",
          });
        }
        const keep = req.historyKeep;
        await change(
          [],
          `setting the history limit to ${keep}: root`,
          (doc) => setHistoryKeep(doc, keep),
          () => `history limit set to ${keep}: root`,
        );
        return { ok: true, op: "settings", historyKeep: keep };
      }
      case "accept-store": {
        // Taking an older or forked store on purpose undoes invariant 11's protection: root's alone, as the policy is.
        if (caller.uid !== 0) {
          await audit([], [], false, "only root may accept a store");
          throw new AccessError(`${describe(caller)} may not accept the store ${file} as the newest served`, {
            hint: "only root may: `sudo secretfile accept-store`",
          });
        }
        await audit([], [], true, "accepting the store on disk as the newest served: root");
        const accepted = await ctx.accept();
        ctx.audit.event("store-accepted", {
          store: file,
          generation: accepted.facts.generation,
          hash: accepted.facts.hash,
          previous: accepted.previous,
        });
        return { ok: true, op: "accept-store", ...accepted };
      }
    }
  } catch (err) {
    // A refusal was audited where it was made (past the limits of pending changes: its first one), and an audit
    // failure cannot be; other failures (not found, exists, damaged) are audited here.
    if (
      !(err instanceof AccessError || err instanceof PendingError || err instanceof PendingLimitError) &&
      !ctx.audit.isFailure(err)
    ) {
      // The name that made an import fail goes first: a refusal's line keeps only its first name (audit.ts).
      const imported =
        req.op === "import"
          ? req.secrets.map((s) => s.name).sort((a, b) => Number(isReservedName(b)) - Number(isReservedName(a)))
          : [];
      const names = "name" in req ? [req.name] : req.op === "values" ? (req.names ?? ["*"]) : imported;
      await audit(names, [], false, err instanceof SecretfileError ? err.code : "internal error");
    }
    throw err;
  }
}

function describe(caller: IdentifiedCaller): string {
  return caller.user === undefined ? `uid ${caller.uid}` : `user ${caller.user} (uid ${caller.uid})`;
}
