// The client's choices in-process: which store or agent (a host set up for system mode always means the agent),
// the deadline from SECRETFILE_TIMEOUT, and the inspector flags that stop a command before it touches a value.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chooseWhere } from "../../src/client/backend.js";
import { agentTimeoutMs, isWrite } from "../../src/client/deadline.js";
import { UsageError } from "../../src/errors.js";
import { inspectorInUse } from "../../src/system/inspector.js";
import { checkSocketPath, SYSTEM_PATHS } from "../../src/system/paths.js";
import { tempDir } from "../helpers/cli.js";

const tmp = tempDir("secretfile-choose-");
afterAll(() => tmp.cleanup());

describe("chooseWhere on a host set up for system mode", () => {
  const policy = path.join(tmp.dir, "policy");
  const state = path.join(tmp.dir, "state");
  const none = {
    HOME: tmp.dir,
    SECRETFILE_POLICY: path.join(tmp.dir, "no-policy"),
    SECRETFILE_STATE_DIR: path.join(tmp.dir, "no-state"),
  };

  it.skipIf(existsSync(SYSTEM_PATHS.socket))(
    "is the personal default when neither marker exists (and no system socket)",
    () => {
      expect(chooseWhere({}, none).mode).toBe("personal");
    },
  );

  it.for(["policy", "state folder"])("is the system agent when its %s exists, even with no socket", (marker) => {
    if (marker === "policy") writeFileSync(policy, "");
    else mkdirSync(state, { recursive: true });
    const env = { ...none, ...(marker === "policy" ? { SECRETFILE_POLICY: policy } : { SECRETFILE_STATE_DIR: state }) };
    const where = chooseWhere({}, env);
    expect(where).toEqual({
      mode: "agent",
      socket: SYSTEM_PATHS.socket,
      why: `this host is set up for system mode (${marker === "policy" ? policy : state} exists)`,
    });
    // Only --dir or SECRETFILE_DIR picks a personal store there.
    expect(chooseWhere({ dir: tmp.dir }, env).mode).toBe("personal");
    expect(chooseWhere({}, { ...env, SECRETFILE_DIR: tmp.dir }).mode).toBe("personal");
  });
});

describe("SECRETFILE_TIMEOUT", () => {
  it.for([
    [undefined, 30_000],
    ["", 30_000],
    ["1", 1_000],
    ["0.25", 250],
    ["86400", 86_400_000],
  ] as const)("%j is %d ms", ([text, ms]) => {
    expect(agentTimeoutMs(text === undefined ? {} : { SECRETFILE_TIMEOUT: text })).toBe(ms);
  });

  it.for(["0", "-1", "abc", "1e3", "86401", "1,5", "Infinity", "0.0001"])("%j is a usage error", (text) => {
    expect(() => agentTimeoutMs({ SECRETFILE_TIMEOUT: text })).toThrow(UsageError);
  });

  it("counts as writes the requests that change the store, and only those", () => {
    expect(isWrite({ v: 1, op: "add", name: "K", value: "v" })).toBe(true);
    expect(isWrite({ v: 1, op: "update", name: "K", expires: null })).toBe(true);
    expect(isWrite({ v: 1, op: "settings", historyKeep: 3 })).toBe(true);
    expect(isWrite({ v: 1, op: "settings" })).toBe(false);
    expect(isWrite({ v: 1, op: "values" })).toBe(false);
  });
});

describe("inspectorInUse", () => {
  it.for([
    [["--inspect"], {}, "node was started with --inspect"],
    [["--inspect-brk=0"], {}, "node was started with --inspect-brk"],
    [["--inspect-wait=127.0.0.1:9"], {}, "node was started with --inspect-wait"],
    [["--debug-port=1"], {}, "node was started with --debug-port"],
    [[], { NODE_OPTIONS: "--max-old-space-size=100 --inspect-port=0" }, "NODE_OPTIONS holds --inspect-port"],
    [[], { NODE_OPTIONS: '"--inspect=0"' }, "NODE_OPTIONS holds --inspect"],
  ] as const)("%j %j: %s", ([argv, env, why]) => {
    expect(inspectorInUse(argv, env, () => undefined)).toBe(why);
  });

  it("is undefined for other flags, and names an inspector opened since start", () => {
    expect(
      inspectorInUse(
        ["--no-warnings", "--inspect-publish-uid=http"],
        { NODE_OPTIONS: "--enable-source-maps" },
        () => undefined,
      ),
    ).toBe(undefined);
    expect(inspectorInUse([], {}, () => "ws://127.0.0.1:9229/0d8f")).toBe(
      "Node's inspector is open (ws://127.0.0.1:9229)",
    );
  });
});

describe("checkSocketPath", () => {
  it("counts UTF-8 bytes: 107 fit, 108 do not", () => {
    expect(() => checkSocketPath(`/${"x".repeat(103)}€`)).not.toThrow(); // 107 bytes, 105 characters
    expect(() => checkSocketPath(`/${"x".repeat(104)}€`)).toThrow(UsageError);
  });
});
