// The commands that manage the store's keys (recipient, recipients, rekey, export) work on a store folder directly.
// Rules: never through the agent (the socket serves secrets, not keys); in system mode they run as the service account
// on its state folder, with the store's lock held; the error says how, with the exact command.

import { existsSync, lstatSync } from "node:fs";
import { sealedIdentity, SYSTEM_PATHS } from "../system/paths.js";
import { AccessError, NoStoreError, UsageError } from "../errors.js";
import type { Store } from "../store/store.js";
import { note } from "./report.js";
import { whereOf, type WhereOptions } from "./options.js";

/**
 * Opens the store in the folder the options name (--dir or SECRETFILE_DIR, else the personal default). Throws
 * UsageError (2) when they name an agent, AccessError (4) when root runs it on a folder another account owns,
 * NoStoreError (1) when there is no store there, and Store.open's errors.
 */
export async function openStoreFolder(opts: WhereOptions, command: string): Promise<Store> {
  const where = whereOf(opts);
  if (where.mode !== "personal") {
    throw new UsageError(`\`secretfile ${command}\` works on a store folder, not through the agent (${where.why})`, {
      hint: `in system mode run it as the service account on the state folder: sudo -u secretfile secretfile ${command} --dir ${SYSTEM_PATHS.dir}`,
    });
  }
  const owner = ownerOf(where.dir);
  if (process.getuid?.() === 0 && owner !== undefined && owner !== 0) {
    throw new AccessError(
      `${where.dir} belongs to uid ${owner}; root does not work on another account's store (the files would become root's)`,
      {
        hint: `run it as the store's owner: sudo -u '#${owner}' secretfile ${command} --dir ${where.dir}`,
      },
    );
  }
  const { Store, storePaths } = await import("../store/store.js");
  const paths = storePaths(where.dir);
  // Run by systemd with the sealed identity (systemd-run -p LoadCredentialEncrypted=…, see docs/fleet.md).
  const sealed = existsSync(paths.identity) ? undefined : sealedIdentity();
  if (sealed !== undefined && command.startsWith("rekey")) {
    throw new UsageError("rekey does not replace a sealed identity", {
      hint: "rekey needs identity.txt: as root, `systemd-creds decrypt --name=secretfile-identity CREDENTIAL IDENTITY_TXT`, give it to the service account (mode 0400), move the credential aside, rekey, then `setup --seal systemd-creds` again",
    });
  }
  try {
    return await Store.open(sealed === undefined ? paths : { ...paths, identity: sealed, sealed: true });
  } catch (err) {
    if (!(err instanceof NoStoreError)) throw err;
    if (existsSync(paths.store)) {
      throw new NoStoreError(`${paths.store} exists but its identity ${paths.identity} does not`, {
        hint: 'restore identity.txt from a backup; if setup sealed it (--seal), run the command under systemd with the credential (docs/fleet.md, "Sealed identity")',
        cause: err,
      });
    }
    throw new NoStoreError(`no store in ${where.dir}`, {
      hint: "run `secretfile init --dir DIR` first, or pass the folder that holds identity.txt with --dir",
      cause: err,
    });
  }
}

/** Announces a wait for the store's lock (the options of a locked change). */
export const lockNotes = {
  onWait: (lockPath: string) => note(`waiting for the lock ${lockPath} (another secretfile is writing)`),
};

function ownerOf(dir: string): number | undefined {
  try {
    return lstatSync(dir).uid;
  } catch {
    return undefined;
  }
}
