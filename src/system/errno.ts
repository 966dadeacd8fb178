// The one way to read the errno name (`ENOENT`, `EACCES`, ...) of a caught error, for every module of src/.
// Rules: takes `unknown` (what a catch or an "error" event gives) and never casts; no string code gives undefined.

/** Returns the `code` of a Node system error (`"ENOENT"`, ...), or undefined when `err` carries no string code. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}
