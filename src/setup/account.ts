// The service account: a system user with no login shell and no home, created once and reused after.
// Rules: an existing account is kept as it is (a login shell or a home is reported, not changed); users come from NSS.

import { FailureError, UsageError } from "../errors.js";
import { lookupUser, lookupUserByName } from "../system/users.js";
import type { ActionLog } from "./actions.js";
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
const NO_LOGIN_SHELLS = ["/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"];

/** Returns `name` if it is a valid system user name (`[a-z_][a-z0-9_-]*`, at most 32); throws UsageError otherwise. */
export function checkUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new UsageError(`invalid user name ${JSON.stringify(name)}`, { hint: "use lowercase letters, digits, _ and -, starting with a letter or _ (at most 32)" });
  }
  return name;
}

/**
 * Returns the account `name`, creating it with useradd (system user, own group, no home, nologin shell)
 * when it does not exist. Records what it did in `log`. Throws FailureError when useradd fails or the
 * account still cannot be found afterwards.
 */
export async function ensureAccount(name: string, log: ActionLog): Promise<Account> {
  const existing = lookupUserByName(name);
  if (existing !== undefined) {
    const account = accountOf(name, existing.uid, existing.gid);
    log.add("kept", `the user ${name} (uid ${account.uid}, group ${account.group})`);
    if (!NO_LOGIN_SHELLS.includes(existing.shell)) {
      log.add("warning", `the user ${name} has the login shell ${existing.shell || "(none set: /bin/sh)"}; a service account needs none: usermod --shell ${nologin()} ${name}`);
    }
    return account;
  }
  const useradd = firstExisting(["/usr/sbin/useradd", "/sbin/useradd"]);
  const shell = nologin();
  const args = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", shell, "--comment", "secretfile agent", name];
  const ran = await runProgram(useradd, args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  if (ran.code !== 0) {
    throw new FailureError(`cannot create the user ${name}: useradd exited with ${ran.code ?? ran.signal}: ${firstLine(ran.stderr)}`, {
      hint: `create it by hand (useradd ${args.join(" ")}) and run setup again`,
    });
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
