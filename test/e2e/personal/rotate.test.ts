// `secretfile rotate` in personal mode, through bin/secretfile: a script that succeeds (the old value stays in the
// history), one that fails, one whose check refuses the new value, one that hangs past its deadline; in each failure
// the store keeps its value and nothing either program printed shows a value unmasked.

import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

const SCRIPT = path.join(FIXTURES, "rotate-script.sh");
const CHECK = path.join(FIXTURES, "rotate-check.sh");
const OLD = "old-meraki-value-0123456789";

afterAll(removeSandboxes);

async function withKey(): Promise<Sandbox> {
  const sb = sandbox();
  await sb.add("MERAKI_API_KEY", `${OLD}\n`);
  return sb;
}

const current = async (sb: Sandbox) => (await sb.run(["get", "MERAKI_API_KEY"])).stdout;

describe.concurrent("rotate", { timeout: 120_000 }, () => {
  it("stores what the script printed once the check accepts it; the old value is rolled back to", async () => {
    const sb = await withKey();
    const r = await sb.run(["rotate", "MERAKI_API_KEY", "--exec", SCRIPT, "--", CHECK, "MERAKI_API_KEY"]);
    expect(r.code, r.stderr).toBe(0);
    const next = await current(sb);
    expect(next).toMatch(/^new-[0-9a-f]{24}$/);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("old value: [[MERAKI_API_KEY]], uid");
    expect(r.stderr).toContain("made: [MERAKI_API_KEY (new)]");
    expect(r.stderr).toContain("checking MERAKI_API_KEY: [MERAKI_API_KEY (new)]");
    expect(r.stderr).toContain("secretfile: rotated MERAKI_API_KEY; the old value is kept in its history");
    expect(r.stderr + r.stdout).not.toContain(OLD);
    expect(r.stderr).not.toContain(next);
    const back = await sb.run(["rollback", "MERAKI_API_KEY"]);
    expect(back.code, back.stderr).toBe(0);
    expect(await current(sb)).toBe(OLD);
  });

  it.for([
    {
      why: "a script that fails",
      env: { ROTATE_MODE: "fail" },
      error: /error: the script .*rotate-script\.sh failed with exit status 3: MERAKI_API_KEY keeps its current value/,
    },
    {
      why: "a check that refuses the new value",
      env: { ROTATE_CHECK: "reject" },
      error:
        /error: the check .*rotate-check\.sh failed with exit status 1: MERAKI_API_KEY keeps its current value; the new one is not stored/,
    },
  ])("keeps the old value after $why, saying why, exit 1", async ({ env, error }) => {
    const sb = await withKey();
    const r = await sb.run(["rotate", "MERAKI_API_KEY", "--exec", SCRIPT, "--", CHECK, "MERAKI_API_KEY"], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(error);
    expect(r.stderr).toContain("old value: [[MERAKI_API_KEY]], uid");
    expect(r.stderr).not.toContain(OLD);
    expect(r.stderr).not.toMatch(/new-[0-9a-f]{24}/);
    expect(await current(sb)).toBe(OLD);
    const h = await sb.run(["history", "MERAKI_API_KEY"]);
    expect(h.stdout.trim().split("\n")).toHaveLength(2); // the header and the one version
  });

  it("kills a script that hangs at its --timeout, and keeps the old value", async () => {
    const sb = await withKey();
    const started = Date.now();
    const r = await sb.run(["rotate", "MERAKI_API_KEY", "--exec", SCRIPT, "--timeout", "1"], {
      env: { ROTATE_MODE: "hang" },
    });
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r.stderr).toMatch(
      /did not finish within its 1 s deadline and was killed: MERAKI_API_KEY keeps its current value/,
    );
    expect(await current(sb)).toBe(OLD);
  });

  it.for([
    {
      why: "a name the store lacks",
      args: ["rotate", "NO_SUCH_KEY", "--exec", SCRIPT],
      code: 3,
      error: /no secret named NO_SUCH_KEY/,
    },
    { why: "no --exec", args: ["rotate", "MERAKI_API_KEY"], code: 2, error: /required option '--exec <script>'/ },
    {
      why: "a zero --timeout",
      args: ["rotate", "MERAKI_API_KEY", "--exec", SCRIPT, "--timeout", "0"],
      code: 2,
      error: /invalid --timeout "0"/,
    },
    {
      why: "a script that is not there",
      args: ["rotate", "MERAKI_API_KEY", "--exec", "no-such-script-here"],
      code: 127,
      error: /cannot run no-such/,
    },
  ])("refuses $why with exit $code", async ({ args, code, error }) => {
    const sb = await withKey();
    const r = await sb.run(args);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(error);
    expect(await current(sb)).toBe(OLD);
  });
});
