// One rule for the identity's mode (IDENTITY_MODE, src/store/identity.ts): 0600 in a personal store, 0400 for the
// agent. The agent's hint for an identity others can read asks for the same 0400 that README, setup and doctor do.

import { chmodSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";
import { NEEDS_ROOT, prepareAgent, spawnAgent, useSystem } from "../../helpers/system.js";

describe.skipIf(!isRoot)(`the agent's identity hint (${isRoot ? "" : NEEDS_ROOT})`, () => {
  const sys = useSystem([]);

  it.for([0o640, 0o604])(
    "an identity others can read (mode %d) stops the agent, exit 4, with the hint chmod 400",
    async (mode) => {
      const files = await prepareAgent(sys.world, sys.users.service, { policyText: "read uid:0 *\n" });
      const identity = path.join(files.dir, "identity.txt");
      chmodSync(identity, mode);
      const agent = spawnAgent(sys.world, sys.users.service, files);
      const { code } = await agent.exited;
      expect(code, agent.stderr()).toBe(4);
      expect(agent.stderr()).toContain(`secretfile: hint: chmod 400 ${identity}\n`);
      expect(agent.stderr()).not.toContain("chmod 600");
    },
  );
});

describe("the personal identity's hint", () => {
  afterAll(removeSandboxes);
  it("asks for 0600, the personal mode", async () => {
    const sb = sandbox();
    await sb.init();
    chmodSync(sb.identity, 0o640);
    const r = await sb.run(["ls"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`secretfile: hint: chmod 600 ${sb.identity}\n`);
  });
});
