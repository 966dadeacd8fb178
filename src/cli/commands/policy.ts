// `secretfile policy check [FILE]`: validate a policy file, like `visudo -c`.

import type { Command } from "commander";
import { resolvePaths } from "../../system/paths.js";
import { loadPolicyFile } from "../../policy/load.js";
import { formatDuration, formatSubject } from "../../policy/parse.js";
import { unknownSubjects } from "../../policy/subjects.js";
import { warn } from "../report.js";

/** Registers `policy check`. */
export function register(program: Command): void {
  const policy = program.command("policy").description("work with the agent's policy file");
  policy
    .command("check")
    .description(
      "validate a policy file (default: the agent's), as the agent would load it; warn of users and groups this host does not have",
    )
    .argument("[FILE]", "the policy file (env SECRETFILE_POLICY, default /etc/secretfile/policy)")
    .action(async (file: string | undefined) => {
      const path = file ?? resolvePaths({}).policy;
      const loaded = await loadPolicyFile(path);
      const lines = [
        ...loaded.rules.map((r) => ({
          line: r.line,
          text: `${r.verb} ${formatSubject(r.who)} ${r.patterns.join(" ")}`,
        })),
        ...(loaded.approvals ?? []).map((r) => ({
          line: r.line,
          text: `approve ${r.count} expires=${formatDuration(r.expiresMs)} ${r.who.map(formatSubject).join(" ")} ${r.patterns.join(" ")}`,
        })),
      ].sort((a, b) => a.line - b.line);
      for (const { line, text } of lines) process.stdout.write(`${String(line).padStart(4)}: ${text}\n`);
      // A name with no account grants nothing: said, but not an error (the account may come later).
      for (const w of unknownSubjects(loaded)) warn(`${path}:${w.line}: ${w.message}`);
      const n = lines.length;
      process.stdout.write(`${path}: ok (${n} rule${n === 1 ? "" : "s"})\n`);
    });
}
