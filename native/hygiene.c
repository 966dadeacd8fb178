/*
 * secretfile's process hygiene, as a tiny Node-API addon: the CLI calls it before it holds any value.
 * Loading this (a few KiB) costs well under a millisecond where loading koffi costs about 30 ms, and the CLI starts
 * hundreds of times at the top of the hour.
 *
 *   harden(noCore: boolean) -> 0, or the errno of the call that failed (negative for prctl, positive for setrlimit)
 *     prctl(PR_SET_DUMPABLE, 0): no core file, and no ptrace or /proc/PID/mem, environ or maps for other processes
 *     of the same uid; the kernel resets the flag when the process execs a job, so the job is not affected.
 *     With noCore, also setrlimit(RLIMIT_CORE, 0, 0). The CLI leaves it out for `exec`: children inherit the limit.
 *   dumpable() -> prctl(PR_GET_DUMPABLE), for tests and `doctor`.
 *
 * Built by build.mjs with the Node-API headers koffi vendors (`cc -shared -fPIC`); no link against Node is needed.
 */
#include <errno.h>
#include <node_api.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static napi_value int_value(napi_env env, int n) {
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

static napi_value harden(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool no_core = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1) napi_get_value_bool(env, argv[0], &no_core);
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return int_value(env, -errno);
  if (no_core) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return int_value(env, errno);
  }
  return int_value(env, 0);
}

static napi_value dumpable(napi_env env, napi_callback_info info) {
  (void)info;
  return int_value(env, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "harden", NAPI_AUTO_LENGTH, harden, NULL, &fn);
  napi_set_named_property(env, exports, "harden", fn);
  napi_create_function(env, "dumpable", NAPI_AUTO_LENGTH, dumpable, NULL, &fn);
  napi_set_named_property(env, exports, "dumpable", fn);
  return exports;
}
