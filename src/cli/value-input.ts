// Reading a secret's value for `add`: standard input, or a no-echo prompt on a terminal; never argv.
// Rules: one trailing newline (\n or \r\n) is dropped from standard input; input beyond the limit is refused.

import { FailureError, UsageError } from "../errors.js";
import { checkValue, MAX_VALUE_BYTES } from "../store/names.js";

/** Reads the value of `name` from standard input or a hidden prompt. Throws UsageError (2). */
export async function readValue(name: string): Promise<string> {
  const bytes = process.stdin.isTTY ? await promptHidden(`value for ${name} (input hidden): `) : await readStdin(name);
  return checkValue(name, bytes);
}

async function readStdin(name: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_VALUE_BYTES + 2) {
      throw new UsageError(
        `the value for ${name} on standard input is larger than the ${MAX_VALUE_BYTES} bytes allowed`,
      );
    }
    chunks.push(chunk);
  }
  let buf = Buffer.concat(chunks);
  if (buf.at(-1) === 0x0a) buf = buf.subarray(0, buf.at(-2) === 0x0d ? -2 : -1);
  return buf;
}

function promptHidden(prompt: string): Promise<Uint8Array> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let typed = "";
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(new TextEncoder().encode(typed));
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          done();
          return;
        }
        if (ch === "\u0003" || ch === "\u0004") {
          done(new FailureError("cancelled, nothing was added"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") typed = Array.from(typed).slice(0, -1).join("");
        else if (ch === "\u0015") typed = "";
        else typed += ch;
      }
    };
    stdin.on("data", onData);
  });
}
