/*
 * What the parts of secretfile's Node-API addon (dist/native.node) share: small helpers to hand values and errors to
 * JavaScript. Each part is one .c file beside this one and registers its functions from addon.c.
 */
#ifndef SECRETFILE_ADDON_H
#define SECRETFILE_ADDON_H

#include <node_api.h>
#include <stdbool.h>

/** Returns `n` as a JavaScript number. */
napi_value addon_int(napi_env env, int n);

/**
 * Throws an Error whose message is `what` and strerror(`err`), with `errno` (the number) and `connected` (whether a
 * connection was made before it failed) as properties; returns NULL for the caller to return.
 */
napi_value addon_throw(napi_env env, const char *what, int err, bool connected);

napi_value hygiene_harden(napi_env env, napi_callback_info info);
napi_value hygiene_dumpable(napi_env env, napi_callback_info info);
napi_value request_exchange(napi_env env, napi_callback_info info);
napi_value spawn_job(napi_env env, napi_callback_info info);
napi_value spawn_is_terminal(napi_env env, napi_callback_info info);
napi_value socket_peer_cred(napi_env env, napi_callback_info info);
napi_value socket_domain(napi_env env, napi_callback_info info);
napi_value socket_peer_name(napi_env env, napi_callback_info info);
napi_value socket_sock_name(napi_env env, napi_callback_info info);
napi_value socket_dup_cloexec(napi_env env, napi_callback_info info);
napi_value users_passwd_by_uid(napi_env env, napi_callback_info info);
napi_value users_passwd_by_name(napi_env env, napi_callback_info info);
napi_value users_group_by_gid(napi_env env, napi_callback_info info);
napi_value users_group_by_name(napi_env env, napi_callback_info info);
napi_value users_group_list(napi_env env, napi_callback_info info);
/** True when every OpenSSL function crypto.c calls was found (then its functions are exported). */
bool crypto_available(void);
napi_value crypto_x25519(napi_env env, napi_callback_info info);
napi_value crypto_hmac_sha256(napi_env env, napi_callback_info info);
napi_value crypto_chacha_open(napi_env env, napi_callback_info info);

#endif
