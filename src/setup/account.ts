// The service account: a system user with no login shell and no home, created once and reused after.
// Rules: an existing account is taken only when it has no other role (account-fit.ts), or with --adopt-user, loudly;
// it is never changed; users come from NSS.

import { AccessError, FailureError, UsageError } from "../errors.js";
import { lookupUser, lookupUserByName } from "../system/users.js";
import type { ActionLog } from "./actions.js";
import { accountProblems, NO_LOGIN_SHELLS, type HostFiles } from "./account-fit.js";
import { accountUse, type AccountUse, type UseFiles } from "./account-use.js";
import { firstExisting, firstLine, runProgram } from "./run.js";

/** The account the agent runs as. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** The name of its primary group (the gid as text when the group has no name). */
  group: string;
}

/** The default service account's name. */
export const DEFAULT_USER = "secretfile";

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Returns `name` if it is a valid system user name (`[a-z_][a-z0-9_-]*`, at most 32); throws UsageError otherwise. */
export function checkUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new UsageError(`invalid user name ${JSON.stringify(name)}`, {
      hint: "use lowercase letters, digits, _ and -, starting with a letter or _ (at most 32)",
    });
  }
  return name;
}

/** What inspectAccount found: the existing account (undefined: setup will create it) and what it was adopted despite. */
export interface AccountCheck {
  name: string;
  existing: Account | undefined;
  /** The other roles of an account taken with --adopt-user (empty otherwise). */
  adopted: string[];
}

/** How inspectAccount judges an existing account. */
export interface InspectOptions {
  /** Take an account with another role anyway (`--adopt-user`). */
  adopt: boolean;
  /** The state folder (an account whose home it is may hold the store there). */
  stateDir: string;
  ownState: (entry: string) => boolean;
  /** The folders setup makes for the agent, and the node it runs: what the account may own and run already. */
  agent: Pick<AccountUse, "ownFolders" | "agentNode">;
  files?: HostFiles;
  use?: UseFiles;
}

/**
 * Looks `name` up, changing nothing. Returns it when it does not exist or is fit to be the service account (a system
 * account with no login shell, home with content, password, supplementary group or crontab, that runs no process but
 * the agent and owns no file but the agent's: not another daemon's), or has another role but `adopt` is set. Throws
 * AccessError (4) naming each other role otherwise.
 */
export function inspectAccount(name: string, opts: InspectOptions): AccountCheck {
  const found = lookupUserByName(name);
  if (found === undefined) return { name, existing: undefined, adopted: [] };
  const existing = accountOf(name, found.uid, found.gid);
  const group = existing.group === String(found.gid) ? undefined : existing.group;
  const problems = [
    ...accountProblems({ name, ...found }, opts.stateDir, opts.ownState, opts.files),
    ...accountUse({ name, uid: found.uid, group, ...opts.agent }, opts.use),
  ];
  if (problems.length > 0 && !opts.adopt) {
    throw new AccessError(
      `refusing the existing user ${name} as the service account: it has ${problems.join("; ")}; nothing was changed`,
      {
        hint: `the agent's account must have no other role: give setup a new name (--user secretfile-agent: setup creates it), or, if ${name} is meant for the agent alone and you accept what it has, run setup again with --adopt-user`,
      },
    );
  }
  return { name, existing, adopted: problems };
}

/**
 * Returns the account inspectAccount found, or creates it with useradd (system user, own group, no home, nologin
 * shell). Records what it did in `log`, each role of an adopted account as a warning. Throws FailureError when useradd
 * fails or the account still cannot be found afterwards.
 */
export async function ensureAccount(check: AccountCheck, log: ActionLog): Promise<Account> {
  const { name, existing } = check;
  if (existing !== undefined) {
    if (check.adopted.length === 0) {
      log.add("kept", `the user ${name} (uid ${existing.uid}, group ${existing.group})`);
      return existing;
    }
    for (const role of check.adopted) log.add("warning", `--adopt-user: the user ${name} has ${role}`);
    log.add(
      "warning",
      `ADOPTED the existing user ${name} (uid ${existing.uid}, group ${existing.group}) as the service account despite its other roles: whoever can act as ${name} can read every secret`,
    );
    return existing;
  }
  const useradd = firstExisting(["/usr/sbin/useradd", "/sbin/useradd"]);
  const shell = nologin();
  const args = [
    "--system",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    shell,
    "--comment",
    "secretfile agent",
    name,
  ];
  const ran = await runProgram(useradd, args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  if (ran.code !== 0) {
    throw new FailureError(
      `cannot create the user ${name}: useradd exited with ${ran.code ?? ran.signal}: ${firstLine(ran.stderr)}`,
      {
        hint: `create it by hand (useradd ${args.join(" ")}) and run setup again`,
      },
    );
  }
  const made = lookupUserByName(name);
  if (made === undefined) {
    throw new FailureError(`useradd created the user ${name}, but the user database does not return it`, {
      hint: "check /etc/nsswitch.conf and any cache (nscd, sssd), then run setup again",
    });
  }
  const account = accountOf(name, made.uid, made.gid);
  log.add("created", `the user ${name} (uid ${account.uid}, group ${account.group}, shell ${shell}, no home)`);
  return account;
}

function accountOf(name: string, uid: number, gid: number): Account {
  const group = lookupUser(uid, gid).groups.find((g) => g.gid === gid)?.name ?? String(gid);
  return { name, uid, gid, group };
}

function nologin(): string {
  return firstExisting(NO_LOGIN_SHELLS);
}
