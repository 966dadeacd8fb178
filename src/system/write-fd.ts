// Writing to a file descriptor directly: for standard output and error where process.stdout would load node:net and
// its streams (a pipe or a terminal), a cost at every start (bench/limits.md).
// Rules: everything is written or an error thrown; a full non-blocking pipe is waited for, as process.stdout would.

import { writeSync } from "node:fs";
import { errnoOf } from "./errno.js";

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `bytes` to `fd`. Throws the write's error (EPIPE: the reader is gone). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    try {
      done += writeSync(fd, bytes, done);
    } catch (err) {
      if (errnoOf(err) !== "EAGAIN") throw err;
      Atomics.wait(PAUSE, 0, 0, 1); // a non-blocking pipe that is full: its reader is slow
    }
  }
}
