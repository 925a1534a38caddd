/*
 * tandem: the functions of mbedtls/gcm.h on OpenSSL's EVP AES-GCM (see gcm_alt.h for why). Compiled into
 * libmbedcrypto by scripts/build-native-deps.sh, with MBEDTLS_GCM_ALT set in config.h.
 *
 * One subtlety: mbedTLS's streaming API hands out the computed tag when a *decryption* finishes (the caller
 * compares it), while OpenSSL only verifies a tag it is given. A GCM tag covers the ciphertext, which an
 * encryption of the recovered plaintext reproduces, so a streamed decryption also runs the plaintext through
 * the encryption context and takes its tag (twice the work; only tandem's frame decryption streams; the DTLS
 * record layer uses mbedtls_gcm_auth_decrypt, which is a single OpenSSL decryption).
 */
#include "common.h"

#if defined(MBEDTLS_GCM_C) && defined(MBEDTLS_GCM_ALT)

#include "mbedtls/gcm.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/error.h"
#include "mbedtls/platform.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define ENC(ctx) ((EVP_CIPHER_CTX *) (ctx)->enc)
#define DEC(ctx) ((EVP_CIPHER_CTX *) (ctx)->dec)

void mbedtls_gcm_init(mbedtls_gcm_context *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
}

int mbedtls_gcm_setkey(mbedtls_gcm_context *ctx, mbedtls_cipher_id_t cipher,
                       const unsigned char *key, unsigned int keybits)
{
    const EVP_CIPHER *evp;

    if (ctx == NULL || key == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (cipher != MBEDTLS_CIPHER_ID_AES) {
        return MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED;
    }
    switch (keybits) {
        case 128: evp = EVP_aes_128_gcm(); break;
        case 192: evp = EVP_aes_192_gcm(); break;
        case 256: evp = EVP_aes_256_gcm(); break;
        default: return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (ctx->enc == NULL && (ctx->enc = EVP_CIPHER_CTX_new()) == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (ctx->dec == NULL && (ctx->dec = EVP_CIPHER_CTX_new()) == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    if (EVP_EncryptInit_ex(ENC(ctx), evp, NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(DEC(ctx), evp, NULL, key, NULL) != 1) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->enc_iv_len = (unsigned long) EVP_CIPHER_CTX_get_iv_length(ENC(ctx));
    ctx->dec_iv_len = (unsigned long) EVP_CIPHER_CTX_get_iv_length(DEC(ctx));
    return 0;
}

/* The tag, read from or handed to OpenSSL's provider directly: EVP_CIPHER_CTX_ctrl() would translate to the
 * same parameter call, and per DTLS record that translation was a measurable share of the CPU. */
static int get_tag(EVP_CIPHER_CTX *c, unsigned char *tag, size_t tag_len)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, tag_len);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_get_params(c, params);
}

static int set_tag(EVP_CIPHER_CTX *c, unsigned char *tag, size_t tag_len)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, tag_len);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_set_params(c, params);
}

/* Sets the IV (any length OpenSSL accepts; 12 bytes is the fast path) and absorbs the additional data. */
static int start_one(EVP_CIPHER_CTX *c, unsigned long *c_iv_len, int encrypt, const unsigned char *iv,
                     size_t iv_len, const unsigned char *add, size_t add_len)
{
    int outl;

    if (iv_len > INT_MAX || add_len > INT_MAX) {
        return 0;
    }
    if (*c_iv_len != iv_len) {
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int) iv_len, NULL) != 1) {
            return 0;
        }
        *c_iv_len = (unsigned long) iv_len;
    }
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, encrypt) != 1) {
        return 0;
    }
    if (add_len > 0 && EVP_CipherUpdate(c, NULL, &outl, add, (int) add_len) != 1) {
        return 0;
    }
    return 1;
}

int mbedtls_gcm_starts(mbedtls_gcm_context *ctx, int mode, const unsigned char *iv, size_t iv_len,
                       const unsigned char *add, size_t add_len)
{
    if (ctx == NULL || ctx->enc == NULL || iv == NULL || iv_len == 0 || (add_len > 0 && add == NULL)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    /* Decrypting still starts the encryption context: it computes the tag (see the top of this file). */
    if (!start_one(ENC(ctx), &ctx->enc_iv_len, 1, iv, iv_len, add, add_len)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (mode == MBEDTLS_GCM_DECRYPT && !start_one(DEC(ctx), &ctx->dec_iv_len, 0, iv, iv_len, add, add_len)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->mode = mode;
    ctx->started = 1;
    return 0;
}

int mbedtls_gcm_update(mbedtls_gcm_context *ctx, size_t length, const unsigned char *input,
                       unsigned char *output)
{
    unsigned char scratch[256];
    size_t done;
    int outl;

    if (ctx == NULL || !ctx->started || (length > 0 && (input == NULL || output == NULL))) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    /* Same rule as mbedTLS: the output may be the input, but may not overlap it otherwise. */
    if (output > input && (size_t) (output - input) < length) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (ctx->mode == MBEDTLS_GCM_ENCRYPT) {
        for (done = 0; done < length; ) {
            size_t n = length - done > INT_MAX / 2 ? INT_MAX / 2 : length - done;
            if (EVP_EncryptUpdate(ENC(ctx), output + done, &outl, input + done, (int) n) != 1) {
                return MBEDTLS_ERR_GCM_BAD_INPUT;
            }
            done += n;
        }
        return 0;
    }
    for (done = 0; done < length; ) {
        size_t n = length - done > sizeof(scratch) ? sizeof(scratch) : length - done;
        if (EVP_DecryptUpdate(DEC(ctx), output + done, &outl, input + done, (int) n) != 1 ||
            EVP_EncryptUpdate(ENC(ctx), scratch, &outl, output + done, (int) n) != 1) {
            mbedtls_platform_zeroize(scratch, sizeof(scratch));
            return MBEDTLS_ERR_GCM_BAD_INPUT;
        }
        done += n;
    }
    mbedtls_platform_zeroize(scratch, sizeof(scratch));
    return 0;
}

int mbedtls_gcm_finish(mbedtls_gcm_context *ctx, unsigned char *tag, size_t tag_len)
{
    unsigned char full[16];
    int outl;

    if (ctx == NULL || !ctx->started || tag_len > 16 || tag_len < 4 || tag == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    if (EVP_EncryptFinal_ex(ENC(ctx), full, &outl) != 1 ||
        get_tag(ENC(ctx), full, 16) != 1) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    memcpy(tag, full, tag_len);
    mbedtls_platform_zeroize(full, sizeof(full));
    return 0;
}

int mbedtls_gcm_crypt_and_tag(mbedtls_gcm_context *ctx, int mode, size_t length,
                              const unsigned char *iv, size_t iv_len,
                              const unsigned char *add, size_t add_len,
                              const unsigned char *input, unsigned char *output,
                              size_t tag_len, unsigned char *tag)
{
    int ret;

    if ((ret = mbedtls_gcm_starts(ctx, mode, iv, iv_len, add, add_len)) != 0 ||
        (ret = mbedtls_gcm_update(ctx, length, input, output)) != 0 ||
        (ret = mbedtls_gcm_finish(ctx, tag, tag_len)) != 0) {
        return ret;
    }
    return 0;
}

int mbedtls_gcm_auth_decrypt(mbedtls_gcm_context *ctx, size_t length,
                             const unsigned char *iv, size_t iv_len,
                             const unsigned char *add, size_t add_len,
                             const unsigned char *tag, size_t tag_len,
                             const unsigned char *input, unsigned char *output)
{
    unsigned char expected[16];
    size_t done;
    int outl;

    if (ctx == NULL || ctx->dec == NULL || iv == NULL || iv_len == 0 || tag == NULL ||
        tag_len > 16 || tag_len < 4 || (add_len > 0 && add == NULL) ||
        (length > 0 && (input == NULL || output == NULL))) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (output > input && (size_t) (output - input) < length) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    if (!start_one(DEC(ctx), &ctx->dec_iv_len, 0, iv, iv_len, add, add_len)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    for (done = 0; done < length; ) {
        size_t n = length - done > INT_MAX / 2 ? INT_MAX / 2 : length - done;
        if (EVP_DecryptUpdate(DEC(ctx), output + done, &outl, input + done, (int) n) != 1) {
            return MBEDTLS_ERR_GCM_BAD_INPUT;
        }
        done += n;
    }
    memcpy(expected, tag, tag_len);
    if (set_tag(DEC(ctx), expected, tag_len) != 1 ||
        EVP_DecryptFinal_ex(DEC(ctx), expected, &outl) != 1) {
        /* Like mbedTLS: no unauthenticated plaintext leaves. */
        mbedtls_platform_zeroize(output, length);
        return MBEDTLS_ERR_GCM_AUTH_FAILED;
    }
    return 0;
}

void mbedtls_gcm_free(mbedtls_gcm_context *ctx)
{
    if (ctx == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(ENC(ctx)); /* wipes the key schedule */
    EVP_CIPHER_CTX_free(DEC(ctx));
    mbedtls_platform_zeroize(ctx, sizeof(*ctx));
}

#endif /* MBEDTLS_GCM_C && MBEDTLS_GCM_ALT */
