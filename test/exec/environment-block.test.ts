// The job's environment as the addon takes it (src/exec/environment.ts environmentBlock): NUL-ended entries, and a
// NUL inside a name or a value refused rather than allowed to end its entry early (it would make what follows it a
// variable of its own, such as LD_PRELOAD).
import { describe, expect, it } from "vitest";
import { FailureError } from "../../src/errors.js";
import { environmentBlock } from "../../src/exec/environment.js";

describe("environmentBlock", () => {
  it("writes each variable as NAME=value and a NUL, in order, values as they are", () => {
    const block = environmentBlock({ PATH: "/usr/bin", KEY: "a=b c\nd", EMPTY: "", ÜNICODE: "é" });
    expect(block.toString("utf8")).toBe("PATH=/usr/bin\0KEY=a=b c\nd\0EMPTY=\0ÜNICODE=é\0");
  });

  it("is empty for an empty environment", () => {
    expect(environmentBlock({}).length).toBe(0);
  });

  it.for([
    ["a value", { KEY: "x\0LD_PRELOAD=/tmp/evil.so" }],
    ["a name", { "K\0LD_PRELOAD": "/tmp/evil.so" }],
  ] as const)("refuses a NUL in %s, naming the variable, never splitting it", ([, env]) => {
    let thrown: unknown;
    try {
      environmentBlock(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FailureError);
    expect((thrown as Error).message).toMatch(/^cannot give the job the variable "K.*": it holds a NUL byte$/);
    expect((thrown as Error).message).not.toContain("\0");
  });
});
