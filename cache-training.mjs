// Makes dist/secretfile.cjs.cache, the V8 code cache bin/secretfile starts with: loads the bundle as the launcher does,
// runs the common commands through it, then saves what V8 compiled. Run by build.mjs in a child Node.
// Rules: only throwaway data (a temporary store, a made-up value, an in-process stand-in for the agent), removed after;
// the cache is written to a temporary name and renamed, so a reader sees the old cache, the new one, or none.

import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(ROOT, "dist");
const { loadBundle } = createRequire(import.meta.url)("./bin/secretfile");

const VALUE = "throwaway-training-value";
const { exports, script } = loadBundle(DIST, false);
const tmp = mkdtempSync(path.join(os.tmpdir(), "secretfile-cache-"));
const dir = path.join(tmp, "store");
const socket = path.join(tmp, "agent.sock");
const agent = standInAgent(socket);
const run = async (argv) => {
  process.exitCode = undefined;
  await exports.main(argv);
};
try {
  await new Promise((resolve) => agent.listen(socket, resolve));
  await run(["--version"]);
  await run(["--help"]);
  await run(["add", "--dir", dir, "TRAINING_KEY"]); // the value comes from standard input, which build.mjs feeds
  await run(["get", "--dir", dir, "TRAINING_KEY"]);
  await run(["get", "--dir", dir, "NO_SUCH_KEY"]);
  await run(["ls", "--dir", dir]);
  await run(["exec", "--dir", dir, "--", "true"]);
  await run(["exec", "--dir", dir, "--", process.execPath, "-e", "process.stdout.write(process.env.TRAINING_KEY)"]);
  await run(["get", "--socket", socket, "TRAINING_KEY"]);
  await run(["ls", "--socket", socket]);
  await run(["exec", "--socket", socket, "--", "true"]);
  await run(["exec", "--socket", socket, "--", process.execPath, "-e", "process.stdout.write(process.env.TRAINING_KEY)"]);
  const bundle = readFileSync(path.join(DIST, "secretfile.cjs"), "utf8");
  const header = Buffer.from(`${bundle.slice(0, bundle.indexOf("\n"))}\n`, "latin1");
  const file = path.join(DIST, "secretfile.cjs.cache");
  writeFileSync(`${file}.tmp`, Buffer.concat([header, script.createCachedData()]), { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
} finally {
  agent.close();
  rmSync(tmp, { recursive: true, force: true });
}
process.exitCode = 0;

/** A server that answers the agent protocol's read requests (docs/protocol.md) with one made-up secret. */
function standInAgent(path) {
  const answers = {
    get: { ok: true, op: "get", value: VALUE },
    list: { ok: true, op: "list", secrets: [{ name: "TRAINING_KEY", created: new Date(0).toISOString(), updated: new Date(0).toISOString() }] },
    values: { ok: true, op: "values", values: { TRAINING_KEY: VALUE } },
  };
  return net.createServer((conn) => {
    let text = "";
    conn.setEncoding("utf8").on("data", (chunk) => {
      text += chunk;
      if (!text.includes("\n")) return;
      const answer = answers[JSON.parse(text.slice(0, text.indexOf("\n"))).op] ?? { ok: false, error: { code: "failure", message: `${path}: not trained` } };
      conn.end(`${JSON.stringify(answer)}\n`);
    });
  });
}
