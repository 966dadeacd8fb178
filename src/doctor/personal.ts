// Doctor in personal mode: the store folder, identity and store, whether they decrypt, and the secrets' dates.
// Rules: the files must be yours and private (what secretfile itself refuses is a failure); the store is only opened
// once its files pass, so one problem is reported once.

import { describeFacts } from "../store/generation.js";
import { SecretfileError } from "../errors.js";
import { listSecrets } from "../store/document.js";
import { IDENTITY_MODE } from "../store/identity.js";
import { Store, storePaths } from "../store/store.js";
import { fail, info, ok, shellQuote, type Finding } from "./finding.js";
import { inspectPath } from "./paths.js";
import { describeNames, expiryFindings } from "./secrets.js";

/** How the personal store was chosen, for the fixes. */
export interface PersonalOptions {
  /** True when --dir chose the folder: then every fix repeats it. */
  dirFlag: boolean;
  now: Date;
}

/** Returns the findings for the personal store in `dir`. Never throws for a problem it knows. */
export async function checkPersonal(dir: string, opts: PersonalOptions): Promise<Finding[]> {
  const me = process.getuid?.() ?? 0;
  const files = storePaths(dir);
  const dirFlag = opts.dirFlag ? `--dir ${shellQuote(dir)}` : "";
  const init = `secretfile init${dirFlag === "" ? "" : ` ${dirFlag}`}`;
  const findings: Finding[] = [];

  const folder = await inspectPath(dir, {
    what: "the store folder",
    kind: "folder",
    owner: me,
    forbidden: 0o022,
    mode: 0o700,
  });
  if (folder === null) return [fail(`no personal store in ${dir}`, init)];
  findings.push(...folder);
  const identity = await inspectPath(files.identity, {
    what: "the identity",
    kind: "file",
    owner: me,
    forbidden: 0o077,
    mode: IDENTITY_MODE.personal,
  });
  const store = await inspectPath(files.store, {
    what: "the store",
    kind: "file",
    owner: me,
    forbidden: 0o077,
    mode: 0o600,
  });
  if (identity === null && store === null) {
    findings.push(fail(`no identity or store in ${dir}`, init));
  } else if (identity === null) {
    findings.push(
      fail(
        `the store ${files.store} exists but its identity ${files.identity} does not: without it the store cannot be decrypted`,
        `restore identity.txt from a backup into ${dir}`,
      ),
    );
  } else if (store === null) {
    findings.push(...identity);
    const aside = shellQuote(`${files.identity}.old`);
    findings.push(
      fail(
        `no store at ${files.store} (its identity exists): restore store.age from a backup, or start over with no secrets`,
        `mv -T ${shellQuote(files.identity)} ${aside} && ${init}`,
      ),
    );
  } else {
    findings.push(...identity, ...store);
  }
  if (findings.some((f) => f.status === "fail")) return findings;

  try {
    const store = await Store.open(files);
    const secrets = listSecrets(await store.read());
    findings.push(ok(`the store decrypts with its identity: ${describeNames(secrets)}`));
    findings.push(ok(`the store is ${describeFacts(store.facts!)}, not older than the one served here`));
    findings.push(...expiryFindings(secrets, opts.now, dirFlag));
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    findings.push(fail(err.message, err.hint));
  }
  findings.push(
    info(
      "personal mode keeps no audit log: `secretfile ls` shows LAST READ as - and `secretfile audit` has nothing to read",
    ),
  );
  return findings;
}
