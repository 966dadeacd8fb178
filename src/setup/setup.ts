// `secretfile setup` as a library: the service account, its folders, identity, store, policy and units.
// Rules: root only; nothing existing is replaced or lost (identity, store and policy are kept, units rewritten only
// when they differ), so running it twice changes nothing; no printing: each step is returned as an Action.

import { realpathSync } from "node:fs";
import { lstat } from "node:fs/promises";
import path from "node:path";
import { AccessError } from "../errors.js";
import type { AgentPaths } from "../system/paths.js";
import { IDENTITY_MODE } from "../store/identity.js";
import { storePaths } from "../store/store.js";
import { ActionLog, octal, type Action } from "./actions.js";
import { checkUserName, DEFAULT_USER, ensureAccount, inspectAccount, type Account } from "./account.js";
import { ensureFolder, lstatOrNull, planFolder } from "./files.js";
import { credentialFolder, folders, stateEntry, unitsFolder, type SetupFolder } from "./folders.js";
import { sealedRecipient, sealIdentity } from "./seal.js";
import { checkExistingPolicy, ensurePolicy } from "./policy-file.js";
import { prepareStateAs, type Launcher } from "./state.js";
import { installUnits, start, SYSTEM_UNITS_DIR } from "./systemd.js";
import { checkUnitPath, renderUnits, UNIT_NAMES } from "./units.js";

/** What setup needs: every path, so tests can set up into a temporary root. */
export interface SetupOptions {
  paths: AgentPaths;
  /** Where the units go; default /etc/systemd/system, where systemd reads them. */
  unitsDir?: string;
  /** The service account's name; default secretfile. */
  user?: string;
  /** Make a post-quantum hybrid identity if none exists. */
  pq: boolean;
  /** node and the installed launcher, as the units and the service account's child run them. */
  run: Launcher;
  /** True when systemd runs as PID 1 (then the socket is enabled and started). */
  systemd: boolean;
  /** False: start nothing and say nothing of starting (`--no-start`: the package's postinst starts the agent itself). */
  start?: boolean;
  /** Called with each action as it happens. */
  onAction?: (action: Action) => void;
  /** Seal the identity as a systemd credential in this file (`--seal systemd-creds`), removing identity.txt. */
  seal?: { credential: string; systemdCreds?: string };
  /** Take an existing account that has another role (login shell, home, password, groups, crontab) as it is. */
  adoptUser?: boolean;
}

/**
 * Sets the host up for system mode and returns what it did, step by step. Throws AccessError (4) when
 * not run as root or when a path is unsafe, UsageError (2) for a bad name or path, and the errors of
 * each step (an existing policy the agent would refuse, a store that does not decrypt, a failing useradd).
 */
export async function setup(opts: SetupOptions): Promise<Action[]> {
  if (process.getuid?.() !== 0) {
    throw new AccessError(
      "setup must run as root: it creates a system user, folders in /etc, /var and /run, and systemd units",
      {
        hint: "sudo secretfile setup",
      },
    );
  }
  const user = checkUserName(opts.user ?? DEFAULT_USER);
  const paths = absolute(opts.paths);
  const unitsDir = checkUnitPath(path.resolve(opts.unitsDir ?? SYSTEM_UNITS_DIR), "units folder");
  const credential =
    opts.seal === undefined ? undefined : checkUnitPath(path.resolve(opts.seal.credential), "credential");
  for (const [what, file] of Object.entries({ node: opts.run.node, launcher: opts.run.launcher, ...paths }))
    checkUnitPath(file, what);
  const log = new ActionLog(opts.onAction);

  // Everything that can refuse is checked before anything is changed.
  const check = inspectAccount(user, {
    adopt: opts.adoptUser === true,
    stateDir: paths.dir,
    ownState: stateEntry,
    agent: {
      // systemd hands the running agent its credentials (the sealed identity) in a folder it may give the account.
      ownFolders: [...folders(paths, undefined).map((f) => f.dir), `/run/credentials/${UNIT_NAMES.service}`],
      agentNode: realPath(opts.run.node),
    },
  });
  for (const folder of [...folders(paths, check.existing), ...extraFolders(unitsDir, credential)])
    await planFolder(folder.dir, folder.want, folder.what, folder.own);
  await checkExistingPolicy(paths.policy);

  const account = await ensureAccount(check, log);
  for (const folder of folders(paths, account))
    await ensureFolder(folder.dir, folder.want, folder.what, folder.own, log);
  await prepareState(account, paths, opts, log);
  await ensurePolicy(paths.policy, log);

  const group = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(account.group) ? account.group : String(account.gid);
  // run.node is the node running this (the CLI passes process.execPath): the units start it with the flags it has.
  const units = renderUnits({
    node: opts.run.node,
    nodeVersion: process.version,
    launcher: opts.run.launcher,
    user,
    group,
    paths,
    credential,
  });
  for (const warning of units.warnings) log.add("warning", warning);
  const changes = await installUnits(unitsDir, units, log);
  if (opts.start !== false) await start({ systemd: opts.systemd, unitsDir, changes, user, run: opts.run, paths }, log);
  if (credential !== undefined && !opts.systemd) {
    log.add(
      "warning",
      `the identity is sealed: only systemd can hand it to the agent (LoadCredentialEncrypted=), so the agent cannot be started by hand here`,
    );
  }
  return log.actions;
}

// The units folder (unless it is systemd's own, left as it is) and the sealed identity's folder.
function extraFolders(unitsDir: string, credential: string | undefined): SetupFolder[] {
  return [
    ...(unitsDir === SYSTEM_UNITS_DIR ? [] : [unitsFolder(unitsDir)]),
    ...(credential === undefined ? [] : [credentialFolder(credential)]),
  ];
}

async function prepareState(account: Account, paths: AgentPaths, opts: SetupOptions, log: ActionLog): Promise<void> {
  const files = storePaths(paths.dir);
  const seal =
    opts.seal === undefined
      ? undefined
      : {
          ...opts.seal,
          credential: path.resolve(opts.seal.credential),
          identity: files.identity,
          owner: account.uid,
        };
  if (seal !== undefined && (await lstatOrNull(files.identity)) === null && (await lstatOrNull(files.store)) !== null) {
    // Sealed by an earlier run: identity.txt is gone on purpose, and the credential must still open.
    const recipient = await sealedRecipient(seal.credential, seal.systemdCreds);
    if (recipient !== null) {
      log.add("kept", `the sealed identity ${seal.credential} (public key ${recipient}) and the store ${files.store}`);
      return;
    }
  }
  const state = await prepareStateAs(account, paths.dir, opts.pq, opts.run);
  const kind = state.pq ? "post-quantum hybrid" : "X25519";
  log.add(state.identity, `the identity ${files.identity} (${kind}, public key ${state.recipient})`);
  const idMode = (await lstat(files.identity)).mode & 0o777;
  if (idMode !== IDENTITY_MODE.system)
    log.add(
      "warning",
      `the identity ${files.identity} has mode ${octal(idMode)}; the documented mode is ${octal(IDENTITY_MODE.system)}: chmod ${IDENTITY_MODE.system.toString(8)} ${files.identity}`,
    );
  if (opts.pq && !state.pq && state.identity === "kept") {
    log.add("warning", `--pq ignored: the existing X25519 identity is kept (setup never replaces an identity)`);
  }
  const n = state.secrets;
  const storeMode = (await lstat(files.store)).mode & 0o777;
  log.add(
    state.store,
    `the store ${files.store} (${n} secret${n === 1 ? "" : "s"}, ${account.name} ${octal(storeMode)})`,
  );
  if (seal !== undefined) {
    await sealIdentity({ ...seal, recipient: state.recipient }, log);
    log.add(
      "next",
      `the sealed identity opens only on this host: keep an offline recovery key among the store's recipients (docs/fleet.md)`,
    );
  } else if (state.identity === "created")
    log.add("next", `back up ${files.identity} somewhere safe: without it the store cannot be decrypted`);
}

// The path with every link resolved (how /proc/PID/exe names a program), or as it is when that fails.
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function absolute(p: AgentPaths): AgentPaths {
  return {
    dir: path.resolve(p.dir),
    socket: path.resolve(p.socket),
    policy: path.resolve(p.policy),
    audit: path.resolve(p.audit),
  };
}
