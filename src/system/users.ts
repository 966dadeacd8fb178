// Users and groups by id or name, through the C library so that LDAP, SSSD and NIS accounts resolve.
// Rules: never parse /etc/passwd; an unknown id is "no entry", never a guess; a lookup error throws.

import { FailureError } from "../errors.js";
import { describeErrno, libc, type RawGroup, type RawPasswd } from "./libc.js";

const ERANGE = 34;
const ENOENT = 2;
const ESRCH = 3;
const FIRST_BUFFER = 1024;
const MAX_BUFFER = 1 << 24;
const FIRST_GROUPS = 64;
const MAX_GROUPS = 1 << 16;
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
 * Throws FailureError for an id outside 0..4294967294 or when the user database fails.
 */
export function lookupUser(uid: number, gid?: number): UserInfo {
  checkId("uid", uid);
  if (gid !== undefined) checkId("gid", gid);
  const pw = getpw(`uid ${uid}`, (c, out, buf, result) => c.getpwuid_r(uid, out, buf, buf.length, result));
  if (pw === undefined || pw.pw_name === null) {
    return { uid, gid: gid ?? -1, user: undefined, groups: gid === undefined ? [] : [groupOf(gid)] };
  }
  const gids = [...(gid === undefined ? [] : [gid]), ...groupList(pw.pw_name, pw.pw_gid)];
  return { uid, gid: gid ?? pw.pw_gid, user: pw.pw_name, groups: [...new Set(gids)].map(groupOf) };
}

/**
 * Returns the uid, primary gid, home and shell of the named user, or undefined when there is no such
 * user (an empty name or one holding NUL included). Throws FailureError when the user database fails.
 */
export function lookupUserByName(name: string): { uid: number; gid: number; home: string; shell: string } | undefined {
  if (!validName(name)) return undefined;
  const pw = getpw(`user ${JSON.stringify(name)}`, (c, out, buf, result) => c.getpwnam_r(name, out, buf, buf.length, result));
  if (pw === undefined) return undefined;
  return { uid: pw.pw_uid, gid: pw.pw_gid, home: pw.pw_dir ?? "", shell: pw.pw_shell ?? "" };
}

/**
 * Returns the gid of the named group, or undefined when there is no such group (an empty name or one
 * holding NUL included). Throws FailureError when the group database fails.
 */
export function lookupGroupByName(name: string): { gid: number } | undefined {
  if (!validName(name)) return undefined;
  const gr = getgr(`group ${JSON.stringify(name)}`, (c, out, buf, result) => c.getgrnam_r(name, out, buf, buf.length, result));
  return gr === undefined ? undefined : { gid: gr.gr_gid };
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

type Call<T> = (c: ReturnType<typeof libc>, out: Partial<T>, buf: Buffer, result: [unknown]) => number;

function getpw(what: string, call: Call<RawPasswd>): RawPasswd | undefined {
  return withBuffer<RawPasswd>("passwd", what, call);
}

function getgr(what: string, call: Call<RawGroup>): RawGroup | undefined {
  return withBuffer<RawGroup>("group", what, call);
}

// Runs a get*_r call, doubling its buffer on ERANGE. Only *result says whether an entry was found:
// glibc leaves the last entry it read in the struct when none matched.
function withBuffer<T>(db: string, what: string, call: Call<T>): T | undefined {
  const c = libc();
  for (let size = FIRST_BUFFER; size <= MAX_BUFFER; size *= 2) {
    const out: Partial<T> = {};
    const result: [unknown] = [null];
    const rc = call(c, out, Buffer.alloc(size), result);
    if (rc === ERANGE) continue;
    if (rc === 0) return result[0] === null ? undefined : (out as T);
    if (rc === ENOENT || rc === ESRCH) return undefined; // some NSS modules report "not found" this way
    throw new FailureError(`cannot look up ${what} in the ${db} database: ${describeErrno(rc)}`);
  }
  throw new FailureError(`cannot look up ${what} in the ${db} database: the entry is larger than ${MAX_BUFFER} bytes`);
}

// The group ids of a user: the given primary gid first, then the supplementary groups.
function groupList(user: string, primary: number): number[] {
  const c = libc();
  let capacity = FIRST_GROUPS;
  for (;;) {
    const groups = new Uint32Array(capacity);
    const count: [number] = [capacity];
    const rc = c.getgrouplist(user, primary, groups, count);
    if (rc >= 0) return Array.from(groups.subarray(0, Math.min(rc, capacity)));
    if (capacity >= MAX_GROUPS) {
      throw new FailureError(`cannot list the groups of user ${JSON.stringify(user)}: more than ${MAX_GROUPS}`);
    }
    capacity = Math.min(MAX_GROUPS, Math.max(count[0], capacity * 2));
  }
}

function groupOf(gid: number): { gid: number; name: string | undefined } {
  const gr = getgr(`gid ${gid}`, (c, out, buf, result) => c.getgrgid_r(gid, out, buf, buf.length, result));
  return { gid, name: gr?.gr_name ?? undefined };
}

function checkId(kind: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw new FailureError(`invalid ${kind} ${id}: expected an integer from 0 to ${MAX_ID}`);
  }
}

function validName(name: string): boolean {
  return name.length > 0 && !name.includes("\0");
}
