// The addon built with AddressSanitizer and UndefinedBehaviorSanitizer (-fsanitize=address,undefined), each of its
// functions called in a child Node (test/fixtures/native-exercise.mjs) with libasan preloaded: any report fails the test.
// Leak checks are off (Node keeps memory at exit by design); skips, saying why, without gcc or its libasan.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeArgs } from "../../build/native.mjs";
import { ROOT } from "../helpers/cli.js";

const SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"];
const libasan = spawnSync("gcc", ["-print-file-name=libasan.so"], { encoding: "utf8" });
const asan = libasan.status === 0 ? libasan.stdout.trim() : "";
const why =
  libasan.error !== undefined
    ? "no gcc"
    : !path.isAbsolute(asan) || !existsSync(asan)
      ? "gcc has no libasan.so (apt-get install libasan8)"
      : undefined;
if (why !== undefined) console.warn(`test/native/sanitizer.test.ts skipped: ${why}`);

/** A sanitizer's report in a child's standard error. */
const REPORT =
  /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

describe.skipIf(why !== undefined)(
  `the addon under -fsanitize=address,undefined (${why ?? "gcc and libasan found"})`,
  () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "secretfile-asan-"));
    const addon = path.join(dir, "native.node");
    const servers: ChildProcess[] = [];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LD_PRELOAD: asan,
      ASAN_OPTIONS: "detect_leaks=0:abort_on_error=0:exitcode=99",
      UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1:exitcode=98",
    };
    delete env.NODE_OPTIONS;

    beforeAll(async () => {
      const built = spawnSync("gcc", nativeArgs(addon, SANITIZE), { encoding: "utf8" });
      expect(built.status, built.stderr).toBe(0);
      for (const [name, answer] of [
        ["answering.sock", true],
        ["silent.sock", false],
      ] as const) {
        const proc = spawn(
          process.execPath,
          [path.join(ROOT, "test/fixtures/stand-in-agent.mjs"), path.join(dir, name), ...(answer ? ["answer"] : [])],
          { stdio: ["ignore", "pipe", "inherit"] },
        );
        servers.push(proc);
        await new Promise<void>((resolve) => proc.stdout.once("data", () => resolve()));
      }
    }, 120_000);
    afterAll(() => {
      for (const s of servers) s.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs `script` (a file) with `args` in a child Node under the sanitizers; returns its status and output. */
    function sanitized(script: string, args: string[]) {
      return spawnSync(process.execPath, [script, ...args], { encoding: "utf8", env, timeout: 120_000 });
    }

    it("calls every function of the addon without a sanitizer report", () => {
      const r = sanitized(path.join(ROOT, "test/fixtures/native-exercise.mjs"), [
        addon,
        path.join(dir, "answering.sock"),
        path.join(dir, "silent.sock"),
      ]);
      expect(r.stderr).not.toMatch(REPORT);
      expect([r.status, r.stdout], r.stderr).toEqual([0, "done\n"]);
    });

    // The harness itself: a heap overflow in a module built the same way is reported (by UBSan's object-size check or by
    // ASan, whichever sees it first), so a clean run above means something.
    it("reports a heap overflow in a module built the same way", () => {
      const args = nativeArgs(path.join(dir, "broken.node"), SANITIZE);
      const broken = path.join(dir, "broken.c");
      writeFileSync(
        broken,
        `#include <node_api.h>
#include <stdlib.h>
static napi_value overflow(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  volatile char *p = malloc(8);
  p[8] = 1;
  free((void *)p);
  return NULL;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "overflow", NAPI_AUTO_LENGTH, overflow, NULL, &fn);
  napi_set_named_property(env, exports, "overflow", fn);
  return exports;
}
`,
      );
      const sources = args.filter((a) => a.endsWith(".c"));
      const built = spawnSync("gcc", [...args.filter((a) => !sources.includes(a)), broken], { encoding: "utf8" });
      expect(built.status, built.stderr).toBe(0);
      const script = path.join(dir, "broken.cjs");
      writeFileSync(script, `require(${JSON.stringify(path.join(dir, "broken.node"))}).overflow();\n`);
      const r = sanitized(script, []);
      expect(r.stderr).toMatch(REPORT);
      expect(r.stderr).toContain("broken.c:7"); // the line of the overflow
      expect(r.status).not.toBe(0);
    });
  },
);
