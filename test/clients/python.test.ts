// The Python client (clients/python/secretfile_client.py) against a real agent, run by /usr/bin/python3 as job users:
// values for a reader, PermissionError, KeyError and ConnectionError for the rest, and the audit log naming python.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, isRoot, ROOT } from "../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent, type TestUser } from "../helpers/system.js";

const PYTHON = "/usr/bin/python3";
const MODULE = path.join(ROOT, "clients", "python", "secretfile_client.py");

/** Calls one function of the module and prints, as JSON, its result or the exception's class, kinds, code and text. */
const DRIVER = `
import json, sys
import secretfile_client as s
op, args = sys.argv[1], sys.argv[2:]
try:
    if op == "get":
        out = {"value": s.get(args[0])}
    elif op == "get_all":
        out = {"values": s.get_all(args or None)}
    else:
        out = {"version": s.ping()}
except Exception as e:
    out = {"error": type(e).__name__, "secretfile": isinstance(e, s.SecretfileError), "permission": isinstance(e, PermissionError),
           "key": isinstance(e, KeyError), "connection": isinstance(e, ConnectionError), "code": getattr(e, "code", None), "message": str(e)}
print(json.dumps(out))
`;

interface Outcome {
  value?: string;
  values?: Record<string, string>;
  version?: number;
  error?: string;
  secretfile?: boolean;
  permission?: boolean;
  key?: boolean;
  connection?: boolean;
  code?: string;
  message?: string;
}

describe.skipIf(!isRoot || !existsSync(PYTHON))(
  `the Python client (${isRoot ? "needs /usr/bin/python3" : NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["job", "outsider"]);
    const secrets = {
      API_KEY: `api-${randomBytes(12).toString("hex")}`,
      WEBEX_BOT: `webex-${randomBytes(12).toString("hex")}`,
      OTHER_KEY: "other",
    };
    let agent: RunningAgent;
    let moduleDir: string;
    let lastPid = 0;

    beforeAll(async () => {
      agent = await sys.startAgent({
        policyText: `read user:${sys.users.job.name} API_KEY WEBEX_* MISSING_OK\n`,
        secrets,
      });
      // The job's uid must be able to read the module: a copy in the world, 0644.
      moduleDir = sys.world.mkdir("python-client", 0o755);
      copyFileSync(MODULE, path.join(moduleDir, "secretfile_client.py"));
      chmodSync(path.join(moduleDir, "secretfile_client.py"), 0o644);
    });

    /** Runs the driver as `as` with SECRETFILE_SOCKET pointing at the agent (or `socket`). */
    const py = async (as: TestUser, op: string, args: string[] = [], socket?: string): Promise<Outcome> => {
      const child = spawn(PYTHON, ["-c", DRIVER, op, ...args], {
        env: {
          PATH: "/usr/bin:/bin",
          PYTHONPATH: moduleDir,
          PYTHONDONTWRITEBYTECODE: "1",
          SECRETFILE_SOCKET: socket ?? agent.socket,
        },
        cwd: sys.world.root,
        uid: as.uid,
        gid: as.gid,
        stdio: ["pipe", "pipe", "pipe"],
      });
      lastPid = child.pid ?? -1;
      const r = await collect(child);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Outcome;
    };

    it("get returns a value the policy grants, and the audit log names python as the program", async () => {
      expect(await py(sys.users.job, "get", ["API_KEY"])).toEqual({ value: secrets.API_KEY });
      const line = agent.auditLines().find((l) => l.pid === lastPid);
      expect(line).toMatchObject({ op: "get", uid: sys.users.job.uid, allowed: true, names: ["API_KEY"] });
      expect(String(line?.program)).toContain("python");
      expect(String(line?.cmdline)).toContain("python3 -c");
    });

    it("get_all returns the names the policy writes out for the user (not a glob's), or the names asked for", async () => {
      expect(await py(sys.users.job, "get_all")).toEqual({ values: { API_KEY: secrets.API_KEY } });
      expect(await py(sys.users.job, "get_all", ["WEBEX_BOT"])).toEqual({ values: { WEBEX_BOT: secrets.WEBEX_BOT } });
    });

    it.for([
      { what: "get of a name the policy does not grant", as: "job", op: "get", args: ["OTHER_KEY"] },
      { what: "get_all naming one such name", as: "job", op: "get_all", args: ["API_KEY", "OTHER_KEY"] },
      { what: "get_all by a user no rule names", as: "outsider", op: "get_all", args: [] },
    ] as const)("raises PermissionError (Denied) for $what", async ({ as, op, args }) => {
      const out = await py(sys.users[as], op, [...args]);
      expect(out).toMatchObject({
        error: "Denied",
        secretfile: true,
        permission: true,
        key: false,
        connection: false,
        code: "denied",
      });
      expect(out.message).toContain(sys.users[as].name);
      expect(JSON.stringify(out)).not.toContain(secrets.API_KEY);
    });

    it("raises KeyError (NotFound) for a readable name that does not exist", async () => {
      const out = await py(sys.users.job, "get", ["MISSING_OK"]);
      expect(out).toMatchObject({ error: "NotFound", key: true, permission: false, code: "not-found" });
      expect(out.message).toContain("MISSING_OK");
      expect(out.message).not.toMatch(/^'/); // not KeyError's quoted repr
    });

    it("raises ConnectionError (AgentUnreachable) when no agent answers", async () => {
      const out = await py(sys.users.job, "get", ["API_KEY"], path.join(sys.world.root, "no-agent.sock"));
      expect(out).toMatchObject({
        error: "AgentUnreachable",
        connection: true,
        permission: false,
        code: "agent-unreachable",
      });
      expect(out.message).toContain("no-agent.sock");
    });

    it("raises SecretfileError for a request the agent calls malformed, and pings", async () => {
      expect(await py(sys.users.job, "get", ["not-a-name"])).toMatchObject({
        error: "SecretfileError",
        secretfile: true,
        permission: false,
        key: false,
        code: "usage",
      });
      expect(await py(sys.users.outsider, "ping")).toEqual({ version: 1 });
    });
  },
);
