/*
 * Starting the job of `secretfile exec`, and watching it, without node:child_process: that module and node:net slow
 * every start (bench/limits.md), and its fork() copies the whole Node process where posix_spawn (vfork) does not.
 *
 *   spawn(file, argv, env, newGroup, mask, onEvent) -> pid
 *     runs `file` with `argv` (argv[0] included) and `env` ("NAME=value" strings) through posix_spawn: every signal
 *     back to its default and none blocked (Node ignores SIGPIPE, and an ignored signal stays ignored across exec),
 *     in a process group of its own when `newGroup`, with our standard input; standard output and error are ours,
 *     or, with `mask`, pipes this addon reads. Throws an Error with `errno` when it cannot start (ENOENT, EACCES...).
 *     A thread of its own then reads the pipes and waits for the job; it hands JavaScript, in order, through one
 *     queue (so the last output always comes before the end):
 *       onEvent(1 or 2, chunk)   output of the job's standard output or error (a Buffer);
 *       onEvent(0, code, signal) the job ended: its exit code, or the signal that ended it (code -1).
 *     The queue holds two events: while JavaScript is busy writing, the thread waits, the pipe fills and the job
 *     waits too, as it would writing to a slow terminal. The copies of the environment are zeroed before they are
 *     freed (they hold the secrets), as are the buffers that held output.
 *
 *   isTerminal(fd) -> isatty(fd), which node:tty would answer only after loading node:net.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "addon.h"

#define CHUNK_BYTES (64 * 1024)

typedef struct {
  int kind; /* 0: the end; 1, 2: output of that descriptor */
  int code, signal;
  size_t len;
  char *data;
} event_t;

typedef struct {
  pid_t pid;
  int fds[2];
  napi_threadsafe_function on_event;
} job_t;

static char *string_of(napi_env env, napi_value value) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  if (s != NULL) napi_get_value_string_utf8(env, value, s, n + 1, &n);
  return s;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **s = list; *s != NULL; s++) {
    explicit_bzero(*s, strlen(*s));
    free(*s);
  }
  free(list);
}

/** A NULL-terminated copy of a JavaScript array of strings, or NULL. */
static char **strings_of(napi_env env, napi_value array) {
  uint32_t n = 0;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **list = calloc((size_t)n + 1, sizeof *list);
  for (uint32_t i = 0; list != NULL && i < n; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    if ((list[i] = string_of(env, item)) == NULL) {
      free_strings(list);
      return NULL;
    }
  }
  return list;
}

static void free_event(event_t *e) {
  if (e->data != NULL) {
    explicit_bzero(e->data, e->len);
    free(e->data);
  }
  free(e);
}

/** Runs on the JavaScript thread: hands one event to onEvent. */
static void deliver(napi_env env, napi_value on_event, void *context, void *data) {
  (void)context;
  event_t *e = data;
  if (env != NULL) {
    napi_value undefined, argv[3];
    napi_get_undefined(env, &undefined);
    argv[0] = addon_int(env, e->kind);
    size_t argc = 2;
    if (e->kind == 0) {
      argv[1] = addon_int(env, e->code);
      argv[2] = addon_int(env, e->signal);
      argc = 3;
    } else {
      void *copy;
      napi_create_buffer_copy(env, e->len, e->data, &copy, &argv[1]);
    }
    napi_call_function(env, undefined, on_event, argc, argv, NULL);
  }
  free_event(e);
}

static void send_event(job_t *job, event_t *e) {
  if (napi_call_threadsafe_function(job->on_event, e, napi_tsfn_blocking) != napi_ok) free_event(e);
}

/** The watching thread: the job's output until both pipes close, then its end. */
static void *watch(void *arg) {
  job_t *job = arg;
  struct pollfd p[2];
  int open = 0;
  for (int i = 0; i < 2; i++) {
    p[i].fd = job->fds[i];
    p[i].events = POLLIN;
    if (p[i].fd >= 0) open++;
  }
  while (open > 0) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      event_t *e = calloc(1, sizeof *e);
      char *data = malloc(CHUNK_BYTES);
      ssize_t n = e != NULL && data != NULL ? read(p[i].fd, data, CHUNK_BYTES) : -1;
      if (n > 0) {
        e->kind = i + 1;
        e->len = (size_t)n;
        e->data = data;
        send_event(job, e);
        continue;
      }
      free(data);
      free(e);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      close(p[i].fd); /* end of file, or an error: this output is over */
      p[i].fd = -1;
      open--;
    }
  }
  for (int i = 0; i < 2; i++)
    if (p[i].fd >= 0) close(p[i].fd);

  int status = 0;
  pid_t r;
  do r = waitpid(job->pid, &status, 0);
  while (r < 0 && errno == EINTR);
  event_t *end = calloc(1, sizeof *end);
  if (end != NULL) {
    end->code = r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    end->signal = r >= 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    send_event(job, end);
  }
  napi_release_threadsafe_function(job->on_event, napi_tsfn_release);
  free(job);
  return NULL;
}

napi_value spawn_job(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  bool new_group = false, mask = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 || napi_get_value_bool(env, argv[3], &new_group) != napi_ok ||
      napi_get_value_bool(env, argv[4], &mask) != napi_ok) {
    napi_throw_type_error(env, NULL, "spawn(file, argv, env, newGroup, mask, onEvent)");
    return NULL;
  }
  char *file = string_of(env, argv[0]);
  char **args = strings_of(env, argv[1]);
  char **envp = strings_of(env, argv[2]);
  job_t *job = calloc(1, sizeof *job);
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  int failed = file == NULL || args == NULL || envp == NULL || job == NULL ? ENOMEM : 0;
  if (failed == 0 && mask && (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)) failed = errno;

  if (failed == 0) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    /* glibc's sigfillset leaves out its own two signals (32 and 33), and its posix_spawn then sets them to be ignored
       in the job, which an exec does not undo: named here directly, they go back to their default like the rest. */
    for (int s = 32; s < SIGRTMIN; s++) ((unsigned long *)&all)[(s - 1) / (8 * sizeof(unsigned long))] |= 1UL << ((s - 1) % (8 * sizeof(unsigned long)));
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    if (mask) {
      posix_spawn_file_actions_adddup2(&actions, out[1], 1);
      posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    }
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (new_group ? POSIX_SPAWN_SETPGROUP : 0));
    /* Node marks its standard input, output and error close-on-exec; the job inherits them (the ones not replaced by
       pipes), so the mark comes off for the spawn and goes back after. */
    int flags[3];
    for (int fd = 0; fd < 3; fd++) {
      flags[fd] = fcntl(fd, F_GETFD);
      if (flags[fd] > 0 && (flags[fd] & FD_CLOEXEC) && !(mask && fd > 0)) fcntl(fd, F_SETFD, flags[fd] & ~FD_CLOEXEC);
    }
    failed = posix_spawn(&job->pid, file, &actions, &attr, args, envp);
    for (int fd = 0; fd < 3; fd++)
      if (flags[fd] > 0) fcntl(fd, F_SETFD, flags[fd]);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  free(file);
  free_strings(args);
  free_strings(envp);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);
  if (failed == 0) {
    napi_value name;
    napi_create_string_utf8(env, "secretfile job", NAPI_AUTO_LENGTH, &name);
    job->fds[0] = out[0];
    job->fds[1] = err[0];
    if (napi_create_threadsafe_function(env, argv[5], NULL, name, 2, 1, NULL, NULL, NULL, deliver, &job->on_event) == napi_ok) {
      pthread_t thread;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      int r = pthread_create(&thread, &attr, watch, job);
      pthread_attr_destroy(&attr);
      if (r == 0) return addon_int(env, job->pid);
      napi_release_threadsafe_function(job->on_event, napi_tsfn_abort);
    }
    /* Started but cannot be watched: it must not run unwatched. */
    kill(job->pid, SIGKILL);
    waitpid(job->pid, NULL, 0);
    failed = EAGAIN;
  }
  if (out[0] >= 0) close(out[0]);
  if (err[0] >= 0) close(err[0]);
  free(job);
  return addon_throw(env, "spawn", failed, false);
}

napi_value spawn_is_terminal(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "isTerminal(fd)");
    return NULL;
  }
  napi_get_boolean(env, isatty(fd) == 1, &out);
  return out;
}
