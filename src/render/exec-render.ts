// `exec --render TEMPLATE:VAR`: templates rendered into the job's memory folder beside its --file secrets.
// Rules: every template is read and parsed before any secret is asked for; a rendered file's name holds a '-', so it
// never meets a --file secret's (names have none); the job gets its path in VAR and nothing else of the template.

import path from "node:path";
import { UsageError } from "../errors.js";
import { isValidName } from "../store/names.js";
import { readTemplate } from "./output.js";
import { parseTemplate, renderTemplate, type Template } from "./template.js";

/** One --render: the template, the variable that gets the rendered file's path, and the file's name in the folder. */
export interface Render {
  variable: string;
  file: string;
  template: Template;
}

/**
 * Reads and parses each `TEMPLATE:VAR` spec. Returns them with every secret name they use, each once. Throws
 * UsageError (2) for a bad spec, an unreadable template or a malformed reference.
 */
export async function loadRenders(specs: readonly string[]): Promise<{ renders: Render[]; names: string[] }> {
  const renders: Render[] = [];
  const names = new Set<string>();
  for (const spec of specs) {
    const at = spec.lastIndexOf(":");
    const source = spec.slice(0, at);
    const variable = spec.slice(at + 1);
    if (at <= 0 || !isValidName(variable)) {
      throw new UsageError(`--render needs TEMPLATE:VAR, got ${JSON.stringify(spec.slice(0, 80))}`, {
        hint: "e.g. --render /etc/report/config.ini.tmpl:REPORT_CONFIG",
      });
    }
    if (renders.some((r) => r.variable === variable)) throw new UsageError(`--render gives ${variable} twice`);
    const template = parseTemplate(readTemplate(source), source);
    template.names.forEach((n) => names.add(n));
    renders.push({
      variable,
      file: `${variable}-${path.basename(source).replace(/\.(tmpl|template|in)$/, "")}`,
      template,
    });
  }
  return { renders, names: [...names] };
}

/** Throws UsageError (2) when a render's variable is one the job already gets from `variables` (--only, --map, …). */
export function checkRenderVariables(
  renders: readonly Render[],
  variables: readonly { variable: string; from: string }[],
): void {
  for (const r of renders) {
    const other = variables.find((b) => b.variable === r.variable);
    if (other !== undefined) throw new UsageError(`${r.variable} is given twice: by ${other.from} and by --render`);
  }
}

/** Returns the rendered text of each render by its file name, from `values` (which must hold every name). */
export function renderedFiles(renders: readonly Render[], values: Map<string, string>): Map<string, string> {
  return new Map(renders.map((r) => [r.file, renderTemplate(r.template, values)]));
}

/** Returns each render's variable with the path its file got (`paths`: file name → path). */
export function renderVariables(renders: readonly Render[], paths: Map<string, string>): Map<string, string> {
  return new Map(renders.map((r) => [r.variable, paths.get(r.file)!]));
}
