// The one list of names a secret may not have: variables that change how a program starts, what it loads, where it
// connects or whom it believes it is. A writer who could set one would steer every reader's job (SECURITY.md).
// Rules: built from sudo's default env_delete and env_check lists (plugins/sudoers/env.c) and glibc's UNSECURE_ENVVARS
// (sysdeps/generic/unsecvars.h), plus interpreters', TLS, proxy and login variables; compared without regard to case;
// refused when written (exit 2), never set implicitly by `exec`.

import { UsageError } from "../errors.js";

/** Names reserved as they are, by what they steer. */
const EXACT: Record<string, readonly string[]> = {
  // sudo env_delete (shells, terminfo, resolver) and env_check (locale, terminal, time zone).
  shell: [
    "IFS",
    "CDPATH",
    "ENV",
    "BASH_ENV",
    "PS4",
    "GLOBIGNORE",
    "BASHOPTS",
    "SHELLOPTS",
    "FPATH",
    "NULLCMD",
    "READNULLCMD",
    "EXECIGNORE",
    "BASH_LOADABLES_PATH",
    "MODULE_PATH",
  ],
  "shell start-up": [
    "ZDOTDIR",
    "TMPPREFIX",
    "PROMPT_COMMAND",
    "BASH_XTRACEFD",
    "INPUTRC",
    "HISTFILE",
    "SHELL",
    "POSIXLY_CORRECT",
  ],
  terminal: ["TERM", "TERMINFO", "TERMINFO_DIRS", "TERMPATH", "TERMCAP", "COLORTERM"],
  locale: [
    "LANG",
    "LANGUAGE",
    "LINGUAS",
    "NLSPATH",
    "PATH_LOCALE",
    "LOCPATH",
    "GCONV_PATH",
    "TZ",
    "TZDIR",
    "CHARSETALIASDIR",
    "ICU_DATA",
    "I18NPATH",
  ],
  resolver: ["LOCALDOMAIN", "RES_OPTIONS", "HOSTALIASES", "RESOLV_HOST_CONF", "NIS_PATH"],
  // glibc UNSECURE_ENVVARS beyond the loader's LD_* (below).
  "C library": [
    "GLIBC_TUNABLES",
    "GETCONF_DIR",
    "ARGP_HELP_FMT",
    "DATEMSK",
    "GMON_OUT_PREFIX",
    "HESIOD_CONFIG",
    "HES_DOMAIN",
  ],
  kerberos: ["KRB5_CONFIG", "KRB5_KTNAME", "KRB5CCNAME"],
  // Interpreters beyond the prefixes below (Perl, Python, Ruby, Node, Lua and the package managers): sudo's Java entry,
  // and the start-up variables of Ruby's gems, PHP, Tcl and Go.
  ruby: ["GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE"],
  java: ["JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "JAVA_HOME"],
  php: ["PHPRC", "PHP_INI_SCAN_DIR"],
  tcl: ["TCLLIBPATH"],
  go: ["GOROOT", "GOPATH", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOTOOLCHAIN", "GOENV"],
  // Where a program believes its certificates, keys and configuration are.
  tls: [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSLKEYLOGFILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_ENGINES",
    "GNUTLS_SYSTEM_PRIORITY_FILE",
    "CURL_HOME",
    "WGETRC",
  ],
  // Compared without regard to case, so http_proxy and https_proxy are reserved too.
  proxy: [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "GRPC_PROXY",
    "SOCKS_PROXY",
    "SOCKS5_SERVER",
    "RSYNC_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
  ],
  // Who the job is and where it looks: the login variables, the command search path and the temporary folder.
  login: ["PATH", "HOME", "USER", "LOGNAME", "USERNAME", "MAIL", "TMPDIR", "TMP", "TEMP"],
  // Programs a job may run on its behalf.
  helpers: [
    "SSH_ASKPASS",
    "SSH_AUTH_SOCK",
    "PAGER",
    "MANPAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "EDITOR",
    "VISUAL",
    "BROWSER",
    "DBUS_SESSION_BUS_ADDRESS",
  ],
  // What systemd hands a service (a sealed identity is found through CREDENTIALS_DIRECTORY).
  systemd: [
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "RUNTIME_DIRECTORY",
    "STATE_DIRECTORY",
    "INVOCATION_ID",
  ],
};

/** Names reserved by their start, by what they steer. */
const PREFIXES: Record<string, readonly string[]> = {
  "dynamic loader": ["LD_", "_RLD", "DYLD_", "LDR_", "LIBPATH", "SHLIB_PATH"],
  shell: ["BASH_FUNC_"],
  locale: ["LC_"],
  "C library": ["MALLOC_"],
  perl: ["PERL"],
  python: ["PYTHON"],
  ruby: ["RUBY"],
  node: ["NODE_"],
  "libuv and uv": ["UV_"],
  lua: ["LUA_"],
  "package manager": ["PIP_", "NPM_CONFIG_"],
  git: ["GIT_"],
  "desktop folders": ["XDG_"],
  secretfile: ["SECRETFILE_"],
};

/** What every reserved name does, for messages. */
export const STEERS = "it changes how a program starts, what it loads or where it connects";

const exact = new Map<string, string>(
  Object.entries(EXACT).flatMap(([why, names]) => names.map((n) => [n, why] as const)),
);
const prefixes = Object.entries(PREFIXES).flatMap(([why, starts]) => starts.map((start) => ({ start, why })));
/** Every prefix in one pattern: most names start with none, and one test is cheaper than a test per prefix. */
const anyPrefix = new RegExp(`^(?:${prefixes.map((p) => p.start.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`);

/** Returns what the variable `name` steers (e.g. "dynamic loader") when it is reserved, else undefined. */
export function reservedBecause(name: string): string | undefined {
  const upper = name.toUpperCase();
  const why = exact.get(upper);
  if (why !== undefined || !anyPrefix.test(upper)) return why;
  return prefixes.find((p) => upper.startsWith(p.start))?.why;
}

/** Returns true when no secret may be stored under `name`. */
export function isReservedName(name: string): boolean {
  return reservedBecause(name) !== undefined;
}

/**
 * Returns `name` unchanged when a secret may be written under it; throws UsageError (exit 2) naming it when the name
 * is reserved, with the hint to store it under another name and map it.
 */
export function checkWritableName(name: string): string {
  const why = reservedBecause(name);
  if (why !== undefined) {
    const other = `APP_${name}`.slice(0, 128);
    throw new UsageError(`${name} is a reserved name (${why}: ${STEERS}), so no secret may have it`, {
      hint: `store it under another name, e.g. ${other}, and let the job that needs it ask for it: secretfile exec --map ${name}=${other} -- …`,
    });
  }
  return name;
}
