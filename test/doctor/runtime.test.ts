// doctor reports the Node.js secretfile runs on, its path and release line: ok while the line is supported, a warning
// (never a failure) once it is past its end of life, information for a line newer than the table; in its human
// report and in --json.

import { afterAll, describe, expect, it } from "vitest";
import { checkRuntime, runtimeReport, RUNTIME_FIX } from "../../src/doctor/runtime.js";
import { removeSandboxes, sandbox } from "../helpers/personal.js";
import { NO_PACKAGE_RUNTIME, PACKAGE_RUNTIME } from "../helpers/runtime.js";

afterAll(removeSandboxes);

const day = (iso: string) => new Date(`${iso}T12:00:00Z`);

describe("doctor's runtime check", () => {
  it.for([
    [
      "v24.22.3",
      "2026-12-08",
      { status: "ok", text: "the runtime: Node.js v24.22.3 (/n): release line 24, supported until 2028-04-30" },
    ],
    [
      "v20.20.2",
      "2026-05-01",
      {
        status: "warn",
        text: "the runtime: Node.js v20.20.2 (/n): release line 20 reached its end of life on 2026-04-30 and gets no more security fixes",
        fix: RUNTIME_FIX,
      },
    ],
    [
      "v16.20.2",
      "2026-05-01",
      {
        status: "warn",
        text: "the runtime: Node.js v16.20.2 (/n): release line 16 reached its end of life and gets no more security fixes",
        fix: RUNTIME_FIX,
      },
    ],
    [
      "v99.1.0",
      "2026-12-08",
      {
        status: "info",
        text: "the runtime: Node.js v99.1.0 (/n): release line 99, newer than this secretfile's table of release lines: its end of life is listed on https://nodejs.org/en/about/previous-releases",
      },
    ],
  ] as const)("%s on %s", ([version, today, finding]) => {
    expect(checkRuntime(runtimeReport({ version, path: "/n" }, day(today)))).toEqual({ fix: undefined, ...finding });
  });
});

describe("secretfile doctor and its runtime", () => {
  /** Runs doctor (human, then --json) on a healthy personal store with `opts`; returns both outputs. */
  async function doctor(opts: { node?: string; nodeFlags?: string[] } = {}) {
    const sb = sandbox();
    await sb.init();
    const human = await sb.run(["doctor"], opts);
    const json = await sb.run(["doctor", "--json"], opts);
    expect([human.code, json.code], human.stdout + human.stderr + json.stderr).toEqual([0, 0]);
    return { human: human.stdout, json: JSON.parse(json.stdout) as Record<string, unknown> };
  }

  it.runIf(process.versions.node.startsWith("20."))(
    "under Node 20, past its end of life since 2026-04-30: a warning with its fix, and still exit 0",
    async () => {
      const { human, json } = await doctor();
      const line = `warn the runtime: Node.js ${process.version} (${process.execPath}): release line 20 reached its end of life on 2026-04-30 and gets no more security fixes`;
      expect(human).toContain(`${line}\n     fix: ${RUNTIME_FIX}\n`);
      expect(human).toMatch(/\nno problems found, 1 warning\n$/);
      expect(json.runtime).toEqual({
        version: process.version,
        path: process.execPath,
        line: 20,
        end: "2026-04-30",
        state: "ended",
      });
      expect(json).toMatchObject({ mode: "personal", healthy: true });
      expect(json.findings).toContainEqual({ status: "warn", text: line.slice(5), fix: RUNTIME_FIX });
    },
  );

  it.skipIf(PACKAGE_RUNTIME === undefined)(
    `under the package's runtime, as the package starts it: supported${PACKAGE_RUNTIME ? "" : ` (${NO_PACKAGE_RUNTIME})`}`,
    async () => {
      const { node, version } = PACKAGE_RUNTIME!;
      const { human, json } = await doctor({ node, nodeFlags: ["--disable-sigusr1"] });
      expect(human).toContain(
        `\nok   the runtime: Node.js ${version} (${node}): release line 24, supported until 2028-04-30\n`,
      );
      expect(json.runtime).toEqual({ version, path: node, line: 24, end: "2028-04-30", state: "supported" });
    },
  );
});
