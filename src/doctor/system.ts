// Doctor in system mode: the socket and the agent behind it, what the policy lets you read, the policy file, and
// (as root) the service account's state folder, identity, store and audit log.
// Rules: the agent is asked only `ping` and `list` (list is audited like any request); files are only examined, never
// opened, except the policy, which is loaded as the agent would load it.

import { describeFacts } from "../store/generation.js";
import path from "node:path";
import { PROTOCOL_VERSION } from "../protocol/wire.js";
import { AgentBackend } from "../client/agent.js";
import { START_AGENT } from "../client/unreachable.js";
import { SYSTEM_PATHS } from "../system/paths.js";
import { AccessError, SecretfileError } from "../errors.js";
import { loadPolicyFile } from "../policy/load.js";
import { unknownSubjects } from "../policy/subjects.js";
import { IDENTITY_MODE } from "../store/identity.js";
import { storePaths } from "../store/store.js";
import { fail, info, ok, shellQuote, sudo, warn, type Finding } from "./finding.js";
import { inspectPath, ownerOf, userName } from "./paths.js";
import { describeNames, expiryFindings } from "./secrets.js";

/** The system-mode paths doctor looks at. */
export interface SystemPaths {
  socket: string;
  /** The agent's state folder (identity.txt, store.age). */
  stateDir: string;
  policy: string;
  audit: string;
  /** Where a sealed identity would be (`setup --seal`); checked when there is no identity.txt. */
  credential: string;
}

/** The fix that restarts the agent (with `sudo ` unless doctor runs as root). */
const restart = (): string => `${sudo()}systemctl restart secretfile.socket secretfile.service`;

/** Returns the findings for the agent at `paths.socket` and its files. Never throws for a problem it knows. */
export async function checkSystem(paths: SystemPaths, now: Date): Promise<Finding[]> {
  const findings: Finding[] = [];
  const other =
    paths.socket === SYSTEM_PATHS.socket
      ? ""
      : ` (or start \`secretfile agent --socket ${shellQuote(paths.socket)}\` as the service account)`;
  const socket = await inspectPath(paths.socket, {
    what: "the agent socket",
    kind: "socket",
    owner: (await ownerOf(paths.socket)) ?? 0,
    forbidden: 0,
    mode: 0o777,
  });
  if (socket === null)
    findings.push(fail(`no agent socket at ${paths.socket}: the agent is not running${other}`, START_AGENT));
  else findings.push(...socket);
  if (socket !== null && !socket.some((f) => f.status === "fail"))
    findings.push(...(await askAgent(paths.socket, now, other)));
  findings.push(...(await checkPolicy(paths.policy)));
  if (process.getuid?.() === 0) findings.push(...(await checkState(paths)));
  else
    findings.push(
      info("not root: the state folder, identity, store and audit log were not checked: `sudo secretfile doctor`"),
    );
  return findings;
}

async function askAgent(socket: string, now: Date, other: string): Promise<Finding[]> {
  const agent = new AgentBackend(socket);
  let pong: Awaited<ReturnType<AgentBackend["ping"]>>;
  try {
    pong = await agent.ping();
    const version = pong.op === "ping" ? pong.version : undefined;
    if (version !== PROTOCOL_VERSION) {
      return [
        fail(
          `the agent on ${socket} speaks protocol ${String(version)}; this secretfile speaks ${PROTOCOL_VERSION}`,
          "install the same secretfile version for the agent and the clients, then: " + restart(),
        ),
      ];
    }
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    return [fail(`${err.message}${other}; its log: journalctl -u secretfile`, START_AGENT)];
  }
  const found: Finding[] = [ok(`the agent answers on ${socket} (protocol ${PROTOCOL_VERSION})`)];
  if (pong.op === "ping" && pong.refused !== undefined)
    found.push(
      fail(
        `${pong.refused}; the agent ${pong.store === undefined ? "serves nothing" : "serves on the newer store it holds"}`,
        "put the newer store back in its place, or take this one on purpose: sudo secretfile accept-store",
      ),
    );
  if (pong.op === "ping" && pong.store !== undefined)
    found.push(ok(`the agent serves the store ${describeFacts(pong.store)}`));
  const me = await userName(process.getuid?.() ?? 0);
  try {
    const secrets = await agent.list();
    found.push(ok(`the policy lets you (${me}) read ${describeNames(secrets)}`));
    found.push(...expiryFindings(secrets, now));
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    if (err instanceof AccessError)
      found.push(warn(`the policy lets you (${me}) read no secret: fine for an admin, not for a job's user`, err.hint));
    else found.push(fail(`the agent cannot list the secrets: ${err.message}`, err.hint));
  }
  return found;
}

async function checkPolicy(file: string): Promise<Finding[]> {
  const q = shellQuote(file);
  const found = await inspectPath(file, { what: "the policy", kind: "file", owner: 0, forbidden: 0o022, mode: 0o644 });
  if (found === null)
    return [fail(`no policy at ${file}: the agent will not start without one`, `${sudo()}secretfile setup`)];
  if (found.some((f) => f.status === "fail")) return found;
  try {
    const policy = await loadPolicyFile(file);
    const edit = `${process.getuid?.() === 0 ? "editor" : "sudoedit"} ${q} && secretfile policy check ${q}`;
    return [
      ...found,
      ok(`the policy ${file} loads: ${policy.rules.length} rule${policy.rules.length === 1 ? "" : "s"}`),
      // A misspelt or not yet made account grants nothing, silently: worth a line, not a failure.
      ...unknownSubjects(policy).map((w) =>
        warn(`${file}:${w.line}: ${w.message}: the rule grants nothing`, `make the account, or correct it: ${edit}`),
      ),
    ];
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    if (err instanceof AccessError && process.getuid?.() !== 0)
      return [info(`cannot read the policy ${file} as you: \`sudo secretfile doctor\``)];
    return [
      fail(err.message, `${process.getuid?.() === 0 ? "editor" : "sudoedit"} ${q} && secretfile policy check ${q}`),
    ];
  }
}

async function checkState(paths: SystemPaths): Promise<Finding[]> {
  const files = storePaths(paths.stateDir);
  const socketOwner = await ownerOf(paths.socket);
  const service = socketOwner !== undefined && socketOwner !== 0 ? socketOwner : await ownerOf(paths.stateDir);
  if (service === undefined) return [fail(`no state folder at ${paths.stateDir}`, `${sudo()}secretfile setup`)];
  const found: Finding[] = [];
  if (service === 0)
    found.push(
      warn(
        `the agent's files belong to root: the agent should run as its own service account`,
        `${sudo()}secretfile setup`,
      ),
    );
  const check = async (
    file: string,
    what: string,
    kind: "file" | "folder",
    forbidden: number,
    mode: number,
    missing: Finding,
  ) => found.push(...((await inspectPath(file, { what, kind, owner: service, forbidden, mode })) ?? [missing]));
  const setup = `${sudo()}secretfile setup`;
  await check(
    paths.stateDir,
    "the state folder",
    "folder",
    0o022,
    0o700,
    fail(`no state folder at ${paths.stateDir}`, setup),
  );
  const noIdentity = fail(
    `no identity at ${files.identity}: restore it from a backup, or run setup to make a new one`,
    setup,
  );
  const identity = await inspectPath(files.identity, {
    what: "the identity",
    kind: "file",
    owner: service,
    forbidden: 0o077,
    mode: IDENTITY_MODE.system,
  });
  // A sealed host keeps no plaintext identity: systemd decrypts the credential for the agent at each start.
  const sealed =
    identity === null
      ? await inspectPath(paths.credential, {
          what: "the sealed identity",
          kind: "file",
          owner: 0,
          forbidden: 0o077,
          mode: 0o600,
        })
      : null;
  if (identity !== null) found.push(...identity);
  else if (sealed === null) found.push(noIdentity);
  else
    found.push(
      ...sealed,
      info(`the identity is sealed as the systemd credential ${paths.credential} (no plaintext identity on disk)`),
    );
  await check(
    files.store,
    "the store",
    "file",
    0o077,
    0o600,
    fail(
      `no store at ${files.store}: restore store.age from a backup`,
      `restore store.age from a backup into ${paths.stateDir}`,
    ),
  );
  const auditDir = path.dirname(paths.audit);
  await check(auditDir, "the audit folder", "folder", 0o022, 0o700, fail(`no audit folder at ${auditDir}`, setup));
  await check(
    paths.audit,
    "the audit log",
    "file",
    0o022,
    0o600,
    fail(`no audit log at ${paths.audit}: the agent creates it when it starts (or pass --audit FILE)`, restart()),
  );
  return found;
}
