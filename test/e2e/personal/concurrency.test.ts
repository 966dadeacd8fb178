// Personal mode end to end: concurrent writers lose nothing, a writer killed at any moment leaves the old or
// the new store, and a lock left by a dead writer is recovered.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageDecrypt, hasAge } from "../../helpers/age.js";
import { FIXTURES, removeSandboxes, sandbox, sleep, startCli, type Sandbox } from "../../helpers/personal.js";
import { scale } from "../../helpers/tier.js";

afterAll(removeSandboxes);

// The tests of this file run one after the other: each one alone already keeps every core busy.

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;
/** Writers killed per store (4 stores): 100 in all in `npm run test:all`, as docs/hardening.md reports; 16 in the fast tier. */
const KILLS_PER_STORE = scale("SECRETFILE_KILLS_PER_STORE", 4, 25);

const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});

/** Starts `count` `add`s of different names at once and checks that every one succeeded and every value is there. */
async function concurrentAdds(sb: Sandbox, count: number): Promise<void> {
  const names = Array.from({ length: count }, (_, i) => `CONCURRENT_${i}`);
  // Generous timeouts: twenty writers queue on one lock, and each waits its turn.
  const results = await Promise.all(
    names.map((name) => startCli(["add", name], sb.env, `value of ${name}\n`, 180_000).done),
  );
  expect(results.filter((r) => r.code !== 0)).toEqual([]);
  const ls = await sb.run(["ls", "--json"]);
  expect(ls.code).toBe(0);
  expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name)).toEqual([...names].sort());
  const probe = await sb.run(["exec", "--", process.execPath, path.join(FIXTURES, "env-probe.mjs"), ...names]);
  expect(JSON.parse(probe.stdout)).toEqual(Object.fromEntries(names.map((n) => [n, sha(`value of ${n}`)])));
}

/** What one store saw in the kill loop. */
interface KillStats {
  /** Writers killed before they finished, and among them those killed while holding the lock. */
  killed: number;
  killedLocked: number;
  /** Writers that finished before the kill came, and writers that failed on their own (first line of stderr). */
  finished: number;
  failed: string[];
  /** Rounds after which K held the new value. */
  newState: number;
  /** Temporary files left in the folder at the end. */
  tempFiles: number;
}

/** Returns true when the lock folder exists and was made or refreshed at `since` or later (not a stale one). */
function lockedSince(lock: string, since: number): boolean {
  try {
    return statSync(lock).mtimeMs >= since - 5;
  } catch {
    return false;
  }
}

/** Resolves when the writer started at `since` holds `lock`, or when `done` settles; polls every 2 ms. */
async function whenLocked(lock: string, since: number, done: Promise<unknown>): Promise<void> {
  // `as boolean`: set by the callback, which TS's narrowing of a `let` does not see.
  let settled = false as boolean;
  void done.then(() => (settled = true));
  while (!settled && !lockedSince(lock, since)) await sleep(2);
}

/**
 * Runs `rounds` of `add K --replace NEW`, each killed with SIGKILL: in odd rounds at a random moment of
 * its life (up to 1.2 times what an add takes), in even rounds 0-80 ms after it took the lock, when it
 * decrypts, encrypts, writes, renames. After each kill the store must decrypt and hold the old or the new
 * value of K (the new one if the writer finished). A lock left by a killed writer is aged by 10 s, as if
 * its stale time had passed, so the next writer takes it over at once (the real wait is tested once below).
 */
async function killLoop(sb: Sandbox, rounds: number): Promise<KillStats> {
  const stats: KillStats = { killed: 0, killedLocked: 0, finished: 0, failed: [], newState: 0, tempFiles: 0 };
  const lock = `${sb.store}.lock`;
  let old = "round-0";
  await sb.add("OTHER", "untouched");
  const started = Date.now();
  await sb.add("K", old);
  let addMs = Date.now() - started;
  for (let round = 1; round <= rounds; round++) {
    const value = `round-${round}`;
    const spawned = Date.now();
    const writer = startCli(["add", "K", "--replace"], sb.env, value);
    if (round % 2 === 1) {
      await sleep(Math.random() * addMs * 1.2);
    } else {
      await whenLocked(lock, spawned, writer.done);
      await sleep(Math.random() * 80);
    }
    const locked = lockedSince(lock, spawned);
    writer.kill("SIGKILL");
    const w = await writer.done;
    const finished = w.code === 0;
    if (finished) {
      stats.finished++;
      addMs = (addMs + Date.now() - spawned) / 2;
    } else if (w.signal === "SIGKILL") {
      stats.killed++;
      if (locked) stats.killedLocked++;
    } else {
      // Under heavy load a writer may give up by itself (e.g. it lost its lock): then it changed nothing.
      expect(w.code, `round ${round}: ${w.stderr}`).toBe(1);
      stats.failed.push(w.stderr.split("\n")[0]!);
    }
    if (existsSync(lock)) {
      const stale = new Date(Date.now() - 10_000);
      utimesSync(lock, stale, stale);
    }
    // The store decrypts: with the age CLI when present (it is fast), else with secretfile.
    let now: string;
    if (hasAge) {
      const doc = JSON.parse(ageDecrypt(sb.identity, sb.store).toString()) as {
        secrets: Record<string, { value: string }>;
      };
      expect(doc.secrets.OTHER?.value, `round ${round}`).toBe("untouched");
      now = doc.secrets.K!.value;
    } else {
      const get = await sb.run(["get", "K"]);
      expect([get.code, get.stderr], `round ${round}`).toEqual([0, ""]);
      now = get.stdout;
    }
    expect(finished ? [value] : w.code === 1 ? [old] : [old, value], `round ${round}: K is ${now}`).toContain(now);
    if (now === value) stats.newState++;
    old = now;
  }
  // A last writer that is not killed recovers any lock left behind and succeeds.
  const last = await sb.run(["add", "K", "--replace"], { input: "final" });
  expect([last.code, last.stdout], last.stderr).toEqual([0, ""]);
  expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "final" });
  expect(await sb.run(["get", "OTHER"])).toMatchObject({ code: 0, stdout: "untouched" });
  const isTemp = (f: string) => f.startsWith(".store.age.tmp-") || f.startsWith(".store.seen.tmp-");
  const temps = readdirSync(sb.dir).filter(isTemp);
  stats.tempFiles = temps.length;
  // A writer killed between creating its temporary file (of the store or its record) and the rename leaves it behind.
  expect(temps.length).toBeLessThanOrEqual(stats.killed);
  expect(
    readdirSync(sb.dir)
      .filter((f) => !isTemp(f))
      .sort(),
  ).toEqual(["identity.txt", "store.age", "store.seen"]);
  return stats;
}

describe("personal mode: concurrent writers", { timeout: SLOW }, () => {
  it("twenty concurrent adds of different names into one store lose nothing", async () => {
    const sb = sandbox();
    await sb.init();
    await concurrentAdds(sb, 20);
  });

  it("ten concurrent adds with no store yet create one store and lose nothing", async () => {
    const sb = sandbox();
    await concurrentAdds(sb, 10);
    expect(readdirSync(sb.dir).sort()).toEqual(["identity.txt", "store.age", "store.seen"]);
  });

  // test/hardening/faults/kill-personal.test.ts kills store workers hundreds of times more.
  it(
    `a writer killed with SIGKILL at random moments (4 stores x ${KILLS_PER_STORE}) always leaves the old or the new store`,
    { timeout: 600_000 },
    async (ctx) => {
      const stores = Array.from({ length: 4 }, () => sandbox({ SECRETFILE_LOCK_STALE_MS: "2000" }));
      const stats = await Promise.all(stores.map((sb) => killLoop(sb, KILLS_PER_STORE)));
      const total = stats.reduce((a, s) => ({
        killed: a.killed + s.killed,
        killedLocked: a.killedLocked + s.killedLocked,
        finished: a.finished + s.finished,
        failed: [...a.failed, ...s.failed],
        newState: a.newState + s.newState,
        tempFiles: a.tempFiles + s.tempFiles,
      }));
      const writers = 4 * KILLS_PER_STORE;
      await ctx.annotate(`over ${writers} writers: ${JSON.stringify(total)}`);
      console.info(`kill loop over ${writers} writers: ${JSON.stringify(total)}`);
      // Enough writers must really die mid-way (25 of 60), many of them holding the lock (10 of 60), or the test proves nothing.
      expect(total.killed).toBeGreaterThanOrEqual(Math.floor((writers * 25) / 60));
      expect(total.killedLocked).toBeGreaterThanOrEqual(Math.floor((writers * 10) / 60));
    },
  );
});

describe("personal mode: stale locks", { timeout: SLOW }, () => {
  it("a lock folder left a minute ago by a dead writer is taken over: add succeeds", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const lock = `${sb.store}.lock`;
    mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const r = await sb.run(["add", "L"], { input: "w" });
    expect([r.code, r.stdout]).toEqual([0, ""]);
    expect(r.stderr).toContain("secretfile: added L\n");
    expect(existsSync(lock)).toBe(false);
    expect(await sb.run(["get", "L"])).toMatchObject({ code: 0, stdout: "w" });
  });

  it("a live lock makes add wait, saying so; once its holder stops refreshing it, add takes it over after SECRETFILE_LOCK_STALE_MS", async () => {
    const sb = sandbox({ SECRETFILE_LOCK_STALE_MS: "2000" });
    await sb.add("K", "v");
    const lock = `${sb.store}.lock`;
    mkdirSync(lock);
    // A holder that is alive keeps the lock's mtime fresh, as proper-lockfile does.
    const touch = () => utimesSync(lock, new Date(), new Date());
    const refresher = setInterval(touch, 200);
    let diedAt = 0;
    try {
      const add = startCli(["add", "L"], sb.env, "w");
      await add.waitFor(`secretfile: waiting for the lock ${lock} (another secretfile is writing)\n`, 90_000, "stderr");
      await sleep(500);
      expect(add.stderr()).not.toContain("added");
      clearInterval(refresher);
      touch();
      diedAt = Date.now();
      const r = await add.done;
      expect([r.code, r.stdout]).toEqual([0, ""]);
      expect(r.stderr).toBe(
        `secretfile: waiting for the lock ${lock} (another secretfile is writing)\nsecretfile: added L\n`,
      );
      expect(Date.now() - diedAt).toBeGreaterThanOrEqual(1900);
    } finally {
      clearInterval(refresher);
    }
    expect(existsSync(lock)).toBe(false);
    expect(await sb.run(["get", "L"])).toMatchObject({ code: 0, stdout: "w" });
  });
});
