/*
 * Users and groups through the C library (NSS: files, LDAP, SSSD, NIS alike), for the agent, setup, doctor and
 * `policy check`. A buffer too small (ERANGE) is doubled up to 16 MiB; ENOENT and ESRCH mean "no entry", as some NSS
 * modules report it. Every lookup returns an object, null (no entry) or a positive errno (the lookup failed).
 *
 *   passwdByUid(uid) / passwdByName(name) -> { name, uid, gid, dir, shell } | null | errno
 *   groupByGid(gid) / groupByName(name)   -> { name, gid } | null | errno
 *   groupList(user, gid) -> number[] | errno   getgrouplist: `gid` first, then the supplementary groups (E2BIG past 65536)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "addon.h"

#define FIRST_BUFFER 1024
#define MAX_BUFFER (1 << 24)
#define MAX_GROUPS (1 << 16)

/** What a lookup does with a buffer: fills `entry`, sets `*found`, returns 0 or an errno (ERANGE: a larger buffer). */
typedef int (*lookup_fn)(const void *key, void *entry, char *buf, size_t size, void **found);

static int pw_uid(const void *key, void *entry, char *buf, size_t size, void **found) {
  return getpwuid_r(*(const uint32_t *)key, entry, buf, size, (struct passwd **)found);
}
static int pw_nam(const void *key, void *entry, char *buf, size_t size, void **found) {
  return getpwnam_r(key, entry, buf, size, (struct passwd **)found);
}
static int gr_gid(const void *key, void *entry, char *buf, size_t size, void **found) {
  return getgrgid_r(*(const uint32_t *)key, entry, buf, size, (struct group **)found);
}
static int gr_nam(const void *key, void *entry, char *buf, size_t size, void **found) {
  return getgrnam_r(key, entry, buf, size, (struct group **)found);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (value == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_uint(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/** Runs `fn` with growing buffers and turns its entry into a JS object (or null, or the errno). */
static napi_value lookup(napi_env env, lookup_fn fn, const void *key, bool passwd) {
  struct passwd pw;
  struct group gr;
  void *entry = passwd ? (void *)&pw : (void *)&gr;
  for (size_t size = FIRST_BUFFER; size <= MAX_BUFFER; size *= 2) {
    char *buf = malloc(size);
    if (buf == NULL) return addon_int(env, ENOMEM);
    void *found = NULL;
    int rc = fn(key, entry, buf, size, &found);
    napi_value out;
    if (rc == ERANGE) {
      free(buf);
      continue;
    }
    if (rc == 0 && found != NULL) {
      napi_create_object(env, &out);
      if (passwd) {
        set_string(env, out, "name", pw.pw_name);
        set_uint(env, out, "uid", pw.pw_uid);
        set_uint(env, out, "gid", pw.pw_gid);
        set_string(env, out, "dir", pw.pw_dir);
        set_string(env, out, "shell", pw.pw_shell);
      } else {
        set_string(env, out, "name", gr.gr_name);
        set_uint(env, out, "gid", gr.gr_gid);
      }
    } else if (rc == 0 || rc == ENOENT || rc == ESRCH) {
      napi_get_null(env, &out);
    } else {
      out = addon_int(env, rc);
    }
    free(buf);
    return out;
  }
  return addon_int(env, ERANGE);
}

/** Reads argument 0 as an id (`id`) or, when `id` is NULL, as a string into a new buffer the caller frees. */
static bool key_arg(napi_env env, napi_callback_info info, uint32_t *id, char **name) {
  size_t argc = 1;
  napi_value argv[1];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return false;
  if (id != NULL) return napi_get_value_uint32(env, argv[0], id) == napi_ok;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || (*name = malloc(len + 1)) == NULL) return false;
  napi_get_value_string_utf8(env, argv[0], *name, len + 1, &len);
  if (strlen(*name) != len) { // a NUL inside: no such entry, never a shorter name's
    free(*name);
    *name = NULL;
  }
  return true;
}

static napi_value by_id(napi_env env, napi_callback_info info, lookup_fn fn, bool passwd) {
  uint32_t id;
  if (!key_arg(env, info, &id, NULL)) return addon_int(env, EINVAL);
  return lookup(env, fn, &id, passwd);
}

static napi_value by_name(napi_env env, napi_callback_info info, lookup_fn fn, bool passwd) {
  char *name = NULL;
  if (!key_arg(env, info, NULL, &name)) return addon_int(env, EINVAL);
  napi_value out;
  if (name == NULL) napi_get_null(env, &out);
  else out = lookup(env, fn, name, passwd);
  free(name);
  return out;
}

napi_value users_passwd_by_uid(napi_env env, napi_callback_info info) { return by_id(env, info, pw_uid, true); }
napi_value users_passwd_by_name(napi_env env, napi_callback_info info) { return by_name(env, info, pw_nam, true); }
napi_value users_group_by_gid(napi_env env, napi_callback_info info) { return by_id(env, info, gr_gid, false); }
napi_value users_group_by_name(napi_env env, napi_callback_info info) { return by_name(env, info, gr_nam, false); }

napi_value users_group_list(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  size_t len = 0;
  uint32_t gid;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || napi_get_value_uint32(env, argv[1], &gid) != napi_ok) {
    return addon_int(env, EINVAL);
  }
  char *user = malloc(len + 1);
  if (user == NULL) return addon_int(env, ENOMEM);
  napi_get_value_string_utf8(env, argv[0], user, len + 1, &len);
  int capacity = 64;
  for (;;) {
    gid_t *groups = malloc(sizeof(gid_t) * (size_t)capacity);
    if (groups == NULL) {
      free(user);
      return addon_int(env, ENOMEM);
    }
    int count = capacity;
    int rc = getgrouplist(user, gid, groups, &count);
    if (rc >= 0) {
      napi_value out;
      napi_create_array_with_length(env, (size_t)rc, &out);
      for (int i = 0; i < rc && i < capacity; i++) {
        napi_value v;
        napi_create_uint32(env, groups[i], &v);
        napi_set_element(env, out, (uint32_t)i, v);
      }
      free(groups);
      free(user);
      return out;
    }
    free(groups);
    if (capacity >= MAX_GROUPS) {
      free(user);
      return addon_int(env, E2BIG);
    }
    capacity = count > capacity * 2 ? count : capacity * 2;
    if (capacity > MAX_GROUPS) capacity = MAX_GROUPS;
  }
}
