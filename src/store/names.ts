// Secret names and values: what the store accepts.
// Rules: names are environment-variable safe; values are UTF-8 text without NUL, at most 64 KiB.

import { UsageError } from "../errors.js";

/** The longest name the store accepts. */
export const MAX_NAME_LENGTH = 128;
/** The largest value the store accepts, in bytes of UTF-8. */
export const MAX_VALUE_BYTES = 64 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Returns true when `name` may be a secret's name. */
export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/** Returns `name` unchanged; throws UsageError (exit 2) when it is not a valid secret name. */
export function checkName(name: string): string {
  if (!isValidName(name)) {
    const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
    throw new UsageError(`invalid secret name ${shown}`, {
      hint: `a name is letters, digits and '_', not starting with a digit, at most ${MAX_NAME_LENGTH} characters (e.g. MERAKI_API_KEY)`,
    });
  }
  return name;
}

/**
 * Decodes and checks a value for the secret `name`: UTF-8, no NUL, not empty, at most 64 KiB.
 * Throws UsageError (exit 2); the message names the secret, never the value.
 */
export function checkValue(name: string, bytes: Uint8Array): string {
  if (bytes.length === 0) {
    throw new UsageError(`empty value for ${name}`, {
      hint: "pipe the value on standard input, or type it at the prompt",
    });
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new UsageError(`the value for ${name} is ${bytes.length} bytes, more than the ${MAX_VALUE_BYTES} allowed`);
  }
  if (bytes.includes(0)) {
    throw new UsageError(`the value for ${name} contains a NUL byte`, {
      hint: "values are text; base64-encode binary keys",
    });
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new UsageError(`the value for ${name} is not valid UTF-8 text`, { hint: "base64-encode binary keys", cause });
  }
}

/** Returns an expiry date normalized (YYYY-MM-DD, or a full ISO time in UTC); throws UsageError for anything else. */
export function checkExpires(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(text);
  const day = m?.[1];
  // A real calendar day: Date.parse would roll 2027-02-30 over into March.
  const valid = day !== undefined && isCalendarDay(day) && !Number.isNaN(Date.parse(text));
  if (!valid) {
    throw new UsageError(`invalid expiry date ${JSON.stringify(text.slice(0, 40))}`, {
      hint: "use a date such as 2027-03-31",
    });
  }
  return m![2] === undefined ? day : new Date(Date.parse(text)).toISOString();
}

function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

let unsafe: RegExp | undefined;

/**
 * Characters a writer's text may not hold, since they would reach a reader's terminal: controls (C0, DEL, C1, so
 * also ESC and CSI), format characters (Unicode Cf: the bidi embeddings, overrides, isolates and marks U+202A–202E,
 * U+2066–2069, U+200E/F, U+061C, zero-width ones), line and paragraph separators, and lone surrogates.
 */
export function unsafeText(): RegExp {
  // Made on first use: compiling its Unicode classes costs every start that loads this module about 0.1 ms.
  return (unsafe ??= /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u);
}

/** Returns a description if it is one line of at most 500 characters; throws UsageError (exit 2) otherwise. */
export function checkDescription(text: string): string {
  const bad = unsafeText().exec(text);
  if (text.length > 500 || bad !== null) {
    const which =
      bad === null ? "" : ` (it holds U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`;
    throw new UsageError(
      `a description is one line of at most 500 characters, without control or format characters${which}`,
      {
        hint: "write it as plain text: letters, digits, spaces and punctuation",
      },
    );
  }
  return text;
}
