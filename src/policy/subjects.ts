// Whether the users and groups a policy names exist on this host: a misspelt name grants nothing, silently.
// Rules: a warning per rule, naming its line; never an error (an account may be made after the policy); unit: not checked.

import { lookupGroupById, lookupGroupByName, lookupUser, lookupUserByName } from "../system/users.js";
import type { Policy } from "./parse.js";

/** One rule whose subject has no entry on this host. */
export interface SubjectWarning {
  line: number;
  /** e.g. `no user "netopz" on this host`. */
  message: string;
}

/**
 * Returns a warning for each rule naming a user, group, uid or gid that the user database (NSS) does not know, in file
 * order. Throws FailureError when the user database fails.
 */
export function unknownSubjects(policy: Policy): SubjectWarning[] {
  const warnings: SubjectWarning[] = [];
  const subjects = [
    ...policy.rules.map(({ who, line }) => ({ who, line })),
    ...(policy.approvals ?? []).flatMap(({ who, line }) => who.map((w) => ({ who: w, line }))),
  ];
  for (const { who, line } of subjects.sort((a, b) => a.line - b.line)) {
    if (who.kind === "unit") continue;
    const missing =
      "id" in who
        ? who.kind === "uid"
          ? lookupUser(who.id).user === undefined && `no user with uid ${who.id}`
          : lookupGroupById(who.id) === undefined && `no group with gid ${who.id}`
        : who.kind === "user"
          ? lookupUserByName(who.name) === undefined && `no user ${JSON.stringify(who.name)}`
          : lookupGroupByName(who.name) === undefined && `no group ${JSON.stringify(who.name)}`;
    if (missing) warnings.push({ line, message: `${missing} on this host` });
  }
  return warnings;
}
