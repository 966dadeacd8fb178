import { describe, expect, it } from "vitest";
import { readmeBlock } from "./blocks.js";

describe("README's quick-start blocks", () => {
  it("finds the block after its marker, with its commands stripped of comments", () => {
    const readme = "x\n<!-- test/readme/demo.test.ts runs this -->\n```sh\na --b   # first\nc 'd # e'\n```\n";
    expect(readmeBlock("demo", readme)).toEqual({
      text: "a --b   # first\nc 'd # e'\n",
      commands: ["a --b", "c 'd # e'"],
    });
  });

  it("throws when the marker or its block is missing", () => {
    expect(() => readmeBlock("demo", "no marker")).toThrow(/no ```sh block/);
    expect(() => readmeBlock("demo", "<!-- test/readme/demo.test.ts x -->\n\ntext\n```sh\na\n```\n")).toThrow();
  });

  // The targets: a laptop at most 4 commands, a server at most 6 to a working cron job (and one more that shows
  // another user refused).
  it.for([
    ["laptop", 4],
    ["server", 7],
  ] as const)("the %s block has at most %i commands", ([name, most]) => {
    expect(readmeBlock(name).commands.length).toBeLessThanOrEqual(most);
  });
});
