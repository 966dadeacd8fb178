// Loading the policy file from disk, and a cheap stamp to notice when it changes.
// Rules: never follow a symlink; trust only a regular file owned by root that no one else can write, in a folder
// owned by root that no one else can swap it in (group- or world-writable without the sticky bit); cap the size.

import { constants, lstatSync, promises as fs } from "node:fs";
import { dirname } from "node:path";
import { AccessError, FailureError } from "../errors.js";
import { checkTrustedFolder } from "../system/folder.js";
import { parsePolicyBytes, type Policy } from "./parse.js";
import { errnoOf } from "../system/errno.js";
import { shellQuote } from "../system/shell.js";

/** The largest policy file we read: 1 MiB. */
export const POLICY_MAX_BYTES = 1024 * 1024;

/**
 * Opens (without following a symlink), checks and parses the policy file at `path`.
 * Returns the Policy. Throws AccessError (exit 4) for a symlink, a non-regular file, an owner other than
 * root or a group- or world-writable mode, or a folder another user could replace it in; FailureError for a missing or oversize file or a read error;
 * PolicySyntaxError (a FailureError) listing every bad line.
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang us before fstat can refuse it.
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw openError(path, error);
  }
  try {
    const stat = await handle.stat();
    const fix = `as root, run: chown root:root ${shellQuote(path)} && chmod 644 ${shellQuote(path)}`;
    if (!stat.isFile()) {
      throw new AccessError(`refusing policy file ${path}: not a regular file`, {
        hint: `replace it with a regular file owned by root with mode 0644`,
      });
    }
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
    if (stat.uid !== 0) {
      throw new AccessError(`refusing policy file ${path}: owned by uid ${stat.uid} (mode ${mode}), not by root`, {
        hint: fix,
      });
    }
    if ((stat.mode & 0o022) !== 0) {
      const who = (stat.mode & 0o022) === 0o022 ? "group and others" : stat.mode & 0o020 ? "group" : "others";
      throw new AccessError(`refusing policy file ${path}: mode ${mode} lets ${who} write it`, { hint: fix });
    }
    if (stat.size > POLICY_MAX_BYTES) throw tooBig(path, stat.size);
    checkFolder(dirname(path));
    return parsePolicyBytes(await readCapped(handle, path), path);
  } finally {
    await handle.close();
  }
}

/** Refuses a policy folder another user than root could replace the policy in (src/system/folder.ts). */
function checkFolder(dir: string): void {
  checkTrustedFolder(dir, {
    what: "policy folder",
    owner: "root",
    risk: "replace the policy",
    allowSticky: true,
    createHint: `create it as root, mode 0755: mkdir -p ${shellQuote(dir)}`,
    kindHint: "name the real file with --policy, in a real folder owned by root",
  });
}

/**
 * Returns a cheap stamp of the file at `path` (lstat, not followed): `dev:ino:size:mtimeNs:ctimeNs`,
 * ctime included so a chmod or chown shows; "missing" when nothing is there. Equal stamps mean
 * "no need to reload". Throws FailureError when the path cannot be examined.
 */
export async function policyFileStamp(path: string): Promise<string> {
  try {
    // Synchronous on purpose: the agent stamps on every request, and a cached lstat costs microseconds, far less
    // than a round trip through the thread pool.
    const s = lstatSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    const code = errnoOf(error);
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw new FailureError(`cannot examine policy file ${path}: ${code ?? "unknown error"}`, { cause: error });
  }
}

/** Reads at most POLICY_MAX_BYTES, failing if the file grew past it after fstat. */
async function readCapped(handle: fs.FileHandle, path: string): Promise<Uint8Array> {
  const buffer = Buffer.alloc(POLICY_MAX_BYTES + 1);
  let total = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, total, buffer.length - total, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > POLICY_MAX_BYTES) throw tooBig(path, total);
  }
  return buffer.subarray(0, total);
}

function tooBig(path: string, size: number): FailureError {
  return new FailureError(`policy file ${path} is ${size} bytes; the limit is ${POLICY_MAX_BYTES} (1 MiB)`, {
    hint: "a policy needs one short line a rule; check that the right file is named",
  });
}

function openError(path: string, error: unknown): Error {
  const code = errnoOf(error);
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new FailureError(`policy file ${path} does not exist`, {
      hint: `as root, run \`secretfile setup\` (with sudo: \`sudo secretfile setup\`), or create ${path} owned by root with mode 0644, one rule a line`,
      cause: error,
    });
  }
  if (code === "ELOOP" || code === "EMLINK") {
    return new AccessError(`refusing to follow a symlink at policy file ${path}`, {
      hint: `name the real file with --policy, or replace the link with a regular file owned by root with mode 0644`,
      cause: error,
    });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new AccessError(`cannot read policy file ${path}: permission denied`, {
      hint: `the policy must be readable by the agent's account: as root, run: chmod 644 ${shellQuote(path)}`,
      cause: error,
    });
  }
  return new FailureError(`cannot open policy file ${path}: ${code ?? "unknown error"}`, { cause: error });
}
