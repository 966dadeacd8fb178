// README.md's quick-start blocks, read from README.md itself (never copied into a test), so an edit that breaks a path
// fails the test that runs it. Rules: a block is the ```sh fence right after a `<!-- test/readme/NAME.test.ts … -->`
// comment; a block that is missing, or longer than its target in commands, is an error, not a skip.

import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/cli.js";

/** One quick-start block: its text as written, and its commands (lines without their trailing comments). */
export interface Block {
  text: string;
  commands: string[];
}

/** Returns the block README.md marks for `test/readme/<name>.test.ts`. Throws when there is none. */
export function readmeBlock(name: string, readme = readFileSync(path.join(ROOT, "README.md"), "utf8")): Block {
  const marker = `<!-- test/readme/${name}.test.ts `;
  const at = readme.indexOf(marker);
  const fence = /\n```sh\n([\s\S]*?)\n```/y;
  fence.lastIndex = at < 0 ? 0 : readme.indexOf("-->", at) + 3;
  const m = at < 0 ? null : fence.exec(readme);
  if (m === null) throw new Error(`README.md has no \`\`\`sh block right after "${marker}…-->"`);
  const text = `${m[1]!}\n`;
  // A comment is a ` #` outside quotes; the README's lines keep theirs simple enough for this.
  const commands = text
    .split("\n")
    .map((line) => line.replace(/\s+#\s[^'"]*$/, "").trim())
    .filter((line) => line !== "");
  return { text, commands };
}
