// System mode end to end: an agent under a service uid answers each caller by the policy, and nothing else.
// Covers the design's policy file (uid:, user:, group: rules; read and write), exit codes 3, 4 and 6, reload, refusals.

import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  NODE,
  prepareAgent,
  request,
  unusedId,
  useSystem,
  writePolicy,
  type AgentFiles,
  type RunningAgent,
  type RunResult,
} from "../../helpers/system.js";
import { execOwnExit } from "../../../src/errors.js";

const sha = (v: string) => createHash("sha256").update(v, "utf8").digest("hex");
const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

function expectDenied(r: RunResult, user: string, name: string, code = 4): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr).toContain(user);
  expect(r.stderr).toContain(name);
}

describe.skipIf(!isRoot)(`system agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "other", "admin"], { team: ["job"] });

  describe("who gets which secret", () => {
    const secrets = {
      UID_KEY: value("uid"),
      USER_KEY: value("user"),
      GROUP_KEY: value("group"),
      WEBEX_A: value("webex"),
      HIDDEN_KEY: value("hidden"),
    };
    const granted = ["GROUP_KEY", "UID_KEY", "USER_KEY", "WEBEX_A"];
    const noPasswd = unusedId();
    let agent: RunningAgent;
    let proof: string;

    beforeAll(async () => {
      const { job, admin } = sys.users;
      agent = await sys.startAgent({
        policyText: [
          "# test policy",
          `read   uid:${job.uid}              UID_KEY`,
          `read   uid:${noPasswd.uid}         UID_KEY`,
          `read   user:${job.name}            USER_KEY WEBEX_* MISSING_OK   # a glob and a name not in the store`,
          `read   group:${sys.groups.team.name}  GROUP_KEY`,
          `write  user:${admin.name}          *`,
          "",
        ].join("\n"),
        secrets,
      });
      proof = sys.world.fixture("secret-proof.py");
    });

    it("gives a job each name granted by uid:, user: and group: (supplementary) rules", async () => {
      const { job } = sys.users;
      const results = await Promise.all(granted.map((name) => agent.run(["get", name], { as: job })));
      results.forEach((r, i) => {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(secrets[granted[i] as keyof typeof secrets]);
      });
    });

    it("refuses the job a name no rule grants, with exit 4 and nothing on stdout", async () => {
      expectDenied(await agent.run(["get", "HIDDEN_KEY"], { as: sys.users.job }), sys.users.job.name, "HIDDEN_KEY");
    });

    it("a plain exec gives the job the names its uid:, user: and group: rules write out, not a glob's, with their values", async () => {
      const { job } = sys.users;
      const written = granted.filter((n) => n !== "WEBEX_A");
      const env = await agent.run(["exec", "--", "/usr/bin/env"], { as: job });
      expect(env.code, env.stderr).toBe(0);
      expect(env.stderr).toMatch(
        /MISSING_OK is not given to the job: the policy names it for you, but the store has none/,
      );
      const names = env.stdout
        .split("\n")
        .map((l) => l.slice(0, l.indexOf("=")))
        .filter((n) => n in secrets);
      expect(names.sort()).toEqual(written);
      expect(env.stdout).not.toContain(secrets.HIDDEN_KEY);

      for (const select of [[], ["--only", granted.join(",")]]) {
        const r = await agent.run(["exec", ...select, "--", "/usr/bin/python3", proof, ...Object.keys(secrets)], {
          as: job,
        });
        expect(r.code, r.stderr).toBe(0);
        const got = JSON.parse(r.stdout) as Record<string, { sha256: string } | null>;
        const given = select.length === 0 ? written : granted;
        for (const [name, v] of Object.entries(secrets)) {
          if (given.includes(name)) expect(got[name]?.sha256, name).toBe(sha(v));
          else expect(got[name], name).toBeNull();
        }
      }
    });

    it("ls lists only the job's granted names", async () => {
      const r = await agent.run(["ls", "--json"], { as: sys.users.job });
      expect(r.code, r.stderr).toBe(0);
      const listed = (JSON.parse(r.stdout) as { name: string }[]).map((s) => s.name).sort();
      expect(listed).toEqual(granted);
      expect(r.stdout).not.toContain(secrets.USER_KEY);
    });

    it("refuses another uid every name, naming the user and the secret", async () => {
      const { other } = sys.users;
      const names = ["USER_KEY", "UID_KEY", "GROUP_KEY"];
      const [env, ls, only, ...gets] = await Promise.all([
        agent.run(["exec", "--", "/usr/bin/python3", proof, ...Object.keys(secrets)], { as: other }),
        agent.run(["ls", "--json"], { as: other }),
        agent.run(["exec", "--only", "USER_KEY", "--", "/usr/bin/true"], { as: other }),
        ...names.map((name) => agent.run(["get", name], { as: other })),
      ]);
      gets.forEach((r, i) => expectDenied(r, other.name, names[i]!));
      // A uid that no read rule names is refused outright: a cron job must not run silently without its keys.
      for (const [r, code] of [
        [env, execOwnExit(4)],
        [ls, 4],
      ] as const) {
        expect(r.code, r.stderr).toBe(code);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`user ${other.name} (uid ${other.uid}) may not read any secret`);
      }
      expectDenied(only, other.name, "USER_KEY", execOwnExit(4));
    });

    it("lets a write-only admin add, replace and remove, but not read", async () => {
      const { admin } = sys.users;
      const first = value("new");
      const second = value("newer");
      let r = await agent.run(["add", "ADMIN_NEW"], { as: admin, input: first });
      expect(r.code, r.stderr).toBe(0);
      expect(await request(agent.socket, { v: 1, op: "get", name: "ADMIN_NEW" })).toEqual({
        ok: true,
        op: "get",
        value: first,
      });
      r = await agent.run(["add", "--replace", "ADMIN_NEW"], { as: admin, input: second });
      expect(r.code, r.stderr).toBe(0);
      expect(await request(agent.socket, { v: 1, op: "get", name: "ADMIN_NEW" })).toEqual({
        ok: true,
        op: "get",
        value: second,
      });
      expectDenied(await agent.run(["get", "ADMIN_NEW"], { as: admin }), admin.name, "ADMIN_NEW");
      r = await agent.run(["rm", "ADMIN_NEW"], { as: admin });
      expect(r.code, r.stderr).toBe(0);
      expect(await request(agent.socket, { v: 1, op: "get", name: "ADMIN_NEW" })).toMatchObject({
        ok: false,
        error: { code: "not-found" },
      });
      // Write never implies read, nor read write.
      expectDenied(
        await agent.run(["add", "USER_KEY", "--replace"], { as: sys.users.job, input: "x" }),
        sys.users.job.name,
        "USER_KEY",
      );
      expectDenied(await agent.run(["rm", "USER_KEY"], { as: sys.users.job }), sys.users.job.name, "USER_KEY");
    });

    it("answers 3 for a missing name the caller may read, 4 for one it may not (no existence leak)", async () => {
      const { job } = sys.users;
      const [readable, missing, existing] = await Promise.all(
        ["MISSING_OK", "NO_SUCH_KEY", "HIDDEN_KEY"].map((name) => agent.run(["get", name], { as: job })),
      );
      expect(readable!.code, readable!.stderr).toBe(3);
      expect(readable!.stdout).toBe("");
      expectDenied(missing!, job.name, "NO_SUCH_KEY");
      expect(missing!.stderr.replaceAll("NO_SUCH_KEY", "NAME")).toBe(existing!.stderr.replaceAll("HIDDEN_KEY", "NAME"));
    });

    it("matches a uid with no user entry by a uid: rule, and names it by number when refused", async () => {
      const [r, refused] = await Promise.all([
        agent.run(["get", "UID_KEY"], { as: noPasswd }),
        agent.run(["get", "USER_KEY"], { as: noPasswd }),
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(secrets.UID_KEY);
      expectDenied(refused, `uid ${noPasswd.uid}`, "USER_KEY");
    });

    it("keeps the identity and the store unreadable by the job's uid", () => {
      const { job } = sys.users;
      for (const file of [path.join(agent.dir, "identity.txt"), path.join(agent.dir, "store.age")]) {
        const r = spawnSync(
          NODE,
          [
            "-e",
            "try { require('fs').openSync(process.argv[1], 'r'); console.log('OPENED') } catch (e) { console.log(e.code) }",
            file,
          ],
          {
            uid: job.uid,
            gid: job.gid,
            encoding: "utf8",
          },
        );
        expect(r.stdout.trim(), file).toBe("EACCES");
      }
    });

    it("lets root read, list, add and remove every name", async () => {
      expect((await agent.run(["get", "HIDDEN_KEY"])).stdout).toBe(secrets.HIDDEN_KEY);
      const ls = await agent.run(["ls", "--json"]);
      expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name).sort()).toEqual(
        Object.keys(secrets).sort(),
      );
      expect((await agent.run(["add", "ROOT_KEY"], { input: "root-value" })).code).toBe(0);
      expect((await agent.run(["get", "ROOT_KEY"])).stdout).toBe("root-value");
      expect((await agent.run(["rm", "ROOT_KEY"])).code).toBe(0);
      expect((await agent.run(["get", "ROOT_KEY"])).code).toBe(3);
    });

    it("exits 6 with a systemctl hint when no agent is reachable", async () => {
      const { job } = sys.users;
      const nothing = path.join(sys.world.root, "no-agent.sock");
      // Given up on at the deadline (1 s), not after the 5 s restart wait: the same exit and hint.
      const env = { SECRETFILE_TIMEOUT: "1" };
      let r = await sys.world.run(["get", "USER_KEY", "--socket", nothing], { as: job, env });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("systemctl");

      const dead = path.join(sys.world.root, "dead-agent.sock");
      const bind = spawnSync("/usr/bin/python3", [
        "-c",
        "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
        dead,
      ]);
      expect(bind.status).toBe(0);
      chmodSync(dead, 0o666);
      r = await sys.world.run(["exec", "--", "/usr/bin/true"], { as: job, env: { ...env, SECRETFILE_SOCKET: dead } });
      expect(r.code, r.stderr).toBe(execOwnExit(6));
      expect(r.stderr).toContain("systemctl");
    });
  });

  describe("policy changes while running", () => {
    it("picks up a new rule without restart, and refuses all but root while the policy is invalid", async () => {
      const { job } = sys.users;
      const secrets = { A_KEY: value("a"), B_KEY: value("b") };
      const first = `read user:${job.name} A_KEY\n`;
      const agent = await sys.startAgent({ policyText: first, secrets });
      expect((await agent.run(["get", "A_KEY"], { as: job })).stdout).toBe(secrets.A_KEY);
      expectDenied(await agent.run(["get", "B_KEY"], { as: job }), job.name, "B_KEY");

      writePolicy(agent.policy, `${first}read user:${job.name} B_KEY\n`);
      const b = await agent.run(["get", "B_KEY"], { as: job });
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toBe(secrets.B_KEY);

      writePolicy(agent.policy, `${first}read user:${job.name} B_KEY\nthis line is not a rule\n`);
      for (const name of ["A_KEY", "B_KEY"]) expectDenied(await agent.run(["get", name], { as: job }), job.name, name);
      const root = await agent.run(["get", "A_KEY"]);
      expect(root.code, root.stderr).toBe(0);
      expect(root.stdout).toBe(secrets.A_KEY);

      writePolicy(agent.policy, first);
      expect((await agent.run(["get", "A_KEY"], { as: job })).stdout).toBe(secrets.A_KEY);
      expect((await agent.run(["get", "B_KEY"], { as: job })).code).toBe(4);

      // A policy made unsafe in place (no new inode, only its ctime changes) fails closed the same way.
      chmodSync(agent.policy, 0o666);
      const unsafe = await agent.run(["get", "A_KEY"], { as: job });
      expectDenied(unsafe, job.name, "A_KEY");
      expect(unsafe.stderr).toContain("0666");
      chmodSync(agent.policy, 0o644);
      expect((await agent.run(["get", "A_KEY"], { as: job })).stdout).toBe(secrets.A_KEY);
      expect(agent.alive()).toBe(true);
      await agent.stop();
    });

    // PRODUCT BUG (reported): while the policy is invalid the agent should refuse every request but root's
    // (src/agent/policy-state.ts), but `values` without names (plain `exec`) and `list` (`ls`) are answered with an
    // empty set: the cron job runs without its keys and secretfile exits with the job's status instead of 4.
    // Flip to `it` once handle.ts refuses them too.
    it("refuses exec and ls, not only get, while the policy is invalid", async () => {
      const { job } = sys.users;
      const agent = await sys.startAgent({
        policyText: `read user:${job.name} A_KEY\n`,
        secrets: { A_KEY: value("a") },
      });
      writePolicy(agent.policy, `read user:${job.name} A_KEY\nnot a rule\n`);
      const [exec, ls] = await Promise.all([
        agent.run(["exec", "--", "/usr/bin/true"], { as: job }),
        agent.run(["ls"], { as: job }),
      ]);
      await agent.stop();
      expect(exec.code, `exec: ${exec.stderr}`).toBe(execOwnExit(4));
      expect(ls.code, `ls: ${ls.stderr}`).toBe(4);
    });
  });

  describe("refuses to start on an unsafe or invalid policy", () => {
    let files: AgentFiles;
    beforeAll(async () => {
      files = await prepareAgent(sys.world, sys.users.service, { policyText: "" });
    });

    /** Starts an agent on a fresh valid policy changed by `change`; resolves when it has ended. */
    async function startFails(
      change: (policy: string) => void,
    ): Promise<{ code: number | null; stderr: string; policy: string }> {
      writePolicy(files.policy, `read user:${sys.users.job.name} A_KEY\n`);
      change(files.policy);
      const proc = sys.spawnAgent(files);
      const timer = setTimeout(() => void proc.stop(), 15_000);
      const { code } = await proc.exited;
      clearTimeout(timer);
      expect(existsSync(files.socket), "no socket from an agent that refused to start").toBe(false);
      return { code, stderr: proc.stderr(), policy: files.policy };
    }

    it("refuses a world-writable policy (exit 4, names the file)", async () => {
      const r = await startFails((policy) => chmodSync(policy, 0o666));
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(r.policy);
    });

    it("refuses a policy not owned by root (exit 4, names the file)", async () => {
      const r = await startFails((policy) => chownSync(policy, sys.users.service.uid, sys.users.service.gid));
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(r.policy);
    });

    it("refuses a policy with a bad line, naming the file and the line number", async () => {
      const r = await startFails((policy) =>
        writePolicy(policy, `# ok\nread user:${sys.users.job.name} A_KEY\nread nobody-here A_KEY\n`),
      );
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toContain(`${r.policy}:3`);
    });
  });
});
