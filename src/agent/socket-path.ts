// The agent's socket path: its folder, and what may already sit at the path before the agent listens there.
// Rules: only a folder of the service account or root that no one else can write; never follow a link; never remove
// anything but a socket of this account that nothing listens on.

import { lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import { AccessError, FailureError } from "../errors.js";
import { checkTrustedFolder } from "../system/folder.js";
import { errnoOf } from "../system/errno.js";

/** Refuses a socket folder another user could put a socket of their own in (src/system/folder.ts). */
export function checkSocketFolder(dir: string): void {
  checkTrustedFolder(dir, {
    what: "socket folder",
    owner: "self",
    risk: "put a socket of their own in the agent's place",
    createHint:
      "create it, owned by the service account, mode 0755 (`sudo secretfile setup` and the systemd socket unit do)",
    kindHint: "point --socket at a path in a real folder owned by the service account",
  });
}

/**
 * Removes a socket file left by an agent of this account that died. Refuses anything that is not a socket, a socket
 * of another uid (not ours to remove), and a socket something still listens on or that cannot be probed.
 * Throws AccessError (4) for the first two, FailureError (1) for the others.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new AccessError(`refusing to replace ${path}: it is not a socket`, {
      hint: "move it aside; the agent creates its socket there",
    });
  }
  const me = process.getuid?.() ?? st.uid;
  if (st.uid !== me) {
    throw new AccessError(
      `refusing to replace ${path}: it is a socket of uid ${st.uid}, not of the service account (uid ${me})`,
      {
        hint: `if no agent should be listening there, remove it: sudo rm ${path}`,
      },
    );
  }
  const probe = await new Promise<string>((resolve) => {
    const conn = net.createConnection(path);
    conn.once("connect", () => {
      conn.destroy();
      resolve("live");
    });
    conn.once("error", (err: Error) => resolve(errnoOf(err) ?? "error"));
  });
  if (probe === "live") {
    throw new FailureError(`another agent is already listening on ${path}`, {
      hint: "stop it first (`systemctl stop secretfile`), or use another --socket",
    });
  }
  // Only a socket nothing listens on is stale; one that cannot even be tried is left alone.
  if (probe !== "ECONNREFUSED") {
    throw new FailureError(`cannot tell whether something listens on ${path} (${probe})`, {
      hint: `if no agent is running, remove it: sudo rm ${path}`,
    });
  }
  unlinkSync(path);
}
