// The systemd units of the agent: a socket unit that owns the socket, and a hardened service it activates.
// Rules: the one source of the unit text; every path in it is absolute and needs no quoting; a setting the agent
// cannot live with (MemoryDenyWriteExecute, PrivateUsers, ProtectProc=invisible) is left out, with the reason.

import path from "node:path";
import { UsageError } from "../errors.js";
import { CREDENTIALS_SOCKET, IDENTITY_CREDENTIAL, type AgentPaths } from "../system/paths.js";
import { runtimeFlags } from "../system/runtime.js";
import agentNodeFlags from "./agent-node-flags.json" with { type: "json" };

/**
 * The V8 flags node runs the agent with, from agent-node-flags.json: the one list both this unit and the bench
 * (bench/agents.mjs) start the agent with. Under a steady load of connections V8 grows its young generation to its
 * largest and keeps the old generation's freed pages: `--max-semi-space-size=2` caps the first at 2 MB a half (1 MB
 * cost too much throughput at 256 connections), and `--heap-growing-percent=100` lets the old generation grow by at
 * most twice its live size between collections (V8 grows small heaps up to four times). Together they keep the
 * agent's peak RSS with 10,000 secrets within its target; `--optimize-for-size`, which did the same, cost a fifth of
 * the agent's throughput (bench/limits.md and docs/benchmarks.md have the figures).
 */
export const AGENT_NODE_FLAGS: readonly string[] = agentNodeFlags;

/**
 * Every flag the units and the init script start the agent's node (of version `nodeVersion`) with: AGENT_NODE_FLAGS,
 * then the runtime's own (`--disable-sigusr1` where that node has it: src/system/runtime.ts).
 */
export function agentStartFlags(nodeVersion: string): string[] {
  return [...AGENT_NODE_FLAGS, ...runtimeFlags(nodeVersion)];
}

/** The units' file names. */
export const UNIT_NAMES = { service: "secretfile.service", socket: "secretfile.socket" } as const;

/** What the units are made from, resolved at setup time. */
export interface UnitInputs {
  /** Absolute path of node (process.execPath at setup time). */
  node: string;
  /** That node's version (process.version at setup time): which flags it has. */
  nodeVersion: string;
  /** Absolute real path of the installed launcher (bin/secretfile). */
  launcher: string;
  user: string;
  group: string;
  paths: AgentPaths;
  /** The sealed identity's encrypted credential file, when the identity is sealed (`setup --seal systemd-creds`). */
  credential?: string;
}

/** The text of both units. */
export interface Units {
  service: string;
  socket: string;
  /** Where a path of the agent sits somewhere the sandbox hides, what to do (empty when none does). */
  warnings: string[];
}

// Characters systemd takes literally in ExecStart= and ReadWritePaths= (no %, $, \, quotes or spaces).
const UNIT_SAFE = /^\/[A-Za-z0-9_./@+:,=~-]*$/;
const HOMES = ["/home", "/root", "/run/user"];
const TMPS = ["/tmp", "/var/tmp"];

/**
 * Returns `file` if it is an absolute path systemd reads literally; throws UsageError naming `what`
 * otherwise (so setup fails before it makes anything).
 */
export function checkUnitPath(file: string, what: string): string {
  if (!UNIT_SAFE.test(file) || path.resolve(file) !== file) {
    throw new UsageError(`the ${what} path ${JSON.stringify(file)} cannot go into a systemd unit as it is`, {
      hint: "use an absolute, normalized path of letters, digits and _ . / @ + : , = ~ - (no spaces, %, $ or quotes)",
    });
  }
  return file;
}

/** Renders secretfile.service and secretfile.socket. Throws UsageError for a path checkUnitPath refuses. */
export function renderUnits(i: UnitInputs): Units {
  const { paths } = i;
  const used = {
    node: i.node,
    launcher: i.launcher,
    "state folder": paths.dir,
    policy: paths.policy,
    "audit log": paths.audit,
    socket: paths.socket,
  };
  for (const [what, file] of Object.entries(used)) checkUnitPath(file, what);
  if (i.credential !== undefined) checkUnitPath(i.credential, "credential");
  // systemd decrypts the sealed identity into $CREDENTIALS_DIRECTORY, readable by the agent alone, for each run.
  const sealed = i.credential === undefined ? "" : `LoadCredentialEncrypted=${IDENTITY_CREDENTIAL}:${i.credential}\n`;
  const auditDir = path.dirname(paths.audit);
  const readable = [i.node, i.launcher, paths.dir, paths.policy, auditDir];
  // ProtectHome=yes would hide a node or secretfile installed under a home (nvm, say): then read-only.
  const inHome = readable.filter((f) => under(f, HOMES));
  const inTmp = readable.filter((f) => under(f, TMPS));
  const warnings: string[] = [];
  if (inTmp.length > 0)
    warnings.push(
      `the unit's PrivateTmp=yes hides /tmp and /var/tmp from the agent, where these are: ${inTmp.join(", ")}; keep them elsewhere`,
    );
  if (inHome.length > 0)
    warnings.push(
      `these are in a home folder, so the unit has ProtectHome=read-only instead of yes: ${inHome.join(", ")}; installing under /usr/local is safer`,
    );
  const rw = [...new Set([paths.dir, auditDir])];
  const service = `# ${UNIT_NAMES.service}: the secretfile agent, started by ${UNIT_NAMES.socket} on the first connection.
# Written by \`secretfile setup\`, which rewrites it when it differs: change it with \`systemctl edit secretfile\`.
# ExecReload= sends SIGHUP (the agent reads its policy again) through sh's kill, as a minimal Debian has no /bin/kill.
# Left out on purpose: MemoryDenyWriteExecute= (V8's JIT needs writable executable memory), PrivateUsers= (the
# kernel would report every caller's uid as nobody), ProtectProc=invisible (the audit log reads the caller's
# /proc/PID/exe and cmdline), ProcSubset=pid (not yet tried with node), and any network: NSS lookups must go through
# local sockets (nscd, sssd).
# The system calls are those of @system-service (checked against an strace of the agent), plus the memory
# protection keys V8 probes for to guard its JIT pages.
[Unit]
Description=secretfile agent (hands API keys to the users its policy allows)
Requires=${UNIT_NAMES.socket}
After=${UNIT_NAMES.socket}

[Service]
Type=simple
User=${i.user}
Group=${i.group}
ExecStart=${[i.node, ...agentStartFlags(i.nodeVersion)].join(" ")} ${i.launcher} agent --dir ${paths.dir} --socket ${paths.socket} --policy ${paths.policy} --audit ${paths.audit}
${sealed}ExecReload=/bin/sh -c 'kill -HUP $$MAINPID'
Restart=on-failure
RestartSec=2s
UMask=0077
LimitCORE=0
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ReadWritePaths=${rw.join(" ")}
ProtectHome=${inHome.length > 0 ? "read-only" : "yes"}
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
PrivateNetwork=yes
IPAddressDeny=any
RestrictAddressFamilies=AF_UNIX
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
LockPersonality=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallFilter=pkey_alloc pkey_free pkey_mprotect
SystemCallErrorNumber=EPERM

[Install]
Also=${UNIT_NAMES.socket}
`;
  const socket = `# ${UNIT_NAMES.socket}: the agent's socket; systemd listens and starts ${UNIT_NAMES.service} on demand.
# Written by \`secretfile setup\`. Everyone may connect (0666): the agent asks the kernel who called and checks the policy.
[Unit]
Description=secretfile agent socket

[Socket]
ListenStream=${paths.socket}
SocketUser=${i.user}
SocketGroup=${i.group}
SocketMode=0666
DirectoryMode=0755
RemoveOnStop=yes
# A unit's LoadCredential=ID:${path.join(path.dirname(paths.socket), CREDENTIALS_SOCKET)} gets the secret ID, if the policy has
# \`read unit:NAME ID\` (docs/systemd.md). Second, so the agent gets it as descriptor 4.
ListenStream=${path.join(path.dirname(paths.socket), CREDENTIALS_SOCKET)}

[Install]
WantedBy=sockets.target
`;
  return { service, socket, warnings };
}

function under(file: string, roots: readonly string[]): boolean {
  return roots.some((r) => file === r || file.startsWith(`${r}/`));
}
