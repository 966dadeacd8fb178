// The stock age CLI, for interoperability tests: tests that need it skip with a reason when it is missing.

import { spawnSync } from "node:child_process";

/** True when `age` and `age-keygen` run on this host (CI installs them). */
export const hasAge =
  spawnSync("age", ["--version"]).status === 0 && spawnSync("age-keygen", ["--version"]).status === 0;

/** Why age tests are skipped, shown by the reporter. */
export const NO_AGE = "the age CLI is not installed (apt-get install age)";

function run(cmd: string, args: string[], input?: Buffer | string): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout;
}

/** Returns the public recipient of an identity file (`age-keygen -y`). */
export function ageRecipient(identityFile: string): string {
  return run("age-keygen", ["-y", identityFile]).toString().trim();
}

/** Encrypts `plaintext` to `recipients` with `age -r`; returns the ciphertext. */
export function ageEncrypt(plaintext: string | Buffer, ...recipients: string[]): Buffer {
  return run("age", [...recipients.flatMap((r) => ["-r", r])], plaintext);
}

/** Decrypts `file` with `age -d -i identityFile`; returns the plaintext, throws when age fails. */
export function ageDecrypt(identityFile: string, file: string): Buffer {
  return run("age", ["-d", "-i", identityFile, file]);
}

/** Creates an identity file with `age-keygen -o`. */
export function ageKeygen(file: string): void {
  run("age-keygen", ["-o", file]);
}

/** A store document as the age CLI decrypts it (the fields tests look at). */
export interface OpenedStore {
  format: string;
  version: number;
  secrets: Record<string, { value: string; description?: string }>;
  recipients?: { recipient: string; label: string; added: string }[];
}

/** Returns the store document in the age file `file` decrypted by `age -d -i identityFile`, or undefined when it does not open. */
export function ageOpens(identityFile: string, file: string): OpenedStore | undefined {
  try {
    return JSON.parse(ageDecrypt(identityFile, file).toString("utf8")) as OpenedStore;
  } catch {
    return undefined;
  }
}
