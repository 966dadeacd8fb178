// Attack: loosening a file's owner or mode so another user can read or swap it. Every file and folder of the design,
// in personal and system mode, with each unsafe owner and mode: refused with exit 4, an error naming the path and a
// hint naming the fix (the chmod or chown to run). A table: one row per file, kind of fault and value.

import { chmodSync, chownSync, lstatSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { NEEDS_ROOT, prepareAgent, useSystem, type AgentFiles } from "../../helpers/system.js";
import { oneOfEach } from "../../helpers/tier.js";
import { ready, spawnAgentWith } from "./agents.js";

afterAll(removeSandboxes);

const octal = (mode: number) => mode.toString(8).padStart(3, "0");

/** A fault: a mode to set, or an owner ("other": a user that is not the file's, "root", "service"). */
type Fault = { mode: number } | { owner: "other" | "root" | "service" };
const describeFault = (f: Fault) => ("mode" in f ? `mode ${octal(f.mode)}` : `owned by ${f.owner}`);
/** A row's kind: the file and whether its mode or its owner is wrong (the fast tier runs one row of each). */
const kindOfRow = ([what, , fault]: [string, unknown, Fault]) => `${what} ${"mode" in fault ? "mode" : "owner"}`;
/** The fix a hint must name for a fault. */
const fixFor = (f: Fault) => ("mode" in f ? "chmod" : "chown");

/** Applies `fault` to `file`, returning what undoes it. */
function apply(file: string, fault: Fault, uids: { other: number; service: number }): () => void {
  const st = lstatSync(file);
  if ("mode" in fault) chmodSync(file, fault.mode);
  else {
    const uid = fault.owner === "root" ? 0 : uids[fault.owner];
    chownSync(file, uid, st.gid);
    chmodSync(file, st.mode & 0o7777); // chown clears set-id bits: keep the mode as it was
  }
  return () => {
    chownSync(file, st.uid, st.gid);
    chmodSync(file, st.mode & 0o7777);
  };
}

describe("personal mode: unsafe owners and modes are refused with the fix (exit 4)", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = sandbox();
    await sb.add("K", "v");
  });
  const rows: [string, (s: Sandbox) => string, Fault][] = [
    ...[0o770, 0o707, 0o777, 0o720, 0o702].map((mode): [string, (s: Sandbox) => string, Fault] => [
      "folder",
      (s) => s.dir,
      { mode },
    ]),
    ...["identity", "store"].flatMap((what) =>
      [0o640, 0o604, 0o660, 0o606, 0o644, 0o620, 0o602].map((mode): [string, (s: Sandbox) => string, Fault] => [
        what,
        (s) => (what === "identity" ? s.identity : s.store),
        { mode },
      ]),
    ),
    ...(["folder", "identity", "store"] as const).map((what): [string, (s: Sandbox) => string, Fault] => [
      what,
      (s) => (what === "folder" ? s.dir : what === "identity" ? s.identity : s.store),
      { owner: "other" },
    ]),
  ];
  it.for(
    oneOfEach(rows, kindOfRow).map(([what, file, fault]) => ({
      name: `${what}, ${describeFault(fault)}`,
      what,
      file,
      fault,
    })),
  )("$name", async ({ what, file: fileOf, fault }, ctx) => {
    ctx.skip("owner" in fault && !isRoot, "needs root to give a file to another uid");
    const file = fileOf(sb);
    const undo = apply(file, fault, { other: 65534, service: 65534 });
    let r;
    try {
      r = await sb.run(["get", "K"]);
    } finally {
      undo();
    }
    expect(r.code, `${what} ${describeFault(fault)}: ${r.stderr}`).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^secretfile: error: .*${escape(file)}`, "m"));
    expect(r.stderr).toMatch(new RegExp(`^secretfile: hint: .*${fixFor(fault)} .*${escape(file)}`, "m"));
  });
  it("and with every file restored, the store opens (the refusals were the faults')", async () => {
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "v" });
  });
});

describe.skipIf(!isRoot)(
  `system mode: the agent refuses to start on an unsafe owner or mode, naming the fix (exit 4) (${NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["other"]);
    let files: AgentFiles;
    beforeAll(async () => {
      files = await prepareAgent(sys.world, sys.users.service, { policyText: "read uid:0 *\n", secrets: { K: "v" } });
      // A first run creates the audit log; stopping removes the socket.
      const first = await ready(spawnAgentWith(sys, files));
      await first.stop();
    });

    type Row = [string, (f: AgentFiles) => string, Fault];
    const row = (what: string, file: (f: AgentFiles) => string, faults: Fault[]): Row[] =>
      faults.map((fault): Row => [what, file, fault]);
    const identity = (f: AgentFiles) => path.join(f.dir, "identity.txt");
    const store = (f: AgentFiles) => path.join(f.dir, "store.age");
    const rows: Row[] = [
      ...row("state folder", (f) => f.dir, [
        { mode: 0o770 },
        { mode: 0o777 },
        { mode: 0o702 },
        { mode: 0o720 },
        { owner: "other" },
        { owner: "root" },
      ]),
      ...row("identity", identity, [
        { mode: 0o640 },
        { mode: 0o604 },
        { mode: 0o440 },
        { mode: 0o404 },
        { mode: 0o660 },
        { owner: "other" },
        { owner: "root" },
      ]),
      ...row("store", store, [
        { mode: 0o640 },
        { mode: 0o604 },
        { mode: 0o660 },
        { mode: 0o606 },
        { owner: "other" },
        { owner: "root" },
      ]),
      ...row("policy", (f) => f.policy, [
        { mode: 0o664 },
        { mode: 0o646 },
        { mode: 0o666 },
        { mode: 0o600 },
        { owner: "service" },
        { owner: "other" },
      ]),
      ...row("policy folder", (f) => path.dirname(f.policy), [
        { mode: 0o777 },
        { mode: 0o775 },
        { owner: "other" },
        { owner: "service" },
      ]),
      ...row("audit log", (f) => f.audit, [
        { mode: 0o620 },
        { mode: 0o602 },
        { mode: 0o666 },
        { owner: "other" },
        { owner: "root" },
      ]),
      ...row("audit folder", (f) => path.dirname(f.audit), [
        { mode: 0o770 },
        { mode: 0o777 },
        { mode: 0o703 },
        { owner: "other" },
      ]),
      ...row("socket folder", (f) => path.dirname(f.socket), [
        { mode: 0o777 },
        { mode: 0o775 },
        { mode: 0o757 },
        { mode: 0o1777 },
        { owner: "other" },
      ]),
    ];

    it.for(
      oneOfEach(rows, kindOfRow).map(([what, file, fault]) => ({
        name: `${what}, ${describeFault(fault)}`,
        what,
        file,
        fault,
      })),
    )("$name", { timeout: 60_000 }, async ({ what, file: fileOf, fault }) => {
      const file = fileOf(files);
      const undo = apply(file, fault, { other: sys.users.other.uid, service: sys.users.service.uid });
      let end;
      let stderr;
      try {
        const agent = spawnAgentWith(sys, files);
        const timer = setTimeout(() => void agent.stop(), 30_000);
        end = await agent.exited;
        clearTimeout(timer);
        stderr = agent.stderr();
      } finally {
        undo();
      }
      expect(end.code, `${what} ${describeFault(fault)}: ${stderr}`).toBe(4);
      expect(stderr).toMatch(new RegExp(`^secretfile: error: .*${escape(file)}`, "m"));
      expect(stderr).toMatch(new RegExp(`^secretfile: hint: .*${fixFor(fault)} .*${escape(file)}`, "m"));
    });

    it("and with every file restored, the agent starts (the refusals were the faults')", async () => {
      const agent = await ready(spawnAgentWith(sys, files));
      await agent.stop();
    });
  },
);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
