// The identity and the empty store, made by the service account itself in a child process.
// Rules: root never writes them: the child, running as the account, creates the identity 0400 and the store 0600
// with their final mode (exclusive create); an existing identity or store is never replaced, only checked.

import { CorruptError, ExitCode, FailureError, SecretfileError } from "../errors.js";
import { listSecrets } from "../store/document.js";
import { IDENTITY_MODE } from "../store/identity.js";
import { Store, storePaths } from "../store/store.js";
import type { Account } from "./account.js";
import { lstatOrNull } from "./files.js";
import { firstLine, runProgram } from "./run.js";

/** What the state folder holds after setup. */
export interface StateResult {
  identity: "created" | "kept";
  store: "created" | "kept";
  recipient: string;
  /** True for a post-quantum hybrid identity. */
  pq: boolean;
  /** The number of secrets in the store. */
  secrets: number;
}

/** The program that runs secretfile: node and the launcher (both absolute paths). */
export interface Launcher {
  node: string;
  launcher: string;
}

/** The hidden option of `setup` that runs prepareState() in the child. */
export const STATE_FLAG = "--internal-prepare-state";

/**
 * Runs `secretfile setup --internal-prepare-state --dir DIR [--pq]` as `account` and returns what it
 * made or kept. Throws the child's own error (with its exit code) when it refuses, and FailureError when
 * the account cannot run the launcher at all (the agent, running as the account, could not either).
 */
export async function prepareStateAs(account: Account, dir: string, pq: boolean, run: Launcher): Promise<StateResult> {
  const args = [run.launcher, "setup", STATE_FLAG, "--dir", dir, ...(pq ? ["--pq"] : [])];
  const env: NodeJS.ProcessEnv = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
  if (process.env.SECRETFILE_DEBUG !== undefined) env.SECRETFILE_DEBUG = process.env.SECRETFILE_DEBUG;
  const ran = await runProgram(run.node, args, { uid: account.uid, gid: account.gid, env, cwd: "/" });
  let answer: unknown;
  try {
    answer = JSON.parse(ran.stdout);
  } catch {
    throw new FailureError(
      `the service account ${account.name} cannot run ${run.launcher} (exit ${ran.code ?? ran.signal}): ${firstLine(ran.stderr)}`,
      {
        hint: `the agent runs as ${account.name} too: install secretfile where every user can read it (e.g. npm install -g as root), then run setup again`,
      },
    );
  }
  return fromAnswer(answer, account.name);
}

/**
 * In the child, as the service account: creates the identity (mode 0400) and an empty store (0600) in
 * `dir` when neither exists, or opens and decrypts the existing pair. Never replaces either.
 * Throws FailureError when only one of the two exists, and Store's errors (4 unsafe, 5 undecryptable).
 */
export async function prepareState(dir: string, pq: boolean): Promise<StateResult> {
  const paths = storePaths(dir);
  const hasIdentity = (await lstatOrNull(paths.identity)) !== null;
  const hasStore = (await lstatOrNull(paths.store)) !== null;
  if (!hasIdentity && !hasStore) {
    const store = await Store.create(paths, { pq, identityMode: IDENTITY_MODE.system });
    return {
      identity: "created",
      store: "created",
      recipient: store.identity.recipient,
      pq: isPq(store.identity.recipient),
      secrets: 0,
    };
  }
  if (hasIdentity && !hasStore) {
    throw new FailureError(`the identity ${paths.identity} exists but the store ${paths.store} does not`, {
      hint: `restore store.age from a backup; or, to start over with no secrets, move ${paths.identity} aside and run setup again`,
    });
  }
  if (!hasIdentity) {
    throw new FailureError(`the store ${paths.store} exists but its identity ${paths.identity} does not`, {
      hint: `restore identity.txt from a backup (without it the store cannot be decrypted), then run setup again`,
    });
  }
  const store = await Store.open(paths);
  const doc = await store.read();
  return {
    identity: "kept",
    store: "kept",
    recipient: store.identity.recipient,
    pq: isPq(store.identity.recipient),
    secrets: listSecrets(doc).length,
  };
}

/** What the child prints on standard output: the result, or its error. */
export function answerOf(result: StateResult | SecretfileError): string {
  if (result instanceof SecretfileError) {
    return JSON.stringify({
      ok: false,
      code: result.code,
      exitCode: result.exitCode,
      message: result.message,
      hint: result.hint,
    });
  }
  return JSON.stringify({ ok: true, ...result });
}

function fromAnswer(answer: unknown, user: string): StateResult {
  // The child's standard output, parsed: may be any JSON (null included) if the child misbehaved.
  const a = answer as
    (Partial<StateResult> & { ok?: boolean; code?: string; exitCode?: number; message?: string; hint?: string }) | null;
  if (a?.ok === true && typeof a.recipient === "string") {
    return {
      identity: a.identity === "created" ? "created" : "kept",
      store: a.store === "created" ? "created" : "kept",
      recipient: a.recipient,
      pq: a.pq === true,
      secrets: a.secrets ?? 0,
    };
  }
  if (a?.ok === false && typeof a.message === "string") {
    const exit = Object.values(ExitCode).includes(a.exitCode as ExitCode) ? (a.exitCode as ExitCode) : ExitCode.failure;
    const details = { hint: a.hint };
    if (exit === ExitCode.undecryptable) throw new CorruptError(`as ${user}: ${a.message}`, details);
    throw new SecretfileError(a.code ?? "failure", exit, `as ${user}: ${a.message}`, details);
  }
  throw new FailureError(`the service account's child answered something unexpected`);
}

function isPq(recipient: string): boolean {
  return recipient.startsWith("age1pq1");
}
