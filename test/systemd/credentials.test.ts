// The credential provider's rules in process: systemd's peer address, the unit: policy subject, and decideUnit.
import { describe, expect, it } from "vitest";
import { parseCredentialPeer } from "../../src/agent/credentials.js";
import { decide, decideUnit } from "../../src/policy/evaluate.js";
import { parsePolicy, PolicySyntaxError } from "../../src/policy/parse.js";

describe("parseCredentialPeer", () => {
  it("reads the unit and credential ID of systemd 252's abstract address", () => {
    expect(parseCredentialPeer("\0a93c3ea370fe347f/unit/report-daily.service/MERAKI_API_KEY")).toEqual({
      unit: "report-daily.service",
      id: "MERAKI_API_KEY",
    });
    expect(parseCredentialPeer("\0a93c3ea370fe347f/unit/backup@host\\x2d1.service/K")).toEqual({
      unit: "backup@host\\x2d1.service",
      id: "K",
    });
    // "%" PRIx64: a random number under 2^60 has fewer than 16 digits.
    expect(parseCredentialPeer("\0c3ea370fe347f/unit/x.service/K")).toEqual({ unit: "x.service", id: "K" });
  });

  it.for([
    ["a path address", "/a93c3ea370fe347f/unit/x.service/K"],
    ["unnamed", ""],
    ["too much hex", "\0a93c3ea370fe347f0/unit/x.service/K"],
    ["no hex", "\0/unit/x.service/K"],
    ["upper-case hex", "\0A93C3EA370FE347F/unit/x.service/K"],
    ["not /unit/", "\0a93c3ea370fe347f/user/x.service/K"],
    ["an extra part", "\0a93c3ea370fe347f/unit/x.service/K/L"],
    ["no ID", "\0a93c3ea370fe347f/unit/x.service/"],
  ])("refuses %s", ([, address]) => {
    expect(parseCredentialPeer(address!)).toBeUndefined();
  });
});

describe("the unit: subject", () => {
  const policy = parsePolicy(
    ["read unit:report-*.service MERAKI_* WEBEX_TOKEN", "read user:netops GRAFANA_TOKEN", "read uid:0 *"].join("\n"),
    "policy",
  );
  const netops = { uid: 1000, gid: 1000, user: "netops", groups: [] };

  it("parses, read only, with a unit name and globs", () => {
    expect(policy.rules[0]!.who).toEqual({ kind: "unit", name: "report-*.service" });
    expect(() => parsePolicy("write unit:report.service A", "p")).toThrow(PolicySyntaxError);
    expect(() => parsePolicy("read unit:report A", "p")).toThrow(/bad unit name/);
    expect(() => parsePolicy("read unit:a/b.service A", "p")).toThrow(/bad unit name/);
  });

  it.for([
    ["report-daily.service", "MERAKI_API_KEY", true],
    ["report-daily.service", "WEBEX_TOKEN", true],
    ["report-daily.service", "GRAFANA_TOKEN", false],
    ["report.service", "MERAKI_API_KEY", false],
    ["evil-report-daily.service", "MERAKI_API_KEY", false],
    ["report-daily.service", "bad-id", false],
  ] as [string, string, boolean][])("unit %s, credential %s: %s", ([unit, id, allowed]) => {
    expect(decideUnit(policy, unit, id).allowed).toBe(allowed);
  });

  it("only unit: rules count for a unit (not uid:0, not user:), and a unit rule grants no uid", () => {
    expect(decideUnit(policy, "other.service", "GRAFANA_TOKEN").allowed).toBe(false);
    expect(decide(policy, netops, "read", "MERAKI_API_KEY").allowed).toBe(false);
    expect(decide(policy, netops, "read", "GRAFANA_TOKEN").allowed).toBe(true);
  });
});
