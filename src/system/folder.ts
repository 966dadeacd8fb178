// The one check of a folder that holds a file someone else must not be able to swap: the policy's, the socket's,
// the audit log's.
// Rules: never follow a link; the owner is root or (for the agent's own folders) this process's user; group and others
// may not write it, unless the sticky bit is set and the caller allows that (a root-owned /etc-like folder).

import { lstatSync } from "node:fs";
import { AccessError, FailureError } from "../errors.js";
import { errnoOf } from "./errno.js";

/** What a folder is for, and how to fix it, as the errors say. */
export interface FolderRules {
  /** e.g. "socket folder". */
  what: string;
  /** Who may own it besides root: "self" (the agent's own folders) or "root" only (the policy's). */
  owner: "self" | "root";
  /** What someone who can write the folder could do, e.g. "and so replace the log". */
  risk: string;
  /** The fix when the folder is missing or cannot be examined. */
  createHint: string;
  /** The fix when it is a symlink or not a folder. */
  kindHint: string;
  /** Accept a folder writable by others when its sticky bit is set (only the owner of a file may replace it). */
  allowSticky?: boolean;
  /** Who "self" is in messages; "the service account" when not given. */
  selfName?: string;
}

/**
 * Refuses `dir` when it is a symlink, not a folder, owned by someone the rules do not allow, or writable by group or
 * others. Throws AccessError (4) naming the fix, FailureError (1) when the folder cannot be examined.
 */
export function checkTrustedFolder(dir: string, rules: FolderRules): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw new FailureError(`cannot use the ${rules.what} ${dir}: ${errnoOf(err) ?? String(err)}`, {
      hint: rules.createHint,
      cause: err,
    });
  }
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new AccessError(
      `refusing the ${rules.what} ${dir}: it is ${st.isSymbolicLink() ? "a symlink" : "not a folder"}`,
      { hint: rules.kindHint },
    );
  }
  const me = process.getuid?.() ?? st.uid;
  const owners = rules.owner === "root" ? [0] : [0, me];
  if (!owners.includes(st.uid)) {
    const wanted = rules.owner === "root" ? "root" : `${rules.selfName ?? "the service account"} (uid ${me}) or root`;
    throw new AccessError(
      `the ${rules.what} ${dir} is owned by uid ${st.uid}, not by ${wanted}: uid ${st.uid} could ${rules.risk}`,
      {
        hint: rules.owner === "root" ? `as root, run: chown root:root ${dir}` : `sudo chown ${me} ${dir}`,
      },
    );
  }
  if ((st.mode & 0o022) !== 0 && !(rules.allowSticky === true && (st.mode & 0o1000) !== 0)) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
    const fixed = (st.mode & 0o755).toString(8).padStart(3, "0");
    throw new AccessError(
      `the ${rules.what} ${dir} has mode ${mode}: group or others can write it, and so ${rules.risk}`,
      {
        hint: rules.owner === "root" ? `as root, run: chmod ${fixed} ${dir}` : `sudo chmod ${fixed} ${dir}`,
      },
    );
  }
}
