import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { hardenProcess, isDumpable } from "../../src/system/hardening.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The "Max core file size" soft and hard limits, as the kernel reports them.
function coreLimits(pid: number | "self"): string[] {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max core file size"));
  return line!.slice("Max core file size".length).trim().split(/\s+/).slice(0, 2);
}

// Hardening this test worker is harmless: vitest runs each test file in its own forked process.
describe("hardenProcess in this process", () => {
  it("starts dumpable, then is not dumpable and has a core limit of 0, and can run again", () => {
    expect(isDumpable()).toBe(true);
    hardenProcess();
    expect(isDumpable()).toBe(false);
    expect(coreLimits("self")).toEqual(["0", "0"]);
    expect(() => hardenProcess()).not.toThrow();
    expect(isDumpable()).toBe(false);
  });
});

describe("hardenProcess seen from outside", () => {
  // A non-dumpable process's /proc/PID files belong to root: visible only for a process that is not root.
  it.skipIf(process.getuid?.() !== 0)(
    "hands /proc/PID of a process running as nobody to root (needs root to spawn as nobody)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "sf-harden-"));
      dirs.push(dir);
      chmodSync(dir, 0o755);
      const script = join(dir, "child.mjs");
      await build({
        stdin: {
          contents: `
          import { createInterface } from "node:readline";
          import { hardenProcess, isDumpable } from "./src/system/hardening.ts";
          console.log("ready " + isDumpable());
          createInterface({ input: process.stdin }).once("line", () => {
            hardenProcess();
            console.log("hardened " + isDumpable());
          });`,
          resolveDir: root,
          loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: script,
        logLevel: "silent",
      });
      chmodSync(script, 0o644);
      // The bundled src/system/native.ts looks for the addon beside it, as dist/secretfile.cjs does.
      copyFileSync(join(root, "dist", "native.node"), join(dir, "native.node"));
      chmodSync(join(dir, "native.node"), 0o644);
      const child = spawn("/usr/bin/node", [script], {
        uid: 65534,
        gid: 65534,
        env: { ...process.env, NODE_PATH: join(root, "node_modules") },
        stdio: ["pipe", "pipe", "inherit"],
      });
      try {
        const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
        expect((await lines.next()).value).toBe("ready true");
        expect(statSync(`/proc/${child.pid}/status`).uid).toBe(65534);
        child.stdin.write("go\n");
        expect((await lines.next()).value).toBe("hardened false");
        expect(statSync(`/proc/${child.pid}/status`).uid).toBe(0);
        expect(coreLimits(child.pid!)).toEqual(["0", "0"]);
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, "exit");
          child.kill();
          await exited;
        }
      }
    },
  );
});
