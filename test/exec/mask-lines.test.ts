// Masking a multi-line value (a PEM key, a JSON blob): the whole value, and each of its lines alone, trimmed, when long
// enough to mask (src/exec/mask.ts maskPatterns).

import { describe, expect, it } from "vitest";
import { maskBuffer, maskPatterns } from "../../src/exec/mask.js";

const mask = (secrets: Record<string, string>, text: string) =>
  maskBuffer(Buffer.from(text), maskPatterns(new Map(Object.entries(secrets))), true).out.toString();

describe("masking a multi-line value", () => {
  const pem =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\r\nAwEHBG0wawIBAQQgXdemo0123456789\n-----END PRIVATE KEY-----";

  it.for([
    ["the whole value", pem, "[PEM]"],
    ["one line alone", "key: MIGHAgEAMBMGByqGSM49AgEGCCqGSM49 end", "key: [PEM] end"],
    ["a line that ended in CRLF", "AwEHBG0wawIBAQQgXdemo0123456789", "[PEM]"],
    ["a line printed with other indentation", '    "  AwEHBG0wawIBAQQgXdemo0123456789  "', '    "  [PEM]  "'],
  ])("%s", ([, text, masked]) => {
    expect(mask({ PEM: pem }, text!)).toBe(masked);
  });

  it("leaves lines too short to mask", () => {
    const json = '{\n  "k": 1,\n  "private_key": "abcdef0123456789"\n}';
    expect(mask({ JSON_KEY: json }, "{\n}\n")).toBe("{\n}\n");
    expect(mask({ JSON_KEY: json }, 'x "private_key": "abcdef0123456789"')).toBe("x [JSON_KEY]");
  });
});
