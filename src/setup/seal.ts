// Sealing the host identity as a systemd credential (`setup --seal systemd-creds`): systemd-creds encrypts it to the host
// key (and the TPM2 where one exists), the unit loads it with LoadCredentialEncrypted=, and the agent reads it from
// $CREDENTIALS_DIRECTORY. Rules: identity.txt is removed only once the credential is in place and decrypts to the same
// identity; the decrypted identity passes through a pipe into memory, never a file; an existing credential is kept.

import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { DEFAULT_CREDENTIAL, IDENTITY_CREDENTIAL } from "../system/paths.js";
import { FailureError, SecretfileError, UsageError } from "../errors.js";
import { syncFolder } from "../store/atomic.js";
import { errnoOf } from "../system/errno.js";
import { readPrivateFile } from "../store/files.js";
import { IDENTITY_MODE, parseIdentity } from "../store/identity.js";
import type { ActionLog } from "./actions.js";
import { ensureFolder, lstatOrNull } from "./files.js";
import { credentialFolder } from "./folders.js";
import { firstExisting, firstLine, runProgram } from "./run.js";

/** What the identity must be to be sealed: the service account's, private, an identity's size. */
const IDENTITY_RULES = { what: "identity", forbiddenMode: 0o077, maxBytes: 64 * 1024, mode: IDENTITY_MODE.system };

/** The ways setup can seal the identity. */
export const SEAL_METHODS = ["systemd-creds"] as const;

/** Returns `method` when setup knows it; throws UsageError (2) otherwise. */
export function checkSealMethod(method: string): "systemd-creds" {
  if (method !== "systemd-creds") {
    throw new UsageError(`unknown --seal method ${JSON.stringify(method)}`, {
      hint: `the one method is: --seal ${SEAL_METHODS.join(", ")}`,
    });
  }
  return method;
}

/** What sealing needs. */
export interface SealOptions {
  /** The encrypted credential file to make or keep (root 0600, in a root 0700 folder). */
  credential: string;
  /** The plaintext identity file setup made or kept, removed once sealed. */
  identity: string;
  /** The service account, which owns it (its folder is that account's: read without following a link). */
  owner: number;
  /** The recipient of that identity (what the credential must decrypt to). */
  recipient: string;
  /** The systemd-creds program (default /usr/bin/systemd-creds or /bin/systemd-creds). */
  systemdCreds?: string;
}

/**
 * Returns the public recipient of the identity sealed in `credential`, or null when there is no such file. Throws
 * FailureError (1) when systemd-creds cannot decrypt it (another host's key, a changed TPM2), CorruptError (5) when
 * it does not hold an age identity.
 */
export async function sealedRecipient(credential: string, systemdCreds = findSystemdCreds()): Promise<string | null> {
  if ((await lstatOrNull(credential)) === null) return null;
  const ran = await runProgram(systemdCreds, ["decrypt", `--name=${IDENTITY_CREDENTIAL}`, credential, "-"], {
    env: toolEnv(),
  });
  if (ran.code !== 0) {
    throw new FailureError(`systemd-creds cannot decrypt the sealed identity ${credential}: ${firstLine(ran.stderr)}`, {
      hint: "a credential opens only on the host (and TPM2) that sealed it: restore identity.txt from a backup, move the credential aside, and run setup --seal again",
    });
  }
  return (await parseIdentity(ran.stdout, credential)).recipient;
}

/**
 * Seals the identity: encrypts it with systemd-creds into a temporary file beside `credential`, checks that it decrypts
 * to `recipient`, puts it in place and removes the plaintext identity. A credential already there must hold the same
 * identity (then it is kept). Throws FailureError (1) when systemd-creds fails or the two identities differ.
 */
export async function sealIdentity(opts: SealOptions, log: ActionLog): Promise<void> {
  const tool = opts.systemdCreds ?? findSystemdCreds();
  const dir = path.dirname(opts.credential);
  const f = credentialFolder(opts.credential);
  await ensureFolder(f.dir, f.want, f.what, f.own, log);
  const existing = await sealedRecipient(opts.credential, tool);
  if (existing !== null && existing !== opts.recipient) {
    throw new FailureError(
      `the sealed identity ${opts.credential} (public key ${existing}) is not the identity ${opts.identity} (${opts.recipient})`,
      {
        hint: `keep the one the store is encrypted to: move the other aside, then run setup --seal again`,
      },
    );
  }
  if (existing === null) {
    const tmp = path.join(dir, `.${path.basename(opts.credential)}.tmp-${randomBytes(8).toString("hex")}`);
    try {
      // Read here, through a descriptor that follows no link, and piped in: systemd-creds would open the path as root.
      const identity = await readPrivateFile(opts.identity, { ...IDENTITY_RULES, owner: opts.owner });
      if (identity === null) throw new FailureError(`the identity ${opts.identity} is gone: nothing to seal`);
      const ran = await runProgram(tool, ["encrypt", `--name=${IDENTITY_CREDENTIAL}`, "-", tmp], {
        env: toolEnv(),
        input: identity,
      }).finally(() => identity.fill(0));
      if (ran.code !== 0)
        throw new FailureError(`systemd-creds cannot seal ${opts.identity}: ${firstLine(ran.stderr)}`, {
          hint: "see `systemd-creds has-tpm2` and `man systemd-creds`",
        });
      const handle = await fs.open(tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
      await handle.chmod(0o600).finally(() => handle.close());
      if ((await sealedRecipient(tmp, tool)) !== opts.recipient)
        throw new FailureError(`the credential systemd-creds made does not decrypt to ${opts.identity}`);
      await fs.rename(tmp, opts.credential);
      await syncFolder(dir);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (err instanceof SecretfileError) throw err;
      throw new FailureError(`cannot seal the identity into ${opts.credential}: ${errnoOf(err) ?? String(err)}`, {
        cause: err,
      });
    }
    log.add(
      "created",
      `the sealed identity ${opts.credential} (systemd credential ${IDENTITY_CREDENTIAL}, public key ${opts.recipient})`,
    );
  } else {
    log.add("kept", `the sealed identity ${opts.credential} (public key ${existing})`);
  }
  if ((await lstatOrNull(opts.identity)) !== null) {
    await fs.rm(opts.identity);
    await syncFolder(path.dirname(opts.identity));
    log.add(
      "fixed",
      `removed the plaintext identity ${opts.identity}: the agent gets it from systemd (LoadCredentialEncrypted=)`,
    );
  }
}

function findSystemdCreds(): string {
  return firstExisting(["/usr/bin/systemd-creds", "/bin/systemd-creds"]);
}

function toolEnv(): NodeJS.ProcessEnv {
  return { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
}

export { DEFAULT_CREDENTIAL };
