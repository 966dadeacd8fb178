// Probes of a process from outside, for the process-hygiene tests: what another process of a given user can open in
// /proc/PID, whether it can ptrace it, and the core-file limit the kernel shows.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { NODE, type TestUser } from "../../helpers/system.js";

/** What a process running as `user` gets when it tries each way into process `pid`. */
export function probeAs(user: TestUser, pid: number): Record<string, string> {
  const script = `
    const fs = require("node:fs");
    const out = {};
    for (const f of ["environ", "mem", "maps", "cmdline", "status"]) {
      try {
        // Opening is the check (for mem, the kernel's ptrace access check); then read what reads from the start.
        const fd = fs.openSync("/proc/${pid}/" + f, "r");
        if (f !== "mem") fs.readSync(fd, Buffer.alloc(64), 0, 64, 0);
        fs.closeSync(fd);
        out[f] = "read";
      } catch (e) {
        out[f] = e.code;
      }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(NODE, ["-e", script], { uid: user.uid, gid: user.gid, encoding: "utf8", cwd: "/" });
  const result = JSON.parse(r.stdout) as Record<string, string>;
  // ptrace: attach, then detach at once. strace exits non-zero when the kernel refuses the attach.
  const st = spawnSync("strace", ["-qq", "-e", "trace=none", "-p", String(pid)], {
    uid: user.uid,
    gid: user.gid,
    encoding: "utf8",
    timeout: 1_500,
  });
  result.ptrace =
    st.status === null
      ? "attached"
      : /Operation not permitted/.test(st.stderr)
        ? "EPERM"
        : `exit ${st.status}: ${st.stderr.trim()}`;
  return result;
}

/** The soft and hard core-file size limits of process `pid`, as /proc/PID/limits shows them. */
export function coreLimit(pid: number): string[] | undefined {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max core file size"));
  return line?.slice("Max core file size".length).trim().split(/\s+/).slice(0, 2);
}
