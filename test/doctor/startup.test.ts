// doctor warns of what makes every start slower: NODE_EXTRA_CA_CERTS (set, not empty), naming the file and the fix.

import { describe, expect, it } from "vitest";
import { checkStartup } from "../../src/doctor/startup.js";
import { runCli, cleanEnv, tempDir } from "../helpers/cli.js";

describe("doctor's start-up check", () => {
  it.for([
    [{}, 0],
    [{ NODE_EXTRA_CA_CERTS: "" }, 0],
    [{ NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" }, 1],
  ] as const)("warns only when NODE_EXTRA_CA_CERTS names a file: %j", ([env, count]) => {
    const found = checkStartup(env);
    expect(found).toHaveLength(count);
    for (const f of found) {
      expect(f.status).toBe("warn");
      expect(f.text).toContain("NODE_EXTRA_CA_CERTS is set (/etc/ssl/certs/ca-certificates.crt)");
      expect(f.fix).toContain("NODE_EXTRA_CA_CERTS=");
    }
  });

  it("is in `secretfile doctor`'s report, as a warning that does not change its exit code", async () => {
    const tmp = tempDir("secretfile-doctor-startup-");
    try {
      const dir = `${tmp.dir}/store`;
      const env = (extra: NodeJS.ProcessEnv) => cleanEnv({ HOME: tmp.dir, NODE_EXTRA_CA_CERTS: undefined, ...extra });
      expect((await runCli(["init", "--dir", dir], { env: env({}) })).code).toBe(0);
      const clean = await runCli(["doctor", "--dir", dir], { env: env({}) });
      const slow = await runCli(["doctor", "--dir", dir], {
        env: env({ NODE_EXTRA_CA_CERTS: "/nonexistent/extra-ca.pem" }),
      });
      expect(clean.stdout + clean.stderr).not.toContain("NODE_EXTRA_CA_CERTS");
      expect(slow.stdout + slow.stderr).toContain("NODE_EXTRA_CA_CERTS is set (/nonexistent/extra-ca.pem)");
      expect(slow.code).toBe(clean.code);
    } finally {
      tmp.cleanup();
    }
  });
});
