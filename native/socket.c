/*
 * What the agent asks the kernel about a socket, by descriptor: the peer's credentials, the address family, the
 * addresses, and a close-on-exec duplicate of a listening socket. Every result is a number, or a negative errno.
 *
 *   peerCred(fd, out: Int32Array(3)) -> 0 or -errno   getsockopt(SO_PEERCRED): out = pid, uid, gid (uid and gid as int32:
 *                                                    the caller reads them unsigned); into the caller's array, so
 *                                                    nothing is made per connection
 *   socketDomain(fd) -> family or -errno             getsockopt(SO_DOMAIN): SO_PEERCRED on a TCP socket gives made-up values
 *   peerName(fd, out: Buffer) / sockName(fd, out) -> the address's length or -errno   getpeername / getsockname into
 *                                                    `out` (struct sockaddr_un); a length above out's size is cut to it
 *   dupCloexec(fd) -> a new descriptor or -errno     fcntl(F_DUPFD_CLOEXEC)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "addon.h"

/** Reads argument `i` as a descriptor into `*fd`; false when it is not a number. */
static bool fd_arg(napi_env env, napi_value *argv, size_t argc, size_t i, int32_t *fd) {
  return i < argc && napi_get_value_int32(env, argv[i], fd) == napi_ok;
}

napi_value socket_peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !fd_arg(env, argv, argc, 0, &fd) || argc < 2 ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array || length < 3) {
    return addon_int(env, -EINVAL);
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return addon_int(env, -errno);
  if (len != sizeof cred) return addon_int(env, -EPROTO);
  int32_t *out = data;
  out[0] = (int32_t)cred.pid;
  out[1] = (int32_t)cred.uid;
  out[2] = (int32_t)cred.gid;
  return addon_int(env, 0);
}

napi_value socket_domain(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !fd_arg(env, argv, argc, 0, &fd)) return addon_int(env, -EINVAL);
  int domain = -1;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return addon_int(env, -errno);
  return addon_int(env, domain);
}

/** getpeername or getsockname of argument 0 into the Buffer argument 1. */
static napi_value address(napi_env env, napi_callback_info info, bool peer) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  void *data = NULL;
  size_t size = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !fd_arg(env, argv, argc, 0, &fd) || argc < 2 ||
      napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) {
    return addon_int(env, -EINVAL);
  }
  struct sockaddr_un addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  if ((peer ? getpeername(fd, (struct sockaddr *)&addr, &len) : getsockname(fd, (struct sockaddr *)&addr, &len)) != 0) {
    return addon_int(env, -errno);
  }
  if (len > sizeof addr) len = sizeof addr;
  if (len > size) len = (socklen_t)size;
  memcpy(data, &addr, len);
  return addon_int(env, (int)len);
}

napi_value socket_peer_name(napi_env env, napi_callback_info info) {
  return address(env, info, true);
}

napi_value socket_sock_name(napi_env env, napi_callback_info info) {
  return address(env, info, false);
}

napi_value socket_dup_cloexec(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !fd_arg(env, argv, argc, 0, &fd)) return addon_int(env, -EINVAL);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return addon_int(env, copy < 0 ? -errno : copy);
}
