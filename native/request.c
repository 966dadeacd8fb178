/*
 * One exchange with the agent, blocking with a deadline: the CLI makes one request and has nothing else to do
 * meanwhile, and this spares it loading node:net and its streams (a cost at every start: bench/limits.md).
 *
 *   exchange(socket: string, request: Buffer, max: number, timeoutMs: number, owners: number[] | null) -> Buffer
 *     connects to the Unix socket, sends `request` (one JSON line), reads until the first newline and returns the
 *     bytes before it. Throws an Error with `errno` and `connected`: connected false means the request was not sent
 *     (ENOENT, ECONNREFUSED, EAGAIN: the caller may try again); an answer cut short is ENODATA (the agent closed first), connected true;
 *     an answer longer than `max` bytes is EMSGSIZE; no answer within `timeoutMs` in all is ETIMEDOUT, connected true
 *     once connected (the request may have been carried out). With `owners`, the listener's uid (SO_PEERCRED) must be one of them,
 *     else nothing is sent: EPERM, connected true, with `peerUid`. A socket path of 108 bytes or more is ENAMETOOLONG
 *     (never cut short). Every buffer that held answer bytes is zeroed before it is freed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "addon.h"

/** Frees `buf` after zeroing its first `n` bytes (they hold values). */
static void wipe(char *buf, size_t n) {
  if (buf == NULL) return;
  explicit_bzero(buf, n);
  free(buf);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/** Waits until `fd` is ready for `events` or `deadline` (ms, CLOCK_MONOTONIC) passes: 0, or ETIMEDOUT or an errno. */
static int wait_for(int fd, short events, double deadline) {
  for (;;) {
    double left = deadline - now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, left > 2e9 ? 2000000000 : (int)left + 1);
    if (r > 0) return 0;
    if (r == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

/** 0 when the listener's uid is one of `owners` (a JS array), else EPERM with the uid in `*peer`, or an errno. */
static int check_owner(napi_env env, int fd, napi_value owners, uint32_t *peer) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errno;
  *peer = cred.uid;
  uint32_t n = 0;
  napi_get_array_length(env, owners, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    uint32_t uid;
    if (napi_get_element(env, owners, i, &v) == napi_ok && napi_get_value_uint32(env, v, &uid) == napi_ok && uid == cred.uid) return 0;
  }
  return EPERM;
}

napi_value request_exchange(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t path_len = 0;
  void *req = NULL;
  size_t req_len = 0;
  double max = 0, timeout = 0;
  napi_valuetype owners_type = napi_null;
  bool owners_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &path_len) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &req_len) != napi_ok || napi_get_value_double(env, argv[2], &max) != napi_ok ||
      napi_get_value_double(env, argv[3], &timeout) != napi_ok || napi_typeof(env, argv[4], &owners_type) != napi_ok ||
      (napi_is_array(env, argv[4], &owners_array) != napi_ok) || (owners_type != napi_null && !owners_array)) {
    napi_throw_type_error(env, NULL, "exchange(socket: string, request: Buffer, max: number, timeoutMs: number, owners: number[] | null)");
    return NULL;
  }
  /* The whole path, NUL included, must fit: a longer one would be cut, and could name another socket. */
  if (path_len >= sizeof path) return addon_throw(env, "connect", ENAMETOOLONG, false);
  napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len);
  double deadline = now_ms() + timeout;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return addon_throw(env, "socket", errno, false);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, path_len + 1);
  int r;
  do r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (r != 0 && errno == EINTR);
  if (r != 0 && errno == EINPROGRESS) {
    int err = wait_for(fd, POLLOUT, deadline);
    socklen_t len = sizeof err;
    if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      close(fd);
      return addon_throw(env, "connect", err, false); /* nothing was sent */
    }
  } else if (r != 0) {
    int err = errno;
    close(fd);
    return addon_throw(env, "connect", err, false);
  }

  if (owners_array) {
    uint32_t peer = 0;
    int err = check_owner(env, fd, argv[4], &peer);
    if (err != 0) {
      close(fd);
      addon_throw(env, "connect", err, true);
      if (err != EPERM) return NULL;
      napi_value exception, uid;
      napi_get_and_clear_last_exception(env, &exception);
      napi_create_uint32(env, peer, &uid);
      napi_set_named_property(env, exception, "peerUid", uid);
      napi_throw(env, exception);
      return NULL;
    }
  }

  for (size_t sent = 0; sent < req_len;) {
    ssize_t n = send(fd, (char *)req + sent, req_len - sent, MSG_NOSIGNAL);
    int err = n < 0 ? errno : 0;
    if (n < 0 && err == EINTR) continue;
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) err = wait_for(fd, POLLOUT, deadline);
    else if (n >= 0) sent += (size_t)n;
    if (err != 0) {
      close(fd);
      return addon_throw(env, "send", err, true);
    }
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
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if ((err = wait_for(fd, POLLIN, deadline)) != 0) break;
      continue;
    }
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
