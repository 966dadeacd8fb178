// The launcher as an installation runs it: bin/secretfile with its `#!` line naming the Node that runs it (the Debian
// package's private runtime, build/package.mjs; the bench's own Node, bench/prepare.mjs), where the source's
// `#!/usr/bin/env -S node --` finds one on PATH at the price of one more program started each time (about 1 ms
// here, docs/benchmarks.md).

/** Returns the launcher's source `source` with its first line made `#!NODE --`. */
export function launcherFor(source, node) {
  if (!source.startsWith("#!")) throw new Error("bin/secretfile does not start with a #! line");
  return source.replace(/^#!.*\n/, `#!${node} --\n`);
}
