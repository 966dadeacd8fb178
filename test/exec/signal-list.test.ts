// The signals `exec` takes over (src/exec/signals.ts): on Linux the list is written out, not looked up in node:os,
// so every name in it must be one Linux has.
import os from "node:os";
import { describe, expect, it } from "vitest";
import { FORWARDED_SIGNALS, TERMINATING_SIGNALS } from "../../src/exec/signals.js";

describe.skipIf(process.platform !== "linux")("the signals exec takes over, on Linux", () => {
  it("are all signals this platform has, each once, with SIGWINCH forwarded too", () => {
    expect(TERMINATING_SIGNALS.filter((s) => !(s in os.constants.signals))).toEqual([]);
    expect(new Set(TERMINATING_SIGNALS).size).toBe(TERMINATING_SIGNALS.length);
    expect(FORWARDED_SIGNALS).toEqual([...TERMINATING_SIGNALS, "SIGWINCH"]);
  });
});
