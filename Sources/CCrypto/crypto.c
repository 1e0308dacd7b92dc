#include "mreg_crypto.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

/* Verifies sig over msg with pkey and digest md (NULL for Ed25519, which hashes itself). */
static int verify_with(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *msg, size_t msg_len,
                       const uint8_t *sig, size_t sig_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return -1;
    int result = -1;
    if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1) {
        int r = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len);
        result = r == 1 ? 1 : 0;
    }
    EVP_MD_CTX_free(ctx);
    return result;
}

/* A public key from OSSL_PARAMs built by the caller. */
static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld) {
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) return NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

int mreg_verify_ed25519(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                        const uint8_t *sig, size_t sig_len) {
    if (key_len != 32 || sig_len != 64) return -1;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, key_len);
    if (pkey == NULL) return -1;
    int result = verify_with(pkey, NULL, msg, msg_len, sig, sig_len);
    EVP_PKEY_free(pkey);
    return result;
}

int mreg_verify_ecdsa(int bits, const uint8_t *point, size_t point_len, const uint8_t *r, size_t r_len,
                      const uint8_t *s, size_t s_len, const uint8_t *msg, size_t msg_len) {
    const char *group;
    const EVP_MD *md;
    switch (bits) {
    case 256: group = "prime256v1"; md = EVP_sha256(); break;
    case 384: group = "secp384r1"; md = EVP_sha384(); break;
    case 521: group = "secp521r1"; md = EVP_sha512(); break;
    default: return -1;
    }
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) return -1;
    EVP_PKEY *pkey = NULL;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len) == 1) {
        pkey = key_from_params("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    if (pkey == NULL) return -1;

    /* SSH carries r and s as two integers; OpenSSL wants the DER ECDSA-Sig-Value. */
    int result = -1;
    ECDSA_SIG *esig = ECDSA_SIG_new();
    BIGNUM *bn_r = BN_bin2bn(r, (int)r_len, NULL);
    BIGNUM *bn_s = BN_bin2bn(s, (int)s_len, NULL);
    if (esig != NULL && bn_r != NULL && bn_s != NULL && ECDSA_SIG_set0(esig, bn_r, bn_s) == 1) {
        bn_r = NULL;
        bn_s = NULL;
        unsigned char *der = NULL;
        int der_len = i2d_ECDSA_SIG(esig, &der);
        if (der_len > 0) {
            result = verify_with(pkey, md, msg, msg_len, der, (size_t)der_len);
            OPENSSL_free(der);
        }
    }
    BN_free(bn_r);
    BN_free(bn_s);
    ECDSA_SIG_free(esig);
    EVP_PKEY_free(pkey);
    return result;
}

int mreg_verify_rsa(int hash_bits, const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len) {
    const EVP_MD *md = hash_bits == 256 ? EVP_sha256() : hash_bits == 512 ? EVP_sha512() : NULL;
    if (md == NULL) return -1;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn_n != NULL && bn_e != NULL && bld != NULL && BN_num_bits(bn_n) >= 1024 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
        pkey = key_from_params("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (pkey == NULL) return -1;
    int result = verify_with(pkey, md, msg, msg_len, sig, sig_len);
    EVP_PKEY_free(pkey);
    return result;
}

int mreg_digest(int bits, const uint8_t *data, size_t len, uint8_t *out) {
    const EVP_MD *md = bits == 256 ? EVP_sha256() : bits == 512 ? EVP_sha512() : NULL;
    if (md == NULL) return 0;
    unsigned int out_len = 0;
    return EVP_Digest(data, len, out, &out_len, md, NULL) == 1 ? 1 : 0;
}

int mreg_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t *out) {
    unsigned int out_len = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &out_len) != NULL && out_len == 32 ? 1 : 0;
}

void *mreg_sha256_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return NULL;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int mreg_sha256_update(void *ctx, const uint8_t *data, size_t len) {
    return EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len) == 1 ? 1 : 0;
}

int mreg_sha256_final(void *ctx, uint8_t *out) {
    unsigned int out_len = 0;
    return EVP_DigestFinal_ex((EVP_MD_CTX *)ctx, out, &out_len) == 1 && out_len == 32 ? 1 : 0;
}

void mreg_sha256_free(void *ctx) { EVP_MD_CTX_free((EVP_MD_CTX *)ctx); }
