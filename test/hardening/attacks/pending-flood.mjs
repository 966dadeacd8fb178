// A writer flooding the agent with changes held for approval, run under the writer's uid: COUNT `add` requests of
// VALUE_BYTES each (names PREFIX_0, PREFIX_1, …), PARALLEL connections at a time, one request each; prints a JSON
// summary: how many answers of each code, and the first message and hint of each.
// usage: node pending-flood.mjs CONFIG_JSON   CONFIG: {socket, count, parallel, valueBytes, prefix}
import net from "node:net";

const cfg = JSON.parse(process.argv[2]);
const value = "v".repeat(cfg.valueBytes);
const out = { codes: {}, first: {} };
let next = 0;

const one = (i) =>
  new Promise((resolve) => {
    const c = net.createConnection(cfg.socket);
    let got = "";
    c.setEncoding("utf8");
    c.on("connect", () => c.write(`${JSON.stringify({ v: 1, op: "add", name: `${cfg.prefix}_${i}`, value })}\n`));
    c.on("data", (d) => {
      got += d;
      if (got.includes("\n")) c.destroy();
    });
    c.on("error", () => undefined);
    c.on("close", () => {
      let code = "dropped";
      try {
        const a = JSON.parse(got);
        code = a.ok ? "ok" : a.error.code;
        out.first[code] ??= a.ok ? "" : { message: a.error.message, hint: a.error.hint };
      } catch {
        // counted as dropped
      }
      out.codes[code] = (out.codes[code] ?? 0) + 1;
      resolve();
    });
  });

const worker = async () => {
  while (next < cfg.count) await one(next++);
};
await Promise.all(Array.from({ length: cfg.parallel }, worker));
process.stdout.write(JSON.stringify(out));
