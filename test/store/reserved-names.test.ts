// Hole 1 (store side) and hole 8, in-process: the names no secret may have, refused by every store operation that
// writes one and by exec's implicit bindings; writer text refused when written and escaped when printed.
// Rules: a refusal is exit 2 naming the name, and leaves the document as it was.

import { describe, expect, it } from "vitest";
import { escapeText, jsonText } from "../../src/cli/escape.js";
import { ExitCode, UsageError } from "../../src/errors.js";
import { buildKeySet, implicitVariables } from "../../src/exec/keyset.js";
import { emptyDocument, setEntry, type StoreDocument } from "../../src/store/document.js";
import { checkDescription } from "../../src/store/names.js";
import { importSecrets, putSecret, rollbackSecret, updateSecret } from "../../src/store/operations.js";
import { checkWritableName, isReservedName } from "../../src/store/reserved-names.js";
import { checkLabel } from "../../src/store/recipient-entry.js";

/** The names hole 1 was reproduced with, and one of each kind the issue lists. */
const RESERVED = [
  "PATH",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "DYLD_INSERT_LIBRARIES",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PYTHONHOME",
  "NODE_OPTIONS",
  "NODE_EXTRA_CA_CERTS",
  "BASH_ENV",
  "ENV",
  "ZDOTDIR",
  "PROMPT_COMMAND",
  "BASH_FUNC_ls%%",
  "HTTPS_PROXY",
  "https_proxy",
  "http_proxy",
  "ALL_PROXY",
  "no_proxy",
  "PERL5OPT",
  "PERL5LIB",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "GCONV_PATH",
  "LOCPATH",
  "NLSPATH",
  "CHARSETALIASDIR",
  "LANG",
  "LC_ALL",
  "TZDIR",
  "RES_OPTIONS",
  "LOCALDOMAIN",
  "HOSTALIASES",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "HOME",
  "SHELL",
  "USER",
  "LOGNAME",
  "TMPDIR",
  "SECRETFILE_DIR",
  "SECRETFILE_SOCKET",
  "GLIBC_TUNABLES",
  "MALLOC_CHECK_",
  "GIT_SSH_COMMAND",
  "GIT_CONFIG_GLOBAL",
  "PIP_INDEX_URL",
  "npm_config_registry",
  "LUA_INIT",
  "PHPRC",
];
/** Ordinary secret names, which must stay writable. */
const ORDINARY = [
  "MERAKI_API_KEY",
  "CORP_PROXY",
  "APP_PATH",
  "USER_KEY",
  "GITHUB_TOKEN",
  "WEBEX_TOKEN",
  "PATHFINDER_KEY",
  "HOMEASSISTANT_TOKEN",
];

function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    return err as UsageError;
  }
  throw new Error("expected a UsageError");
}

function docWith(secrets: Record<string, string>): StoreDocument {
  const doc = emptyDocument();
  for (const [name, value] of Object.entries(secrets))
    setEntry(doc.secrets, name, { value, created: "2026-01-01T00:00:00.000Z", updated: "2026-01-01T00:00:00.000Z" });
  return doc;
}

describe("the reserved names", () => {
  it.for(RESERVED.filter((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)))(
    "%s is refused with exit 2, naming it and the --map hint",
    (name) => {
      const err = usage(() => checkWritableName(name));
      expect(err.message).toContain(`${name} is a reserved name`);
      expect(err.hint).toMatch(new RegExp(`--map ${name}=APP_${name}`));
    },
  );

  it("covers bash's exported functions by their prefix", () => {
    expect(isReservedName("BASH_FUNC_ls%%")).toBe(true);
  });

  it.for(ORDINARY)("%s stays writable", (name) => {
    expect(checkWritableName(name)).toBe(name);
  });
});

describe("the store operations both modes share", () => {
  it.for(["PATH", "LD_PRELOAD", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV", "HTTPS_PROXY", "https_proxy"])(
    "refuse %s for add, add --replace, update, import and rollback, changing nothing",
    (name) => {
      const doc = docWith({ [name]: "old" });
      const before = JSON.stringify(doc);
      usage(() => putSecret(emptyDocument(), name, "/tmp/evil", {}, "store.age"));
      usage(() => putSecret(doc, name, "/tmp/evil", { replace: true }, "store.age"));
      const err = usage(() =>
        importSecrets(
          doc,
          [
            { name: "FINE_KEY", value: "a" },
            { name, value: "/tmp/evil" },
          ],
          true,
          "store.age",
        ),
      );
      expect(err.message).toContain(name);
      usage(() => rollbackSecret(doc, name, undefined, "store.age"));
      usage(() => updateSecret(doc, name, { expires: "2099-01-01" }, "store.age"));
      expect(JSON.stringify(doc)).toBe(before);
    },
  );
});

describe("exec's bindings", () => {
  it("--only of a reserved store name is exit 2, with the hint to --map it", () => {
    const err = usage(() => buildKeySet({ only: ["PATH"] }));
    expect(err.message).toContain("PATH");
    expect(err.hint).toContain("--map PATH=PATH");
  });

  it("--file NAME whose NAME_FILE is reserved is exit 2, with the hint to name the variable", () => {
    const err = usage(() => buildKeySet({ files: ["LD"] }));
    expect(err.message).toContain("LD_FILE");
    expect(err.hint).toContain("--file LD_FILE=LD");
  });

  it("--map and --file VAR=NAME may set a reserved variable: the reader names it", () => {
    expect(buildKeySet({ map: ["HTTPS_PROXY=CORP_PROXY"] })?.bindings).toEqual([
      { variable: "HTTPS_PROXY", from: "--map HTTPS_PROXY=CORP_PROXY", kind: "secret", secret: "CORP_PROXY" },
    ]);
    expect(buildKeySet({ files: ["SSL_CERT_FILE=CORP_CA"] })?.bindings[0]?.variable).toBe("SSL_CERT_FILE");
  });

  it("without a key set, hold back reserved names and the variables the job inherits, and give the rest", () => {
    const values = new Map([
      ["PATH", "/tmp/evil"],
      ["https_proxy", "http://evil"],
      ["A_KEY", "a"],
      ["SET_KEY", "secret"],
    ]);
    const { variables, withheld } = implicitVariables(values, { SET_KEY: "the reader's own", PATH: "/usr/bin" });
    expect([...variables]).toEqual([["A_KEY", "a"]]);
    expect(withheld.map((w) => w.name)).toEqual(["PATH", "SET_KEY", "https_proxy"]);
    expect(withheld[0]!.why).toContain("reserved");
    expect(withheld[1]!.why).toContain("--only SET_KEY");
    expect(values.size).toBe(4);
  });

  it("without a key set and nothing to hold back, give every secret, in order", () => {
    const values = new Map([
      ["B_KEY", "b"],
      ["A_KEY", "a"],
    ]);
    const { variables, withheld } = implicitVariables(values, { PATH: "/usr/bin" });
    expect([...variables]).toEqual([...values]);
    expect(withheld).toEqual([]);
  });
});

describe("a writer's text", () => {
  const BAD = {
    "U+009B (CSI)": "a\u009b31mred",
    "U+202E (bidi override)": "txt.\u202eexe",
    ESC: "a\u001b[2J",
    "U+2066": "\u2066x",
    "U+200E": "x\u200e",
    "U+061C": "x\u061c",
    "U+2028": "a\u2028b",
    "U+200B": "a\u200bb",
    "U+FEFF": "\ufeffa",
    DEL: "a\u007f",
    TAB: "a\tb",
    "lone surrogate": "a\ud800",
  };

  it.for(Object.entries(BAD))("a description holding %s is refused with exit 2", ([, text]) => {
    expect(usage(() => checkDescription(text)).message).toContain("without control or format characters");
  });

  it("a plain description, accents and dashes included, is accepted", () => {
    expect(checkDescription("Meraki prod — clé de l'API, ≤ 90 days")).toBe("Meraki prod — clé de l'API, ≤ 90 days");
  });

  it.for(Object.entries(BAD))("a recipient label holding %s is refused with exit 2", ([, text]) => {
    usage(() => checkLabel(`host${text}`));
  });

  it("is shown escaped, one \\uXXXX per UTF-16 unit, and the rest as it is", () => {
    expect(escapeText("ok é — \u009b[31m \u202e \u001b \u2028 \u{e0001} \ud800")).toBe(
      "ok é — \\u009b[31m \\u202e \\u001b \\u2028 \\udb40\\udc01 \\ud800",
    );
  });

  it("JSON output escapes C1, format characters and U+2028/9 too, and stays the same JSON", () => {
    const value = [{ description: "a\u009bb\u202ec\u2028d\u2029e\u001bf\u007f" }];
    const text = jsonText(value, 2);
    expect(text).not.toMatch(/[\u007f-\u009f\u2028\u2029\u202e]/u);
    expect(text).toContain("\\u009b");
    expect(JSON.parse(text)).toEqual(value);
  });
});
