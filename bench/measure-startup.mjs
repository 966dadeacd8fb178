// Measurement 1, start-up: `secretfile exec -- true` and `get` against `node -e 0` and the peers, in interleaved groups.
// Rules: each group has its own `node -e 0`, run as the same user, so every ratio is paired round by round; a
// missing peer is reported as missing.

import { interleave, ratioOf } from "./rounds.mjs";

/** The commands every measurement builds on. */
export function commands(ctx) {
  const { cli, base, env } = ctx;
  const cmd = (label, argv, extra = {}) => ({ label, argv, env, cwd: base, ...extra });
  return {
    cmd,
    node: (as) => cmd("node -e 0", [process.execPath, "-e", "0"], { as }),
    sf: (label, args, extra) => cmd(label, [cli.bin, ...args], extra),
  };
}

/** The groups: personal 10 and 10,000 secrets with their peers, and the agent with 10 and 10,000 secrets. */
function groups(ctx) {
  const { cmd, node, sf } = commands(ctx);
  const { stores, agents, tools, dotenvx, pass, caller } = ctx;
  const missing = {};
  const peer = (label, available, make, why) => {
    if (available) return [make()];
    missing[label] = why;
    return [];
  };
  const ageD = (store) =>
    cmd(`age -d (${store.names.length.toLocaleString("en-US")} secrets)`, [
      tools.age,
      "-d",
      "-i",
      store.identity,
      store.store,
    ]);
  return {
    missing,
    list: [
      {
        name: "personal, 10 secrets",
        baseline: "node -e 0",
        cmds: [
          node(),
          sf("secretfile exec -- true (personal, 10)", ["exec", "--dir", stores.s10.dir, "--", "true"]),
          ...peer(
            "dotenvx run -- true (.env of 10)",
            dotenvx?.bin,
            () => cmd("dotenvx run -- true (.env of 10)", [dotenvx.bin, "run", "--", "true"], { cwd: ctx.dotenvDir }),
            "the dev dependency @dotenvx/dotenvx is not installed (npm install)",
          ),
          ...peer(
            "age -d (10 secrets)",
            tools.age,
            () => ageD(stores.s10),
            "age is not installed (apt-get install age)",
          ),
          ...peer(
            "pass show NAME",
            pass?.env,
            () => cmd("pass show NAME", [tools.pass, "show", pass.name], { env: pass.env }),
            pass?.missing ?? "pass is not set up",
          ),
        ],
        versus: [
          ["secretfile exec -- true (personal, 10)", "dotenvx run -- true (.env of 10)"],
          ["secretfile exec -- true (personal, 10)", "age -d (10 secrets)"],
          ["secretfile exec -- true (personal, 10)", "pass show NAME"],
        ],
      },
      {
        name: "personal, 10,000 secrets",
        baseline: "node -e 0",
        cmds: [
          node(),
          sf("secretfile exec -- true (personal, 10,000)", ["exec", "--dir", stores.s10k.dir, "--", "true"]),
          ...peer(
            "age -d (10,000 secrets)",
            tools.age,
            () => ageD(stores.s10k),
            "age is not installed (apt-get install age)",
          ),
        ],
        versus: [["secretfile exec -- true (personal, 10,000)", "age -d (10,000 secrets)"]],
      },
      ...[
        ["10", agents.a10],
        ["10,000", agents.a10k],
      ].map(([size, agent]) => ({
        name: `agent, ${size} secrets (client as ${caller.name})`,
        baseline: "node -e 0",
        cmds: [
          node(caller.as),
          sf(`secretfile get NAME (agent, ${size})`, ["get", "--socket", agent.socket, agent.names[0]], {
            as: caller.as,
          }),
          sf(`secretfile exec -- true (agent, ${size})`, ["exec", "--socket", agent.socket, "--", "true"], {
            as: caller.as,
          }),
          // What a clone's launcher (or npm's) pays on top: its `#!/usr/bin/env -S node --` (bench/prepare.mjs).
          ...(size === "10"
            ? [
                cmd(
                  `secretfile get NAME (agent, ${size}), through #!/usr/bin/env`,
                  [ctx.cli.envBin, "get", "--socket", agent.socket, agent.names[0]],
                  { as: caller.as },
                ),
              ]
            : []),
        ],
        versus: [],
      })),
    ],
  };
}

/** Runs the start-up groups; returns { groups: [{ name, commands, ratios }], missing }. */
export function measureStartup(ctx) {
  const { list, missing } = groups(ctx);
  const out = [];
  for (const g of list) {
    ctx.log(
      `start-up: ${g.name} (${g.cmds.length} commands, ${ctx.plan.startup.warmup} warm-up + ${ctx.plan.startup.runs} rounds)`,
    );
    const result = interleave(g.cmds, { ...ctx.plan.startup, progress: ctx.tick });
    const ratios = {};
    for (const c of g.cmds)
      if (c.label !== g.baseline) ratios[`${c.label} / ${g.baseline}`] = ratioOf(result, c.label, g.baseline);
    for (const [a, b] of g.versus)
      if (result.commands[a] && result.commands[b]) ratios[`${a} / ${b}`] = ratioOf(result, a, b);
    out.push({ name: g.name, baseline: g.baseline, commands: result.commands, ratios });
  }
  return { groups: out, missing };
}
