// README's laptop quick start, executed as written (test/readme/blocks.ts reads it from README.md) by a normal user in
// a fresh copy of the clone: npm ci, the build, the install into ~/.local, the key at the prompt (here standard input),
// and the example job printing the key's fingerprint. Rules: nothing is run as root but the user's creation; the
// registry being unreachable is a skip with its reason, any other failure a failure.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chownSync, lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CA_CERTS_FOR_NPM, collect, isRoot } from "../helpers/cli.js";
import { makeUsers, type Users } from "../helpers/system.js";
import { copyCheckout, has } from "../package/support.js";
import { readmeBlock } from "./blocks.js";

const why = !isRoot
  ? "not root: the block runs as a normal user the test makes"
  : !has("npm")
    ? "npm is not installed"
    : !has("cc")
      ? "no C compiler: the build makes the addon"
      : !has("/usr/bin/python3")
        ? "no /usr/bin/python3 for the example job"
        : undefined;
if (why !== undefined) console.warn(`test/readme/laptop.test.ts skipped: ${why}`);

describe.skipIf(why !== undefined)("README's laptop quick start, run as written by a normal user", () => {
  const home = mkdtempSync("/var/tmp/secretfile-readme-home-");
  let made: Users<"laptop", never> | undefined;
  afterAll(() => {
    made?.remove();
    rmSync(home, { recursive: true, force: true });
  });

  it(
    "installs into ~/.local, stores the key typed at the prompt and gives it to the example job",
    { timeout: 900_000 },
    async (ctx) => {
      made = makeUsers(["laptop"], { home });
      const user = made.users.laptop;
      const clone = copyCheckout(path.join(home, "secretfile"), { linkModules: false });
      const script = path.join(home, "quick-start.sh");
      writeFileSync(script, readmeBlock("laptop").text);
      for (const f of [home, script]) chownSync(f, user.uid, user.gid);
      const chown = spawn("chown", ["-R", `${user.uid}:${user.gid}`, clone]);
      expect((await collect(chown)).code).toBe(0);

      const key = `laptop-key-${randomBytes(12).toString("hex")}`;
      const ca = process.env[CA_CERTS_FOR_NPM];
      const child = spawn("bash", ["-e", script], {
        cwd: clone,
        uid: user.uid,
        gid: user.gid,
        env: {
          HOME: home,
          PATH: "/usr/local/bin:/usr/bin:/bin",
          LANG: "C.UTF-8",
          ...(ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: ca }),
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      const r = await collect(child, `${key}\n`, 840_000);
      if (r.code !== 0 && /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED/.test(r.stderr))
        ctx.skip(`the npm registry cannot be reached: ${r.stderr.trim().split("\n").pop()}`);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const fingerprint = createHash("sha256").update(key).digest("hex").slice(0, 12);
      expect(r.stdout).toContain(`report: MERAKI_API_KEY sha256:${fingerprint}; dry run, no API called\n`);
      // A copy in the prefix, not a link into the clone; the store in the default folder, the user's own.
      expect(lstatSync(path.join(home, ".local/lib/node_modules/secretfile")).isSymbolicLink()).toBe(false);
      const store = statSync(path.join(home, ".config/secretfile/store.age"));
      expect({ uid: store.uid, mode: store.mode & 0o777 }).toEqual({ uid: user.uid, mode: 0o600 });
      expect(r.stdout + r.stderr).not.toContain(key);
    },
  );
});
