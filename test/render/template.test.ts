// The template syntax: every format's own syntax passes through untouched, the filters quote any value so the format
// parses it back exactly (checked with real parsers: JSON.parse, Python's yaml and tomllib, sh), malformed references fail.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { applyFilter, parseTemplate, renderTemplate } from "../../src/render/template.js";

const render = (text: string, values: Record<string, string>) =>
  renderTemplate(parseTemplate(text, "t"), new Map(Object.entries(values)));

// Values that break naive quoting in one format or another.
const NASTY = [
  "plain-key-123",
  'a"b',
  "a'b",
  "back\\slash",
  "line\nbreak\ttab\r",
  "\u0001\u001f\u007f\u0085\u009f",
  "\u2028\u2029\ufeff",
  "$HOME `id` $(id) {{x}} %(y)s",
  "émoji 🔑",
  " lead and trail ",
];

describe("parseTemplate and renderTemplate", () => {
  // Each format's own syntax, as real files have it, and a reference in its natural place.
  it.for([
    ["INI", "[db]\n; comment\npath = %(here)s/x\nhome = ${HOME}\nkey = ((secretfile:K))\n"],
    ["YAML", 'anchors: &a {x: 1}\nmerge:\n  <<: *a\nlist: [1, 2]\nkey: ((secretfile:K|json))\ncmd: "{{ jinja }}"\n'],
    ["JSON", '{"a": {"b": [1, 2]}, "tpl": "{{x}} ${y}", "key": ((secretfile:K|json))}\n'],
    ["TOML", '[[servers]]\nname = "a"\n[table]\nkey = ((secretfile:K|json))\ninline = { x = 1 }\n'],
    ["shell", 'export KEY=((secretfile:K|sh))\necho "${HOME}" $((1+2)) $(date) `id`\n[[ -n $KEY ]] && ((i++))\n'],
    ["Jinja", "{% for x in xs %}{{ x }}{% endfor %}{# note #}\napi_key = ((secretfile:K))\n{{ '((' }}\n"],
  ] as [string, string][])("%s: only the reference changes", ([, text]) => {
    const out = render(text, { K: "VALUE" });
    const expected = text
      .replace(/\(\(secretfile:K\|json\)\)/, '"VALUE"')
      .replace(/\(\(secretfile:K\|sh\)\)/, "'VALUE'")
      .replace("((secretfile:K))", "VALUE");
    expect(out).toBe(expected);
    expect(out).not.toContain("secretfile");
  });

  it("lists each name once, in order of first use, and repeats a value where it is used twice", () => {
    const t = parseTemplate("((secretfile:B)) ((secretfile:A)) ((secretfile:B|json))", "t");
    expect(t.names).toEqual(["B", "A"]);
    expect(
      renderTemplate(
        t,
        new Map([
          ["A", "1"],
          ["B", "2"],
        ]),
      ),
    ).toBe('2 1 "2"');
  });

  it("\\((secretfile: is the literal text, and nothing else is an escape", () => {
    expect(render("a \\((secretfile:K)) b ((secretfile:K)) c:\\path \\n", { K: "V" })).toBe(
      "a ((secretfile:K)) b V c:\\path \\n",
    );
  });

  it.for([
    ["((secretfile:K", 1],
    ["x\n((secretfile:))", 2],
    ["\n\n((secretfile:bad-name))", 3],
    ["((secretfile:9LIVES))", 1],
    ["((secretfile:K|yaml))", 1],
    ["((secretfile:K|))", 1],
    ["((secretfile: K))", 1],
  ] as [string, number][])("refuses %j, naming line %i", ([text, line]) => {
    expect(() => parseTemplate(text, "conf.tmpl")).toThrow(UsageError);
    expect(() => parseTemplate(text, "conf.tmpl")).toThrow(`conf.tmpl:${line}:`);
  });

  it("never puts a value in an error", () => {
    expect(() => renderTemplate(parseTemplate("((secretfile:K))", "t"), new Map())).toThrow("no value for K");
  });
});

describe("filters", () => {
  it.for(NASTY)("json: JSON.parse gives back %j", (value) => {
    expect(JSON.parse(applyFilter(value, "json"))).toBe(value);
    // eslint-disable-next-line no-control-regex -- the test looks for control characters in the output
    expect(applyFilter(value, "json")).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/);
  });

  it("json: YAML (PyYAML) and TOML (tomllib) parse every value back exactly", () => {
    const yaml = NASTY.map((v, i) => `k${i}: ${applyFilter(v, "json")}`).join("\n");
    const toml = NASTY.map((v, i) => `k${i} = ${applyFilter(v, "json")}`).join("\n");
    const script = `import json, sys, yaml, tomllib
y, t = sys.stdin.read().split("\\0")
print(json.dumps([yaml.safe_load(y), tomllib.loads(t)]))`;
    const r = spawnSync("python3", ["-c", script], { input: `${yaml}\0${toml}`, encoding: "utf8" });
    if (r.status !== 0 && /No module named 'yaml'/.test(r.stderr)) return; // PyYAML missing: JSON.parse above still ran
    expect(r.status, r.stderr).toBe(0);
    const [fromYaml, fromToml] = JSON.parse(r.stdout) as Record<string, string>[];
    const want = Object.fromEntries(NASTY.map((v, i) => [`k${i}`, v]));
    // YAML folds a bare \r\n and \u0085 inside double quotes only when raw; escaped, they come back as they were.
    expect(fromYaml).toEqual(want);
    expect(fromToml).toEqual(want);
  });

  it.for(NASTY)("sh: the shell reads back %j as one word", (value) => {
    const r = spawnSync("sh", ["-c", `printf %s ${applyFilter(value, "sh")}`], { encoding: "utf8" });
    expect(r.stdout).toBe(value);
  });
});
