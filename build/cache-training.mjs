// Makes one V8 code cache bin/secretfile starts with: loads the bundle as the launcher does, runs commands through it,
// then saves what V8 compiled. Run by build/bundle.mjs in a child Node per cache: `node build/cache-training.mjs SET FOLDER`, where
// SET is "all" (the full CLI's dist/secretfile.cjs.cache, every common command, and dist/age.cjs.cache for typage,
// which a post-quantum store loads; it also creates the throwaway stores in FOLDER) or a bundle of the small entry
// (the launcher's HOT_BUNDLES: dist/hot-get-agent.cjs, hot-get.cjs, …), trained on its command alone (through the
// agent alone for an agent's bundle), so that a start of it deserializes only its code.
// Rules: only throwaway data (a temporary store, a made-up value, a stand-in for the agent in a child process: the CLI's
// exchange with the agent blocks this one); the cache is written to a temporary name and renamed, so a reader sees the
// old cache, the new one, or none.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST = path.join(ROOT, "dist");
const { loadBundle, cacheFile, BUNDLES, HOT_BUNDLES } = createRequire(import.meta.url)("../bin/secretfile");

const VALUE = "throwaway-training-value";
const [set, tmp] = process.argv.slice(2);
const dir = path.join(tmp, "store");
const socket = path.join(tmp, `agent-${set}.sock`);
const print = [process.execPath, "-e", "process.stdout.write(process.env.TRAINING_KEY)"];
const SETS = {
  get: [
    ["get", "--dir", dir, "TRAINING_KEY"],
    ["get", "--dir", dir, "NO_SUCH_KEY"],
    ["get", "--socket", socket, "TRAINING_KEY"],
  ],
  exec: [
    ["exec", "--dir", dir, "--", "true"],
    ["exec", "--dir", dir, "--", ...print],
    ["exec", "--socket", socket, "--", "true"],
    ["exec", "--socket", socket, "--", ...print],
  ],
  ls: [
    ["ls", "--dir", dir],
    ["ls", "--socket", socket],
  ],
};
const pqDir = path.join(tmp, "pq-store");
SETS.all = [
  ["--version"],
  ["--help"],
  ["add", "--dir", dir, "TRAINING_KEY"], // the value comes from standard input, which build/bundle.mjs feeds
  // A post-quantum store is typage's to make, write and read: what loads dist/age.cjs, and so makes its cache.
  ["init", "--pq", "--dir", pqDir],
  ["get", "--dir", pqDir, "NO_SUCH_KEY"],
  ...SETS.get,
  ...SETS.ls,
  ...SETS.exec,
];

// A small entry's bundle runs its command's forms, through the agent only when it is the agent's alone.
const hot = HOT_BUNDLES.find((b) => b.file === set);
const name = set === "all" ? BUNDLES.full : hot.file;
const forms =
  set === "all" ? SETS.all : SETS[hot.word].filter((argv) => hot.mode !== "agent" || argv.includes("--socket"));
const { exports, script, parts } = loadBundle(DIST, false, name);
const agent = standInAgent(socket);
try {
  for (let waited = 0; !existsSync(socket); waited += 10) {
    if (waited > 30_000 || agent.exitCode !== null)
      throw new Error(`the stand-in agent did not start (${agent.exitCode})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const argv of forms) {
    process.exitCode = undefined;
    const running = exports.main(argv);
    // The small entry trained on a form it leaves to the full CLI would make a cache of nothing.
    if (running === undefined) throw new Error(`${name} does not run ${argv.join(" ")}`);
    await running;
  }
  const bundle = path.join(DIST, name);
  writeCache(bundle, script, cacheFile(bundle));
  for (const [id, part] of Object.entries(parts))
    writeCache(path.join(DIST, id), part.script, `${path.join(DIST, id)}.cache`);
} finally {
  agent.kill();
  rmSync(socket, { force: true });
}
process.exitCode = 0;

/** Writes the code cache of `script`, compiled from `source`, to `file`: the source's first line (the build's id), then V8's data. */
function writeCache(source, script, file) {
  const text = readFileSync(source, "latin1");
  const header = Buffer.from(`${text.slice(0, text.indexOf("\n"))}\n`, "latin1");
  writeFileSync(`${file}.tmp`, Buffer.concat([header, script.createCachedData()]), { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/**
 * Starts, in a child Node, a server that answers the agent protocol's read requests (docs/protocol.md) with one
 * made-up secret on `socket`.
 */
function standInAgent(socket) {
  const answers = {
    get: { ok: true, op: "get", value: VALUE },
    list: {
      ok: true,
      op: "list",
      secrets: [{ name: "TRAINING_KEY", created: new Date(0).toISOString(), updated: new Date(0).toISOString() }],
    },
    values: { ok: true, op: "values", values: { TRAINING_KEY: VALUE } },
  };
  const server = (answers, socket) =>
    // This function's source runs in `node -e`, a CommonJS script.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    require("node:net")
      .createServer((conn) => {
        let text = "";
        conn.setEncoding("utf8").on("data", (chunk) => {
          text += chunk;
          if (!text.includes("\n")) return;
          const answer = answers[JSON.parse(text.slice(0, text.indexOf("\n"))).op] ?? {
            ok: false,
            error: { code: "failure", message: `${socket}: not trained` },
          };
          conn.end(`${JSON.stringify(answer)}\n`);
        });
      })
      .listen(socket);
  const code = `(${server})(${JSON.stringify(answers)}, ${JSON.stringify(socket)})`;
  return spawn(process.execPath, ["-e", code], { stdio: "ignore" });
}
