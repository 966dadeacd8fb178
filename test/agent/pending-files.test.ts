// The files of pending changes (src/agent/pending-files.ts) on a real store in a temporary folder: the metadata file
// holds no value and is all that listing reads; the sealed file is age, read only to apply; a sealed file without its
// metadata is removed and reported; a damaged metadata file is a CorruptError naming it.

import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  fingerprint,
  serializeChange,
  type ChangeRequest,
  type PendingChange,
} from "../../src/agent/pending-change.js";
import { PendingFiles } from "../../src/agent/pending-files.js";
import { CorruptError } from "../../src/errors.js";
import { emptyDocument } from "../../src/store/document.js";
import { Store, storePaths } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function files(): Promise<PendingFiles> {
  const { dir, cleanup } = tempDir("secretfile-pending-");
  cleanups.push(cleanup);
  return new PendingFiles(await Store.create(storePaths(path.join(dir, "s")), { pq: false }));
}

function changeOf(id: string, request: ChangeRequest & { op: "add" }): PendingChange {
  return {
    id,
    op: "add",
    change: "add",
    names: [request.name],
    requester: {
      uid: 1001,
      gid: 1001,
      user: "alice",
      groups: [{ gid: 1001, name: "alice" }],
      time: "2026-12-01T10:00:00.000Z",
      pid: 42,
      program: undefined,
    },
    expires: "2026-12-02T10:00:00.000Z",
    base: { [request.name]: "absent" },
    approvals: [],
    fingerprint: fingerprint(randomBytes(32), id, new Map([[request.name, request.value]])),
  };
}

describe("pending change files", () => {
  it("keeps the value only sealed: the metadata is plaintext without it, both 0600 in a 0700 folder", async () => {
    const f = await files();
    const value = `secret-${randomBytes(8).toString("hex")}`;
    const request = { op: "add", name: "MERAKI_API_KEY", value, opts: {} } as const;
    const change = changeOf("0123456789ab", request);
    const sealed = await f.seal(change.id, request, emptyDocument());
    expect(await f.create(change, sealed)).toBe(serializeChange(change).length);
    expect(readdirSync(f.dir).sort()).toEqual(["0123456789ab.age", "0123456789ab.json"]);
    expect(statSync(f.dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(f.dir)) expect(statSync(path.join(f.dir, name)).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(f.dir, "0123456789ab.age"), "latin1")).toMatch(/^age-encryption\.org\/v1\n/);
    const meta = readFileSync(path.join(f.dir, "0123456789ab.json"), "utf8");
    expect(JSON.parse(meta)).toMatchObject({
      format: "secretfile-pending",
      version: 2,
      change: { names: ["MERAKI_API_KEY"] },
    });
    expect(
      readdirSync(f.dir)
        .map((n) => readFileSync(path.join(f.dir, n), "latin1"))
        .join(""),
    ).not.toContain(value);
    expect(await f.load()).toEqual({
      kept: [{ change, sealedBytes: sealed.length, metaBytes: meta.length }],
      dropped: [],
    });
    expect(await f.request(change)).toEqual(request);
    await f.remove(change.id);
    expect(readdirSync(f.dir)).toEqual([]);
  });

  it("lists without reading a sealed file: a damaged one fails only when its change is applied", async () => {
    const f = await files();
    const request = { op: "add", name: "A_KEY", value: "v", opts: {} } as const;
    const change = changeOf("aaaaaaaaaaaa", request);
    await f.create(change, await f.seal(change.id, request, emptyDocument()));
    writeFileSync(path.join(f.dir, "aaaaaaaaaaaa.age"), "not age at all", { mode: 0o600 });
    expect((await f.load()).kept.map((k) => k.change.id)).toEqual(["aaaaaaaaaaaa"]);
    await expect(f.request(change)).rejects.toBeInstanceOf(CorruptError);
  });

  it("removes a sealed file without metadata (a crash between the writes, an older format) and reports it; skips others", async () => {
    const f = await files();
    const request = { op: "add", name: "B_KEY", value: "v", opts: {} } as const;
    const change = changeOf("bbbbbbbbbbbb", request);
    const sealed = await f.seal(change.id, request, emptyDocument());
    await f.create(change, sealed);
    writeFileSync(path.join(f.dir, "cccccccccccc.age"), sealed, { mode: 0o600 });
    writeFileSync(path.join(f.dir, ".bbbbbbbbbbbb.json.tmp-0123"), "x", { mode: 0o600 });
    const loaded = await f.load();
    expect(loaded.kept.map((k) => k.change.id)).toEqual(["bbbbbbbbbbbb"]);
    expect(loaded.dropped).toEqual([path.join(f.dir, "cccccccccccc.age")]);
    expect(existsSync(path.join(f.dir, "cccccccccccc.age"))).toBe(false);
    expect(existsSync(path.join(f.dir, ".bbbbbbbbbbbb.json.tmp-0123"))).toBe(true);
  });

  it.for([
    ["not JSON", "{"],
    ["another format", JSON.stringify({ format: "x", version: 2, change: {} })],
    ["another id", "other"],
    ["no names", "names"],
    ["a bad name", "badname"],
    ["a requester without uid", "requester"],
  ])("refuses metadata that is %s: CorruptError naming the file", async ([, how]) => {
    const f = await files();
    const request = { op: "add", name: "D_KEY", value: "v", opts: {} } as const;
    const change = changeOf("dddddddddddd", request);
    await f.create(change, await f.seal(change.id, request, emptyDocument()));
    const file = path.join(f.dir, "dddddddddddd.json");
    const bad: Record<string, unknown> = { ...change };
    if (how === "other") bad.id = "eeeeeeeeeeee";
    if (how === "names") bad.names = [];
    if (how === "badname") bad.names = ["1 bad"];
    if (how === "requester") bad.requester = { ...change.requester, uid: "1001" };
    const text = how!.startsWith("{")
      ? how!
      : JSON.stringify({ format: "secretfile-pending", version: 2, change: bad });
    writeFileSync(file, text, { mode: 0o600 });
    await expect(f.load()).rejects.toMatchObject({
      name: "CorruptError",
      message: `the pending change ${file} is damaged or not a pending change`,
    });
  });
});
