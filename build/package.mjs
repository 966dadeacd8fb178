// `npm run package`: builds pkg/secretfile_VERSION_ARCH.deb, which carries its own Node.js (the one pinned in
// packaging/runtime/, build/runtime.mjs), the bundle, the native addon, units, init script, man pages and docs.
// Rules: every file comes from one source (units from src/setup/units.ts, man pages from docs/man/, the agent's V8
// flags from src/setup/agent-node-flags.json); the bundle and its code caches are made by the runtime the package
// carries, never the Node running this; nothing is stripped from the runtime; the version is package.json's unless
// SECRETFILE_PACKAGE_VERSION says otherwise (a test's upgrade package).

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { INIT_SCRIPT_FILES, renderInitScript } from "./init-script.mjs";
import { launcherFor } from "./launcher.mjs";
import { manPage } from "./man.mjs";
import { bundledRuntime } from "./runtime.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const at = (...p) => path.join(ROOT, ...p);
const pkgJson = JSON.parse(readFileSync(at("package.json"), "utf8"));
const version = process.env.SECRETFILE_PACKAGE_VERSION || pkgJson.version;
const arch = run("dpkg", ["--print-architecture"]).trim();
const runtime = bundledRuntime(arch);
const LIB = "/usr/lib/secretfile";
const OUT = at("pkg");
const STAGE = path.join(OUT, "root");

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts });
  if (r.status !== 0)
    throw new Error(`package: ${cmd} ${args.join(" ")} failed (${r.error?.code ?? r.status ?? r.signal})`);
  return r.stdout ?? "";
}

/** Writes `text` to the staged file `file` (absolute in the package) with `mode`. */
function put(file, text, mode = 0o644) {
  const to = path.join(STAGE, file);
  mkdirSync(path.dirname(to), { recursive: true });
  writeFileSync(to, text);
  chmodSync(to, mode);
}

/** Copies the file or folder `from` (from the project root) to `file` in the package. */
function copy(from, file, mode) {
  const to = path.join(STAGE, file);
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(at(from), to, { recursive: true, dereference: true });
  if (mode !== undefined) chmodSync(to, mode);
}

// 1. The bundle, built now so the package holds this checkout's code under the package's version, by the runtime it
// carries: V8 takes a code cache only from its own version, so the caches are made by that one.
run(runtime.node, [at("build/bundle.mjs")], {
  env: { ...process.env, SECRETFILE_BUILD_VERSION: version },
  stdio: ["ignore", "inherit", "inherit"],
});
if (!existsSync(at("dist/native.node")))
  throw new Error("package: dist/native.node was not built (a C compiler is needed to package)");

// What the package's files are rendered from: the TypeScript sources, bundled here for this script.
const sources = await build({
  stdin: {
    contents: `export { renderUnits, UNIT_NAMES, agentStartFlags } from "./src/setup/units.ts"; export { SYSTEM_PATHS } from "./src/system/paths.ts";`,
    resolveDir: ROOT,
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  platform: "node",
  write: false,
  logLevel: "warning",
});
const { renderUnits, UNIT_NAMES, agentStartFlags, SYSTEM_PATHS } = await import(
  `data:text/javascript;base64,${Buffer.from(sources.outputFiles[0].text).toString("base64")}`
);

rmSync(OUT, { recursive: true, force: true });
mkdirSync(STAGE, { recursive: true });

// 2. The runtime and the code: /usr/lib/secretfile/{node,bin/secretfile,dist/}.
mkdirSync(path.join(STAGE, LIB), { recursive: true });
copyFileSync(runtime.node, path.join(STAGE, LIB, "node"));
chmodSync(path.join(STAGE, LIB, "node"), 0o755);
// The CLI's #! line passes no --disable-sigusr1: under it node blocks SIGUSR1 in every thread, and `exec` could not
// pass the signal on to its job (the agent's units and init script pass it: agentStartFlags).
const launcher = launcherFor(readFileSync(at("bin/secretfile"), "utf8"), `${LIB}/node`);
put(`${LIB}/bin/secretfile`, launcher, 0o755);
copy("bin/package.json", `${LIB}/bin/package.json`); // {"type": "commonjs"}: the launcher has no .cjs to say so
for (const f of readdirSync(at("dist"))) copy(`dist/${f}`, `${LIB}/dist/${f}`, 0o644);
// The addon loses its symbols (the package tests run it); node is carried exactly as it was built and tested.
run("strip", ["--strip-unneeded", path.join(STAGE, `${LIB}/dist/native.node`)]);
// /usr/bin/secretfile: a symlink; node resolves it, so the launcher finds dist/ beside itself.
mkdirSync(path.join(STAGE, "usr/bin"), { recursive: true });
symlinkSync(`../lib/secretfile/bin/secretfile`, path.join(STAGE, "usr/bin/secretfile"));

// 3. The units, rendered by the code `secretfile setup` writes them with, for the package's paths.
const units = renderUnits({
  node: `${LIB}/node`,
  nodeVersion: runtime.version,
  launcher: `${LIB}/bin/secretfile`,
  user: "secretfile",
  group: "secretfile",
  paths: SYSTEM_PATHS,
});
put(`/lib/systemd/system/${UNIT_NAMES.service}`, units.service);
put(`/lib/systemd/system/${UNIT_NAMES.socket}`, units.socket);

// 4. The init script, for hosts without systemd: the same node, flags and paths as the unit.
const initScript = renderInitScript(readFileSync(at("packaging/init.d/secretfile"), "utf8"), {
  node: `${LIB}/node`,
  nodeFlags: agentStartFlags(runtime.version),
  launcher: `${LIB}/bin/secretfile`,
  user: "secretfile",
  paths: SYSTEM_PATHS,
  ...INIT_SCRIPT_FILES,
  version,
});
put("/etc/init.d/secretfile", initScript, 0o755);
put("/etc/default/secretfile", readFileSync(at("packaging/default/secretfile"), "utf8"));

// 5. Man pages (from docs/man/*.md), completions, docs.
// The pages' date: the last commit's (the same on every build of a commit), today's outside git.
const lastCommit = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: ROOT, encoding: "utf8" });
const date = new Date(Number((lastCommit.status === 0 && lastCommit.stdout.trim()) || Date.now() / 1000) * 1000)
  .toISOString()
  .slice(0, 10);
for (const md of readdirSync(at("docs/man")).filter((f) => /\.\d\.md$/.test(f))) {
  const name = md.replace(/\.md$/, "");
  const section = name.split(".").pop();
  const troff = manPage(readFileSync(at("docs/man", md), "utf8"), { version, date });
  put(`/usr/share/man/man${section}/${name}.gz`, gzip(troff));
}
put(
  "/usr/share/bash-completion/completions/secretfile",
  readFileSync(at("packaging/completions/secretfile.bash"), "utf8"),
);
put("/usr/share/zsh/vendor-completions/_secretfile", readFileSync(at("packaging/completions/_secretfile"), "utf8"));
const DOC = "/usr/share/doc/secretfile";
put(`${DOC}/copyright`, readFileSync(at("packaging/copyright"), "utf8"));
// A native package's changelog.gz is in Debian's format: one entry pointing to CHANGELOG.md, which is the history.
const maintainer = `${process.env.DEBFULLNAME || "secretfile maintainers"} <${process.env.DEBEMAIL || "secretfile@localhost"}>`;
const changed = new Date(`${date}T00:00:00Z`).toUTCString().replace("GMT", "+0000");
put(
  `${DOC}/changelog.gz`,
  gzip(
    `secretfile (${version}) unstable; urgency=medium\n\n  * Built from commit ${commit()}; the changes are in /usr/share/doc/secretfile/CHANGELOG.md.gz.\n\n -- ${maintainer}  ${changed}\n`,
  ),
);
put(`${DOC}/CHANGELOG.md.gz`, gzip(readFileSync(at("CHANGELOG.md"), "utf8")));
put("/usr/share/lintian/overrides/secretfile", readFileSync(at("packaging/lintian-overrides"), "utf8"));
for (const f of ["README.md", "SECURITY.md"]) copy(f, `${DOC}/${f}`);
for (const f of readdirSync(at("docs")).filter((f) => f.endsWith(".md"))) copy(`docs/${f}`, `${DOC}/docs/${f}`);
copy("examples", `${DOC}/examples`);

// 6. Control files, maintainer scripts, and the package itself.
const control = path.join(STAGE, "DEBIAN");
mkdirSync(control);
const installedSize = Math.ceil(du(STAGE) / 1024);
writeFileSync(
  path.join(control, "control"),
  `Package: secretfile
Version: ${version}
Architecture: ${arch}
Maintainer: ${maintainer}
Installed-Size: ${installedSize}
Depends: ${depends()}
Recommends: age
Suggests: systemd
Section: admin
Priority: optional
Homepage: https://github.com/secretfile/secretfile
Description: API keys for scheduled jobs, in one age-encrypted file
 secretfile keeps the API keys of cron jobs in one age-encrypted file and
 releases them by Unix user: an agent, running as its own service account,
 reads each caller's uid from the kernel and checks a policy before it
 decrypts. Jobs get their keys in their environment through
 "secretfile exec"; every decision goes to an audit log.
 .
 The package carries its own Node.js runtime in /usr/lib/secretfile.
`,
);
writeFileSync(path.join(control, "conffiles"), "/etc/default/secretfile\n/etc/init.d/secretfile\n");
for (const script of ["postinst", "prerm", "postrm"]) {
  const to = path.join(control, script);
  copyFileSync(at("packaging/debian", script), to);
  chmodSync(to, 0o755);
}
const md5 = run("find", [".", "-type", "f", "-not", "-path", "./DEBIAN/*", "-printf", "%P\\0"], { cwd: STAGE })
  .split("\0")
  .filter(Boolean)
  .sort()
  .map((f) => `${run("md5sum", [f], { cwd: STAGE }).split(" ")[0]}  ${f}`)
  .join("\n");
writeFileSync(path.join(control, "md5sums"), `${md5}\n`);
const deb = path.join(OUT, `secretfile_${version}_${arch}.deb`);
// xz by default (~25 MB); SECRETFILE_PACKAGE_COMPRESS=gzip (or none) for a test's packages, built several times faster.
const compress = process.env.SECRETFILE_PACKAGE_COMPRESS || "xz";
run(
  "dpkg-deb",
  ["--root-owner-group", `-Z${compress}`, ...(compress === "gzip" ? ["-z1"] : []), "--build", STAGE, deb],
  { stdio: ["ignore", "ignore", "inherit"] },
);
process.stdout.write(`${path.relative(process.cwd(), deb)}\n`);

function commit() {
  const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return process.env.SECRETFILE_BUILD_COMMIT || (r.status === 0 ? r.stdout.trim() : "unknown");
}

function gzip(text) {
  const r = spawnSync("gzip", ["-9n"], { input: text, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error("package: gzip failed");
  return r.stdout;
}

function du(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return total;
}

// The shared libraries of the runtime and the addon, as Debian packages (dpkg-shlibdeps needs a debian/ folder: this
// asks dpkg which package holds each library, and pins the version this host has as the least).
function depends() {
  const libs = new Set();
  for (const f of [`${LIB}/node`, `${LIB}/dist/native.node`]) {
    for (const line of run("ldd", [path.join(STAGE, f)]).split("\n")) {
      const m = /=> (\/\S+)/.exec(line);
      if (m) libs.add(m[1]);
    }
  }
  const pkgs = new Set();
  for (const lib of libs) {
    const r = spawnSync("dpkg", ["-S", lib], { encoding: "utf8" });
    const real =
      r.status === 0 ? r : spawnSync("dpkg", ["-S", lib.replace(/^\/lib/, "/usr/lib")], { encoding: "utf8" });
    if (real.status === 0) pkgs.add(real.stdout.split(":")[0]);
  }
  return [...pkgs]
    .sort()
    .map((p) => `${p} (>= ${run("dpkg-query", ["-W", "-f", "${Version}", p]).replace(/-[^-]*$/, "")})`)
    .join(", ");
}
