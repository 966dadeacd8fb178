// reportError with SECRETFILE_DEBUG=1: the cause of an expected error is shown readably, whatever it is.
// Rules: an Error cause prints as `Name: message`; a plain object cause prints its fields, not "[object Object]".

import { afterEach, describe, expect, it, vi } from "vitest";
import { reportError } from "../../src/cli/report.js";
import { FailureError } from "../../src/errors.js";

function reported(err: unknown): string {
  let text = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    reportError(err);
  } finally {
    spy.mockRestore();
  }
  return text;
}

describe("reportError under SECRETFILE_DEBUG=1", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.for([
    ["an Error", new Error("disk on fire"), "Error: disk on fire\n"],
    ["a plain object", { code: "EIO", syscall: "write" }, '{"code":"EIO","syscall":"write"}\n'],
    ["a string", "why", "why\n"],
  ] as const)("shows a cause that is %s", ([, cause, shown]) => {
    vi.stubEnv("SECRETFILE_DEBUG", "1");
    expect(reported(new FailureError("cannot write x", { cause }))).toBe(`secretfile: error: cannot write x\n${shown}`);
  });
});
