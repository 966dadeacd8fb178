// A socket path of 108 bytes or more (UTF-8 bytes, not characters) is refused, exit 2 naming it, by every transport
// and by the agent's listen: sun_path holds 108 bytes with its NUL, and a path cut short can name another socket. The
// decoy: a 108-byte path ending in "€" (3 bytes), which the native client's copy into sun_path cut before the "€"
// (napi_get_value_string_utf8 copies whole characters only), where a socket listens.

import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, ROOT, runCli, tempDir } from "../../helpers/cli.js";
import type { Native, NativeError } from "../../../src/system/native.js";

const tmp = tempDir("sf-sock-");
afterAll(() => tmp.cleanup());

/** A path under `dir` of exactly `bytes` UTF-8 bytes, ending in "€". */
function pathOf(dir: string, bytes: number): string {
  const head = `${dir}/`;
  return `${head}${"x".repeat(bytes - Buffer.byteLength(head) - 3)}€`;
}

describe("a socket path too long for sun_path", () => {
  const long = pathOf(tmp.dir, 108);
  const cut = long.slice(0, -1); // what the native client used to connect to
  let decoy: net.Server;
  let connections = 0;
  beforeAll(async () => {
    expect(Buffer.byteLength(cut)).toBe(105);
    decoy = net.createServer((c) => {
      connections++;
      c.end(`${JSON.stringify({ ok: true, op: "get", value: "from-the-decoy" })}\n`);
    });
    await new Promise<void>((resolve) => decoy.listen(cut, () => resolve()));
  });
  afterAll(() => decoy.close());

  it.for([
    ["the native addon", {}],
    ["node:net (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
  ] as const)("get through %s is exit 2 naming the path, and reaches no socket", async ([, extraEnv]) => {
    for (const args of [
      ["get", "--socket", long, "K"],
      ["get", "K"],
    ]) {
      const r = await runCli(args, { env: cleanEnv({ HOME: tmp.dir, SECRETFILE_SOCKET: long, ...extraEnv }) });
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toContain(
        `secretfile: error: the socket path ${long} is 108 bytes; a Unix socket path has at most 107`,
      );
    }
    expect(connections).toBe(0);
  });

  const addon = path.join(ROOT, "dist", "native.node");
  it.skipIf(!existsSync(addon))(
    "the addon's exchange itself refuses it (ENAMETOOLONG, not connected), whatever its caller checked",
    () => {
      const addonExports = createRequire(import.meta.url)(addon) as Native;
      let thrown: NativeError | undefined;
      try {
        addonExports.exchange(long, Buffer.from('{"v":1,"op":"ping"}\n'), 1024, 1000, null);
      } catch (err) {
        thrown = err as NativeError;
      }
      expect([thrown?.errno, thrown?.connected]).toEqual([36, false]); // ENAMETOOLONG on Linux
      expect(connections).toBe(0);
    },
  );

  it("a 107-byte path is used as it is", async () => {
    const fits = pathOf(tmp.dir, 107);
    const server = net.createServer((c) => c.end(`${JSON.stringify({ ok: true, op: "get", value: "fits" })}\n`));
    await new Promise<void>((resolve) => server.listen(fits, () => resolve()));
    try {
      const r = await runCli(["get", "--socket", fits, "K"], { env: cleanEnv({ HOME: tmp.dir }) });
      expect([r.code, r.stdout]).toEqual([0, "fits"]);
    } finally {
      server.close();
    }
  });

  it("the agent refuses to listen there: exit 2 naming the path, before it loads anything", async () => {
    const dir = path.join(tmp.dir, "state");
    mkdirSync(dir, { mode: 0o700 });
    const r = await runCli(
      [
        "agent",
        "--socket",
        long,
        "--dir",
        dir,
        "--policy",
        path.join(tmp.dir, "policy"),
        "--audit",
        path.join(tmp.dir, "audit.log"),
      ],
      {
        env: cleanEnv({ HOME: tmp.dir }),
      },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`the socket path ${long} is 108 bytes`);
  });
});
