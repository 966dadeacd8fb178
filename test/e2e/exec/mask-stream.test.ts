// Masking streams: 200 MB of job output pass through `exec` with masking on, in bounded memory, and a
// value split across the last chunk boundary is still caught. (Throughput is measured by `npm run bench`.)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { BIN } from "../../helpers/cli.js";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

const OUTPUT_BYTES = 200_000_000;

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

describe("exec masking on a large output", () => {
  it("passes 200 MB through in bounded memory (the whole output is never held) and masks a value at the very end", async () => {
    const sb = sandbox();
    const value = "Zq8vR2mN5xL0pT7w";
    await sb.add("BIG_KEY", value);
    // The job writes 200 MB of zeros, then the value in two writes; secretfile's output is counted, not kept.
    const job = `head -c ${OUTPUT_BYTES} /dev/zero; printf 'tail %s' "$(printf %s "$BIG_KEY" | cut -c1-5)"; sleep 0.2; printf '%s\\n' "$(printf %s "$BIG_KEY" | cut -c6-)"`;
    const child = spawn(process.execPath, [BIN, "exec", "--", "sh", "-c", job], {
      env: sb.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let bytes = 0;
    let last = Buffer.alloc(0);
    let peak = 0;
    child.stdout.on("data", (d: Buffer) => {
      bytes += d.length;
      last = Buffer.concat([last, d]).subarray(-64);
    });
    const timer = setInterval(() => (peak = Math.max(peak, rssKiB(child.pid!))), 20);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearInterval(timer);
    expect(code).toBe(0);
    expect(last.toString("latin1")).toMatch(/tail \[BIG_KEY\]\n$/);
    expect(bytes).toBe(OUTPUT_BYTES + "tail [BIG_KEY]\n".length);
    // Node itself takes 40 to 90 MB; holding the output would take 200 MB more.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(160 * 1024);
  });
});
