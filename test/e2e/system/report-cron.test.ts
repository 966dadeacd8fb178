// `secretfile report` in a cron.d line of root's under Debian's real cron daemon, its mail delivered by the machine's
// MTA (Debian's exim4, local delivery) to a local mailbox: quiet, no mail, while nothing needs attention; once a key
// expires soon, exit 1 and one mail naming it, never a value. Root only; skipped with the reason otherwise.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { CRON_WAIT_MS, filesWritten, hasCron, useCron, waitFor } from "../../helpers/cron.js";
import { NEEDS_ROOT, NODE, useSystem, type RunningAgent } from "../../helpers/system.js";

const SENDMAIL = "/usr/sbin/sendmail";
const hasMta = existsSync(SENDMAIL);
/** Cron hands the mail to the MTA once the job ends; local delivery follows in a moment. */
const MAIL_WAIT_MS = 30_000;

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

/** The mailbox's text, or "" when there is none; a link there is not followed (/var/mail is writable by group mail). */
function readMailbox(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/** What the MTA still holds (a mail that could not be delivered), for a failure's message. */
function mailQueue(): string {
  const r = spawnSync("mailq", { encoding: "utf8" });
  return r.error === undefined ? r.stdout : `(mailq: ${r.error.message})`;
}

describe.skipIf(!isRoot || !hasCron || !hasMta)(
  `report mailed by a real cron daemon (${isRoot ? "needs Debian's cron and a local MTA: apt-get install cron exim4-daemon-light" : NEEDS_ROOT})`,
  () => {
    const sys = useSystem(["admin"]);
    const cron = useCron();
    const value = `value-${randomBytes(16).toString("hex")}`;
    const cronFile = `/etc/cron.d/secretfile-test-report-${randomBytes(4).toString("hex")}`;
    let agent: RunningAgent;
    let status: string;
    let mailbox = "";

    beforeAll(async () => {
      const { world, users } = sys;
      agent = await sys.startAgent({ policyText: "", secrets: { API_KEY: value } });
      status = path.join(world.mkdir("cron"), "status");
      mailbox = `/var/mail/${users.admin.name}`;
      // cron's environment: PATH=/usr/bin:/bin, SHELL=/bin/sh; so absolute paths everywhere. A cron.d file (root-owned,
      // not writable by others, a name without dots) rather than root's crontab, which may be the machine's own.
      const line =
        `* * * * * root ${NODE} ${world.bin} report --socket ${agent.socket} --policy ${agent.policy} --audit ${agent.audit}` +
        `; echo $? > ${status}.tmp && mv ${status}.tmp ${status}\n`;
      writeFileSync(cronFile, `MAILTO=${users.admin.name}\n${line}`, { mode: 0o644 });
      chmodSync(cronFile, 0o644);
      await cron.ensure();
    });

    afterAll(() => {
      rmSync(cronFile, { force: true });
      if (mailbox !== "") rmSync(mailbox, { force: true });
    });

    it(
      "is quiet under cron while nothing needs attention: exit 0 and no mail",
      async () => {
        const ran = await waitFor(filesWritten([status]), CRON_WAIT_MS, cron.ensure);
        expect(ran, `cron never ran ${cronFile}`).toBe(true);
        const code = readFileSync(status, "utf8");
        rmSync(status); // the next run writes it anew
        expect(code).toBe("0\n");
        expect(readMailbox(mailbox)).toBe("");
      },
      CRON_WAIT_MS + 20_000,
    );

    it(
      "mails one line naming a key that expires soon, never a value, and exits 1",
      async () => {
        const soon = day(3);
        const add = await agent.run(["add", "SOON_KEY", "--expires", soon], { input: `soon-${value}` });
        expect(add.code, add.stderr).toBe(0);
        const ran = await waitFor(filesWritten([status]), CRON_WAIT_MS, cron.ensure);
        expect(ran, `cron did not run ${cronFile} again`).toBe(true);
        expect(readFileSync(status, "utf8")).toBe("1\n");

        const mailed = await waitFor(() => readMailbox(mailbox).includes("SOON_KEY"), MAIL_WAIT_MS);
        const mail = readMailbox(mailbox);
        expect(mailed, `no mail in ${mailbox}: ${JSON.stringify(mail)}; the MTA's queue: ${mailQueue()}`).toBe(true);
        // One mail: the quiet run a minute before sent none (its mail would have been delivered before this one).
        expect(mail.match(/^From /gm), mail).toHaveLength(1);
        expect(mail).toMatch(/^Subject: Cron <root@\S+> .* report /m);
        const body = mail.slice(mail.indexOf("\n\n") + 2);
        expect(body).toBe(`SOON_KEY expires on ${soon}\n\n`);
        expect(mail).not.toContain(value);
      },
      CRON_WAIT_MS + MAIL_WAIT_MS + 20_000,
    );
  },
);
