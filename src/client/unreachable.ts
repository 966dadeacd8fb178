// The errors of the agent client that say the agent did not serve a request (exit 6), with how to get it back.
// Rules: each names the socket and says whether the request may have been carried out; the start hint fits hosts with
// systemd and without it, and is the one doctor prints as the fix for a down agent.

import { AgentUnreachableError, FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";

/**
 * How to start the agent, as root, on systemd hosts and the others (an init script, or by hand as the service
 * account): the hint of every "cannot reach the agent" error, and the fix doctor prints for a down agent.
 */
export const START_AGENT =
  "start it as root: `systemctl start secretfile.socket` (systemd), else `/etc/init.d/secretfile start`, or `runuser -u secretfile -- secretfile agent &`";

/** The agent closed the connection before its answer: the request may or may not have been carried out. */
export function closedEarly(socket: string, why: string): ClosedEarlyError {
  return new ClosedEarlyError(`the agent at ${socket} closed the connection without answering${why}`, {
    hint: "the request may or may not have been carried out; run the command again, and if it keeps failing look at the agent's log: `journalctl -u secretfile`",
  });
}

/** Exit 6: the agent took the request and closed without an answer (it was stopping, or it failed). */
export class ClosedEarlyError extends AgentUnreachableError {}

/** The agent sent more than the client reads. */
export function oversized(socket: string): FailureError {
  return new FailureError(`the agent at ${socket} sent an oversized answer`);
}

/** No connection could be made (`tried for` the time spent retrying, when more than once). */
export function unreachable(socket: string, err: Error, waitedMs: number): AgentUnreachableError {
  const code = errnoOf(err);
  const why =
    code === "ENOENT" ? "no socket there" : code === "ECONNREFUSED" ? "nothing is listening" : (code ?? err.message);
  const waited = waitedMs > 0 ? `, tried for ${(waitedMs / 1000).toFixed(1)} s` : "";
  return new AgentUnreachableError(`cannot reach the agent at ${socket} (${why}${waited})`, {
    hint: `is it running? ${START_AGENT}; its state: \`systemctl status secretfile.socket secretfile\``,
    cause: err,
  });
}
