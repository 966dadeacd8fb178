// Plain-text tables for the terminal: columns padded to their widest cell, two spaces apart.
// Rules: every cell is escaped (escape.ts) before it is measured, so a writer's text cannot act on the terminal.

import { escapeText } from "./escape.js";

/** Returns `rows` (the header first) as lines of text, each cell escaped; the last column is not padded. */
export function formatTable(table: string[][]): string {
  const rows = table.map((r) => r.map(escapeText));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        r
          .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
          .join("  ")
          .trimEnd() + "\n",
    )
    .join("");
}
