/*
 * tandem: the functions of mbedtls/gcm.h on OpenSSL (see gcm_alt.h for why). Compiled into libmbedcrypto by
 * scripts/build-native-deps.sh, with MBEDTLS_GCM_ALT set in config.h.
 *
 * Two paths, chosen when the key is set:
 *  - fast (x86-64 with AES-NI, AES-128 or AES-256): OpenSSL's GCM mode (CRYPTO_gcm128_*, exported by libcrypto,
 *    GHASH with PCLMUL) over an AES-NI key schedule and CTR32 function written here. No EVP call per record.
 *  - EVP: everything else, and TANDEM_GCM_EVP=1 in the environment (how the build tests this path too).
 *
 * One subtlety of the EVP path: mbedTLS's streaming API hands out the computed tag when a *decryption*
 * finishes (the caller compares it), while OpenSSL's EVP only verifies a tag it is given. A GCM tag covers the
 * ciphertext, which an encryption of the recovered plaintext reproduces, so a streamed decryption also runs
 * the plaintext through the encryption context and takes its tag (twice the work; only tandem's frame
 * decryption streams; the DTLS record layer uses mbedtls_gcm_auth_decrypt, which is a single OpenSSL
 * decryption). CRYPTO_gcm128 computes the tag either way, so the fast path needs no such trick.
 */
#include "common.h"

#if defined(MBEDTLS_GCM_C) && defined(MBEDTLS_GCM_ALT)

#include "mbedtls/gcm.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/error.h"
#include "mbedtls/platform.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/params.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TANDEM_GCM_AESNI 1
#include <immintrin.h>
#endif

#define ENC(ctx) ((EVP_CIPHER_CTX *) (ctx)->enc)
#define DEC(ctx) ((EVP_CIPHER_CTX *) (ctx)->dec)

/* ---- The fast path: AES-NI for the block cipher, OpenSSL's CRYPTO_gcm128 for GCM. ---- */

#if defined(TANDEM_GCM_AESNI)

typedef struct {
    __m128i rk[15];  /* round keys: 11 for AES-128, 15 for AES-256 */
    int rounds;      /* 10 or 14 */
} aesni_key;

typedef struct {
    aesni_key key;        /* first: the allocation is 16-byte aligned for it */
    GCM128_CONTEXT *gcm;  /* holds &key (CRYPTO_gcm128_new), so this struct never moves */
} fast_gcm;

#define AESNI_TARGET __attribute__((target("aes,sse4.1")))

/* One step of the FIPS-197 key expansion: the previous four words, each XORed into the next, and the
 * (already broadcast) SubWord/RotWord/Rcon word from aeskeygenassist. */
AESNI_TARGET static __m128i expand_step(__m128i key, __m128i assist)
{
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

#define EXPAND_128(i, rcon) \
    k->rk[i] = expand_step(k->rk[(i) - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon), 0xff))
/* AES-256 alternates: RotWord+SubWord+Rcon of the previous round key, then SubWord alone. */
#define EXPAND_256_A(i, rcon) \
    k->rk[i] = expand_step(k->rk[(i) - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon), 0xff))
#define EXPAND_256_B(i) \
    k->rk[i] = expand_step(k->rk[(i) - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], 0), 0xaa))

/* 0, or -1 for a key size other than 128 or 256 bits (AES-192 stays on the EVP path). */
AESNI_TARGET static int aesni_set_key(aesni_key *k, const unsigned char *key, unsigned int bits)
{
    k->rk[0] = _mm_loadu_si128((const __m128i *) key);
    if (bits == 128) {
        k->rounds = 10;
        EXPAND_128(1, 0x01); EXPAND_128(2, 0x02); EXPAND_128(3, 0x04); EXPAND_128(4, 0x08);
        EXPAND_128(5, 0x10); EXPAND_128(6, 0x20); EXPAND_128(7, 0x40); EXPAND_128(8, 0x80);
        EXPAND_128(9, 0x1b); EXPAND_128(10, 0x36);
        return 0;
    }
    if (bits == 256) {
        k->rounds = 14;
        k->rk[1] = _mm_loadu_si128((const __m128i *) (key + 16));
        EXPAND_256_A(2, 0x01); EXPAND_256_B(3); EXPAND_256_A(4, 0x02); EXPAND_256_B(5);
        EXPAND_256_A(6, 0x04); EXPAND_256_B(7); EXPAND_256_A(8, 0x08); EXPAND_256_B(9);
        EXPAND_256_A(10, 0x10); EXPAND_256_B(11); EXPAND_256_A(12, 0x20); EXPAND_256_B(13);
        EXPAND_256_A(14, 0x40);
        return 0;
    }
    return -1;
}

/* A block128_f: one block (GCM's hash key and the tag mask). */
AESNI_TARGET static void aesni_block(const unsigned char in[16], unsigned char out[16], const void *key)
{
    const aesni_key *k = (const aesni_key *) key;
    __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *) in), k->rk[0]);
    for (int r = 1; r < k->rounds; r++) {
        b = _mm_aesenc_si128(b, k->rk[r]);
    }
    _mm_storeu_si128((__m128i *) out, _mm_aesenclast_si128(b, k->rk[k->rounds]));
}

#define AESNI_8(op, round_key)                                                                  \
    b0 = op(b0, round_key); b1 = op(b1, round_key); b2 = op(b2, round_key); b3 = op(b3, round_key); \
    b4 = op(b4, round_key); b5 = op(b5, round_key); b6 = op(b6, round_key); b7 = op(b7, round_key)

/* A ctr128_f: CTR mode over `blocks` blocks, the counter being the last 32 bits of ivec, big-endian, wrapping
 * (CRYPTO_gcm128_*_ctr32 carries it between calls). Eight blocks in flight hide aesenc's latency; they are
 * written out as eight variables because the compiler keeps an array of them in memory. */
AESNI_TARGET static void aesni_ctr32(const unsigned char *in, unsigned char *out, size_t blocks, const void *key,
                                     const unsigned char ivec[16])
{
    const aesni_key *k = (const aesni_key *) key;
    const __m128i *rk = k->rk;
    const int rounds = k->rounds;
    /* Byte-swaps the last word only (its own inverse): the counter then increments as an integer in lane 3,
     * and the 32-bit add wraps as CTR32 must. */
    const __m128i swap = _mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m128i one = _mm_set_epi32(1, 0, 0, 0);
    __m128i ctr = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) ivec), swap);
#define NEXT_COUNTER_BLOCK() _mm_xor_si128(_mm_shuffle_epi8(ctr = _mm_add_epi32(ctr, one), swap), rk[0])

    for (; blocks >= 8; blocks -= 8, in += 128, out += 128) {
        const __m128i *src = (const __m128i *) in;
        __m128i *dst = (__m128i *) out;
        __m128i b0 = _mm_xor_si128(_mm_shuffle_epi8(ctr, swap), rk[0]);
        __m128i b1 = NEXT_COUNTER_BLOCK(), b2 = NEXT_COUNTER_BLOCK(), b3 = NEXT_COUNTER_BLOCK();
        __m128i b4 = NEXT_COUNTER_BLOCK(), b5 = NEXT_COUNTER_BLOCK(), b6 = NEXT_COUNTER_BLOCK();
        __m128i b7 = NEXT_COUNTER_BLOCK();
        ctr = _mm_add_epi32(ctr, one);
        for (int r = 1; r < rounds; r++) {
            AESNI_8(_mm_aesenc_si128, rk[r]);
        }
        AESNI_8(_mm_aesenclast_si128, rk[rounds]);
        _mm_storeu_si128(dst + 0, _mm_xor_si128(b0, _mm_loadu_si128(src + 0)));
        _mm_storeu_si128(dst + 1, _mm_xor_si128(b1, _mm_loadu_si128(src + 1)));
        _mm_storeu_si128(dst + 2, _mm_xor_si128(b2, _mm_loadu_si128(src + 2)));
        _mm_storeu_si128(dst + 3, _mm_xor_si128(b3, _mm_loadu_si128(src + 3)));
        _mm_storeu_si128(dst + 4, _mm_xor_si128(b4, _mm_loadu_si128(src + 4)));
        _mm_storeu_si128(dst + 5, _mm_xor_si128(b5, _mm_loadu_si128(src + 5)));
        _mm_storeu_si128(dst + 6, _mm_xor_si128(b6, _mm_loadu_si128(src + 6)));
        _mm_storeu_si128(dst + 7, _mm_xor_si128(b7, _mm_loadu_si128(src + 7)));
    }
#undef NEXT_COUNTER_BLOCK
    for (; blocks > 0; blocks--, in += 16, out += 16) {
        __m128i b = _mm_xor_si128(_mm_shuffle_epi8(ctr, swap), rk[0]);
        ctr = _mm_add_epi32(ctr, one);
        for (int r = 1; r < rounds; r++) {
            b = _mm_aesenc_si128(b, rk[r]);
        }
        b = _mm_aesenclast_si128(b, rk[rounds]);
        _mm_storeu_si128((__m128i *) out, _mm_xor_si128(b, _mm_loadu_si128((const __m128i *) in)));
    }
}

static void fast_free(mbedtls_gcm_context *ctx)
{
    fast_gcm *f = (fast_gcm *) ctx->fast;
    if (f == NULL) {
        return;
    }
    CRYPTO_gcm128_release(f->gcm); /* wipes the hash key */
    mbedtls_platform_zeroize(f, sizeof(*f));
    free(f);
    ctx->fast = NULL;
}

/* 1 if the fast path took the key, 0 if the EVP path should (no AES-NI, AES-192, TANDEM_GCM_EVP set). */
static int fast_setkey(mbedtls_gcm_context *ctx, const unsigned char *key, unsigned int keybits)
{
    void *p = NULL;
    fast_gcm *f;
    const char *force_evp = getenv("TANDEM_GCM_EVP");

    fast_free(ctx);
    if ((keybits != 128 && keybits != 256) || (force_evp != NULL && strcmp(force_evp, "1") == 0) ||
        !__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse4.1")) {
        return 0;
    }
    if (posix_memalign(&p, 16, sizeof(fast_gcm)) != 0) {
        return 0;
    }
    f = (fast_gcm *) p;
    if (aesni_set_key(&f->key, key, keybits) != 0 ||
        (f->gcm = CRYPTO_gcm128_new(&f->key, aesni_block)) == NULL) {
        mbedtls_platform_zeroize(f, sizeof(*f));
        free(f);
        return 0;
    }
    ctx->fast = f;
    return 1;
}

#define FAST_GCM(ctx) (((fast_gcm *) (ctx)->fast)->gcm)

#else /* no AES-NI path on this target */

static void fast_free(mbedtls_gcm_context *ctx) { (void) ctx; }
static int fast_setkey(mbedtls_gcm_context *ctx, const unsigned char *key, unsigned int keybits)
{
    (void) ctx; (void) key; (void) keybits;
    return 0;
}
#define FAST_GCM(ctx) ((GCM128_CONTEXT *) NULL)
#define aesni_ctr32 ((ctr128_f) NULL)

#endif /* TANDEM_GCM_AESNI */

/* ---- mbedtls/gcm.h ---- */

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
    ctx->started = 0;
    if (fast_setkey(ctx, key, keybits)) {
        /* EVP contexts of an earlier key on the EVP path: freed, which wipes that key. */
        EVP_CIPHER_CTX_free(ENC(ctx));
        EVP_CIPHER_CTX_free(DEC(ctx));
        ctx->enc = ctx->dec = NULL;
        return 0;
    }
    if (ctx->enc == NULL && (ctx->enc = EVP_CIPHER_CTX_new()) == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (ctx->dec == NULL && (ctx->dec = EVP_CIPHER_CTX_new()) == NULL) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
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
    if (ctx == NULL || (ctx->enc == NULL && ctx->fast == NULL) || iv == NULL || iv_len == 0 ||
        (add_len > 0 && add == NULL)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    if (ctx->fast != NULL) {
        CRYPTO_gcm128_setiv(FAST_GCM(ctx), iv, iv_len);
        if (add_len > 0 && CRYPTO_gcm128_aad(FAST_GCM(ctx), add, add_len) != 0) {
            return MBEDTLS_ERR_GCM_BAD_INPUT;
        }
        ctx->mode = mode;
        ctx->started = 1;
        return 0;
    }
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
    if (ctx->fast != NULL) {
        const int ret = ctx->mode == MBEDTLS_GCM_ENCRYPT
            ? CRYPTO_gcm128_encrypt_ctr32(FAST_GCM(ctx), input, output, length, aesni_ctr32)
            : CRYPTO_gcm128_decrypt_ctr32(FAST_GCM(ctx), input, output, length, aesni_ctr32);
        return ret == 0 ? 0 : MBEDTLS_ERR_GCM_BAD_INPUT;
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
    if (ctx->fast != NULL) {
        CRYPTO_gcm128_tag(FAST_GCM(ctx), full, 16);  /* the tag of what went through, either direction */
        memcpy(tag, full, tag_len);
        mbedtls_platform_zeroize(full, sizeof(full));
        return 0;
    }
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

    if (ctx == NULL || (ctx->dec == NULL && ctx->fast == NULL) || iv == NULL || iv_len == 0 || tag == NULL ||
        tag_len > 16 || tag_len < 4 || (add_len > 0 && add == NULL) ||
        (length > 0 && (input == NULL || output == NULL))) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    if (output > input && (size_t) (output - input) < length) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->started = 0;
    if (ctx->fast != NULL) {
        GCM128_CONTEXT *gcm = FAST_GCM(ctx);
        CRYPTO_gcm128_setiv(gcm, iv, iv_len);
        if ((add_len > 0 && CRYPTO_gcm128_aad(gcm, add, add_len) != 0) ||
            CRYPTO_gcm128_decrypt_ctr32(gcm, input, output, length, aesni_ctr32) != 0) {
            mbedtls_platform_zeroize(output, length);
            return MBEDTLS_ERR_GCM_BAD_INPUT;
        }
        if (CRYPTO_gcm128_finish(gcm, tag, tag_len) != 0) {  /* constant-time comparison */
            mbedtls_platform_zeroize(output, length);  /* like mbedTLS: no unauthenticated plaintext leaves */
            return MBEDTLS_ERR_GCM_AUTH_FAILED;
        }
        return 0;
    }
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
    fast_free(ctx);
    EVP_CIPHER_CTX_free(ENC(ctx)); /* wipes the key schedule */
    EVP_CIPHER_CTX_free(DEC(ctx));
    mbedtls_platform_zeroize(ctx, sizeof(*ctx));
}

#endif /* MBEDTLS_GCM_C && MBEDTLS_GCM_ALT */
