/*
 * One exchange with the agent, blocking: the CLI makes one request and has nothing else to do meanwhile, and this
 * spares it loading node:net and its streams (a cost at every start: bench/limits.md).
 *
 *   exchange(socket: string, request: Buffer, max: number) -> Buffer
 *     connects to the Unix socket, sends `request` (one JSON line), reads until the first newline and returns the
 *     bytes before it. Throws an Error with `errno` and `connected`: connected false means the request was not sent
 *     (ENOENT, ECONNREFUSED, EAGAIN: the caller may try again); an answer cut short is ENODATA (the agent closed first), connected true;
 *     an answer longer than `max` bytes is EMSGSIZE. Every buffer that held answer bytes is zeroed before it is freed.
 *     No timeout, as with node:net: the agent closes an idle connection itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "addon.h"

/** Frees `buf` after zeroing its first `n` bytes (they hold values). */
static void wipe(char *buf, size_t n) {
  if (buf == NULL) return;
  explicit_bzero(buf, n);
  free(buf);
}

napi_value request_exchange(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t path_len = 0;
  void *req = NULL;
  size_t req_len = 0;
  double max = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &req_len) != napi_ok || napi_get_value_double(env, argv[2], &max) != napi_ok) {
    napi_throw_type_error(env, NULL, "exchange(socket: string, request: Buffer, max: number)");
    return NULL;
  }
  if (path_len >= sizeof path - 1) return addon_throw(env, "connect", ENAMETOOLONG, false);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return addon_throw(env, "socket", errno, false);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, path_len + 1);
  int r;
  do r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    int err = errno;
    close(fd);
    return addon_throw(env, "connect", err, false);
  }

  for (size_t sent = 0; sent < req_len;) {
    ssize_t n = send(fd, (char *)req + sent, req_len - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return addon_throw(env, "send", err, true);
    }
    sent += (size_t)n;
  }

  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap);
  char *nl = NULL;
  int err = 0;
  while (buf != NULL && nl == NULL) {
    if (len == cap) {
      if (cap >= (size_t)max) { err = EMSGSIZE; break; }
      char *bigger = malloc(cap * 2); /* not realloc: the old block is zeroed before it is freed */
      if (bigger == NULL) { err = ENOMEM; break; }
      memcpy(bigger, buf, len);
      wipe(buf, len);
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = recv(fd, buf + len, cap - len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { err = n == 0 ? ENODATA : errno; break; }
    nl = memchr(buf + len, '\n', (size_t)n);
    len += (size_t)n;
  }
  close(fd);
  if (buf == NULL) return addon_throw(env, "recv", ENOMEM, true);
  if (nl == NULL || (size_t)(nl - buf) > (size_t)max) {
    wipe(buf, len);
    return addon_throw(env, "recv", err != 0 ? err : EMSGSIZE, true);
  }
  napi_value out;
  void *data;
  napi_status s = napi_create_buffer_copy(env, (size_t)(nl - buf), buf, &data, &out);
  wipe(buf, len);
  if (s != napi_ok) return addon_throw(env, "recv", ENOMEM, true);
  return out;
}
