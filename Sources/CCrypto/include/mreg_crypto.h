#ifndef MREG_CRYPTO_H
#define MREG_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

/* Signature checks over OpenSSL's libcrypto, for SSH signatures (PROTOCOL.sshsig).
   Each returns 1 when the signature is valid, 0 when it is not, -1 when the key or the
   signature cannot be read. OpenSSL's types never leave this file. */

/* Ed25519: a 32-byte public key, a 64-byte signature over msg. */
int mreg_verify_ed25519(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                        const uint8_t *sig, size_t sig_len);

/* ECDSA over NIST P-256, P-384 or P-521 (bits = 256, 384, 521) with SHA-256, SHA-384 or SHA-512:
   an uncompressed point and the signature's two integers r and s, big-endian. */
int mreg_verify_ecdsa(int bits, const uint8_t *point, size_t point_len, const uint8_t *r, size_t r_len,
                      const uint8_t *s, size_t s_len, const uint8_t *msg, size_t msg_len);

/* RSA PKCS#1 v1.5 with SHA-256 or SHA-512 (hash_bits = 256 or 512): modulus n and exponent e big-endian. */
int mreg_verify_rsa(int hash_bits, const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);

/* SHA-256 or SHA-512 (bits = 256 or 512) of data into out (32 or 64 bytes); 1 on success. */
int mreg_digest(int bits, const uint8_t *data, size_t len, uint8_t *out);

/* HMAC-SHA256 of msg under key into out (32 bytes); 1 on success. For S3 request signing. */
int mreg_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t *out);

/* A streaming SHA-256: new returns NULL when out of memory, update and final return 1 on success;
   final writes 32 bytes and does not free (free does). */
void *mreg_sha256_new(void);
int mreg_sha256_update(void *ctx, const uint8_t *data, size_t len);
int mreg_sha256_final(void *ctx, uint8_t *out);
void mreg_sha256_free(void *ctx);

#endif
