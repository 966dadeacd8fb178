// What `secretfile doctor` finds: one finding per thing checked, each problem with the command that fixes it.
// Rules: a fix is a command to paste into a shell (paths quoted), or plain words only when no command can do it.

/** How a check came out: fine, worth a look, wrong (makes doctor exit 1), or just information. */
export type Status = "ok" | "warn" | "fail" | "info";

/** One thing checked. */
export interface Finding {
  status: Status;
  /** What was found, e.g. "the identity /x/identity.txt has mode 0644: group or others can read it". */
  text: string;
  /** The command that fixes it, e.g. "chmod 600 /x/identity.txt". */
  fix?: string;
}

/** Returns an ok finding. */
export const ok = (text: string): Finding => ({ status: "ok", text });
/** Returns an information finding. */
export const info = (text: string): Finding => ({ status: "info", text });
/** Returns a warning with its fix. */
export const warn = (text: string, fix?: string): Finding => ({ status: "warn", text, fix });
/** Returns a failure with its fix. */
export const fail = (text: string, fix?: string): Finding => ({ status: "fail", text, fix });

export { shellQuote } from "../system/shell.js";

/** Returns `sudo ` unless this process is root: the prefix of a fix that needs root. */
export function sudo(): string {
  return process.getuid?.() === 0 ? "" : "sudo ";
}

/** Returns a mode as four octal digits, e.g. 0600. */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
