// errnoOf: the one way src/ reads the errno name of a caught error (issue 16, item 4).
// Rules: a real system error gives its code; anything else, whatever its shape, gives undefined and never throws.

import { promises as fs } from "node:fs";
import { describe, expect, it } from "vitest";
import { errnoOf } from "../../src/system/errno.js";

describe("errnoOf", () => {
  it("returns the code of a real Node system error", async () => {
    const err: unknown = await fs.readFile("/nonexistent/secretfile-errno-test").catch((e: unknown) => e);
    expect(errnoOf(err)).toBe("ENOENT");
  });

  it.for([
    ["undefined", undefined],
    ["null", null],
    ["a string", "ENOENT"],
    ["a number", 2],
    ["an Error without a code", new Error("boom")],
    ["a numeric code", Object.assign(new Error("x"), { code: 2 })],
    ["a plain object with a non-string code", { code: { toString: () => "ENOENT" } }],
  ] as const)("returns undefined for %s", ([, err]) => {
    expect(errnoOf(err)).toBeUndefined();
  });

  it("reads a string code from any object (the errors proper-lockfile and the addon make)", () => {
    expect(errnoOf({ code: "ELOCKED" })).toBe("ELOCKED");
  });
});
