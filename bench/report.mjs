// Turning a run's results into tables: the terminal summary and docs/benchmarks.md.
// Rules: every figure printed comes from results.json of the same run; a missing peer or a failed measurement is
// printed as such, never left out.

import { readFileSync } from "node:fs";
import { summarize } from "./stats.mjs";
import { kibToMB } from "./targets.mjs";

/** Pads a table (first row the header) into aligned Markdown. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(3, ...rows.map((r) => String(r[i] ?? "").length)));
  const line = (r) => `| ${r.map((c, i) => String(c ?? "").padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.slice(1).map(line)].join("\n");
}

const ms = (v) =>
  !Number.isFinite(v)
    ? "–"
    : v >= 10_000
      ? `${(v / 1000).toFixed(1)} s`
      : v >= 1000
        ? `${(v / 1000).toFixed(2)} s`
        : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
const x = (r) =>
  !r || r.error || !Number.isFinite(r.median)
    ? "–"
    : `${r.median.toFixed(2)}× (${r.p25.toFixed(2)}–${r.p75.toFixed(2)})`;
const mb = (kib) => (Number.isFinite(kib) ? `${kibToMB(kib).toFixed(1)} MB` : "–");
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");

/** The target table rows. */
function targetRows(results) {
  return [
    ["target", "goal", "measured", "status"],
    ...results.targets.map((t) => [t.target, t.goal, t.measured, t.status.toUpperCase()]),
  ];
}

/** The start-up table of one group. */
function startupRows(g, missing) {
  const rows = [["command", "median", "p25–p75", `÷ ${g.baseline} (paired: median, p25–p75)`]];
  for (const [label, c] of Object.entries(g.commands)) {
    if (c.error) rows.push([label, "error", c.error.slice(0, 100), ""]);
    else
      rows.push([
        label,
        ms(c.summary.median),
        `${ms(c.summary.p25)}–${ms(c.summary.p75)}`,
        label === g.baseline ? "1" : x(g.ratios[`${label} / ${g.baseline}`]),
      ]);
  }
  for (const [label, why] of Object.entries(missing))
    if (g.name.startsWith("personal, 10 secrets") && !label.includes("10,000")) rows.push([label, "missing", why, ""]);
  for (const [key, r] of Object.entries(g.ratios)) if (!key.endsWith(`/ ${g.baseline}`)) rows.push([key, "", "", x(r)]);
  return rows;
}

function loadRows(load) {
  const rows = [
    [
      "server",
      "connections",
      "requests/s (median of windows)",
      "min–max",
      "÷ reference (paired windows)",
      "p50",
      "p90",
      "p99",
      "max",
      "failed",
    ],
  ];
  for (const [c, byLabel] of Object.entries(load.byConcurrency)) {
    const ref = byLabel.reference;
    for (const [label, r] of Object.entries(byLabel)) {
      const n = ref ? Math.min(ref.windows.length, r.windows.length) : 0;
      const vsRef =
        label === "reference" || n === 0
          ? ""
          : x(summarize(r.windows.slice(0, n).map((w, i) => w.rps / ref.windows[i].rps)));
      rows.push([
        label,
        c,
        int(r.rps.median),
        `${int(r.rps.min)}–${int(r.rps.max)}`,
        vsRef,
        ms(r.latencyMs.p50),
        ms(r.latencyMs.p90),
        ms(r.latencyMs.p99),
        ms(r.latencyMs.max),
        r.failed ? `${r.failed} ${JSON.stringify(r.errors)}` : "0",
      ]);
    }
  }
  return rows;
}

/** The terminal summary: the report's sections, without its explanations. */
export function summaryText(results) {
  const text = markdown(results);
  return text
    .slice(0, text.indexOf("## How the bench works"))
    .split("\n")
    .filter(
      (l) =>
        l === "" ||
        l.startsWith("|") ||
        l.startsWith("#") ||
        l.startsWith("- ") ||
        /^(No update lost|Failures seen|Failed writers)/.test(l),
    )
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}

/** The contents of docs/benchmarks.md. */
export function markdown(results) {
  const m = results.meta;
  const out = [];
  // Each argument is a block (a heading, a paragraph, a table, a list): blocks are separated by a blank line.
  const p = (...blocks) => out.push(blocks.filter((b) => b !== "").join("\n\n"), "");
  p(
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run.mjs), which also writes the raw figures to `bench/results.json`. Do not edit by hand: run it again. `npm run bench -- --quick` makes fewer runs, for trying the bench itself, not for reporting.",
  );
  p(
    "## This run",
    "",
    table([
      ["", "value"],
      ["date", m.date],
      ["mode", `${m.quick ? "quick" : "full"}; the whole run took ${m.durationS.toFixed(0)} s`],
      ["machine", `${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memGiB} GiB, Linux ${m.machine.kernel}`],
      [
        "load average (1 min) at start and end",
        `${m.machine.loadStart} and ${m.machine.loadEnd} (the machine is shared; every ratio below is paired to absorb that)`,
      ],
      ["Node.js", m.node],
      [
        "secretfile",
        `${m.secretfile.version}, commit ${m.secretfile.commit}${m.secretfile.dirty ? ` with uncommitted changes in src/ (${m.secretfile.dirty} files)` : ""}`,
      ],
      ["clients of the agent run as", m.caller],
      [
        "peers",
        Object.entries(m.peers)
          .filter(([k]) => k !== "node")
          .map(([k, v]) => `${k}: ${v ?? "missing"}`)
          .join("; "),
      ],
      [
        "runs",
        `start-up ${m.plan.startup.warmup} warm-up + ${m.plan.startup.runs} rounds; load ${m.plan.load.windows} windows of ${m.plan.load.windowMs} ms per server and concurrency after ${m.plan.load.warmupMs} ms warm-up; burst 20 + 20 warm-up, then ${m.plan.burst.runs} pairs; add ${m.plan.writes.warmup} warm-up + ${m.plan.writes.runs} rounds; 50 writers once into each of ${m.plan.writers.stores.map((k) => ({ s10: "10", s100: "100", s10k: "10,000" })[k]).join(" and ")} secrets; masking ${m.plan.masking.warmup} warm-up + ${m.plan.masking.runs} rounds; memory ${m.plan.memory.runs} runs per command`,
      ],
    ]),
  );
  p("## Targets", "", table(targetRows(results)));
  // What limits each missed target: written by hand in bench/limits.md (analysis, not a measurement), kept across runs.
  const limits = readHandWritten("limits.md");
  if (limits !== "") p(limits);
  // The Debian package's start-up, measured by hand (issue 14): bench/package.md, kept across runs.
  const packaged = readHandWritten("package.md");
  if (packaged !== "") p(packaged);
  if (results.errors.length)
    p("## Measurements that failed", "", ...results.errors.map((e) => `- ${e.section}: ${e.message}`));
  const missing = Object.entries(results.startup?.missing ?? {});
  if (missing.length) p("## Missing peers", missing.map(([k, v]) => `- ${k}: missing (${v})`).join("\n"));

  if (results.startup?.groups)
    p(
      "## 1. Start-up",
      "",
      "Wall time from spawn to exit. Each round runs every command of a group once, in a new random order; the ratio is taken round by round against the group's own `node -e 0` (run as the same user), then summarized.",
    );
  for (const g of results.startup?.groups ?? []) p(`### ${g.name}`, "", table(startupRows(g, results.startup.missing)));

  if (results.load?.byConcurrency) {
    p(
      "## 2. The agent under load",
      "",
      "One load-generator process (bench/load.mjs), run as the clients' user, keeps N connections busy; each request is a new connection: connect, send one `get` line, read the answer, close. The windows of the servers alternate; ÷ reference is the median, over the rounds, of the agent's requests/s divided by the reference's in the same round. `reference` is bench/null-server.mjs: the same framing with a fixed answer and nothing else (no peer credentials, policy, store or audit log), the ceiling for this machine and load generator.",
      table(loadRows(results.load)),
    );
  }
  if (results.burst && !results.burst.error) {
    const b = results.burst;
    const rows = [["burst of 200, started at once", "median", "p25–p75", "failed jobs (all runs)"]];
    for (const [label, c] of Object.entries(b.commands))
      rows.push([label, ms(c.summary.median), `${ms(c.summary.p25)}–${ms(c.summary.p75)}`, String(c.failed)]);
    rows.push([`${b.subject} ÷ ${b.baseline} (paired)`, "", "", x(b.ratio)]);
    const failures = Object.values(b.commands).flatMap((c) => c.failures);
    p(
      "## 3. The burst",
      "",
      "Wall time from the first spawn to the last exit; the two bursts alternate which goes first.",
      table(rows),
      failures.length
        ? `Failures seen:\n\n${failures.map((f) => `- exit ${f.code ?? f.signal}: ${f.stderr}`).join("\n")}`
        : "",
    );
  }
  if (results.writes && !results.writes.error) {
    const w = results.writes;
    const rows = [["command", "median", "p25–p75", "÷ node -e 0 (paired)"]];
    for (const [label, c] of Object.entries(w.adds.commands))
      rows.push(
        c.error
          ? [label, "error", c.error.slice(0, 100), ""]
          : [
              label,
              ms(c.summary.median),
              `${ms(c.summary.p25)}–${ms(c.summary.p75)}`,
              label === "node -e 0" ? "1" : x(w.adds.ratios[`${label} / node -e 0`]),
            ],
      );
    const c = w.concurrent;
    const runs = [
      [
        "50 writers at once",
        "wall time",
        "per add",
        "failed writers",
        "names missing after",
        "secrets after (expected)",
      ],
    ];
    for (const r of c.runs)
      runs.push([
        `into ${int(r.secretsBefore)} secrets`,
        ms(r.ms),
        ms(r.msPerAdd),
        String(r.failed),
        String(r.missing),
        `${int(r.secretsAfter)} (${int(r.expectedAfter)})`,
      ]);
    const failures = c.runs.flatMap((r) =>
      r.failures.map(
        (f) => `- into ${int(r.secretsBefore)} secrets, writer ${f.writer}: exit ${f.code ?? f.signal}: ${f.stderr}`,
      ),
    );
    p(
      "## 4. Writes",
      "",
      "Each `add` stores a new name. The 50 writers each add a distinct name to a fresh copy of a store, all started at once; the result is decrypted (independently of the CLI) and every name and value checked.",
      table(rows),
      table(runs),
      `No update lost (every writer that succeeded is in the store): ${c.noneLost ? "yes" : "NO"}; every writer succeeded: ${c.allSucceeded ? "yes" : "NO"}.`,
      failures.length ? `Failed writers (first 5 per store):\n\n${failures.join("\n")}` : "",
    );
  }
  if (results.masking && !results.masking.error) {
    const k = results.masking;
    const rows = [["command", "median time", "MB/s (median, whole command)", "MB/s without start-up"]];
    for (const [label, c] of Object.entries(k.commands)) {
      const t = k.throughputMBps[label];
      const n = k.netMBps[label];
      rows.push(
        c.error
          ? [label, "error", c.error.slice(0, 100), ""]
          : [label, ms(c.summary.median), t ? t.median.toFixed(0) : "", n ? n.median.toFixed(0) : ""],
      );
    }
    p(
      "## 5. Masking",
      "",
      `The job \`${k.job}\` writes 100 MB (10^8 bytes) of log-like lines; the CLI's standard output is /dev/null; the store holds 10 secrets (10,000 in the rows that say so). "Without start-up" subtracts the same round's \`exec -- true\`.`,
      table(rows),
    );
  }
  const mem = [["agent", "idle RSS", "peak RSS under load (sampled)", "RSS at the end", "VmHWM (peak over its life)"]];
  const agentLabels = Object.keys(results.memory?.agents ?? results.load?.memory ?? {});
  for (const label of agentLabels) {
    const end = results.memory?.agents?.[label]?.end;
    const load = results.load?.memory?.[label];
    const idle = results.memory?.agents?.[label]?.idle?.rss ?? load?.idleRssKiB;
    mem.push([
      label,
      mb(idle),
      mb(load?.peakRssUnderLoadKiB),
      mb(end?.rss ?? load?.rssAfterKiB),
      mb(Math.max(end?.hwm ?? 0, load?.hwmKiB ?? 0) || NaN),
    ]);
  }
  const cli = [["command", "peak RSS (median)", "peak RSS (max)"]];
  for (const [label, c] of Object.entries(results.memory?.cli?.commands ?? {}))
    cli.push(c.error ? [label, "error", c.error.slice(0, 100)] : [label, mb(c.summary.median), mb(c.summary.max)]);
  if (agentLabels.length || results.memory?.cli)
    p(
      "## 6. Memory",
      "",
      `The agent's VmRSS and VmHWM from /proc/PID/status (idle: after start-up, before any request; under load: sampled every 100 ms during the load test; VmHWM: the peak over its whole life, start-up and burst included). The CLI's peak RSS: ${results.memory?.cli?.tool ?? "not measured"}. MB here is 10^6 bytes.`,
      agentLabels.length ? table(mem) : "",
      results.memory?.cli ? table(cli) : "",
    );
  p(
    "## How the bench works",
    [
      "- `npm run bench` (full) or `npm run bench -- --quick`. Root is needed for the agent's files (a root-owned policy) and to run clients as `nobody`; `--keep` keeps the temporary folder, `--only startup,load,burst,writes,masking,memory` runs some sections and writes no files, `--no-install` does not apt-get missing peers; `node bench/run.mjs --render` writes this file again from bench/results.json without measuring. The full run is dominated by the burst (10 pairs of 200 processes); on a busy shared machine it takes far longer than on a quiet one. CI does not run it and no test asserts a time.",
      "- It runs `npm run build`, copies dist/ and bin/ to a temporary folder (so a rebuild of dist/ by someone else cannot disturb it), makes personal stores of 10, 100 and 10,000 secrets (43-character random values, the store document written directly and checked with `secretfile ls --json`), a `.env` of the same 10 secrets for dotenvx, a `pass` store with a gpg key without passphrase in a temporary GNUPGHOME, and starts three agents as the systemd unit starts them (`node` with the V8 flags of src/setup/agent-node-flags.json, then the launcher; 10, 100 and 10,000 secrets; root, each with its own socket, root-owned 0644 policy `read user:nobody *`, 0700 state folder and audit log; the per-uid request rate lifted with `SECRETFILE_AGENT_LIMITS=ratePerUid=1000000,burstPerUid=1000000`, since every client of the bench is one uid and the default 2,000 a second would answer the load test `busy`) and the reference server.",
      "- Every command (the CLI, its peers, `node -e 0`, the agents, the reference server and the load generator) runs in a clean environment, as cron gives a job: only `PATH` (this node's folder, /usr/local/bin, /usr/bin, /bin), `HOME` and `LANG` (bench/procs.mjs `baseEnv`), never the environment the bench was started from. A variable such as `NODE_EXTRA_CA_CERTS` set machine-wide (it is on this machine) makes every Node start, `node -e 0` included, about 55 ms slower, which would hide what secretfile itself costs; `secretfile doctor` warns of it.",
      '- Times are wall times of the whole process, spawned without a shell; `secretfile` is run as the Debian package installs it (`usr/bin/secretfile` in the copy, a symlink to the launcher, whose `#!` names its Node: bench/prepare.mjs, build/launcher.mjs), and once more, in the row "through #!/usr/bin/env", through the launcher of a clone or an npm install (`#!/usr/bin/env -S node --`); `dotenvx` through its `#!/usr/bin/env node` launcher, as a user runs it. Each command\'s result is checked (exit 0) on every run; a command that fails is reported, never timed.',
      "- Ratios are the median of per-round ratios: within a round every command of its group runs once, in a new random order, so a noisy moment on the shared machine affects a command and its baseline alike. p25–p75 of those ratios show how steady they were.",
      "- Peers: `node -e 0` (the floor for any Node CLI), `dotenvx run -- true` (the npm dev dependency @dotenvx/dotenvx, plain .env), `age -d` of the same store file (Debian's age), `pass show NAME` (Debian's pass and gnupg). A peer that cannot be found or set up is listed as missing.",
      "- Files: bench/run.mjs (the run), prepare.mjs (build, copies, stores, peers), agents.mjs, rounds.mjs (interleaving), measure-*.mjs (one per measurement), load.mjs (the load generator), null-server.mjs (the reference server), targets.mjs, report.mjs.",
    ].join("\n"),
  );
  return out.join("\n");
}

/** bench/limits.md, the hand-written account of what limits the missed targets; empty when there is none. */
function readHandWritten(file) {
  try {
    return readFileSync(new URL(`./${file}`, import.meta.url), "utf8").trim();
  } catch {
    return "";
  }
}
