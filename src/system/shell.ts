// Words of the shell commands that hints and doctor's fixes print, so that a path with a space or a quote can be
// pasted as it is.

/** Returns `text` quoted for a POSIX shell when it needs to be (single quotes; a quote inside as '\''). */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
