// The small entry (src/cli/hot.ts, dist/hot-WORD.cjs) runs the plain forms of get, exec and ls, and gives for every
// argv form exactly what the full CLI gives: the same standard output, standard error and exit code, errors and
// unknown options included (a form it does not know is left to the full CLI, before anything runs).

import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, ROOT, runCli, tempDir, type Result } from "../helpers/cli.js";
import { ALL } from "../helpers/tier.js";

const tmp = tempDir("secretfile-hot-");
const dir = path.join(tmp.dir, "store");
const socket = path.join(tmp.dir, "agent.sock");
const nowhere = path.join(tmp.dir, "nothing.sock");
/** A copy of the app without the small entry: the launcher then runs every form through the full CLI. */
const fullOnly = path.join(tmp.dir, "full-only", "bin", "secretfile");
/** A missing agent is given up on after 1 s (SECRETFILE_TIMEOUT), not the 5 s restart wait: the same answer, sooner. */
const env = () => cleanEnv({ HOME: tmp.dir, SECRETFILE_DEBUG: undefined, SECRETFILE_TIMEOUT: "1" });
let standIn: net.Server;

beforeAll(async () => {
  const app = path.dirname(path.dirname(fullOnly));
  for (const part of ["bin", "dist", "package.json"])
    cpSync(path.join(ROOT, part), path.join(app, part), { recursive: true });
  for (const file of readdirSync(path.join(app, "dist")))
    if (file.startsWith("hot-")) rmSync(path.join(app, "dist", file));
  for (const [name, value] of [
    ["K1", "value-one-long-enough"],
    ["K2", "value-two-long-enough"],
  ] as const) {
    const add = await runCli(["add", "--dir", dir, name], { env: env(), input: `${value}\n` });
    expect(add.code, add.stderr).toBe(0);
  }
  // A stand-in for the agent: answers the read requests of the protocol (docs/protocol.md) with made-up secrets.
  const answers: Record<string, unknown> = {
    get: { ok: true, op: "get", value: "agent-value-long-enough" },
    list: {
      ok: true,
      op: "list",
      secrets: [{ name: "A1", created: "2026-01-01T00:00:00.000Z", updated: "2026-01-02T00:00:00.000Z" }],
    },
    values: { ok: true, op: "values", values: { A1: "agent-value-long-enough" } },
  };
  standIn = net.createServer((conn) => {
    let text = "";
    conn.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      if (!text.includes("\n")) return;
      const req = JSON.parse(text.slice(0, text.indexOf("\n"))) as { op: string; name?: string };
      const answer =
        req.op === "get" && req.name !== "A1"
          ? { ok: false, error: { code: "not_found", message: `no secret named ${req.name}` } }
          : answers[req.op];
      conn.end(
        `${JSON.stringify(answer ?? { ok: false, error: { code: "failure", message: "not in this stand-in" } })}\n`,
      );
    });
  });
  await new Promise<void>((resolve) => standIn.listen(socket, resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => standIn.close(() => resolve()));
  tmp.cleanup();
});

const D = () => dir;
/** Argv forms, each a function of the store folder: plain ones the small entry runs, and ones it must hand on. */
const FORMS: [string, () => string[]][] = [
  ["get", () => ["get", "--dir", D(), "K1"]],
  ["get, option after the name", () => ["get", "K1", "--dir", D()]],
  ["get --dir=DIR", () => ["get", `--dir=${D()}`, "K1"]],
  ["get, no such secret", () => ["get", "--dir", D(), "NOPE"]],
  ["get, bad name", () => ["get", "--dir", D(), "bad-name"]],
  ["get, no name", () => ["get", "--dir", D()]],
  ["get, two names", () => ["get", "--dir", D(), "K1", "K2"]],
  ["get, unknown option", () => ["get", "--dir", D(), "--bogus", "K1"]],
  ["get, short option", () => ["get", "-x", "K1"]],
  ["get, --dir and --socket", () => ["get", "--dir", D(), "--socket", socket, "K1"]],
  ["get, --dir twice", () => ["get", "--dir", "/nonexistent", "--dir", D(), "K1"]],
  ["get, --dir without a value", () => ["get", "K1", "--dir"]],
  ["get, empty --dir=", () => ["get", "--dir=", "K1"]],
  ["get, value like an option", () => ["get", "--dir", "--socket", "K1"]],
  ["get --help", () => ["get", "--help"]],
  ["get -- NAME", () => ["get", "--dir", D(), "--", "K1"]],
  ["get through the agent", () => ["get", "--socket", socket, "A1"]],
  ["get through the agent, no such secret", () => ["get", "--socket", socket, "NOPE"]],
  ["get, no agent there", () => ["get", "--socket", nowhere, "A1"]],
  ["ls", () => ["ls", "--dir", D()]],
  ["ls --json", () => ["ls", "--json", `--dir=${D()}`]],
  ["ls through the agent", () => ["ls", "--socket", socket]],
  ["ls, an operand", () => ["ls", "--dir", D(), "extra"]],
  ["ls --json=1", () => ["ls", "--dir", D(), "--json=1"]],
  ["ls --json twice", () => ["ls", "--dir", D(), "--json", "--json"]],
  ["exec", () => ["exec", "--dir", D(), "--", "sh", "-c", 'echo "$K1 $K2"']],
  ["exec without --", () => ["exec", "--dir", D(), "sh", "-c", 'echo "$K1"; exit 7']],
  ["exec, the job's options passed through", () => ["exec", "--dir", D(), "sh", "-c", 'echo "$0 $1"', "--only", "x"]],
  ["exec --only", () => ["exec", "--dir", D(), "--only", "K2", "--", "sh", "-c", 'echo "[$K1] $K2"']],
  ["exec --only=, empty", () => ["exec", "--dir", D(), "--only=,", "--", "true"]],
  ["exec --only, no such secret", () => ["exec", "--dir", D(), "--only", "NOPE", "--", "true"]],
  [
    "exec --only twice",
    () => ["exec", "--dir", D(), "--only", "K1", "--only", "K2", "--", "sh", "-c", 'echo "$K1|$K2"'],
  ],
  ["exec --no-mask", () => ["exec", "--dir", D(), "--no-mask", "--", "sh", "-c", 'echo "$K1"']],
  [
    "exec --map, repeated",
    () => ["exec", "--dir", D(), "--map", "X=K1", "--map=Y=K2", "--", "sh", "-c", 'echo "$X $Y"'],
  ],
  ["exec --file", () => ["exec", "--dir", D(), "--file", "K1", "--", "sh", "-c", 'cat "$K1_FILE"']],
  ["exec, no command", () => ["exec", "--dir", D(), "--"]],
  ["exec, unknown option", () => ["exec", "--dir", D(), "--bogus", "--", "true"]],
  ["exec, the job is not found", () => ["exec", "--dir", D(), "--", "/nonexistent/job"]],
  ["exec --help", () => ["exec", "--help"]],
  ["exec through the agent", () => ["exec", "--socket", socket, "--", "sh", "-c", 'echo "$A1"']],
  ["exec, no agent there", () => ["exec", "--socket", nowhere, "--", "true"]],
];

/** The forms the small entry runs itself; every other one of FORMS it leaves to the full CLI. */
const RUN_HERE = new Set([
  "get",
  "get, option after the name",
  "get --dir=DIR",
  "get, no such secret",
  "get, bad name",
  "get, --dir and --socket",
  "get through the agent",
  "get through the agent, no such secret",
  "get, no agent there",
  "ls",
  "ls --json",
  "ls through the agent",
  "exec",
  "exec without --",
  "exec, the job's options passed through",
  "exec --only",
  "exec --only=, empty",
  "exec --only, no such secret",
  "exec --no-mask",
  "exec --map, repeated",
  "exec --file",
  "exec, the job is not found",
  "exec through the agent",
  "exec, no agent there",
]);

describe("the small entry", () => {
  // How long a client tried to reach a missing agent is its own clock's (about 1 s here), not the entry's.
  const strip = (r: Result) => ({
    code: r.code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr.replace(/tried for [\d.]+ s/g, "tried for N s"),
  });

  // The fast tier compares every other form (each comparison runs both CLIs); the whole suite compares them all.
  it.for(ALL ? FORMS : FORMS.filter((_, i) => i % 2 === 0))("gives what the full CLI gives: %s", async ([, argv]) => {
    const [small, full] = await Promise.all([
      runCli(argv(), { env: env() }),
      runCli(argv(), { env: env(), bin: fullOnly }),
    ]);
    expect(strip(small)).toEqual(strip(full));
  });

  it.for(FORMS)("runs the plain forms itself and leaves the others to the full CLI: %s", async ([label, argv]) => {
    const r = await runCli(argv(), { env: { ...env(), SECRETFILE_DEBUG: "1" } });
    // The small entry's last bundle tried: the one that ran the form, or handed it to the full CLI.
    const said = [...r.stderr.matchAll(/code cache \w+ \((hot-[\w.-]+)\)(, form left to the full CLI)?/g)].pop();
    expect(said?.[1], r.stderr).toMatch(/^hot-(get|get-agent|exec|ls)\.cjs\.cache$/);
    expect(said?.[2] === undefined, r.stderr).toBe(RUN_HERE.has(label));
    // A `get` through the agent is run by the agent's own bundle, which holds no personal store code.
    if (RUN_HERE.has(label) && argv()[0] === "get") {
      expect(said?.[1], r.stderr).toBe(
        argv().includes("--socket") && !argv().includes("--dir") ? "hot-get-agent.cjs.cache" : "hot-get.cjs.cache",
      );
    }
  });
});

/**
 * What Node loads for the commands cron jobs run, beyond its own start-up: each module named here costs every such
 * start (docs/benchmarks.md, "The hot path"), and none of them is needed for these forms.
 */
describe("the small entry loads only what a form runs", () => {
  const loadedBy = async (argv: string[]): Promise<string[]> => {
    const list = path.join(tmp.dir, "modules-loaded.txt");
    const preload = path.join(ROOT, "test", "fixtures", "modules-loaded.cjs");
    const r = await runCli(argv, {
      env: { ...env(), NODE_OPTIONS: `--require=${preload}`, MODULES_LOADED_FILE: list },
    });
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(list, "utf8").trim().split("\n");
  };
  const NEVER = ["child_process", "net", "stream", "tty", "url", "module", "worker_threads"];
  const named = (loaded: string[], names: string[]) =>
    loaded.filter((m) => names.some((n) => m === `NativeModule ${n}`));

  it("an agent `get` loads none of node:os, node:crypto, node:module, node:url, node:net or the streams", async () => {
    const loaded = await loadedBy(["get", "--socket", socket, "A1"]);
    expect(named(loaded, [...NEVER, "os", "crypto"])).toEqual([]);
  });

  it("an agent `exec` loads neither node:os, node:crypto, node:net, node:child_process nor the streams", async () => {
    const loaded = await loadedBy(["exec", "--socket", socket, "--", "true"]);
    expect(named(loaded, [...NEVER, "os", "crypto"])).toEqual([]);
  });

  it("a personal `exec` loads neither node:os, node:crypto (the addon decrypts), node:net nor node:child_process", async () => {
    const loaded = await loadedBy(["exec", "--dir", dir, "--", "true"]);
    expect(named(loaded, [...NEVER, "os", "crypto"])).toEqual([]);
  });
});
