// The developers' install: `npm pack`, then `npm install -g` of the tarball into a fresh prefix. It must work, and be a
// copy: nothing in the prefix may point into the clone (`npm install -g .` links, and breaks when the clone moves).
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CA_CERTS_FOR_NPM, ROOT } from "../helpers/cli.js";
import { VERSION } from "./support.js";

const why = !existsSync(path.join(ROOT, "dist", "secretfile.cjs"))
  ? "dist/ is not built (npm run build)"
  : spawnSync("npm", ["--version"]).status !== 0
    ? "npm is not installed"
    : undefined;
if (why !== undefined) console.warn(`test/package/npm-pack.test.ts skipped: ${why}`);

describe.skipIf(why !== undefined)("npm pack, then npm install -g of the tarball", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "secretfile-npm-pack-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ca = process.env[CA_CERTS_FOR_NPM];
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: ca }),
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };

  it("installs a copy that runs, with no link into the clone", { timeout: 480_000 }, (ctx) => {
    const packed = spawnSync("npm", ["pack", "--pack-destination", dir, "--silent"], {
      cwd: ROOT,
      encoding: "utf8",
      env,
      timeout: 120_000,
    });
    expect(packed.status, packed.stderr).toBe(0);
    const tgz = path.join(dir, `secretfile-${VERSION}.tgz`);
    expect(existsSync(tgz)).toBe(true);
    const prefix = path.join(dir, "prefix");
    const installed = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", tgz], {
      cwd: dir,
      encoding: "utf8",
      env,
      timeout: 300_000,
      killSignal: "SIGKILL",
    });
    if (installed.status === null)
      ctx.skip("npm install -g of the tarball did not finish within 300 s (registry slow or unreachable)");
    if (installed.status !== 0 && /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED/.test(installed.stderr))
      ctx.skip(`the npm registry cannot be reached: ${installed.stderr.trim().split("\n").pop()}`);
    expect(installed.status, installed.stderr).toBe(0);
    const app = path.join(prefix, "lib", "node_modules", "secretfile");
    expect(lstatSync(app).isSymbolicLink()).toBe(false);
    const bin = path.join(prefix, "bin", "secretfile");
    expect(realpathSync(bin)).toBe(path.join(app, "bin", "secretfile"));
    for (const f of [bin, path.join(app, "dist", "secretfile.cjs"), path.join(app, "dist", "native.node")])
      expect(realpathSync(f).startsWith(`${ROOT}/`), f).toBe(false);
    // The prebuilt addon is in the package (docs/native.md): the installed CLI uses it, with no compiler at install.
    expect(
      spawnSync(process.execPath, [
        "-e",
        `require(${JSON.stringify(path.join(app, "dist", "native.node"))}).dumpable()`,
      ]).status,
    ).toBe(0);
    const run = (args: string[], input?: string) =>
      spawnSync(bin, args, {
        encoding: "utf8",
        input,
        env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` },
        timeout: 60_000,
      });
    expect(run(["--version"]).stdout).toMatch(new RegExp(`^${VERSION.replaceAll(".", "\\.")} \\(commit `));
    const store = path.join(dir, "store");
    expect(run(["init", "--dir", store]).status).toBe(0);
    expect(run(["add", "--dir", store, "K"], "from-the-copy\n").status).toBe(0);
    expect(run(["get", "--dir", store, "K"]).stdout).toBe("from-the-copy");
  });
});
