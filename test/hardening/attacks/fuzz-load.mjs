// The protocol fuzzer's load process, run under a test user's uid: sends generated requests (valid ones, mutated
// ones and random bytes) to an agent over a few long-lived connections and many short ones, checks that every
// request line gets exactly one well-formed answer (or, for an oversize line, an error or a dropped connection),
// and prints a JSON summary. Deterministic for a seed.
// usage: node fuzz-load.mjs CONFIG_JSON
//   CONFIG: {socket, seed, total, longConnections, longShare, window, shortParallel, oversize,
//            readable: {NAME: value}, writable: NAME, forbidden: [value...]}
import net from "node:net";

const cfg = JSON.parse(process.argv[2]);
const started = Date.now();

// mulberry32: small, fast, seeded.
let seed = cfg.seed >>> 0;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const chance = (p) => rnd() < p;

const readable = Object.keys(cfg.readable);
const NAMES = [
  ...readable,
  "S_KEY",
  "NO_SUCH_KEY",
  "",
  "1ABC",
  "a-b",
  "x".repeat(129),
  "../../etc/passwd",
  "A".repeat(128),
  "é",
  "A\u0000B",
];
const WEIRD = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  "",
  "1",
  [],
  [1],
  {},
  { a: 1 },
  "x".repeat(3000),
  "\u0000",
  "\ud800",
  "\u202e",
  { __proto__: { ok: true } },
];
const OPS = [
  "ping",
  "get",
  "list",
  "values",
  "add",
  "update",
  "rm",
  "history",
  "rollback",
  "import",
  "settings",
  "pending",
  "approve",
  "reject",
];

/** A valid request and what it must be answered with (null: anything well-formed). */
function valid() {
  switch (int(7)) {
    case 0:
      return [{ v: 1, op: "ping" }, (a) => a.ok === true && a.op === "ping"];
    case 1:
    case 2: {
      const name = pick(readable);
      return [{ v: 1, op: "get", name }, (a) => a.ok === true && a.value === cfg.readable[name]];
    }
    case 3:
      return [{ v: 1, op: "get", name: "S_KEY" }, (a) => a.ok === false && a.error.code === "denied"];
    case 4:
      return [{ v: 1, op: "list" }, (a) => a.ok === true && Array.isArray(a.secrets)];
    case 5: {
      const names = chance(0.5) ? undefined : readable.slice(0, 1 + int(readable.length));
      return [
        names === undefined ? { v: 1, op: "values" } : { v: 1, op: "values", names },
        (a) => a.ok === true && (names ?? readable).every((n) => a.values[n] === cfg.readable[n]),
      ];
    }
    default:
      return [{ v: 1, op: "get", name: "NO_SUCH_KEY" }, (a) => a.ok === false && a.error.code === "denied"];
  }
}

/** A request object with one to three structural mutations. */
function mutatedObject() {
  const base = chance(cfg.writeChance ?? 0.002)
    ? { v: 1, op: "add", name: cfg.writable, value: String(int(1e9)), replace: true }
    : {
        v: 1,
        op: pick(OPS),
        name: pick(NAMES),
        names: chance(0.5) ? [pick(NAMES), pick(NAMES)] : undefined,
        value: chance(0.3) ? "v" : undefined,
      };
  for (let i = 1 + int(3); i > 0; i--) {
    const keys = [
      "v",
      "op",
      "name",
      "names",
      "value",
      "replace",
      "description",
      "expires",
      "rotateEvery",
      "to",
      "secrets",
      "historyKeep",
      "id",
      "force",
      "__proto__",
      "constructor",
      "toString",
    ];
    const key = pick(keys);
    switch (int(4)) {
      case 0:
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the fuzzer drops a random field
        delete base[key];
        break;
      case 1:
        base[key] = pick(WEIRD);
        break;
      case 2:
        base[key] = pick(OPS.concat(["", "GET", "get ", "values\u0000"]));
        break;
      default:
        base.v = pick([1, 1, 0, 2, "1", -1, 1.0000001, null]);
    }
  }
  return base;
}

/** Byte-level mutations of a serialized line. */
function mutateBytes(buf) {
  const b = Buffer.from(buf);
  const out = [];
  let pos = 0;
  for (let i = 1 + int(4); i > 0; i--) {
    const at = int(b.length + 1);
    out.push(b.subarray(pos, Math.max(pos, at)));
    pos = Math.max(pos, at);
    switch (int(5)) {
      case 0: // flip a byte
        if (pos < b.length) {
          out.push(Buffer.from([b[pos] ^ (1 << int(8))]));
          pos++;
        }
        break;
      case 1: // random bytes
        out.push(randomBytes(1 + int(16)));
        break;
      case 2: // cut a piece
        pos = Math.min(b.length, pos + int(20));
        break;
      case 3: // odd characters
        out.push(
          Buffer.from(
            pick([
              "\u0000",
              "\\",
              '"',
              "\\u0000",
              "\\ud800",
              "\u2028",
              "{",
              "}",
              "[",
              "]",
              ",",
              ":",
              "\udfff",
              "\ufeff",
            ]),
          ),
        );
        break;
      default: // repeat a piece
        out.push(b.subarray(int(b.length), b.length).subarray(0, 64));
    }
  }
  out.push(b.subarray(pos));
  return Buffer.concat(out);
}

function randomBytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** One request line (without its newline) and its check. */
function generate() {
  const r = rnd();
  let line;
  let check = null;
  if (r < 0.2) {
    const [req, expect] = valid();
    line = Buffer.from(JSON.stringify(req));
    check = expect;
  } else if (r < 0.55) {
    line = Buffer.from(JSON.stringify(mutatedObject()) ?? "null");
  } else if (r < 0.85) {
    line = mutateBytes(Buffer.from(JSON.stringify(chance(0.5) ? valid()[0] : mutatedObject()) ?? "{}"));
  } else {
    line = randomBytes(int(chance(0.1) ? 20_000 : 600));
  }
  // One request, one line: no newline inside.
  for (let i = 0; i < line.length; i++) if (line[i] === 0x0a) line[i] = 0x20;
  return { line, check };
}

const CODES = new Set(["usage", "not-found", "denied", "undecryptable", "exists", "failure", "busy"]);
const summary = {
  sent: 0,
  answered: 0,
  oversizeSent: 0,
  oversizeAnsweredOrDropped: 0,
  checked: 0,
  shortConnections: 0,
  longConnections: 0,
  codes: {},
  ops: {},
  violations: [],
  failures: [],
};
const violation = (what) => {
  if (summary.violations.length < 20) summary.violations.push(what);
};

/** Checks one answer line; `check` is the exact expectation for a valid request. */
function judge(text, check, line) {
  let a;
  try {
    a = JSON.parse(text);
  } catch {
    violation(`not JSON: ${text.slice(0, 200)}`);
    return;
  }
  for (const v of cfg.forbidden)
    if (text.includes(v)) violation(`a forbidden value in an answer to ${line.subarray(0, 80).toString("latin1")}`);
  if (typeof a !== "object" || a === null || typeof a.ok !== "boolean")
    return violation(`malformed answer: ${text.slice(0, 200)}`);
  if (a.ok) summary.ops[a.op] = (summary.ops[a.op] ?? 0) + 1;
  else {
    if (!CODES.has(a.error?.code) || typeof a.error.message !== "string")
      violation(`unknown error: ${text.slice(0, 200)}`);
    summary.codes[a.error.code] = (summary.codes[a.error.code] ?? 0) + 1;
    if (a.error.code === "failure" && summary.failures.length < 10)
      summary.failures.push([line.toString("latin1").slice(0, 200), text.slice(0, 200)]);
  }
  if (check !== null) {
    summary.checked++;
    if (!check(a)) violation(`wrong answer to ${line.toString("latin1").slice(0, 120)}: ${text.slice(0, 200)}`);
  }
}

/** Splits answers off a connection's incoming bytes. */
function lineReader(onLine) {
  let carry = "";
  return (chunk) => {
    carry += chunk;
    let nl;
    while ((nl = carry.indexOf("\n")) !== -1) {
      onLine(carry.slice(0, nl));
      carry = carry.slice(nl + 1);
    }
  };
}

/** A long-lived connection sending `count` requests, at most `window` unanswered at a time. */
function longConnection(count) {
  return new Promise((resolve) => {
    summary.longConnections++;
    const sock = net.createConnection(cfg.socket);
    const waiting = [];
    let sent = 0;
    const pump = () => {
      let batch = [];
      while (sent < count && waiting.length < cfg.window) {
        const r = generate();
        waiting.push(r);
        batch.push(r.line, Buffer.from("\n"));
        sent++;
        summary.sent++;
      }
      if (batch.length > 0) sock.write(Buffer.concat(batch));
      if (sent === count && waiting.length === 0) sock.end();
    };
    sock.setEncoding("utf8");
    const read = lineReader((text) => {
      const r = waiting.shift();
      if (r === undefined) return violation(`an answer nobody asked for: ${text.slice(0, 100)}`);
      summary.answered++;
      judge(text, r.check, r.line);
    });
    // Refill the window once per chunk of answers, in one write.
    sock.on("data", (chunk) => {
      read(chunk);
      pump();
    });
    sock.on("connect", pump);
    sock.on("error", (err) => violation(`long connection error ${err.code}`));
    sock.on("close", () => {
      if (waiting.length > 0 || sent < count)
        violation(`a long connection closed with ${waiting.length} unanswered, ${count - sent} unsent`);
      resolve();
    });
  });
}

/** A short connection: one to three lines (the last maybe without newline), or an oversize one; then a half-close. */
function shortConnection() {
  return new Promise((resolve) => {
    summary.shortConnections++;
    const sock = net.createConnection(cfg.socket);
    const oversize = summary.oversizeSent < cfg.oversize && chance(0.01);
    const reqs = [];
    let payload;
    if (oversize) {
      summary.oversizeSent++;
      payload = Buffer.alloc(600 * 1024 + int(1024 * 1024), pick(["a", "{", "["]));
      if (chance(0.5)) payload = Buffer.concat([payload, Buffer.from("\n")]);
    } else {
      const n = 1 + int(3);
      const parts = [];
      for (let i = 0; i < n; i++) {
        const r = generate();
        reqs.push(r);
        parts.push(r.line);
        if (i < n - 1 || chance(0.8)) parts.push(Buffer.from("\n"));
        else if (r.line.length === 0) reqs.pop(); // no bytes, no newline: no request
      }
      payload = Buffer.concat(parts);
      summary.sent += reqs.length;
      summary.shortSent = (summary.shortSent ?? 0) + reqs.length;
    }
    let answers = 0;
    sock.setEncoding("utf8");
    sock.on(
      "data",
      lineReader((text) => {
        answers++;
        if (oversize) {
          if (!text.includes('"code":"usage"')) violation(`oversize answered with ${text.slice(0, 100)}`);
          return;
        }
        const r = reqs[answers - 1];
        if (r === undefined) return violation(`an extra answer on a short connection: ${text.slice(0, 100)}`);
        summary.answered++;
        judge(text, r.check, r.line);
      }),
    );
    sock.on("connect", () => sock.end(payload));
    sock.on("error", (err) => {
      if (!oversize) violation(`short connection error ${err.code}`);
    });
    sock.on("close", () => {
      if (oversize) summary.oversizeAnsweredOrDropped++;
      else if (answers !== reqs.length)
        violation(`a short connection closed after ${answers} of ${reqs.length} answers`);
      resolve(reqs.length);
    });
  });
}

// Progress on standard error, so a stall shows where it is.
const progress = setInterval(() => {
  process.stderr.write(
    `fuzz: ${Math.round((Date.now() - started) / 1000)} s: sent ${summary.sent}, answered ${summary.answered}, short ${summary.shortConnections}\n`,
  );
}, 5_000);
const longTotal = Math.floor(cfg.total * cfg.longShare);
const perLong = Math.floor(longTotal / cfg.longConnections);
const longs = Array.from({ length: cfg.longConnections }, () => longConnection(perLong));
const shortTarget = cfg.total - perLong * cfg.longConnections;
let shortSent = 0;
const shortWorker = async () => {
  while (shortSent < shortTarget) {
    const n = await shortConnection();
    shortSent += n;
  }
};
await Promise.all([...longs, ...Array.from({ length: cfg.shortParallel }, shortWorker)]);
clearInterval(progress);
summary.cpuMs = Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000);
summary.elapsedMs = Date.now() - started;
process.stdout.write(`${JSON.stringify(summary)}\n`);
