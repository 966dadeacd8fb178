// The `update` request on the wire (src/protocol/wire.ts): what parses, and what is a `usage` answer before the agent
// looks at the policy or the store.

import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseRequest } from "../../src/protocol/wire.js";

const line = (fields: Record<string, unknown>) => JSON.stringify({ v: 1, op: "update", name: "K", ...fields });

describe("parseRequest: update", () => {
  it.for<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["an expiry", { expires: "2027-03-31" }, { expires: "2027-03-31" }],
    ["null, which clears", { expires: null, rotateEvery: null }, { expires: null, rotateEvery: null }],
    ["a period", { rotateEvery: 90 }, { rotateEvery: 90 }],
    ["an empty description, which clears", { description: "" }, { description: "" }],
    [
      "all three",
      { description: "d", expires: null, rotateEvery: 7 },
      { description: "d", expires: null, rotateEvery: 7 },
    ],
  ])("takes %s", ([, fields, want]) => {
    expect(parseRequest(line(fields))).toEqual({
      v: 1,
      op: "update",
      name: "K",
      description: undefined,
      expires: undefined,
      rotateEvery: undefined,
      ...want,
    });
  });

  it.for<[string, Record<string, unknown>, string]>([
    ["nothing to change", {}, '"update" needs at least one of'],
    ["a value (update never takes one)", { value: "v" }, '"update" needs at least one of'],
    ["a number as a date", { expires: 20270331 }, '"expires" must be a string or null'],
    ["a list as a description", { description: ["a"] }, '"description" must be a string or null'],
    ["a period of 0", { rotateEvery: 0 }, '"rotateEvery" must be a whole number of days'],
    ["a period as text", { rotateEvery: "90d" }, '"rotateEvery" must be a whole number of days'],
    ["a bad name", { name: "1K", expires: null }, '"name" must be a valid secret name'],
  ])("refuses %s (usage)", ([, fields, message]) => {
    expect(() => parseRequest(line(fields))).toThrow(UsageError);
    expect(() => parseRequest(line(fields))).toThrow(message);
  });
});
