// Masking a value inside encoded output, end to end: a job prints a Basic-auth header (base64 of "user:" + value),
// the value's base64url at another alignment, and its hex in both cases; none of it reaches secretfile's output.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

// "?>?" and "~~~" encode to "/" and "+" in base64, so base64url differs from base64.
const VALUE = "hunter2?>?~~~-correct-horse";
const JOB = [
  'printf "Authorization: Basic %s\\n" "$(printf "user:%s" "$API_PW" | base64 -w0)"',
  'printf "token=%s\\n" "$(printf "x%s" "$API_PW" | base64 -w0 | tr "+/" "-_" | tr -d =)"',
  'h=$(printf %s "$API_PW" | od -An -v -tx1 | tr -d " \\n")',
  'printf "hex=%s HEX=%s\\n" "$h" "$(printf %s "$h" | tr a-f A-F)"',
].join("; ");

describe("exec masks a value inside encoded output", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = sandbox();
    await sb.add("API_PW", VALUE);
  });

  it("a Basic-auth header, base64url at offset 1, hex and HEX: each has [API_PW] where the value was", async () => {
    const unmasked = await sb.run(["exec", "--no-mask", "--", "sh", "-c", JOB]);
    expect(unmasked.code, unmasked.stderr).toBe(0);
    expect(unmasked.stdout).toContain(Buffer.from(`user:${VALUE}`).toString("base64"));
    const r = await sb.run(["exec", "--", "sh", "-c", JOB]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^Authorization: Basic dXNlcj[A-Za-z0-9+/]?\[API_PW\][A-Za-z0-9+/]{0,2}=*$/);
    expect(lines[1]).toMatch(/^token=[A-Za-z0-9_-]{1,3}\[API_PW\][A-Za-z0-9_-]{0,2}$/);
    expect(lines[2]).toBe("hex=[API_PW] HEX=[API_PW]");
    const encoded = [...unmasked.stdout.matchAll(/(?:Basic |token=|hex=|HEX=)(\S+)/g)].map((m) => m[1]!);
    expect(encoded).toHaveLength(4);
    for (const form of encoded) expect(r.stdout).not.toContain(form.slice(8, -8));
  });
});
