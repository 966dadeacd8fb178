/*
 * The primitives of an age file's decryption, from the OpenSSL that Node itself runs on (the node binary exports its
 * functions; a Node built against a shared libcrypto has them loaded too): what a personal read would otherwise load
 * node:crypto for, about 3 ms of every start with its stream classes (bench/limits.md). Each function is looked up
 * once, by name, when the addon loads; if any is missing the addon exports none of these, and src/store/primitives.ts
 * uses node:crypto. No OpenSSL header is needed: the few declarations are below, as OpenSSL 3 defines them.
 *
 *   x25519(secret[, peer]) -> Buffer          X25519 of the 32-byte `secret` with the 32-byte `peer` (the shared
 *                                             secret), or its public key without one; null when OpenSSL refuses (a
 *                                             peer of small order gives an all-zero secret, which it refuses)
 *   hmacSha256(key, data) -> Buffer           HMAC-SHA-256, 32 bytes
 *   chachaOpen(key, nonce, sealed) -> Buffer  ChaCha20-Poly1305 (32-byte key, 12-byte nonce, the tag the last 16
 *                                             bytes of `sealed`): the plaintext, or null when the tag does not match
 *
 * Keys and secrets are zeroed here once used; what is returned the caller zeroes. Each call leaves OpenSSL's error
 * queue (one per thread, shared with node:crypto) empty: a failure here must not become a later failure of Node's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "addon.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_md_st EVP_MD;

#define SF_EVP_PKEY_X25519 1034   /* NID_X25519 */
#define SF_EVP_CTRL_AEAD_SET_TAG 0x11

static struct {
  EVP_PKEY *(*new_raw_private_key)(int, void *, const unsigned char *, size_t);
  EVP_PKEY *(*new_raw_public_key)(int, void *, const unsigned char *, size_t);
  int (*get_raw_public_key)(const EVP_PKEY *, unsigned char *, size_t *);
  void (*pkey_free)(EVP_PKEY *);
  EVP_PKEY_CTX *(*ctx_new)(EVP_PKEY *, void *);
  void (*ctx_free)(EVP_PKEY_CTX *);
  int (*derive_init)(EVP_PKEY_CTX *);
  int (*derive_set_peer)(EVP_PKEY_CTX *, EVP_PKEY *);
  int (*derive)(EVP_PKEY_CTX *, unsigned char *, size_t *);
  const EVP_MD *(*sha256)(void);
  unsigned char *(*hmac)(const EVP_MD *, const void *, int, const unsigned char *, size_t, unsigned char *, unsigned int *);
  const EVP_CIPHER *(*chacha20_poly1305)(void);
  EVP_CIPHER_CTX *(*cipher_ctx_new)(void);
  void (*cipher_ctx_free)(EVP_CIPHER_CTX *);
  int (*decrypt_init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, void *, const unsigned char *, const unsigned char *);
  int (*cipher_ctx_ctrl)(EVP_CIPHER_CTX *, int, int, void *);
  int (*decrypt_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
  int (*decrypt_final)(EVP_CIPHER_CTX *, unsigned char *, int *);
  void (*clear_errors)(void);
} ssl;

/** The names of the functions above, in the same order. */
static const char *const NAMES[] = {
    "EVP_PKEY_new_raw_private_key", "EVP_PKEY_new_raw_public_key", "EVP_PKEY_get_raw_public_key", "EVP_PKEY_free",
    "EVP_PKEY_CTX_new", "EVP_PKEY_CTX_free", "EVP_PKEY_derive_init", "EVP_PKEY_derive_set_peer", "EVP_PKEY_derive",
    "EVP_sha256", "HMAC", "EVP_chacha20_poly1305", "EVP_CIPHER_CTX_new", "EVP_CIPHER_CTX_free", "EVP_DecryptInit_ex",
    "EVP_CIPHER_CTX_ctrl", "EVP_DecryptUpdate", "EVP_DecryptFinal_ex", "ERR_clear_error",
};

bool crypto_available(void) {
  void **slot = (void **)&ssl;
  _Static_assert(sizeof ssl == sizeof NAMES / sizeof NAMES[0] * sizeof(void *), "one name per function");
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
    void *fn = dlsym(RTLD_DEFAULT, NAMES[i]);
    if (fn == NULL) return false;
    memcpy(&slot[i], &fn, sizeof fn);
  }
  return true;
}

/** The bytes of the Buffer (or typed array) `value` of exactly `len` bytes (any length when `len` is 0), or NULL. */
static unsigned char *bytes_of(napi_env env, napi_value value, size_t len, size_t *got) {
  void *data = NULL;
  size_t n = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return NULL;
  if (napi_get_buffer_info(env, value, &data, &n) != napi_ok || (len != 0 && n != len)) return NULL;
  if (got != NULL) *got = n;
  return data == NULL ? (unsigned char *)"" : data;
}

static napi_value buffer_of(napi_env env, const unsigned char *data, size_t len) {
  napi_value out;
  void *copy;
  if (napi_create_buffer_copy(env, len, data, &copy, &out) != napi_ok) return NULL;
  return out;
}

static napi_value null_value(napi_env env) {
  napi_value out;
  napi_get_null(env, &out);
  return out;
}

static napi_value usage(napi_env env, const char *form) {
  napi_throw_type_error(env, NULL, form);
  return NULL;
}

napi_value crypto_x25519(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype second = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return usage(env, "x25519(secret[, peer])");
  if (argc > 1) napi_typeof(env, argv[1], &second);
  const unsigned char *secret = bytes_of(env, argv[0], 32, NULL);
  const unsigned char *peer = second == napi_undefined ? NULL : bytes_of(env, argv[1], 32, NULL);
  if (secret == NULL || (second != napi_undefined && peer == NULL)) return usage(env, "x25519(secret[, peer]): 32-byte Buffers");
  unsigned char out[32];
  size_t out_len = sizeof out;
  bool ok = false;
  EVP_PKEY *own = ssl.new_raw_private_key(SF_EVP_PKEY_X25519, NULL, secret, 32);
  if (own != NULL && peer == NULL) {
    ok = ssl.get_raw_public_key(own, out, &out_len) == 1 && out_len == 32;
  } else if (own != NULL) {
    EVP_PKEY *other = ssl.new_raw_public_key(SF_EVP_PKEY_X25519, NULL, peer, 32);
    EVP_PKEY_CTX *ctx = other == NULL ? NULL : ssl.ctx_new(own, NULL);
    ok = ctx != NULL && ssl.derive_init(ctx) == 1 && ssl.derive_set_peer(ctx, other) == 1 &&
         ssl.derive(ctx, out, &out_len) == 1 && out_len == 32;
    if (ctx != NULL) ssl.ctx_free(ctx);
    if (other != NULL) ssl.pkey_free(other);
  }
  if (own != NULL) ssl.pkey_free(own);
  ssl.clear_errors();
  napi_value result = ok ? buffer_of(env, out, 32) : null_value(env);
  explicit_bzero(out, sizeof out);
  return result;
}

napi_value crypto_hmac_sha256(napi_env env, napi_callback_info info) {
  size_t argc = 2, key_len = 0, data_len = 0;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) return usage(env, "hmacSha256(key, data)");
  const unsigned char *key = bytes_of(env, argv[0], 0, &key_len);
  const unsigned char *data = bytes_of(env, argv[1], 0, &data_len);
  if (key == NULL || data == NULL || key_len > INT32_MAX) return usage(env, "hmacSha256(key, data): Buffers");
  unsigned char out[32];
  unsigned int out_len = 0;
  bool ok = ssl.hmac(ssl.sha256(), key, (int)key_len, data, data_len, out, &out_len) != NULL && out_len == 32;
  ssl.clear_errors();
  napi_value result = ok ? buffer_of(env, out, 32) : NULL;
  explicit_bzero(out, sizeof out);
  if (!ok) return addon_throw(env, "HMAC-SHA-256", EINVAL, false);
  return result;
}

napi_value crypto_chacha_open(napi_env env, napi_callback_info info) {
  size_t argc = 3, sealed_len = 0;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return usage(env, "chachaOpen(key, nonce, sealed)");
  const unsigned char *key = bytes_of(env, argv[0], 32, NULL);
  const unsigned char *nonce = bytes_of(env, argv[1], 12, NULL);
  unsigned char *sealed = bytes_of(env, argv[2], 0, &sealed_len);
  if (key == NULL || nonce == NULL || sealed == NULL || sealed_len < 16 || sealed_len - 16 > INT32_MAX)
    return usage(env, "chachaOpen(key, nonce, sealed): a 32-byte key, a 12-byte nonce, at least the 16-byte tag");
  size_t len = sealed_len - 16;
  void *plain = NULL;
  napi_value out;
  if (napi_create_buffer(env, len, &plain, &out) != napi_ok) return NULL;
  EVP_CIPHER_CTX *ctx = ssl.cipher_ctx_new();
  int n = 0, tail = 0;
  bool ok = ctx != NULL && ssl.decrypt_init(ctx, ssl.chacha20_poly1305(), NULL, key, nonce) == 1 &&
            ssl.cipher_ctx_ctrl(ctx, SF_EVP_CTRL_AEAD_SET_TAG, 16, sealed + len) == 1 &&
            ssl.decrypt_update(ctx, plain, &n, sealed, (int)len) == 1 &&
            ssl.decrypt_final(ctx, (unsigned char *)plain + n, &tail) == 1;
  if (ctx != NULL) ssl.cipher_ctx_free(ctx);
  ssl.clear_errors();
  if (ok) return out;
  if (plain != NULL) explicit_bzero(plain, len);
  return null_value(env);
}
