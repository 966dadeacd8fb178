// A fleet (docs/fleet.md): one store file serving two hosts, each with its own identity and its own policy. Two agents
// run at once, each with its own state folder and identity; the store is encrypted to both hosts' keys through the
// recipient list, so either host can open it, change it, and ship it back to the other.

import { spawnSync } from "node:child_process";
import { chownSync, copyFileSync, linkSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hasAge, NO_AGE } from "../../helpers/age.js";
import { isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  prepareAgent,
  request,
  useSystem,
  type AgentFiles,
  type AgentProcess,
  type TestUser,
} from "../../helpers/system.js";

const SLOW = 300_000;

describe.skipIf(!isRoot)(`a fleet of two hosts (${NEEDS_ROOT})`, { timeout: SLOW }, () => {
  const sys = useSystem(["alice", "bob"]);
  let web1: AgentFiles;
  let web2: AgentFiles;
  let service: TestUser;

  /** Runs `secretfile ARGS` as the service account (how the key commands run in system mode). */
  const asService = (args: string[]) => sys.world.run(args, { as: service });
  /** Runs `secretfile ARGS` against the agent of `files` as `as` (root when omitted). */
  const via = (files: AgentFiles, args: string[], as?: TestUser, input?: string) =>
    sys.world.run(args, { as, input, env: { SECRETFILE_SOCKET: files.socket } });
  /** Copies a host's store and list to another host's state folder, as `git pull` or an Ansible copy task would. */
  const ship = (from: AgentFiles, to: AgentFiles) => {
    for (const name of ["store.age", "recipients.txt"]) {
      copyFileSync(path.join(from.dir, name), path.join(to.dir, name));
      chownSync(path.join(to.dir, name), service.uid, service.gid);
    }
  };
  const start = async (files: AgentFiles): Promise<AgentProcess> => {
    const agent = sys.spawnAgent(files);
    for (let i = 0; ; i++) {
      if ((await request(files.socket, { v: 1, op: "ping" }, 2_000).catch(() => undefined))?.ok) return agent;
      if (!agent.alive() || i > 600) throw new Error(`the agent for ${files.dir} did not start: ${agent.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    service = sys.users.service;
    const { alice, bob } = sys.users;
    // One policy per host: alice's jobs run on web1, bob's on web2.
    web1 = await prepareAgent(sys.world, service, {
      policyText: `read user:${alice.name} *\n`,
      secrets: { API_KEY: "shared-value-1" },
    });
    web2 = await prepareAgent(sys.world, service, { policyText: `read user:${bob.name} *\n` });
    // The store is made on web1, and encrypted to both hosts' keys (each host lists every host, itself included).
    const key1 = (await asService(["recipient", "--dir", web1.dir])).stdout.trim();
    const key2 = (await asService(["recipient", "--dir", web2.dir])).stdout.trim();
    expect(key1).not.toBe(key2);
    expect((await asService(["recipients", "add", key1, "--label", "web1", "--dir", web1.dir])).code).toBe(0);
    expect((await asService(["recipients", "add", key2, "--label", "web2", "--dir", web1.dir])).code).toBe(0);
  });

  it("two agents with two identities serve one store file, each by its own policy", async () => {
    const { alice, bob } = sys.users;
    // One file: web2's store.age is web1's, the same inode (as on a shared mount; a fleet usually ships copies).
    rmSync(path.join(web2.dir, "store.age"));
    linkSync(path.join(web1.dir, "store.age"), path.join(web2.dir, "store.age"));
    copyFileSync(path.join(web1.dir, "recipients.txt"), path.join(web2.dir, "recipients.txt"));
    chownSync(path.join(web2.dir, "recipients.txt"), service.uid, service.gid);
    expect(statSync(path.join(web2.dir, "store.age")).ino).toBe(statSync(path.join(web1.dir, "store.age")).ino);
    const agents = [await start(web1), await start(web2)];
    try {
      expect(await via(web1, ["get", "API_KEY"], alice)).toMatchObject({ code: 0, stdout: "shared-value-1" });
      expect(await via(web2, ["get", "API_KEY"], bob)).toMatchObject({ code: 0, stdout: "shared-value-1" });
      expect((await via(web1, ["get", "API_KEY"], bob)).code).toBe(4);
      expect((await via(web2, ["get", "API_KEY"], alice)).code).toBe(4);

      // A change made on web2 (root, through its agent) is encrypted to both hosts: shipped back, web1 serves it.
      expect((await via(web2, ["add", "NEW_KEY"], undefined, "from-web2")).code).toBe(0);
      ship(web2, web1);
      expect(await via(web1, ["get", "NEW_KEY"], alice)).toMatchObject({ code: 0, stdout: "from-web2" });
      expect(
        readFileSync(path.join(web1.dir, "store.age")).equals(readFileSync(path.join(web2.dir, "store.age"))),
      ).toBe(true);
      // And the other way round, with no agent restarted.
      expect((await via(web1, ["add", "API_KEY", "--replace"], undefined, "rotated-on-web1")).code).toBe(0);
      ship(web1, web2);
      expect(await via(web2, ["get", "API_KEY"], bob)).toMatchObject({ code: 0, stdout: "rotated-on-web1" });
    } finally {
      for (const a of agents) await a.stop();
    }
  });

  it("each host's identity opens the shipped store with the stock age CLI", (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    for (const host of [web1, web2]) {
      const r = spawnSync("age", ["-d", "-i", path.join(host.dir, "identity.txt"), path.join(web1.dir, "store.age")], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(
        (JSON.parse(r.stdout) as { secrets: Record<string, { value: string } | undefined> }).secrets.API_KEY?.value,
      ).toBe("rotated-on-web1");
    }
  });
});
