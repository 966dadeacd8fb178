// Making a secret's next value with the user's own script, and checking it before it is stored (`secretfile rotate`).
// Rules: the script and the check run as the caller, each within its deadline; what either prints reaches the caller
// only masked of the old and the new value; any failure leaves nothing to store and says which step failed and why.

import { FailureError } from "../errors.js";
import { checkValue, MAX_VALUE_BYTES } from "../store/names.js";
import { runBounded, type BoundedResult } from "./bounded.js";
import { resolveCommand } from "./command-path.js";
import { environmentRecord } from "./environment.js";
import { maskBuffer, maskPatterns } from "./mask.js";

/** What a rotation needs: the secret, its value now (empty when the caller may not read it), the programs to run. */
export interface RotateSpec {
  name: string;
  current: string;
  /** The script: its path or a name found in `searchPath`; it gets no arguments. */
  script: string;
  /** The check and its arguments, run with NAME set to the new value; none: no check. */
  check: string[];
  /** Each program's deadline. */
  timeoutMs: number;
  /** The caller's environment and PATH (programs are found with the caller's own PATH). */
  env: NodeJS.ProcessEnv;
  /** Where the programs' masked standard error (and the check's standard output) go. */
  print: (bytes: Buffer) => void;
}

/**
 * Runs the script with the current value on its standard input and returns the new value it printed (one trailing
 * newline dropped), once the check, if any, succeeded with it. Throws FailureError (1) when the script or the check
 * fails, exceeds its deadline or the script prints no usable value; CannotRunError (126, 127) when either cannot start.
 */
export async function nextValue(spec: RotateSpec): Promise<string> {
  const { name } = spec;
  const keep = `${name} keeps its current value`;
  const env = environmentRecord({ base: spec.env, secrets: new Map() });
  const known = new Map(spec.current === "" ? [] : [[name, spec.current]]);
  const script = await runBounded({
    file: resolveCommand(spec.script, spec.env.PATH),
    command: spec.script,
    args: [],
    env,
    input: spec.current === "" ? "" : `${spec.current}\n`,
    timeoutMs: spec.timeoutMs,
    maxBytes: MAX_VALUE_BYTES + 2,
  });
  const value = valueOf(script);
  // Masked with the new value as well: a script may print it on its standard error too.
  const masked = new Map([...known, ...(value === undefined ? [] : ([[`${name} (new)`, value]] as const))]);
  print(spec, script.stderr, masked);
  const failed = stepFailure("the script", spec.script, script, spec.timeoutMs);
  if (failed !== undefined) throw new FailureError(`${failed}: ${keep}`, { hint: SCRIPT_HINT });
  if (script.stdoutDropped > 0)
    throw new FailureError(
      `the script ${spec.script} printed more than the ${MAX_VALUE_BYTES} bytes a value may hold: ${keep}`,
      {
        hint: SCRIPT_HINT,
      },
    );
  const next = checkNext(name, script.stdout, keep);
  if (next === spec.current)
    throw new FailureError(`the script ${spec.script} printed the current value of ${name} again: ${keep}`, {
      hint: SCRIPT_HINT,
    });
  if (spec.check.length === 0) return next;
  const [command, ...args] = spec.check as [string, ...string[]];
  const check = await runBounded({
    file: resolveCommand(command, spec.env.PATH),
    command,
    args,
    env: environmentRecord({ base: spec.env, secrets: new Map([[name, next]]) }),
    input: "",
    timeoutMs: spec.timeoutMs,
    maxBytes: MAX_VALUE_BYTES,
  });
  print(spec, Buffer.concat([check.stdout, check.stderr]), masked);
  const refused = stepFailure("the check", command, check, spec.timeoutMs);
  if (refused !== undefined)
    throw new FailureError(`${refused}: ${keep}; the new one is not stored`, {
      hint: "the old value is still current; fix what the check found (or the check itself) and rotate again",
    });
  return next;
}

const SCRIPT_HINT =
  "the script reads the current value on standard input and prints the new one alone on standard output; run it by hand to see what it does";

/** Returns the text of the script's standard output when it is a usable value, else undefined (for masking). */
function valueOf(run: BoundedResult): string | undefined {
  try {
    return checkValue("x", dropNewline(run.stdout));
  } catch {
    return undefined;
  }
}

/** Returns the new value; throws FailureError saying why the script's output is not one. */
function checkNext(name: string, stdout: Buffer, keep: string): string {
  const bytes = dropNewline(stdout);
  try {
    return checkValue(name, bytes);
  } catch (cause) {
    const why = bytes.length === 0 ? "printed no value" : "printed a value the store cannot hold";
    throw new FailureError(`the script ${why} for ${name}: ${keep}`, {
      hint: cause instanceof Error ? `${cause.message}; ${SCRIPT_HINT}` : SCRIPT_HINT,
      cause,
    });
  }
}

/** Drops one trailing newline (\n or \r\n), as `add` does with standard input. */
function dropNewline(buf: Buffer): Buffer {
  return buf.at(-1) === 0x0a ? buf.subarray(0, buf.at(-2) === 0x0d ? -2 : -1) : buf;
}

/** Returns why a step failed ("the script X exceeded its 60 s deadline", "… exited with status 3"), or undefined. */
function stepFailure(step: string, command: string, run: BoundedResult, timeoutMs: number): string | undefined {
  if (run.timedOut) return `${step} ${command} did not finish within its ${timeoutMs / 1000} s deadline and was killed`;
  if (run.status === 0) return undefined;
  return run.status > 128
    ? `${step} ${command} was killed by signal ${run.status - 128}`
    : `${step} ${command} failed with exit status ${run.status}`;
}

/** Passes `bytes` to the spec's printer with every value of `values` masked. */
function print(spec: RotateSpec, bytes: Buffer, values: Map<string, string>): void {
  if (bytes.length === 0) return;
  spec.print(values.size === 0 ? bytes : maskBuffer(bytes, maskPatterns(values), true).out);
}
