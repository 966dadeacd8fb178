// The folders setup makes, with their owner and mode, and the entries each may hold that are setup's own.
// Rules: setup creates a folder, or fixes one only when it holds nothing but setup's own entries (its files, their
// locks, temporary and rotated copies), owned by root or the service account; anything else is refused (files.ts).

import path from "node:path";
import { UsageError } from "../errors.js";
import { CREDENTIALS_SOCKET, type AgentPaths } from "../system/paths.js";
import type { Account } from "./account.js";
import type { OwnEntries, Ownership } from "./files.js";
import { UNIT_NAMES } from "./units.js";

/** One folder setup makes: where, with which owner and mode, what for, and which entries in it are setup's. */
export interface SetupFolder {
  dir: string;
  want: Ownership;
  what: string;
  own: OwnEntries;
}

/** The files the agent keeps beside the store in its state folder (`store.seen`: the newest store served; `pending/`: changes waiting for approval). */
const STATE_FILES = ["identity.txt", "store.age", "store.seen", "recipients.txt", "pending"];

/** Returns true for an entry of the state folder that is setup's or the agent's own (the store, its lock, …). */
export const stateEntry = ownNames(STATE_FILES);

/**
 * Returns the folders setup makes for `paths` (state, policy, audit, socket), merged where two coincide with the same
 * needs. `account` may be undefined when the service account does not exist yet. Throws UsageError (2) when two
 * coinciding folders need different owners or modes.
 */
export function folders(paths: AgentPaths, account: Account | undefined): SetupFolder[] {
  const svc = (mode: number): Ownership =>
    account === undefined
      ? { uid: -1, gid: -1, mode, owner: "the service account" }
      : { uid: account.uid, gid: account.gid, mode, owner: `${account.name}:${account.group}` };
  const root: Ownership = { uid: 0, gid: 0, mode: 0o755, owner: "root:root" };
  const svcOwners = account === undefined ? undefined : [0, account.uid];
  const list: (SetupFolder & { files: string[] })[] = [
    // identity.txt and store.age: only the service account may even list them.
    folder(paths.dir, svc(0o700), "the state folder", STATE_FILES, svcOwners, suggest("--dir", paths.dir, undefined)),
    // The policy: root writes it, the agent (and anyone) reads it.
    folder(
      path.dirname(paths.policy),
      root,
      "the policy folder",
      [path.basename(paths.policy)],
      [0],
      suggest("--policy", path.dirname(paths.policy), paths.policy),
    ),
    // The audit log: the agent creates and appends it (0600); root reads it; nobody else needs to list it.
    folder(
      path.dirname(paths.audit),
      svc(0o700),
      "the audit folder",
      [path.basename(paths.audit)],
      svcOwners,
      suggest("--audit", path.dirname(paths.audit), paths.audit),
    ),
    // The socket's folder, for an agent started by hand (systemd's socket unit makes its own at boot).
    folder(
      path.dirname(paths.socket),
      svc(0o755),
      "the socket folder",
      [path.basename(paths.socket), CREDENTIALS_SOCKET],
      svcOwners,
      suggest("--socket", path.dirname(paths.socket), paths.socket),
    ),
  ];
  const unique: typeof list = [];
  for (const f of list) {
    const same = unique.find((u) => u.dir === f.dir);
    if (same === undefined) unique.push(f);
    else if (same.want.uid !== f.want.uid || same.want.mode !== f.want.mode) {
      throw new UsageError(`${f.what} and ${same.what} are both ${f.dir}, but need different owners or modes`, {
        hint: "give --dir, --policy, --audit and --socket separate folders",
      });
    } else {
      same.files.push(...f.files);
    }
  }
  return unique.map(({ files, ...f }) => ({ ...f, own: { ...f.own, name: ownNames(files) } }));
}

/** Returns the units folder setup makes when it is not systemd's own (root 0755, holding the two units). */
export function unitsFolder(dir: string): SetupFolder {
  const names = [UNIT_NAMES.service, UNIT_NAMES.socket];
  return folder(
    dir,
    { uid: 0, gid: 0, mode: 0o755, owner: "root:root" },
    "the units folder",
    names,
    [0],
    suggest("--units-dir", dir, undefined),
  );
}

/** Returns the folder of the sealed identity (root 0700, holding only the credential). */
export function credentialFolder(credential: string): SetupFolder {
  const dir = path.dirname(credential);
  return folder(
    dir,
    { uid: 0, gid: 0, mode: 0o700, owner: "root:root" },
    "the credential folder",
    [path.basename(credential)],
    [0],
    suggest("--credential", dir, credential),
  );
}

function folder(
  dir: string,
  want: Ownership,
  what: string,
  files: string[],
  owners: number[] | undefined,
  hint: string,
): SetupFolder & { files: string[] } {
  return { dir, want, what, files: [...files], own: { name: ownNames(files), owners, hint } };
}

// A name is setup's when it is one of `files`, or one of them with a suffix (a lock, `.next`, a rotated `.1.gz`),
// or the temporary file of an atomic write (`.NAME.tmp-…`).
function ownNames(files: string[]): (entry: string) => boolean {
  return (entry) => files.some((f) => entry === f || entry.startsWith(`${f}.`) || entry.startsWith(`.${f}.tmp-`));
}

// The hint of a refused folder: a folder of its own beside it, which setup creates.
function suggest(flag: string, dir: string, file: string | undefined): string {
  const own = path.join(dir, "secretfile");
  const value = file === undefined ? own : path.join(own, path.basename(file));
  return `use a folder of its own, such as ${own}/ (${flag} ${value}): setup creates it`;
}
