// The launcher as an installation runs it: bin/secretfile with its `#!` line naming the Node that runs it (the Debian
// package's private runtime, build/package.mjs; the bench's own Node, bench/prepare.mjs), where the source's
// `#!/usr/bin/env -S node --` finds one on PATH at the price of one more program started each time (about 1 ms
// here, docs/benchmarks.md).

/**
 * Returns the launcher's source `source` with its first line made `#!NODE FLAG`, FLAG being the one flag of `flags`
 * (`--` when there is none). Throws for more than one: the kernel passes what follows the program as one argument.
 */
export function launcherFor(source, node, flags = []) {
  if (!source.startsWith("#!")) throw new Error("bin/secretfile does not start with a #! line");
  if (flags.length > 1) throw new Error(`a #! line passes node one argument, not ${flags.join(" ")}`);
  return source.replace(/^#!.*\n/, `#!${node} ${flags[0] ?? "--"}\n`);
}
