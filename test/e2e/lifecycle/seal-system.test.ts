// `setup --seal systemd-creds`: the identity kept only as a systemd credential. Tested here: the unit text, setup sealing
// the identity with the real systemd-creds (and removing identity.txt), running again, and the agent reading the
// identity from $CREDENTIALS_DIRECTORY as systemd lays it out (0400 and the agent's, or root's with a read ACL).
// Not tested here: systemd itself loading the credential (LoadCredentialEncrypted=) — this container has no systemd
// running as PID 1; the test does what systemd would, with `systemd-creds decrypt` into a tmpfs folder.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUnits } from "../../../src/setup/units.js";
import { cleanEnv, isRoot } from "../../helpers/cli.js";
import { makeWorld, NODE, request, type World } from "../../helpers/system.js";

const SLOW = 300_000;
const probe = isRoot
  ? spawnSync("systemd-creds", ["encrypt", "--name=probe", "-", "-"], { input: "probe" })
  : undefined;
const hasCreds = probe?.status === 0;
const NO_CREDS = isRoot
  ? `systemd-creds cannot encrypt here: ${probe?.stderr.toString().trim() ?? "not installed"}`
  : "needs root (setup, systemd-creds)";

const CRED_LINE = "LoadCredentialEncrypted=secretfile-identity:/etc/credstore.encrypted/secretfile-identity";

describe("the unit of a sealed identity", () => {
  const base = {
    node: "/usr/bin/node",
    nodeVersion: process.version,
    launcher: "/usr/local/lib/secretfile/bin/secretfile",
    user: "secretfile",
    group: "secretfile",
    paths: {
      dir: "/var/lib/secretfile",
      socket: "/run/secretfile/agent.sock",
      policy: "/etc/secretfile/policy",
      audit: "/var/log/secretfile/audit.log",
    },
  };
  it("loads the credential right after ExecStart=, and only when sealed", () => {
    const sealed = renderUnits({ ...base, credential: "/etc/credstore.encrypted/secretfile-identity" }).service;
    expect(sealed).toMatch(
      new RegExp(
        `\\nExecStart=[^\\n]+ agent --dir /var/lib/secretfile [^\\n]+\\n${CRED_LINE.replace(/[.]/g, "\\.")}\\n`,
      ),
    );
    expect(renderUnits(base).service).not.toContain("LoadCredential");
    expect(() => renderUnits({ ...base, credential: "/etc/cred store" })).toThrow(
      /the credential path "\/etc\/cred store" cannot go into a systemd unit/,
    );
  });
});

describe.skipIf(!hasCreds)(
  `setup --seal systemd-creds (${hasCreds ? "systemd-creds works here" : NO_CREDS})`,
  { timeout: SLOW },
  () => {
    const user = `sft_${randomBytes(4).toString("hex")}`;
    let world: World;
    let l: {
      dir: string;
      socket: string;
      policy: string;
      audit: string;
      units: string;
      credential: string;
      flags: string[];
    };
    let uid = -1;
    let gid = -1;
    let first: Awaited<ReturnType<World["run"]>>;
    const setup = () =>
      world.run(["setup", ...l.flags, "--user", user, "--seal", "systemd-creds", "--credential", l.credential], {
        timeoutMs: 180_000,
      });

    beforeAll(async () => {
      world = makeWorld();
      const r = world.root;
      l = {
        dir: path.join(r, "var/lib/secretfile"),
        socket: path.join(r, "run/secretfile/agent.sock"),
        policy: path.join(r, "etc/secretfile/policy"),
        audit: path.join(r, "var/log/secretfile/audit.log"),
        units: path.join(r, "units"),
        credential: path.join(r, "etc/credstore.encrypted/secretfile-identity"),
        flags: [],
      };
      l.flags = [
        "--dir",
        l.dir,
        "--socket",
        l.socket,
        "--policy",
        l.policy,
        "--audit",
        l.audit,
        "--units-dir",
        l.units,
      ];
      first = await setup();
      const id = spawnSync("id", ["-u", user], { encoding: "utf8" });
      if (id.status === 0) {
        uid = Number(id.stdout.trim());
        gid = Number(spawnSync("id", ["-g", user], { encoding: "utf8" }).stdout.trim());
      }
    });
    afterAll(() => {
      if (uid !== -1) spawnSync("userdel", [user]);
      // Unset when beforeAll failed or was skipped.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
      world?.cleanup();
    });

    it("seals the identity: the credential is in place, identity.txt is gone, the unit loads it", () => {
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain(
        `secretfile: created the sealed identity ${l.credential} (systemd credential secretfile-identity, public key age1`,
      );
      expect(first.stderr).toContain(`secretfile: fixed removed the plaintext identity ${l.dir}/identity.txt`);
      expect(first.stderr).toContain("the sealed identity opens only on this host: keep an offline recovery key");
      expect(first.stderr).not.toContain(`back up ${l.dir}/identity.txt`);
      expect(existsSync(path.join(l.dir, "identity.txt"))).toBe(false);
      expect(existsSync(path.join(l.dir, "store.age"))).toBe(true);
      const st = statSync(l.credential);
      expect([st.uid, st.mode & 0o777, statSync(path.dirname(l.credential)).mode & 0o777]).toEqual([0, 0o600, 0o700]);
      expect(readFileSync(l.credential).includes("AGE-SECRET-KEY")).toBe(false);
      const unit = readFileSync(path.join(l.units, "secretfile.service"), "utf8");
      expect(unit).toContain(`\nLoadCredentialEncrypted=secretfile-identity:${l.credential}\n`);
      // No file left anywhere in the world holds the identity in plaintext.
      const grep = spawnSync("grep", ["-rlE", "AGE-SECRET-KEY-1[0-9A-Z]{50}", world.root], { encoding: "utf8" });
      expect(grep.stdout).toBe("");
    });

    it("running setup again keeps the sealed identity and the store", async () => {
      const again = await setup();
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain(`secretfile: kept the sealed identity ${l.credential} (public key age1`);
      expect(again.stderr).not.toContain("created the sealed identity");
    });

    // How systemd lays the credential out: 0400 root's with an ACL entry for the service user, or (on a file system
    // without ACLs, such as ramfs) 0400 and chowned to it. Either way the agent must accept it, and serve.
    it.for(["acl", "chown"] as const)(
      "the agent reads the identity from $CREDENTIALS_DIRECTORY (%s) and serves the store",
      async (layout) => {
        expect(uid).toBeGreaterThan(0);
        const creds = mkdtempSync("/dev/shm/sft-creds-");
        try {
          const file = path.join(creds, "secretfile-identity");
          const dec = spawnSync("systemd-creds", ["decrypt", "--name=secretfile-identity", l.credential, file]);
          expect(dec.status, dec.stderr.toString()).toBe(0);
          chmodSync(file, 0o400);
          if (layout === "chown") {
            chownSync(file, uid, gid);
            chmodSync(creds, 0o500);
            chownSync(creds, uid, gid);
          } else {
            chmodSync(creds, 0o700);
            grantRead(creds, uid, 5);
            grantRead(file, uid, 4);
            expect([statSync(file).uid, statSync(file).mode & 0o777]).toEqual([0, 0o440]); // the ACL mask shows as group bits
          }
          const agent = spawn(NODE, [world.bin, "agent", ...l.flags.slice(0, 8)], {
            env: cleanEnv({ HOME: world.root, CREDENTIALS_DIRECTORY: creds }),
            uid,
            gid,
            stdio: ["ignore", "ignore", "pipe"],
          });
          let err = "";
          // `as boolean`: set by the exit callback, which TS's narrowing of a `let` does not see.
          let ended = false as boolean;
          agent.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
          agent.once("exit", () => (ended = true));
          try {
            const started = Date.now();
            while (!(await request(l.socket, { v: 1, op: "ping" }, 2_000).catch(() => undefined))?.ok) {
              if (ended || Date.now() - started > 60_000) throw new Error(`the agent did not start: ${err}`);
              await new Promise((r) => setTimeout(r, 50));
            }
            expect(err).toContain(`identity: the sealed credential ${file}`);
            const env = { SECRETFILE_SOCKET: l.socket };
            const value = `sealed-${layout}`;
            expect((await world.run(["add", `KEY_${layout.toUpperCase()}`], { env, input: value })).code).toBe(0);
            expect(await world.run(["get", `KEY_${layout.toUpperCase()}`], { env })).toMatchObject({
              code: 0,
              stdout: value,
            });
          } finally {
            if (!ended) {
              agent.kill("SIGTERM");
              await new Promise((r) => agent.once("close", r));
            }
          }
        } finally {
          rmSync(creds, { recursive: true, force: true });
        }
      },
    );

    it("the key commands use the sealed identity when systemd hands it over (systemd-run -p LoadCredentialEncrypted=…)", async () => {
      const creds = mkdtempSync("/dev/shm/sft-creds-");
      try {
        const file = path.join(creds, "secretfile-identity");
        expect(spawnSync("systemd-creds", ["decrypt", "--name=secretfile-identity", l.credential, file]).status).toBe(
          0,
        );
        chmodSync(file, 0o400);
        chownSync(file, uid, gid);
        chownSync(creds, uid, gid);
        chmodSync(creds, 0o500);
        const as = { name: user, uid, gid };
        const env = { CREDENTIALS_DIRECTORY: creds };
        const key = (await world.run(["recipient", "--dir", l.dir], { as, env })).stdout.trim();
        expect(key).toMatch(/^age1[0-9a-z]{58}$/);
        expect(
          spawnSync("systemd-creds", ["decrypt", "--name=secretfile-identity", l.credential, "-"], { encoding: "utf8" })
            .stdout,
        ).toContain(`# public key: ${key}`);
        const ls = await world.run(["recipients", "ls", "--dir", l.dir], { as, env });
        expect(ls).toMatchObject({ code: 0, stdout: "" });
        expect(ls.stderr).toContain(`is encrypted to this host's key ${key} only`);
        const rekey = await world.run(["rekey", "--dir", l.dir], { as, env });
        expect(rekey.code).toBe(2);
        expect(rekey.stderr).toContain("secretfile: error: rekey does not replace a sealed identity");
        // Without the credential there is no identity at all: the error says so.
        const none = await world.run(["recipient", "--dir", l.dir], { as });
        expect(none.code).toBe(1);
        expect(none.stderr).toContain(
          `secretfile: error: ${l.dir}/store.age exists but its identity ${l.dir}/identity.txt does not`,
        );
        expect(none.stderr).toContain("if setup sealed it (--seal), run the command under systemd with the credential");
      } finally {
        rmSync(creds, { recursive: true, force: true });
      }
    });

    it("refuses an unknown --seal method (exit 2), and --credential without --seal", async () => {
      const bad = await world.run(["setup", ...l.flags, "--user", user, "--seal", "tpm"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown --seal method "tpm"');
      expect((await world.run(["setup", ...l.flags, "--user", user, "--credential", l.credential])).code).toBe(2);
    });
  },
);

/** Adds a POSIX ACL entry letting `uid` read `file` (perm 4) or enter a folder (5), as systemd does; no setfacl needed. */
function grantRead(file: string, uid: number, perm: number): void {
  const script = `import os,struct
e=lambda t,p,i: struct.pack("<HHI",t,p,i)
N=0xFFFFFFFF
os.setxattr(${JSON.stringify(file)},"system.posix_acl_access",struct.pack("<I",2)+e(1,7 if ${perm}==5 else 4,N)+e(2,${perm},${uid})+e(4,0,N)+e(0x10,${perm},N)+e(0x20,0,N))`;
  const r = spawnSync("python3", ["-c", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot set an ACL on ${file}: ${r.stderr}`);
}
