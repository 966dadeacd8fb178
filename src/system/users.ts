// Users and groups by id or name, through the C library (native/users.c), so that LDAP, SSSD and NIS accounts resolve.
// Rules: never parse /etc/passwd; an unknown id is "no entry", never a guess; a lookup error throws.

import { FailureError } from "../errors.js";
import { describeErrno, requireNative, type NativeGroup, type NativePasswd } from "./native.js";

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "no change" to the kernel, never a real id

/** A user and the groups they belong to, primary group first. */
export interface UserInfo {
  uid: number;
  /** The gid passed in, else the passwd entry's primary gid, else -1 (unknown). */
  gid: number;
  /** The login name, or undefined when the uid has no passwd entry. */
  user: string | undefined;
  /** The primary and supplementary groups, no duplicates; a name is undefined when the gid has no entry. */
  groups: { gid: number; name: string | undefined }[];
}

/**
 * Returns the user with this uid and their groups (primary, the given gid if any, then supplementary).
 * A uid with no passwd entry gives user undefined and groups [] (or only the given gid).
 * Throws FailureError for an id outside 0..4294967294 or when the user database fails, and requireNative()'s without
 * the addon.
 */
export function lookupUser(uid: number, gid?: number): UserInfo {
  checkId("uid", uid);
  if (gid !== undefined) checkId("gid", gid);
  const pw = getpw(`uid ${uid}`, (a) => a.passwdByUid(uid));
  if (pw === undefined || pw.name === null) {
    return { uid, gid: gid ?? -1, user: undefined, groups: gid === undefined ? [] : [groupOf(gid)] };
  }
  const gids = [...(gid === undefined ? [] : [gid]), ...groupList(pw.name, pw.gid)];
  return { uid, gid: gid ?? pw.gid, user: pw.name, groups: [...new Set(gids)].map(groupOf) };
}

/**
 * Returns the uid, primary gid, home and shell of the named user, or undefined when there is no such
 * user (an empty name or one holding NUL included). Throws FailureError when the user database fails.
 */
export function lookupUserByName(name: string): { uid: number; gid: number; home: string; shell: string } | undefined {
  if (!validName(name)) return undefined;
  const pw = getpw(`user ${JSON.stringify(name)}`, (a) => a.passwdByName(name));
  if (pw === undefined) return undefined;
  return { uid: pw.uid, gid: pw.gid, home: pw.dir ?? "", shell: pw.shell ?? "" };
}

/**
 * Returns the gid of the named group, or undefined when there is no such group (an empty name or one
 * holding NUL included). Throws FailureError when the group database fails.
 */
export function lookupGroupByName(name: string): { gid: number } | undefined {
  if (!validName(name)) return undefined;
  const gr = getgr(`group ${JSON.stringify(name)}`, (a) => a.groupByName(name));
  return gr === undefined ? undefined : { gid: gr.gid };
}

/**
 * Returns the name of the group with this gid, or undefined when the gid has no group entry. Throws FailureError for
 * an id outside 0..4294967294 or when the group database fails.
 */
export function lookupGroupById(gid: number): { name: string } | undefined {
  checkId("gid", gid);
  const name = groupOf(gid).name;
  return name === undefined ? undefined : { name };
}

const addon = () => requireNative("looking up users and groups");

function getpw(
  what: string,
  call: (a: ReturnType<typeof addon>) => NativePasswd | null | number,
): NativePasswd | undefined {
  return entry("passwd", what, call(addon()));
}

function getgr(
  what: string,
  call: (a: ReturnType<typeof addon>) => NativeGroup | null | number,
): NativeGroup | undefined {
  return entry("group", what, call(addon()));
}

// An entry, undefined for none; an errno (the addon made the buffer grow on ERANGE, up to 16 MiB) throws.
function entry<T>(db: string, what: string, found: T | null | number): T | undefined {
  if (typeof found !== "number") return found ?? undefined;
  throw new FailureError(`cannot look up ${what} in the ${db} database: ${describeErrno(found)}`);
}

// The group ids of a user: the given primary gid first, then the supplementary groups.
function groupList(user: string, primary: number): number[] {
  const groups = addon().groupList(user, primary);
  if (typeof groups !== "number") return groups;
  throw new FailureError(`cannot list the groups of user ${JSON.stringify(user)}: ${describeErrno(groups)}`);
}

function groupOf(gid: number): { gid: number; name: string | undefined } {
  const gr = getgr(`gid ${gid}`, (a) => a.groupByGid(gid));
  return { gid, name: gr?.name ?? undefined };
}

function checkId(kind: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw new FailureError(`invalid ${kind} ${id}: expected an integer from 0 to ${MAX_ID}`);
  }
}

function validName(name: string): boolean {
  return name.length > 0 && !name.includes("\0");
}
