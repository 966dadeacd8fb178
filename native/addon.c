/*
 * secretfile's Node-API addon, dist/native.node: its one way into C (docs/native.md), for the agent and the CLI alike:
 * the calls Node has no API for (SO_PEERCRED, the user database, prctl), and the few the CLI makes where Node would
 * load a module costing milliseconds every start (node:net, node:child_process; bench/limits.md). Built by
 * build/native.mjs with the headers of the node-api-headers package; no link against Node is needed. Without it the
 * CLI falls back to plain Node (node:net, node:child_process) and the agent refuses to start.
 *
 *   harden(noCore), dumpable()      hygiene.c: the CLI's non-dumpable switch and core-file limit
 *   exchange(socket, request, ...)  request.c: one request line to the agent, its answer line back, by a deadline
 *   spawn(file, argv, env, ...)     spawn.c: the job of `exec`, started and watched; isTerminal(fd)
 *   peerCred(fd, out), ...          socket.c: the peer's credentials, address family and addresses; dupCloexec(fd)
 *   passwdByUid(uid), ...           users.c: users and groups by id or name, a user's group list
 *   x25519(secret, peer), ...       crypto.c: X25519, HMAC-SHA-256, ChaCha20-Poly1305 from Node's own OpenSSL, for a
 *                                   personal read without node:crypto (absent when that OpenSSL's functions are not
 *                                   found)
 */
#include <stdio.h>
#include <string.h>
#include "addon.h"

napi_value addon_int(napi_env env, int n) {
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

napi_value addon_throw(napi_env env, const char *what, int err, bool connected) {
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_value message, error, flag;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_set_named_property(env, error, "errno", addon_int(env, err));
  napi_get_boolean(env, connected, &flag);
  napi_set_named_property(env, error, "connected", flag);
  napi_throw(env, error);
  return NULL;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  export_function(env, exports, "harden", hygiene_harden);
  export_function(env, exports, "dumpable", hygiene_dumpable);
  export_function(env, exports, "exchange", request_exchange);
  export_function(env, exports, "spawn", spawn_job);
  export_function(env, exports, "isTerminal", spawn_is_terminal);
  export_function(env, exports, "peerCred", socket_peer_cred);
  export_function(env, exports, "socketDomain", socket_domain);
  export_function(env, exports, "peerName", socket_peer_name);
  export_function(env, exports, "sockName", socket_sock_name);
  export_function(env, exports, "dupCloexec", socket_dup_cloexec);
  export_function(env, exports, "passwdByUid", users_passwd_by_uid);
  export_function(env, exports, "passwdByName", users_passwd_by_name);
  export_function(env, exports, "groupByGid", users_group_by_gid);
  export_function(env, exports, "groupByName", users_group_by_name);
  export_function(env, exports, "groupList", users_group_list);
  if (crypto_available()) {
    export_function(env, exports, "x25519", crypto_x25519);
    export_function(env, exports, "hmacSha256", crypto_hmac_sha256);
    export_function(env, exports, "chachaOpen", crypto_chacha_open);
  }
  return exports;
}
