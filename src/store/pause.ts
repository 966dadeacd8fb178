// A test hook: stop a multi-step change at a named step, so a test can kill the process exactly there.
// Rules: inert unless SECRETFILE_TEST_PAUSE names the step; then it creates SECRETFILE_TEST_PAUSE_FILE and waits for ever.

import { writeFileSync } from "node:fs";

/** Resolves at once, unless SECRETFILE_TEST_PAUSE is `step`: then it never resolves (the test kills the process). */
export async function pausePoint(step: string): Promise<void> {
  if (process.env.SECRETFILE_TEST_PAUSE !== step) return;
  const file = process.env.SECRETFILE_TEST_PAUSE_FILE;
  if (file !== undefined && file !== "") writeFileSync(file, `${step}\n`);
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}
