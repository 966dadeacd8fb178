// Finding the job's program: COMMAND searched in the caller's own PATH (never the job's, which secrets may change),
// as execvp and a shell search it. Rules: the result is an absolute path, so nothing searches again; a folder of PATH
// that cannot be searched is skipped; 126 only for a file found that cannot be run, 127 for one not found.

import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { ExitCode, SecretfileError } from "../errors.js";
import { errnoOf } from "../system/errno.js";

/** The PATH searched when the caller has none, as glibc's execvp does (confstr _CS_PATH). */
const DEFAULT_PATH = "/bin:/usr/bin";

/** Why a file found could not be run: no right to execute it, a folder, a folder on its way, or refused by exec. */
export type Refusal = "denied" | "folder" | "unsearchable" | "exec";

/** The hint for each refusal of `file`. */
const REFUSAL_HINTS: Record<Refusal, (file: string) => string> = {
  denied: (file) => `chmod +x ${file}`,
  folder: (file) => `${file} is a folder: name the program in it`,
  unsearchable: (file) => `you may not reach ${file}: check the modes of the folders on its way`,
  exec: (file) => `check that ${file} may be run by you and that its file system is not mounted noexec`,
};

/** A job that could not be started: 127 (not found) or 126 (found, not executable), as a shell reports it. */
export class CannotRunError extends SecretfileError {
  /**
   * For 126, `file` is the file found and `refusal` why it could not run; for 127, `skipped` lists the folders of
   * PATH that could not be searched.
   */
  constructor(
    command: string,
    status: 126 | 127,
    details: { file?: string; refusal?: Refusal; skipped?: string[]; cause?: unknown } = {},
  ) {
    const notFound = status === ExitCode.commandNotFound;
    const skipped = details.skipped ?? [];
    const hint = !notFound
      ? REFUSAL_HINTS[details.refusal ?? "exec"](details.file ?? command)
      : skipped.length > 0
        ? `check the command's name; folders of PATH you may not search were skipped: ${skipped.join(", ")}`
        : "check the command's name and PATH (cron's PATH is short: use a full path)";
    super(
      "cannot-run",
      notFound ? ExitCode.commandNotFound : ExitCode.cannotExecute,
      `cannot run ${command}: ${notFound ? "command not found" : "permission denied"}`,
      {
        hint,
        cause: details.cause,
      },
    );
  }
}

/**
 * Returns the absolute path of `command`: as given when it holds a "/", else the first executable file named so in
 * a folder of `searchPath` (the caller's own PATH; an empty entry is the current folder). A folder that cannot be
 * searched (EACCES) is skipped, as execvp skips it. Throws CannotRunError: 126 when a file was found (or named) but
 * may not be executed, 127 when none was found.
 */
export function resolveCommand(command: string, searchPath: string | undefined): string {
  if (command.includes("/")) {
    const file = path.resolve(command);
    const found = probe(file);
    if (found === "ok") return file;
    // Named by path, a folder or a file we may not reach is 126, as a shell says ("Is a directory", "Permission denied").
    if (found === "missing") throw new CannotRunError(command, 127);
    throw new CannotRunError(command, 126, { file, refusal: found });
  }
  const skipped: string[] = [];
  let denied: string | undefined;
  for (const dir of (searchPath ?? DEFAULT_PATH).split(":")) {
    const file = path.resolve(dir || ".", command);
    const found = probe(file);
    if (found === "ok") return file;
    if (found === "unsearchable") skipped.push(dir || ".");
    else if (found === "denied") denied ??= file; // a folder of that name is passed over, as a shell does
  }
  if (denied !== undefined) throw new CannotRunError(command, 126, { file: denied, refusal: "denied" });
  throw new CannotRunError(command, 127, { skipped });
}

/**
 * What is at `file`: an executable file ("ok"), a file without the right to run it ("denied"), a folder ("folder"),
 * nothing ("missing"), or a folder on its way we may not search ("unsearchable").
 */
function probe(file: string): "ok" | "denied" | "folder" | "missing" | "unsearchable" {
  let isFile: boolean;
  try {
    const st = statSync(file);
    if (st.isDirectory()) return "folder";
    isFile = st.isFile();
  } catch (err) {
    return errnoOf(err) === "EACCES" ? "unsearchable" : "missing";
  }
  if (!isFile) return "denied";
  try {
    accessSync(file, constants.X_OK);
    return "ok";
  } catch {
    return "denied";
  }
}
