/*
 * Starting the job of `secretfile exec`, and watching it, without node:child_process: that module and node:net slow
 * every start (bench/limits.md), and its fork() copies the whole Node process where a vfork-like clone does not.
 *
 *   spawn(file, argv, env, newGroup, mask, onEvent) -> pid
 *     runs `file` with `argv` (argv[0] included) and the environment `env` (a Buffer of "NAME=value" entries, each
 *     ended by a NUL: one copy for the whole environment, where 10,000 strings cost three Node-API calls and a malloc
 *     each, about 5 ms on the development machine) as posix_spawn would (clone with
 *     CLONE_VM | CLONE_VFORK): every signal back to its default and none blocked (Node ignores SIGPIPE, and an
 *     ignored signal stays ignored across exec), in a process group of its own when `newGroup`, killed by the kernel
 *     if secretfile dies first (PR_SET_PDEATHSIG, SIGKILL), with our standard input; standard output and error are ours,
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
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/** The environment block: its copy, and the entries in it, NULL-terminated. */
typedef struct {
  char *bytes;
  size_t len;
  char **list;
} environ_t;

static void free_environment(environ_t *e) {
  if (e->bytes != NULL) {
    explicit_bzero(e->bytes, e->len);
    free(e->bytes);
  }
  free(e->list);
}

/** Copies the Buffer `value` ("NAME=value\0" entries) into `out`; false when it is not a Buffer ended by a NUL, or on ENOMEM. */
static bool environment_of(napi_env env, napi_value value, environ_t *out) {
  bool is_buffer = false;
  void *data = NULL;
  size_t len = 0;
  *out = (environ_t){0};
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, value, &data, &len) != napi_ok || (len > 0 && ((char *)data)[len - 1] != '\0'))
    return false;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((char *)data)[i] == '\0';
  out->bytes = malloc(len + 1);
  out->list = calloc(n + 1, sizeof *out->list);
  if (out->bytes == NULL || out->list == NULL) {
    free_environment(out);
    *out = (environ_t){0};
    return false;
  }
  memcpy(out->bytes, data, len);
  out->len = len;
  for (size_t i = 0, at = 0, k = 0; i < len; i++) {
    if (out->bytes[i] != '\0') continue;
    out->list[k++] = out->bytes + at;
    at = i + 1;
  }
  return true;
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

/** What the child of start_job does, and what it says back (in memory it shares with us until it execs). */
typedef struct {
  const char *file;
  char **argv, **envp;
  int out, err; /* the write ends of the output pipes, or -1 */
  bool new_group;
  pid_t parent;
  volatile int error; /* why it could not exec, or 0 */
} start_t;

/** A signal set or sigaction with every bit zero: to the kernel, an empty set, or SIG_DFL with no flags, whatever the
    architecture's layout of the struct. */
static const unsigned long ZERO[16];
static const unsigned long ALL[16] = {~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL};

/** The child, between clone and exec: it runs on its own stack in our memory, so it only makes system calls. */
static int child_main(void *arg) {
  start_t *how = arg;
  /* Every signal to its default (raw system calls: glibc's wrapper refuses its own two, 32 and 33, and its posix_spawn
     would leave them ignored, which an exec does not undo). They are all blocked until just before the exec, so none
     of Node's handlers can run here. */
  for (int sig = 1; sig < _NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, ZERO, NULL, _NSIG / 8);
  if (how->new_group && setpgid(0, 0) != 0) goto failed;
  if (how->out >= 0 && dup2(how->out, 1) < 0) goto failed;
  if (how->err >= 0 && dup2(how->err, 2) < 0) goto failed;
  /* Node marks its standard input, output and error close-on-exec; the job inherits them (this fd table is the
     child's own copy). */
  for (int fd = 0; fd < 3; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags > 0 && (flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  /* The job must not outlive secretfile unnoticed: when our thread ends (secretfile killed, even by SIGKILL), the
     kernel kills the job. Checked after: if secretfile has already gone, the job must not start unwatched. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto failed;
  if (getppid() != how->parent) {
    how->error = ESRCH;
    _exit(127);
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, ZERO, NULL, _NSIG / 8);
  execve(how->file, how->argv, how->envp);
failed:
  how->error = errno;
  _exit(127);
}

/**
 * Starts the job as posix_spawn does (clone with CLONE_VM | CLONE_VFORK: nothing of Node's memory is copied, and we
 * wait only until it has exec'd), with PR_SET_PDEATHSIG set in between, which posix_spawn has no attribute for.
 * Returns 0 with its pid in `*pid`, or the errno of what failed (the child reaped then).
 */
static int start_job(start_t *how, pid_t *pid) {
  const size_t stack_size = 64 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return errno;
  unsigned long saved[16];
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, ALL, saved, _NSIG / 8);
  how->error = 0;
  pid_t child = clone(child_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, how);
  int failed = child < 0 ? errno : how->error;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, saved, NULL, _NSIG / 8);
  munmap(stack, stack_size);
  if (child > 0 && failed != 0) {
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) continue;
  }
  if (failed == 0) *pid = child;
  return failed;
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
  environ_t envp;
  if (!environment_of(env, argv[2], &envp)) {
    napi_throw_type_error(env, NULL, "spawn: env is a Buffer of NAME=value entries, each ended by a NUL");
    return NULL;
  }
  char *file = string_of(env, argv[0]);
  char **args = strings_of(env, argv[1]);
  job_t *job = calloc(1, sizeof *job);
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  int failed = file == NULL || args == NULL || job == NULL ? ENOMEM : 0;
  if (failed == 0 && mask && (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)) failed = errno;

  if (failed == 0) {
    start_t how = {.file = file, .argv = args, .envp = envp.list, .out = out[1], .err = err[1], .new_group = new_group, .parent = getpid()};
    failed = start_job(&how, &job->pid);
  }
  free(file);
  free_strings(args);
  free_environment(&envp);
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
      /* Read before the thread starts: it frees the job when the job ends, which may be before pthread_create returns. */
      pid_t pid = job->pid;
      int r = pthread_create(&thread, &attr, watch, job);
      pthread_attr_destroy(&attr);
      if (r == 0) return addon_int(env, pid);
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
