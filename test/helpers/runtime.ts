// The Node.js the Debian package carries (packaging/runtime/, checked by build/runtime.mjs), for the tests that run
// secretfile on it outside the package. Where it is not installed they skip, saying so (CI installs it: .ci/run); an
// installed one that is not the pinned binary fails them.

import { existsSync } from "node:fs";
import path from "node:path";
import { bundledRuntime, pinnedRuntime } from "../../build/runtime.mjs";
import { ROOT } from "./cli.js";

const pin = pinnedRuntime();
const installed = existsSync(path.join(ROOT, "packaging", "runtime", "node_modules", pin.name, "bin", "node"));

/** The package's node and its version (v24.1.0), or undefined when it is not installed. */
export const PACKAGE_RUNTIME = installed ? bundledRuntime() : undefined;

/** Why the tests on the package's runtime skip. */
export const NO_PACKAGE_RUNTIME = `the package's runtime (${pin.name} ${pin.version}) is not installed: npm ci --prefix packaging/runtime`;
