// Templates with secret references: `((secretfile:NAME))` or `((secretfile:NAME|FILTER))`, escaped as `\((secretfile:`.
// Rules: the syntax clashes with none of INI, YAML, JSON, TOML, shell or Jinja (docs/render.md says why); anything that
// starts like a reference but is not one is an error naming its line, never left in the output; a value (a writer's
// text) never changes the file's lines unless the template asks for that with `|raw`; no value in a message.

import { UsageError } from "../errors.js";
import { isValidName } from "../store/names.js";

/** What opens a reference. */
export const OPEN = "((secretfile:";
/** The filters a reference may name: how the value is written. */
export const FILTERS = ["json", "sh", "raw"] as const;
export type Filter = (typeof FILTERS)[number];

/** One piece of a parsed template: text as it is, or a reference to a secret. */
export type Part = { text: string } | { name: string; filter: Filter | undefined; line: number };

/** A parsed template: the file it came from (for messages), its pieces, and the names it uses, once each, in order. */
export interface Template {
  file: string;
  parts: Part[];
  names: string[];
}

/**
 * What a value written without a filter may not hold: a control character (C0, DEL, C1: line feed, carriage return,
 * form feed, vertical tab, NEL, ...) or a line or paragraph separator, the characters some reader counts as a line end.
 */
const LINE_BREAKING = /[\p{Cc}\u2028\u2029]/u;

const REFERENCE = /^\(\(secretfile:([^()|\s]*)(?:\|([^()\s]*))?\)\)/;

/**
 * Parses `text` (the template file `file`, named in errors). Throws UsageError (2) naming the line of a reference that
 * is malformed, has an invalid secret name or an unknown filter.
 */
export function parseTemplate(text: string, file: string): Template {
  const parts: Part[] = [];
  const names = new Set<string>();
  let from = 0;
  let literal = "";
  for (let at = text.indexOf(OPEN); at !== -1; at = text.indexOf(OPEN, from)) {
    const line = lineOf(text, at);
    if (at > 0 && text[at - 1] === "\\") {
      // `\((secretfile:` is the literal `((secretfile:`: the backslash goes, the rest stays as it is.
      literal += text.slice(from, at - 1) + OPEN;
      from = at + OPEN.length;
      continue;
    }
    const m = REFERENCE.exec(text.slice(at, at + OPEN.length + 160));
    if (m === null) {
      throw new UsageError(`${file}:${line}: a reference must be ((secretfile:NAME)) or ((secretfile:NAME|FILTER))`, {
        hint: `to keep the text ((secretfile: as it is, write \\((secretfile: (see docs/render.md)`,
      });
    }
    const name = m[1]!;
    const filter = m[2];
    if (!isValidName(name)) {
      throw new UsageError(`${file}:${line}: invalid secret name ${JSON.stringify(name.slice(0, 40))} in a reference`, {
        hint: "a name is letters, digits and '_', not starting with a digit (e.g. ((secretfile:MERAKI_API_KEY)))",
      });
    }
    if (filter !== undefined && !(FILTERS as readonly string[]).includes(filter)) {
      throw new UsageError(`${file}:${line}: unknown filter ${JSON.stringify(filter.slice(0, 40))} for ${name}`, {
        hint: `the filters are: ${FILTERS.join(", ")} (json: a quoted JSON, YAML or TOML string; sh: a quoted shell word; raw: the value as it is, line breaks included)`,
      });
    }
    parts.push({ text: literal + text.slice(from, at) }, { name, filter: filter as Filter | undefined, line });
    literal = "";
    names.add(name);
    from = at + m[0].length;
  }
  parts.push({ text: literal + text.slice(from) });
  return { file, parts: parts.filter((p) => !("text" in p) || p.text !== ""), names: [...names] };
}

/**
 * Returns the template with each reference replaced by its value from `values`, filtered. Throws UsageError (2) naming
 * the template, line and secret (never the value) when a reference without a filter meets a value that holds a control
 * character or a line separator: written as it is, it could add lines (an INI section, a YAML key) to the file.
 * Throws Error if a value is missing.
 */
export function renderTemplate(t: Template, values: Map<string, string>): string {
  let out = "";
  for (const p of t.parts) {
    if ("text" in p) out += p.text;
    else {
      const value = values.get(p.name);
      if (value === undefined) throw new Error(`no value for ${p.name}`);
      if (p.filter === undefined && LINE_BREAKING.test(value)) throw lineBreaking(t.file, p.line, p.name);
      out += applyFilter(value, p.filter);
    }
  }
  return out;
}

function lineBreaking(file: string, line: number, name: string): UsageError {
  return new UsageError(
    `${file}:${line}: the value of ${name} holds a line break or another control character, which a reference without a filter does not write`,
    {
      hint: `escape it for the format: ((secretfile:${name}|json)) in a JSON, YAML or TOML file, |sh in a shell file; or write ((secretfile:${name}|raw)) where the file's reader takes any text, line breaks included (a PEM key alone in its file)`,
    },
  );
}

/**
 * Returns `value` as the filter writes it: as it is (no filter, checked by renderTemplate, or `raw`); `json`: a
 * double-quoted string that is valid JSON, YAML and TOML (control characters, DEL, C1, U+2028/2029 and the BOM
 * escaped); `sh`: one single-quoted POSIX shell word.
 */
export function applyFilter(value: string, filter: Filter | undefined): string {
  if (filter === "json")
    return JSON.stringify(value).replace(
      /[\u007f-\u009f\u2028\u2029\ufeff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  if (filter === "sh") return `'${value.replaceAll("'", `'\\''`)}'`;
  return value;
}

function lineOf(text: string, at: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < at; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
