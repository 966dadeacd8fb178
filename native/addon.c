/*
 * secretfile's Node-API addon, dist/native.node: the few system calls the CLI makes where Node would load a module
 * costing milliseconds every start (koffi, node:net; bench/limits.md), and the CLI starts hundreds of times at the top
 * of the hour. Built by build/native.mjs with the Node-API headers koffi vendors; no link against Node is needed.
 * Without a C compiler the build goes on, and the CLI does the same through koffi and node:net.
 *
 *   harden(noCore), dumpable()      hygiene.c: the CLI's non-dumpable switch and core-file limit
 *   exchange(socket, request, ...)  request.c: one request line to the agent, its answer line back, by a deadline
 *   spawn(file, argv, env, ...)     spawn.c: the job of `exec`, started and watched; isTerminal(fd)
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
  return exports;
}
