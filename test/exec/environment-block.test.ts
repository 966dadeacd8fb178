// The job's environment as the addon takes it (src/exec/environment.ts environmentBlock): NUL-ended entries, and a
// NUL inside a name or a value refused rather than allowed to end its entry early (it would make what follows it a
// variable of its own, such as LD_PRELOAD).
import { describe, expect, it } from "vitest";
import { FailureError } from "../../src/errors.js";
import { environmentBlock } from "../../src/exec/environment.js";

describe("environmentBlock", () => {
  it("writes each variable as NAME=value and a NUL, in order, values as they are", () => {
    const block = environmentBlock({
      base: { PATH: "/usr/bin", KEY: "inherited", GONE: undefined, EMPTY: "" },
      secrets: new Map([
        ["KEY", "a=b c\nd"],
        ["ÜNICODE", "é"],
      ]),
    });
    expect(block.toString("utf8")).toBe("PATH=/usr/bin\0EMPTY=\0KEY=a=b c\nd\0ÜNICODE=é\0");
  });

  it("is empty for an empty environment", () => {
    expect(environmentBlock({ base: {}, secrets: new Map() }).length).toBe(0);
  });

  it.for([
    ["an inherited value", { KEY: "x\0LD_PRELOAD=/tmp/evil.so" }, {}],
    ["an inherited name", { "K\0LD_PRELOAD": "/tmp/evil.so" }, {}],
    ["a secret's value", {}, { KEY: "x\0LD_PRELOAD=/tmp/evil.so" }],
    ["a secret's name", {}, { "K\0LD_PRELOAD": "/tmp/evil.so" }],
  ] as const)("refuses a NUL in %s, naming the variable, never splitting it", ([, base, secrets]) => {
    let thrown: unknown;
    try {
      environmentBlock({ base, secrets: new Map(Object.entries(secrets)) });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FailureError);
    expect((thrown as Error).message).toMatch(/^cannot give the job the variable "K.*": it holds a NUL byte$/);
    expect((thrown as Error).message).not.toContain("\0");
  });
});
