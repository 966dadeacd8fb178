import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookupGroupByName, lookupUser, lookupUserByName } from "../../src/system/users.js";
import { FailureError } from "../../src/errors.js";

const isRoot = process.getuid?.() === 0;
const UNASSIGNED = 3999999;
const tag = randomBytes(4).toString("hex");
const user = `sftest_${tag}`;
const extraGroups = [`sftest_${tag}_a`, `sftest_${tag}_b`];

// The system's own tools, as the reference the C library calls must agree with.
function getent(db: string, key: string): string[] {
  return execFileSync("getent", [db, key], { encoding: "utf8" }).trim().split(":");
}

describe("lookupUser", () => {
  it("finds root, with group root first", () => {
    const info = lookupUser(0);
    expect(info.uid).toBe(0);
    expect(info.gid).toBe(0);
    expect(info.user).toBe("root");
    expect(info.groups[0]).toEqual({ gid: 0, name: "root" });
  });

  it("gives an unassigned uid no user and no groups", () => {
    expect(lookupUser(UNASSIGNED)).toEqual({ uid: UNASSIGNED, gid: -1, user: undefined, groups: [] });
  });

  it("keeps the given primary gid for an unassigned uid, named when the group exists", () => {
    expect(lookupUser(UNASSIGNED, 0)).toEqual({
      uid: UNASSIGNED,
      gid: 0,
      user: undefined,
      groups: [{ gid: 0, name: "root" }],
    });
    expect(lookupUser(UNASSIGNED, UNASSIGNED)).toEqual({
      uid: UNASSIGNED,
      gid: UNASSIGNED,
      user: undefined,
      groups: [{ gid: UNASSIGNED, name: undefined }],
    });
  });

  it("adds a given gid the user's entry does not list, without duplicates", () => {
    const info = lookupUser(0, 65534);
    expect(info.gid).toBe(65534);
    expect(info.groups.map((g) => g.gid)).toEqual([65534, ...lookupUser(0).groups.map((g) => g.gid)]);
    expect(lookupUser(0, 0).groups).toEqual(lookupUser(0).groups);
  });

  it.for([-1, 1.5, Number.NaN, 0xffffffff, 2 ** 40])("refuses the uid %s", (uid) => {
    expect(() => lookupUser(uid)).toThrow(FailureError);
  });

  it("refuses an invalid gid", () => {
    expect(() => lookupUser(0, -5)).toThrow(FailureError);
  });
});

describe.skipIf(!isRoot)("a user created for the test (needs root for useradd)", () => {
  beforeAll(() => {
    for (const g of extraGroups) execFileSync("groupadd", [g]);
    execFileSync("useradd", ["-M", "-s", "/usr/sbin/nologin", "-G", extraGroups.join(","), user]);
  });

  afterAll(() => {
    try {
      execFileSync("userdel", [user], { stdio: "ignore" });
    } catch {
      // already gone
    }
    for (const g of [...extraGroups, user]) {
      try {
        execFileSync("groupdel", [g], { stdio: "ignore" });
      } catch {
        // already gone (userdel removes the user's own group)
      }
    }
  });

  it("lookupUser returns the user, primary group first, then the supplementary groups", () => {
    const [, , uid, gid] = getent("passwd", user);
    const info = lookupUser(Number(uid));
    expect(info.user).toBe(user);
    expect(info.gid).toBe(Number(gid));
    expect(info.groups[0]).toEqual({ gid: Number(gid), name: getent("group", gid!)[0] });
    const supplementary = extraGroups.map((name) => ({ gid: Number(getent("group", name)[2]), name }));
    expect(info.groups.slice(1).sort((a, b) => a.gid - b.gid)).toEqual(supplementary.sort((a, b) => a.gid - b.gid));
  });

  it("lookupUserByName returns its uid, gid, home and shell", () => {
    const [, , uid, gid, , home] = getent("passwd", user);
    expect(lookupUserByName(user)).toEqual({ uid: Number(uid), gid: Number(gid), home, shell: "/usr/sbin/nologin" });
  });

  it("lookupGroupByName returns a supplementary group's gid", () => {
    const name = extraGroups[1]!;
    expect(lookupGroupByName(name)).toEqual({ gid: Number(getent("group", name)[2]) });
  });
});

describe("lookupUserByName and lookupGroupByName", () => {
  it("find root", () => {
    expect(lookupUserByName("root")).toMatchObject({ uid: 0, gid: 0, home: "/root" });
    expect(lookupGroupByName("root")).toEqual({ gid: 0 });
  });

  it.for(["sftest_no_such_name", "", "root\0x"])("return undefined for %j", (name) => {
    expect(lookupUserByName(name)).toBeUndefined();
    expect(lookupGroupByName(name)).toBeUndefined();
  });
});
