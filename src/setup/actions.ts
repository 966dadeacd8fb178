// What setup did, one entry per thing created, kept, fixed or left to do: the command prints them.
// Rules: the core never prints; every entry names the path or account it is about, and never a secret.

/** The kind of one step: what happened to the thing it names. */
export type ActionKind = "created" | "kept" | "updated" | "fixed" | "ran" | "warning" | "next";

/** One step of setup, e.g. `{ kind: "created", text: "the folder /var/lib/secretfile (secretfile:secretfile 0700)" }`. */
export interface Action {
  kind: ActionKind;
  text: string;
}

/** Collects actions and hands each one to an optional listener as it happens (so progress shows before a failure). */
export class ActionLog {
  readonly actions: Action[] = [];
  private readonly listener: ((action: Action) => void) | undefined;

  constructor(listener?: (action: Action) => void) {
    this.listener = listener;
  }

  /** Records one action. */
  add(kind: ActionKind, text: string): void {
    const action = { kind, text };
    this.actions.push(action);
    this.listener?.(action);
  }
}

/** Returns `mode` as three or four octal digits, e.g. "0700". */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
