// `secretfile render` and `exec --render` end to end: stdout, --output (atomic, its mode, never through a symlink),
// nothing written when a name is missing (3) or refused (4, through an agent), and the job's rendered file.
import { spawn } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, collect, isRoot } from "../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../helpers/personal.js";
import { NEEDS_ROOT, useSystem } from "../helpers/system.js";
import { execOwnExit } from "../../src/errors.js";

afterAll(removeSandboxes);

const KEY = "key-0123456789abcdef";
const TOKEN = 'tok"en\\with\nodd';

async function world(): Promise<Sandbox> {
  const sb = sandbox();
  await sb.init();
  await sb.add("API_KEY", KEY);
  await sb.add("TOKEN", TOKEN);
  return sb;
}

// Runs the CLI under `umask 077`, as a root cron job or a service with UMask=0077 would.
function underUmask(sb: Sandbox, args: string[]) {
  return collect(
    spawn("sh", ["-c", 'umask 077 && exec "$0" "$@"', process.execPath, BIN, ...args], {
      env: sb.env,
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
}

describe("secretfile render", () => {
  it("writes the rendered file to standard output, filters applied", async () => {
    const sb = await world();
    const t = path.join(sb.root, "app.json.tmpl");
    writeFileSync(t, '{"key": "((secretfile:API_KEY))", "token": ((secretfile:TOKEN|json)), "x": "{{ kept }}"}\n');
    const r = await sb.run(["render", t]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ key: KEY, token: TOKEN, x: "{{ kept }}" });
    expect(r.stderr).toBe("");
  });

  it("--output: mode 0600 by default, --mode given exactly whatever the umask, no temporary file left", async () => {
    const sb = await world();
    const t = path.join(sb.root, "t");
    writeFileSync(t, "key=((secretfile:API_KEY))\n");
    const out = path.join(sb.root, "out", "app.ini");
    mkdirSync(path.dirname(out));
    const first = await underUmask(sb, ["render", t, "--output", out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe(`key=${KEY}\n`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = await underUmask(sb, ["render", t, "--output", out, "--mode", "0640"]);
    expect(again.code, again.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(readdirSync(path.dirname(out))).toEqual(["app.ini"]);
  });

  it.for([
    ["a missing name", 3, "((secretfile:API_KEY)) ((secretfile:NO_SUCH_KEY))"],
    ["a malformed reference", 2, "((secretfile:API_KEY)) ((secretfile:bad-name))"],
  ] as [string, number, string][])("%s: exit %i, and the existing output is left as it was", async ([, code, text]) => {
    const sb = await world();
    const t = path.join(sb.root, "t");
    writeFileSync(t, text);
    const out = path.join(sb.root, "app.conf");
    writeFileSync(out, "old\n", { mode: 0o600 });
    const r = await sb.run(["render", t, "--output", out]);
    expect(r.code, r.stderr).toBe(code);
    expect(readFileSync(out, "utf8")).toBe("old\n");
    expect(r.stderr).not.toContain(KEY);
    const fresh = path.join(sb.root, "fresh.conf");
    expect((await sb.run(["render", t, "--output", fresh])).code).toBe(code);
    expect(existsSync(fresh)).toBe(false);
    expect((await sb.run(["render", t])).stdout).toBe("");
  });

  it("a writer's value with a line break under a reference without a filter: exit 2, nothing written, the job never runs", async () => {
    const sb = await world();
    await sb.add("INJECTED", "k\n[DEFAULT]\nbase = /evil");
    const t = path.join(sb.root, "app.ini.tmpl");
    writeFileSync(t, "[meraki]\nbase = %(here)s/cache\napi_key = ((secretfile:INJECTED))\n");
    const out = path.join(sb.root, "app.ini");
    const r = await sb.run(["render", t, "--output", out]);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toBe(
      `secretfile: error: ${t}:3: the value of INJECTED holds a line break or another control character, which a reference without a filter does not write\n` +
        "secretfile: hint: escape it for the format: ((secretfile:INJECTED|json)) in a JSON, YAML or TOML file, |sh in a shell file; or write ((secretfile:INJECTED|raw)) where the file's reader takes any text, line breaks included (a PEM key alone in its file)\n",
    );
    expect(existsSync(out)).toBe(false);
    const marker = path.join(sb.root, "ran");
    const job = await sb.run(["exec", "--render", `${t}:CONF`, "--", "touch", marker]);
    expect(job.code, job.stderr).toBe(execOwnExit(2));
    expect(existsSync(marker)).toBe(false);
  });

  it("never writes through a symlink: exit 4, the link and its target unchanged", async () => {
    const sb = await world();
    const t = path.join(sb.root, "t");
    writeFileSync(t, "((secretfile:API_KEY))");
    const target = path.join(sb.root, "target");
    writeFileSync(target, "target\n");
    const link = path.join(sb.root, "link");
    symlinkSync(target, link);
    const r = await sb.run(["render", t, "--output", link]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain("symlink");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe("target\n");
  });
});

describe("exec --render", () => {
  it("the job gets the rendered file's path in VAR, on a memory file system; it is gone after; values are masked", async () => {
    const sb = await world();
    const t = path.join(sb.root, "report.yaml.tmpl");
    writeFileSync(t, "api_key: ((secretfile:API_KEY|json))\n");
    const script =
      'echo "path=$REPORT_CONFIG"; cat "$REPORT_CONFIG"; stat -f -c %T "$REPORT_CONFIG"; stat -c %a "$REPORT_CONFIG"; echo "env=${API_KEY:-none}"';
    const r = await sb.run(["exec", "--render", `${t}:REPORT_CONFIG`, "--", "sh", "-c", script]);
    expect(r.code, r.stderr).toBe(0);
    const file = /^path=(.*)$/m.exec(r.stdout)?.[1] ?? "";
    expect(path.basename(file)).toBe("REPORT_CONFIG-report.yaml");
    expect(r.stdout).toContain('api_key: "[API_KEY]"');
    expect(r.stdout).not.toContain(KEY);
    expect(r.stdout).toMatch(/^(tmpfs|ramfs)$/m);
    expect(r.stdout).toContain("\n600\n");
    // --render selects like --file: the job does not get every readable secret in its environment.
    expect(r.stdout).toContain("env=none");
    expect(existsSync(path.dirname(file))).toBe(false);
  });

  it("a missing name stops the job before it starts (exit 3), and a bad spec is a usage error (2)", async () => {
    const sb = await world();
    const t = path.join(sb.root, "t");
    writeFileSync(t, "((secretfile:NOPE))");
    const marker = path.join(sb.root, "ran");
    expect((await sb.run(["exec", "--render", `${t}:CONF`, "--", "touch", marker])).code).toBe(execOwnExit(3));
    expect((await sb.run(["exec", "--render", t, "--", "touch", marker])).code).toBe(execOwnExit(2));
    expect((await sb.run(["exec", "--only", "API_KEY", "--render", `${t}:API_KEY`, "--", "touch", marker])).code).toBe(
      execOwnExit(2),
    );
    expect(existsSync(marker)).toBe(false);
  });
});

describe.skipIf(!isRoot)(`render through the agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);

  it("a name the policy refuses: exit 4 and nothing written, though the other name is allowed", async () => {
    const { job } = sys.users;
    const agent = await sys.startAgent({
      policyText: `read user:${job.name} API_KEY\n`,
      secrets: { API_KEY: KEY, HIDDEN: "hidden-value-xyz" },
    });
    const dir = sys.world.mkdir("render-out", 0o700, job);
    const t = path.join(dir, "t");
    writeFileSync(t, "a=((secretfile:API_KEY))\n");
    const out = path.join(dir, "out");
    const ok = await agent.run(["render", t, "--output", out], { as: job });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(`a=${KEY}\n`);
    expect(statSync(out).uid).toBe(job.uid);
    writeFileSync(t, "a=((secretfile:API_KEY))\nb=((secretfile:HIDDEN))\n");
    const refused = await agent.run(["render", t, "--output", out], { as: job });
    expect(refused.code, refused.stderr).toBe(4);
    expect(readFileSync(out, "utf8")).toBe(`a=${KEY}\n`);
  });
});
