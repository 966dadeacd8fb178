// SECURITY.md's role table is the one test/roles/table.ts renders: the contract in the docs and the one the tests
// walk cannot drift apart. SECRETFILE_WRITE_ROLE_TABLE=1 rewrites the generated part instead of checking it.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { BEGIN, END, renderRoleTable } from "./render.js";

const FILE = path.join(ROOT, "SECURITY.md");

it("SECURITY.md holds the role table rendered from test/roles/table.ts", () => {
  const text = readFileSync(FILE, "utf8");
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  expect(begin, `SECURITY.md has no line ${BEGIN}`).toBeGreaterThanOrEqual(0);
  expect(end, `SECURITY.md has no ${END} after the table`).toBeGreaterThan(begin);
  const rendered = `${BEGIN}\n${renderRoleTable()}\n${END}`;
  if (process.env.SECRETFILE_WRITE_ROLE_TABLE === "1") {
    writeFileSync(FILE, text.slice(0, begin) + rendered + text.slice(end + END.length));
    return;
  }
  expect(
    text.slice(begin, end + END.length),
    "SECURITY.md's role table differs from test/roles/table.ts: regenerate it (see the marker line)",
  ).toBe(rendered);
});
