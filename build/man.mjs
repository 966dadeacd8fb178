// Turns the man pages' one source, docs/man/NAME.SECTION.md, into troff (man(7) macros) for the package, and reads the
// commands and options it documents, for the test that holds them against `secretfile COMMAND --help`.
// Rules: the Markdown is a small, fixed subset (below); anything else is an error, so a page never renders wrong.
//   # NAME(SECTION) -- summary        the title line, first
//   ## HEADING                        a section (.SH)
//   ### words                         a subsection (.SS); under COMMANDS, the command it documents (`### policy check`)
//   - `TERM`: text                    a tagged paragraph (.TP), `TERM` in bold (or `A`, `B`); an option's starts with --
//   ```  …  ```                       a literal block (.nf)
//   a line of text                    paragraph text; a blank line ends the paragraph
//   `code` and *emphasis* inline      bold and italic

/** Returns the troff text of the man page written in `md`, dated `date` for `version`. Throws on text outside the subset. */
export function manPage(md, { version, date }) {
  const lines = md.replace(/\r/g, "").split("\n");
  const title = /^# ([a-z-]+)\((\d)\) -- (.+)$/.exec(lines[0] ?? "");
  if (!title) throw new Error("man: the first line must be `# name(N) -- summary`");
  const [, name, section, summary] = title;
  const out = [
    `.\\" Generated from docs/man/${name}.${section}.md by build/man.mjs: edit that file, not this one.`,
    `.TH ${name.toUpperCase()} ${section} ${date} "secretfile ${version}" "secretfile manual"`,
    ".SH NAME",
    `${escape(name)} \\- ${inline(summary)}`,
  ];
  let inBlock = false;
  let para = false;
  lines.slice(1).forEach((line, i) => {
    if (line.startsWith("```")) {
      inBlock = !inBlock;
      out.push(inBlock ? ".PP\n.RS 4\n.nf" : ".fi\n.RE");
      para = false;
      return;
    }
    if (inBlock) return out.push(escapeLine(escape(line)));
    if (line.trim() === "") return (para = false);
    let m;
    if ((m = /^## (.+)$/.exec(line))) out.push(`.SH ${m[1].toUpperCase()}`);
    else if ((m = /^### (.+)$/.exec(line))) out.push(`.SS "${inline(m[1]).replaceAll('"', "\\(dq")}"`);
    else if ((m = /^- ((?:`[^`]+`(?:, )?)+): (.+)$/.exec(line)))
      out.push(".TP", escapeLine(inline(m[1])), escapeLine(inline(m[2])));
    else if (/^[#\-*>|]/.test(line) && !/^\*[^*]/.test(line))
      throw new Error(`man: ${name}.${section}.md line ${i + 2} is outside the subset build/man.mjs reads: ${line}`);
    else {
      if (!para) out.push(".PP");
      out.push(escapeLine(inline(line.trim())));
      para = true;
      return;
    }
    para = false;
  });
  if (inBlock) throw new Error(`man: ${name}.${section}.md has an unclosed \`\`\` block`);
  return `${out.join("\n")}\n`;
}

/**
 * Returns the commands the page in `md` documents under COMMANDS, as { "policy check": ["--json", …] }: each
 * `### words` heading's command (its words up to the first argument or option) and the long options of its items and
 * of its "Also takes …" line.
 */
export function documentedCommands(md) {
  const found = {};
  let inCommands = false;
  let current;
  for (const line of md.split("\n")) {
    if (line.startsWith("## ")) inCommands = line === "## COMMANDS";
    else if (inCommands && line.startsWith("### ")) {
      const words = line
        .slice(4)
        .replaceAll("`", "")
        .split(" ")
        .filter((w) => w !== "secretfile");
      const end = words.findIndex((w) => !/^[a-z][a-z-]*$/.test(w));
      current = (end === -1 ? words : words.slice(0, end)).join(" ");
      found[current] = [];
    } else if (inCommands && current !== undefined) {
      const m = /^- `(?:-\w, )?(--[a-z][a-z-]*)/.exec(line);
      if (m) found[current].push(m[1]);
      // "Also takes `--dir` and `--socket` (…)": the store options, documented once under STORE SELECTION.
      else if (line.startsWith("Also takes ")) found[current].push(...(line.match(/--[a-z][a-z-]*/g) ?? []));
    }
  }
  return found;
}

// troff escapes: backslash first, then the hyphen of options, so `--dir` stays searchable and copyable.
function escape(text) {
  return text.replaceAll("\\", "\\e").replaceAll("-", "\\-");
}

// A line must not start with a control character (. or ').
function escapeLine(line) {
  return /^[.']/.test(line) ? `\\&${line}` : line;
}

function inline(text) {
  return text
    .split(/(`[^`]+`)/)
    .map((part) =>
      part.startsWith("`") && part.endsWith("`") && part.length > 1
        ? `\\fB${escape(part.slice(1, -1))}\\fR`
        : escape(part).replace(/\*([^*]+)\*/g, "\\fI$1\\fR"),
    )
    .join("");
}
