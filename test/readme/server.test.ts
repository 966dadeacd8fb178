// README's server quick start, executed as written (test/readme/blocks.ts reads it from README.md) at a root prompt
// in the folder holding the package: on a fresh Debian 12 root with python3 and cron and no init system (a chroot),
// and under a real systemd 252. Rules: the key goes in at the prompt (standard input here); the block must end with
// the job's key fingerprint printed and another user refused, and the crontab line it wrote must work as cron runs it.

import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../helpers/cli.js";
import { bootSystemd, SHARE, systemdSkipReason, type Booted } from "../helpers/systemd.js";
import { bookwormRoot, cachedPackage, copyRoot, has, removeRoot, sh, VERSION } from "../package/support.js";
import { readmeBlock } from "./blocks.js";

const DEB = `secretfile_${VERSION}_amd64.deb`;
const KEY = `server-key-${randomBytes(12).toString("hex")}`;
const FINGERPRINT = createHash("sha256").update(KEY).digest("hex").slice(0, 12);
const ROOT_ENV = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
};

const why = !isRoot
  ? "not root (apt, chroot and useradd need it)"
  : !has("dpkg-deb")
    ? "dpkg-deb is not installed"
    : !has("cc")
      ? "no C compiler: the package needs the prebuilt native addon"
      : undefined;
if (why !== undefined) console.warn(`test/readme/server.test.ts skipped: ${why}`);

/** What the block must have printed and done, wherever it ran; `run` runs a shell command as root there. */
function expectWorked(out: { code: number | null; stdout: string; stderr: string }, crontab: string): string {
  expect(out.code, out.stderr.slice(-3000)).toBe(0);
  expect(out.stdout).toContain(`report: MERAKI_API_KEY sha256:${FINGERPRINT}; dry run, no API called\n`);
  expect(out.stdout).toContain("refused, as it should be (exit 4)");
  expect(out.stdout + out.stderr).not.toContain(KEY);
  // The line cron will run at the top of the hour: minute, hour, day, month, weekday, then the command.
  const line = crontab.split("\n").find((l) => l.startsWith("0 * * * * "));
  expect(line, crontab).toBeDefined();
  return line!.slice("0 * * * * ".length);
}

/** The command of a crontab line as cron runs it for `user`: its own environment, /bin/sh, cron's PATH. */
const asCron = (user: string, command: string) => [
  "runuser",
  "-u",
  user,
  "--",
  "env",
  "-i",
  "PATH=/usr/bin:/bin",
  "SHELL=/bin/sh",
  `LOGNAME=${user}`,
  "HOME=/",
  "/bin/sh",
  "-c",
  command,
];

describe.skipIf(why !== undefined)("README's server quick start, run as written", { concurrent: false }, () => {
  describe("on a fresh Debian 12 root with no init system", () => {
    let root = "";
    let rootWhy: string | undefined;
    beforeAll(() => {
      const made = bookwormRoot(["python3", "cron"]);
      const deb = cachedPackage(VERSION);
      if ("why" in made) {
        rootWhy = made.why;
        return;
      }
      root = copyRoot(made.root);
      copyFileSync(deb, path.join(root, "root", DEB));
      writeFileSync(path.join(root, "root", "quick-start.sh"), readmeBlock("server").text);
    }, 1_200_000);

    afterAll(() => {
      if (root !== "") removeRoot(root);
    }, 120_000);

    it("gets the job its key, refuses another user, and leaves a crontab line that works as cron runs it", (ctx) => {
      if (rootWhy !== undefined) ctx.skip(rootWhy);
      const inRoot = (cmd: string[], input?: string) =>
        sh("/usr/sbin/chroot", [root, ...cmd], { timeoutMs: 300_000, input, env: ROOT_ENV });
      const out = inRoot(["sh", "-c", "cd /root && bash -e quick-start.sh"], `${KEY}\n`);
      const command = expectWorked(
        { code: out.status, stdout: out.stdout, stderr: out.stderr },
        inRoot(["crontab", "-u", "netops", "-l"]).stdout,
      );
      const cron = inRoot(asCron("netops", command));
      expect({ status: cron.status, stdout: cron.stdout, stderr: cron.stderr }).toEqual({
        status: 0,
        stdout: `report: MERAKI_API_KEY sha256:${FINGERPRINT}; dry run, no API called\n`,
        stderr: "",
      });
    });
  });

  const sdWhy = systemdSkipReason();
  describe.skipIf(sdWhy !== undefined)(
    `under a real systemd${sdWhy === undefined ? "" : ` (skipped: ${sdWhy})`}`,
    () => {
      let sd: Booted;
      beforeAll(async () => {
        const deb = cachedPackage(VERSION);
        sd = await bootSystemd({ copyUsr: true });
        copyFileSync(deb, path.join(sd.share, DEB));
        writeFileSync(path.join(sd.share, "quick-start.sh"), readmeBlock("server").text);
      }, 900_000);
      afterAll(async () => {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- sd is unset when beforeAll failed
        await sd?.poweroff();
      }, 60_000);

      it("gets the job its key through the socket-activated agent, refuses another user, and the crontab line works", async () => {
        const out = await sd.run(["sh", "-c", `cd ${SHARE} && bash -e quick-start.sh`], {
          input: `${KEY}\n`,
          timeoutMs: 300_000,
        });
        const command = expectWorked(out, (await sd.run(["crontab", "-u", "netops", "-l"])).stdout);
        const cron = await sd.run(asCron("netops", command));
        expect({ code: cron.code, stdout: cron.stdout, stderr: cron.stderr }).toEqual({
          code: 0,
          stdout: `report: MERAKI_API_KEY sha256:${FINGERPRINT}; dry run, no API called\n`,
          stderr: "",
        });
      });
    },
  );
});
