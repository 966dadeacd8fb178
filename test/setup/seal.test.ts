// Sealing the identity (`setup --seal systemd-creds`) reads it as root from the service account's folder: through a
// descriptor that follows no link, never by handing systemd-creds the path. Rules: root only, with a systemd-creds that
// can encrypt here (the real one; skipped with the reason otherwise); everything under a temporary folder.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessError } from "../../src/errors.js";
import { ActionLog } from "../../src/setup/actions.js";
import { sealIdentity } from "../../src/setup/seal.js";
import { parseIdentity } from "../../src/store/identity.js";
import { isRoot } from "../helpers/cli.js";
import { makeWorld, type World } from "../helpers/system.js";

const probe = isRoot
  ? spawnSync("systemd-creds", ["encrypt", "--name=probe", "-", "-"], { input: "probe" })
  : undefined;
const why = !isRoot
  ? "needs root (systemd-creds encrypts to the host key)"
  : probe?.status !== 0
    ? `systemd-creds cannot encrypt here: ${probe?.stderr.toString().trim() ?? "not installed"}`
    : undefined;

describe.skipIf(why !== undefined)(`sealing the identity (${why ?? "systemd-creds works here"})`, () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld();
  });
  afterAll(() => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when beforeAll failed
    world?.cleanup();
  });

  it("refuses an identity.txt that is a link (to an identity elsewhere, here root's), sealing nothing", async () => {
    const state = world.mkdir("state", 0o700);
    const made = await world.run(["init", "--dir", state]);
    expect(made.code, made.stderr).toBe(0);
    const identity = path.join(state, "identity.txt");
    const { recipient } = await parseIdentity(readFileSync(identity, "utf8"), identity);
    // The real identity moved to a folder of root's, and a link to it where setup reads the identity.
    const elsewhere = path.join(world.mkdir("root-only", 0o700), "identity.txt");
    renameSync(identity, elsewhere);
    symlinkSync(elsewhere, identity);
    const credential = path.join(world.root, "credstore", "secretfile-identity");
    mkdirSync(path.dirname(credential), { mode: 0o700 });
    const sealing = sealIdentity({ credential, identity, owner: 0, recipient }, new ActionLog());
    await expect(sealing).rejects.toThrow(AccessError);
    await expect(sealing).rejects.toThrow(`refusing to follow a symlink at the identity ${identity}`);
    expect(existsSync(credential)).toBe(false);
    expect(existsSync(elsewhere)).toBe(true);
  });

  it("seals a real identity, read and piped in", async () => {
    const state = world.mkdir("state2", 0o700);
    expect((await world.run(["init", "--dir", state])).code).toBe(0);
    const identity = path.join(state, "identity.txt");
    const { recipient } = await parseIdentity(readFileSync(identity, "utf8"), identity);
    const credential = path.join(world.root, "credstore2", "secretfile-identity");
    mkdirSync(path.dirname(credential), { mode: 0o700 });
    await sealIdentity({ credential, identity, owner: 0, recipient }, new ActionLog());
    expect(existsSync(credential)).toBe(true);
    expect(existsSync(identity)).toBe(false);
  });
});
