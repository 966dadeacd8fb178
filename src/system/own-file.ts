// The check sshd's StrictModes makes, for a file the caller names for their own job (exec --env-file): nobody but the
// caller and root may write the file, nor any folder above it (a sticky folder such as /tmp is fine, as for the policy).
// Rules: the folders checked are the real ones (no link among them), and the file read must be the one found there.

import { lstatSync, realpathSync, type Stats } from "node:fs";
import path from "node:path";
import { AccessError, UsageError } from "../errors.js";
import { errnoOf } from "./errno.js";
import { checkTrustedFolder } from "./folder.js";
import { shellQuote } from "./shell.js";

/**
 * Refuses `file`, named `what` in messages, whose open handle's status is `st`, when someone other than the caller or
 * root owns it or can write it or a folder above it. Throws AccessError (exit 4) naming the fix.
 */
export function checkOwnFile(file: string, st: Stats, what: string): void {
  const me = process.getuid?.() ?? st.uid;
  const q = shellQuote(file);
  if (st.uid !== me && st.uid !== 0) {
    throw new AccessError(
      `refusing the ${what} ${file}: it is owned by uid ${st.uid}, not by you (uid ${me}) or root`,
      {
        hint: `its owner could change what your job gets: copy it to a file of your own (cp ${q} ~/job.env && chmod 600 ~/job.env) and name that`,
      },
    );
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
    throw new AccessError(`refusing the ${what} ${file}: mode ${mode} lets its group or others write it`, {
      hint: `chmod go-w ${q}`,
    });
  }
  let dir: string;
  try {
    dir = realpathSync(path.dirname(path.resolve(file)));
  } catch (cause) {
    throw new UsageError(`cannot read the ${what} ${file} (${errnoOf(cause) ?? String(cause)})`, { cause });
  }
  for (let d = dir; ; d = path.dirname(d)) {
    checkTrustedFolder(d, {
      what: `folder of the ${what}`,
      owner: "self",
      selfName: "you",
      risk: `replace the ${what} ${file}`,
      allowSticky: true,
      createHint: `name a file in a folder you can read`,
      kindHint: `name a file in a real folder`,
    });
    if (d === path.dirname(d)) break;
  }
  // The checked folders hold the file read only if no link above it moved between the open and the walk.
  const there = lstatSync(path.join(dir, path.basename(file)), { throwIfNoEntry: false });
  if (there === undefined || there.dev !== st.dev || there.ino !== st.ino) {
    throw new AccessError(`refusing the ${what} ${file}: a folder above it changed while it was read`, {
      hint: "run the command again; if it persists, name the file by its real path (readlink -f)",
    });
  }
}
