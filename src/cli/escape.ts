// The one escaping of text on its way to a person: everything the CLI prints passes through here.
// Rules: a control, format (bidi included), separator or lone surrogate character is shown as its \uXXXX escape, one per
// UTF-16 unit, never raw; everything else is left as it is. JSON output gets the same escapes, so it stays valid JSON.

import { unsafeText } from "../store/names.js";

let unsafe: RegExp | undefined;
/** unsafeText() for every match; made on first use, as it is. */
const unsafeAll = (): RegExp => (unsafe ??= new RegExp(unsafeText().source, "gu"));

/** Returns `text` with each character a terminal could act on (ESC, CSI, U+202E …) written as `\uXXXX`. */
export function escapeText(text: string): string {
  return text.replace(unsafeAll(), unitEscapes);
}

/**
 * Returns `value` as JSON (indented by `indent` spaces when given) with C1 controls, DEL, format characters and
 * U+2028/2029 escaped too: JSON.stringify escapes only C0 and lone surrogates, and these can only be inside strings.
 */
export function jsonText(value: unknown, indent?: number): string {
  // C0 left in the text is the indentation's line breaks: JSON.stringify escaped those inside strings already.
  return JSON.stringify(value, null, indent).replace(unsafeAll(), (ch) => (ch < " " ? ch : unitEscapes(ch)));
}

function unitEscapes(ch: string): string {
  let out = "";
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}
