// The job's process as `exec` starts it, through the native addon (posix_spawn) and through the fallback without it
// (SECRETFILE_NATIVE=0: node:child_process), and on the Debian package's newer runtime, which has process.execve:
// every signal at its default and none blocked (Node itself ignores SIGPIPE and SIGXFSZ, which an execve would hand on,
// and glibc's posix_spawn would leave its own two real-time signals ignored), our standard input, output and error
// inherited (Node marks them close-on-exec), a script without #! run by the shell, and the same exit statuses.

import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunOptions } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { NO_PACKAGE_RUNTIME, PACKAGE_RUNTIME } from "../../helpers/runtime.js";

afterAll(removeSandboxes);

const VALUE = "job-process-value-0123";

const STARTS: { how: string; env: NodeJS.ProcessEnv; node?: RunOptions; skip?: string }[] = [
  { how: "the native addon", env: {} },
  { how: "node:child_process (SECRETFILE_NATIVE=0)", env: { SECRETFILE_NATIVE: "0" } },
  {
    how: "the native addon, on the package's runtime",
    env: {},
    node: { node: PACKAGE_RUNTIME?.node },
    skip: PACKAGE_RUNTIME === undefined ? NO_PACKAGE_RUNTIME : undefined,
  },
];

for (const { how, env, node, skip } of STARTS)
  describe.skipIf(skip !== undefined)(`a job started through ${how}${skip === undefined ? "" : ` (${skip})`}`, () => {
    let sb: Sandbox;
    beforeAll(async () => {
      sb = sandbox(env);
      await sb.add("JOB_KEY", VALUE);
    });
    const run = (args: string[], input?: string) => sb.run(["exec", ...args], { input, ...node });

    it.for([["masked"], ["--no-mask"]] as const)("has no signal ignored or blocked (%s)", async ([mode]) => {
      const r = await run([
        ...(mode === "masked" ? [] : [mode]),
        "--",
        "grep",
        "-E",
        "^Sig(Ign|Blk):",
        "/proc/self/status",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    });

    it.for([["masked"], ["--no-mask"]] as const)(
      "reads our standard input and writes our standard output and error (%s)",
      async ([mode]) => {
        const r = await run(
          [
            ...(mode === "masked" ? [] : [mode]),
            "--",
            "sh",
            "-c",
            'read line; echo "out $line"; echo "err $JOB_KEY" >&2; exit 7',
          ],
          "from-stdin\n",
        );
        expect(r.code).toBe(7);
        expect(r.stdout).toBe("out from-stdin\n");
        expect(r.stderr).toBe(mode === "masked" ? "err [JOB_KEY]\n" : `err ${VALUE}\n`);
      },
    );

    it("runs a script without a #! line with the shell, as execvp does", async () => {
      const script = `${sb.root}/no-shebang`;
      writeFileSync(script, 'echo "script $1 $JOB_KEY"\n', { mode: 0o755 });
      const r = await run(["--", script, "arg"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("script arg [JOB_KEY]\n");
    });

    it("ends with 128+N when signal N ends the job, 127 when it is not found, 126 when it cannot run", async () => {
      expect((await run(["--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
      const missing = await run(["--", "no-such-command-here"]);
      expect([missing.code, missing.stderr]).toEqual([
        127,
        expect.stringContaining("cannot run no-such-command-here: command not found"),
      ]);
      const plain = `${sb.root}/not-executable`;
      writeFileSync(plain, "echo never\n", { mode: 0o644 });
      const notExecutable = await run(["--", plain]);
      expect([notExecutable.code, notExecutable.stderr]).toEqual([
        126,
        expect.stringContaining(`cannot run ${plain}: permission denied`),
      ]);
    });
  });
