// The table of Node.js release lines (src/system/runtime.ts): a line's end of life on a given day, which Node has
// --disable-sigusr1, and that the runtime the Debian package pins (packaging/runtime/) is a supported LTS release.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { pinnedRuntime } from "../../build/runtime.mjs";
import { hasDisableSigusr1, RELEASE_LINES, runtimeFlags, runtimeSupport } from "../../src/system/runtime.js";
import { NO_PACKAGE_RUNTIME, PACKAGE_RUNTIME } from "../helpers/runtime.js";

const day = (iso: string) => new Date(`${iso}T12:00:00Z`);

describe("runtimeSupport", () => {
  it.for([
    ["v20.20.2", "2026-04-30", { line: 20, end: "2026-04-30", state: "supported" }],
    ["v20.20.2", "2026-05-01", { line: 20, end: "2026-04-30", state: "ended" }],
    ["v22.14.0", "2026-12-08", { line: 22, end: "2027-04-30", state: "supported" }],
    ["v24.22.3", "2026-12-08", { line: 24, end: "2028-04-30", state: "supported" }],
    ["v25.9.0", "2026-12-08", { line: 25, end: "2026-06-01", state: "ended" }],
    ["24.22.3", "2028-05-01", { line: 24, end: "2028-04-30", state: "ended" }],
    ["v16.20.2", "2026-12-08", { line: 16, end: undefined, state: "ended" }],
    ["v99.0.0", "2026-12-08", { line: 99, end: undefined, state: "unknown" }],
  ] as const)("%s on %s: %j", ([version, today, want]) => {
    expect(runtimeSupport(version, day(today))).toEqual(want);
  });

  it("holds every line from 18 to the newest, each with a date", () => {
    const lines = Object.keys(RELEASE_LINES).map(Number);
    expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => 18 + i));
    for (const end of Object.values(RELEASE_LINES)) expect(end).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("--disable-sigusr1", () => {
  it.for([
    ["v20.20.2", false],
    ["v22.13.1", false],
    ["v22.14.0", true],
    ["v23.6.1", false],
    ["v23.7.0", true],
    ["v24.0.0", true],
    ["v26.12.1", true],
  ] as const)("%s has it: %s", ([version, has]) => {
    expect(hasDisableSigusr1(version)).toBe(has);
    expect(runtimeFlags(version)).toEqual(has ? ["--disable-sigusr1"] : []);
  });

  it("is what this Node says of itself", () => {
    const r = spawnSync(process.execPath, ["--disable-sigusr1", "-e", "0"], { encoding: "utf8" });
    expect(r.status === 0).toBe(hasDisableSigusr1(process.version));
  });
});

describe("the runtime the Debian package pins", () => {
  const pin = pinnedRuntime();

  it("is of a release line the table knows and still supported today (else: update packaging/runtime/)", () => {
    expect(runtimeSupport(pin.version, new Date())).toMatchObject({ state: "supported" });
    expect(hasDisableSigusr1(pin.version)).toBe(true);
  });

  it.skipIf(PACKAGE_RUNTIME === undefined)(
    `is an LTS release by its own account, and has --disable-sigusr1${PACKAGE_RUNTIME ? "" : ` (${NO_PACKAGE_RUNTIME})`}`,
    () => {
      const r = spawnSync(PACKAGE_RUNTIME!.node, ["--disable-sigusr1", "-p", "process.release.lts ?? 'none'"], {
        encoding: "utf8",
      });
      expect([r.status, r.stderr]).toEqual([0, ""]);
      expect(r.stdout.trim()).toMatch(/^[A-Z][a-z]+$/); // the line's codename (Krypton for 24)
    },
  );
});
