// What doctor says of the Node.js that runs secretfile: its version, where it is, and whether its release line still
// gets fixes (the table of lines is src/system/runtime.ts's).
// Rules: a line past its end of life is a warning, never a failure (every command still works); a line the table does
// not know is information, never called supported.

import { runtimeSupport, type RuntimeSupport } from "../system/runtime.js";
import { info, ok, warn, type Finding } from "./finding.js";

/** A Node.js: its version (as process.version) and its binary's path. */
export interface Runtime {
  version: string;
  path: string;
}

/** A Node.js and how its release line stands, as doctor --json prints it. */
export type RuntimeReport = Runtime & RuntimeSupport;

/** What to do about a runtime past its end of life (words: no one command does it). */
export const RUNTIME_FIX =
  "run secretfile on a Node.js release line that is still supported: install the Debian package, which carries one, or a newer Node.js (https://nodejs.org/en/about/previous-releases), then `secretfile setup` again if the agent runs on it";

/** Returns `runtime` with its release line's standing on `now`. Never throws. */
export function runtimeReport(runtime: Runtime, now: Date): RuntimeReport {
  return { ...runtime, ...runtimeSupport(runtime.version, now) };
}

/** Returns the finding of `report`: ok while its line is supported, a warning past its end, else information. */
export function checkRuntime(report: RuntimeReport): Finding {
  const node = `the runtime: Node.js ${report.version} (${report.path}): release line ${report.line}`;
  if (report.state === "supported") return ok(`${node}, supported until ${report.end}`);
  if (report.state === "ended") {
    const on = report.end === undefined ? "" : ` on ${report.end}`;
    return warn(`${node} reached its end of life${on} and gets no more security fixes`, RUNTIME_FIX);
  }
  return info(
    `${node}, newer than this secretfile's table of release lines: its end of life is listed on https://nodejs.org/en/about/previous-releases`,
  );
}
