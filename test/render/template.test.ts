// The template syntax: every format's own syntax passes through untouched, the filters quote any value so the format
// parses it back exactly (checked with real parsers: JSON.parse, Python's yaml, tomllib and configparser, sh), malformed
// references fail, and a value without a filter never adds a line (generated values, as a writer could set them).
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { applyFilter, parseTemplate, renderTemplate } from "../../src/render/template.js";

const render = (text: string, values: Record<string, string>) =>
  renderTemplate(parseTemplate(text, "t"), new Map(Object.entries(values)));

/** Every line end some reader of a config file knows: Python's str.splitlines, YAML 1.1, JavaScript. */
// eslint-disable-next-line no-control-regex -- the line ends are control characters
const LINE_ENDS = /\r\n|[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/;

/** docs/render.md's INI example, as Python's configparser reads it. */
const INI = `[meraki]
; configparser interpolation stays as it is
base = %(here)s/cache
api_key = ((secretfile:MERAKI_API_KEY))
`;

/** Values a writer could set: any text, with the characters that end lines or start INI and YAML syntax mixed in. */
const writerValues = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      "\n",
      "\r",
      "\v",
      "\f",
      "\t",
      "\u001b",
      "\u007f",
      "\u0085",
      "\u2028",
      "\u2029",
      "[",
      "]",
      "=",
      ":",
      ";",
      "#",
    ),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

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

describe("a value without a filter (a writer's text in a reader's file)", () => {
  it.for([
    ["a line feed", "v4lue\n[DEFAULT]"],
    ["a carriage return", "v4lue\r[x]"],
    ["CR LF", "v4lue\r\nx = 1"],
    ["a vertical tab", "v4lue\u000bx"],
    ["a form feed", "v4lue\fx"],
    ["a tab", "v4lue\tx"],
    ["an escape", "v4lue\u001b[2J"],
    ["DEL", "v4lue\u007f"],
    ["NEL", "v4lue\u0085x"],
    ["a line separator", "v4lue\u2028x"],
    ["a paragraph separator", "v4lue\u2029x"],
  ] as [string, string][])("refuses %s, naming the template, line and secret, never the value", ([, value]) => {
    const run = () => renderTemplate(parseTemplate(INI, "app.ini.tmpl"), new Map([["MERAKI_API_KEY", value]]));
    expect(run).toThrow(
      expect.objectContaining({
        constructor: UsageError,
        message:
          "app.ini.tmpl:4: the value of MERAKI_API_KEY holds a line break or another control character, which a reference without a filter does not write",
        hint: expect.stringContaining("((secretfile:MERAKI_API_KEY|json))") as unknown,
      }),
    );
    expect(run).toThrow(expect.objectContaining({ hint: expect.not.stringContaining("v4lue") as unknown }));
  });

  it("the review's value adds no [DEFAULT] section; |raw, asked for in the template, writes it as it is", () => {
    const value = "k\n[DEFAULT]\nbase = /evil\n[extra]\nx = 1";
    expect(() => render(INI, { MERAKI_API_KEY: value })).toThrow(UsageError);
    const raw = INI.replace("MERAKI_API_KEY))", "MERAKI_API_KEY|raw))");
    expect(render(raw, { MERAKI_API_KEY: value })).toBe(raw.replace("((secretfile:MERAKI_API_KEY|raw))", value));
    // A PEM key, the value |raw is for, alone in its file.
    const pem = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";
    expect(render("((secretfile:K|raw))", { K: pem })).toBe(pem);
  });

  it("property: a generated value leaves the template's lines as they are, or the render is refused", () => {
    let refused = 0;
    fc.assert(
      fc.property(
        writerValues,
        fc.constantFrom(INI, "a: ((secretfile:K)) # after\nb: 1", "((secretfile:K))"),
        (value, text) => {
          const t = parseTemplate(text.replace("MERAKI_API_KEY", "K"), "t");
          let out: string;
          try {
            out = renderTemplate(t, new Map([["K", value]]));
          } catch (err) {
            expect(err).toBeInstanceOf(UsageError);
            refused++;
            return;
          }
          const want = text.replace("MERAKI_API_KEY", "K").split(LINE_ENDS);
          const got = out.split(LINE_ENDS);
          expect(got.length).toBe(want.length);
          // Every line but the reference's is the template's own.
          expect(got.filter((l, i) => l !== want[i]).length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 3_000 },
    );
    expect(refused, "some generated values hold a line end").toBeGreaterThan(100);
  });

  const noPython = spawnSync("python3", ["-c", "import configparser"]).status !== 0;
  it.skipIf(noPython)(
    `property: Python's configparser reads docs/render.md's INI example with its one section and two keys, whatever the value${noPython ? " (skipped: no python3 on this host)" : ""}`,
    () => {
      const values = fc.sample(writerValues, 500);
      const rendered = values.flatMap((value) => {
        try {
          return [[render(INI, { MERAKI_API_KEY: value }), value]];
        } catch {
          return [];
        }
      });
      expect(rendered.length).toBeGreaterThan(50);
      const script = `import configparser, json, sys
out = []
for text, value in json.load(sys.stdin):
    cp = configparser.ConfigParser()
    cp.read_string(text)
    out.append([cp.sections(), list(cp.defaults()), list(cp["meraki"]), cp.get("meraki", "api_key", raw=True) == value.strip()])
print(json.dumps(out))`;
      const r = spawnSync("python3", ["-c", script], { input: JSON.stringify(rendered), encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      for (const row of JSON.parse(r.stdout) as unknown[])
        expect(row).toEqual([["meraki"], [], ["base", "api_key"], true]);
    },
  );
});

describe("filters", () => {
  it("json, property: JSON.parse of the rendered text gives back any generated value", () => {
    fc.assert(
      fc.property(fc.oneof(writerValues, fc.string({ unit: "binary" })), (value) => {
        expect(JSON.parse(render('{"k": ((secretfile:K|json))}', { K: value }))).toEqual({ k: value });
      }),
      { numRuns: 3_000 },
    );
  });

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
