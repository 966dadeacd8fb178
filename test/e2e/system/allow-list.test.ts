// Invariant 6 under real uids: what a job receives is an allow-list its owner or root wrote down. A `write` admin who
// adds any name at all (here every variable that common programs document, from their man pages, not from our list)
// changes no existing job's environment or output: not root's, not a job user's whose rules use globs.
// Rules: a plain `exec` gets only the names a read rule writes out for its user; root's gets none and is told to name them.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, useSystem, type RunningAgent } from "../../helpers/system.js";
import { isReservedName } from "../../../src/store/reserved-names.js";
import { execOwnExit } from "../../../src/errors.js";

const SLOW = 240_000;
/** Every variable the man pages of common programs document (test/fixtures/documented-variables.py made the list). */
const DOCUMENTED = readFileSync(path.join(import.meta.dirname, "../../fixtures/documented-variables.txt"), "utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => l.split(" ")[0]!);

describe.skipIf(!isRoot)(`a writer's names reach no job unasked (${NEEDS_ROOT})`, { timeout: SLOW }, () => {
  const sys = useSystem(["admin", "job"]);
  let agent: RunningAgent;
  let dump: string;
  let marker: string;

  beforeAll(async () => {
    const { admin, job } = sys.users;
    agent = await sys.startAgent({
      // README's own shapes: a writer of every name, a job user who may ask for any name (`*`) and names one, and a
      // rule naming root, whose plain exec would otherwise get nothing.
      policyText: `write user:${admin.name} *\nread user:${job.name} MERAKI_API_KEY *\nread user:root MERAKI_API_KEY\n`,
      secrets: { MERAKI_API_KEY: "meraki-value-1", REPORT_TOKEN: "report-value-2" },
    });
    dump = sys.world.fixture("env-dump.mjs");
    marker = path.join(sys.world.root, "writer-ran");
  });

  /** The jobs that exist before the writer acts: how each is run, and by whom. */
  const jobs = () => [
    { who: "job user, plain exec", as: sys.users.job, args: ["exec", "--", NODE, dump] },
    { who: "job user, --only", as: sys.users.job, args: ["exec", "--only", "REPORT_TOKEN", "--", NODE, dump] },
    { who: "root, plain exec", as: undefined, args: ["exec", "--", NODE, dump] },
    { who: "root, --only", as: undefined, args: ["exec", "--only", "REPORT_TOKEN", "--", NODE, dump] },
  ];

  async function runAll(): Promise<string[]> {
    const out: string[] = [];
    for (const j of jobs()) {
      const r = await agent.run(j.args, { as: j.as });
      expect(r.code, `${j.who}: ${r.stderr}`).toBe(0);
      out.push(`${j.who}\n${r.stdout}${r.stderr}`);
    }
    return out;
  }

  it(`the documented variables (${DOCUMENTED.length}) added by a write admin change no job's environment or output`, async () => {
    const before = await runAll();
    // A plain exec gets the name its rule writes out, not REPORT_TOKEN, which only a glob gives.
    for (const i of [0, 2]) {
      expect(before[i]).toContain('"MERAKI_API_KEY"');
      expect(before[i]).not.toContain('"REPORT_TOKEN"');
    }
    // Hostile values: words a mask would hide from cron mail, and options that make a program run a command.
    const hostile = [
      "FAILED",
      "ERROR: timeout",
      `--checkpoint=1 --checkpoint-action=exec=touch ${marker}`,
      `$(shell touch ${marker})`,
      sys.world.root,
    ];
    const storable = DOCUMENTED.filter((n) => !isReservedName(n));
    const envFile = path.join(sys.world.root, "writer.env");
    const chosen: Record<string, string> = { TAR_OPTIONS: hostile[2]! };
    const valueOf = (n: string, i: number) => chosen[n] ?? hostile[i % hostile.length]!;
    writeFileSync(envFile, storable.map((n, i) => `${n}=${JSON.stringify(valueOf(n, i))}`).join("\n"));
    const imported = await agent.run(["import", envFile], { as: sys.users.admin });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout + imported.stderr).toContain(String(storable.length));

    // The programs the review named run as root and as the job user without the writer's options.
    const out = sys.world.mkdir("tar", 0o777);
    for (const as of [undefined, sys.users.job]) {
      const tarball = path.join(out, `${as?.name ?? "root"}.tgz`);
      const tar = ["tar", "czf", tarball, "-C", sys.world.root, path.basename(dump)];
      const r = await agent.run(["exec", "--", ...tar], { as, env: { PATH: "/usr/bin:/bin" } });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(existsSync(marker), "the writer's TAR_OPTIONS ran a command").toBe(false);
    expect(await runAll()).toEqual(before);
  });

  it("root's plain exec with no rule naming root is given nothing unasked: exit 2, saying what to write instead", async () => {
    const other = await sys.startAgent({ policyText: "", secrets: { MERAKI_API_KEY: "meraki-value-1" } });
    const r = await other.run(["exec", "--", NODE, dump]);
    expect(r.code).toBe(execOwnExit(2));
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/asked for no secret by name/);
    expect(r.stderr).toMatch(/hint: .*--only NAME/);
    expect(other.auditLines().at(-1)).toMatchObject({ uid: 0, names: ["*"], given: [], allowed: false });
    await other.stop();
  });

  it("a job user whose rules give only globs is told to name the keys (exit 2), and the job does not run", async () => {
    const { job } = sys.users;
    const other = await sys.startAgent({
      policyText: `read user:${job.name} REPORT_*\n`,
      secrets: { REPORT_TOKEN: "report-value-2" },
    });
    const r = await other.run(["exec", "--", NODE, dump], { as: job });
    expect(r.code).toBe(execOwnExit(2));
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/its rules give REPORT_\* only to ask for by name/);
    await other.stop();
  });

  it("a name the job user's rule writes out that the store lacks is a warning naming it; the job runs", async () => {
    const { job } = sys.users;
    const other = await sys.startAgent({
      policyText: `read user:${job.name} REPORT_TOKEN GONE_KEY\n`,
      secrets: { REPORT_TOKEN: "report-value-2" },
    });
    const r = await other.run(["exec", "--", NODE, dump], { as: job });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/GONE_KEY is not given to the job: the policy names it for you, but the store has none/);
    expect(r.stdout).toContain('"REPORT_TOKEN"');
    await other.stop();
  });
});
