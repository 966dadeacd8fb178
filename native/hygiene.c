/*
 * The CLI's process hygiene: called before it holds any value.
 *
 *   harden(noCore: boolean) -> 0, or the errno of the call that failed (negative for prctl, positive for setrlimit)
 *     prctl(PR_SET_DUMPABLE, 0): no core file, and no ptrace or /proc/PID/mem, environ or maps for other processes
 *     of the same uid; the kernel resets the flag when the process execs a job, so the job is not affected.
 *     With noCore, also setrlimit(RLIMIT_CORE, 0, 0). The CLI leaves it out for `exec`: children inherit the limit.
 *   dumpable() -> prctl(PR_GET_DUMPABLE), for tests and `doctor`.
 */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include "addon.h"

napi_value hygiene_harden(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool no_core = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1) napi_get_value_bool(env, argv[0], &no_core);
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return addon_int(env, -errno);
  if (no_core) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return addon_int(env, errno);
  }
  return addon_int(env, 0);
}

napi_value hygiene_dumpable(napi_env env, napi_callback_info info) {
  (void)info;
  return addon_int(env, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}
