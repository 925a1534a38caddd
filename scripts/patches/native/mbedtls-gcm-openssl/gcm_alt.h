/*
 * tandem: mbedTLS 2.28's AES-GCM (MBEDTLS_GCM_ALT) on OpenSSL, for the native build only.
 *
 * Why: mbedTLS 2.28 runs GCM one 16-byte block at a time through its generic cipher layer, ~6 ns per byte even
 * with AES-NI and PCLMUL; profiled, it was over half of the CPU of a native data channel transfer (DTLS
 * records are AES-128-GCM). OpenSSL's AES-NI + PCLMUL code does the same in well under 1 ns per byte. But
 * through OpenSSL 3.0's EVP interface every record also pays ~450 ns of fixed cost (parameter look-ups by
 * name, the provider's re-initialisation), as much as encrypting a 1 KiB record; so where the CPU has AES-NI,
 * AES-128 and AES-256 keys run on OpenSSL's exported GCM mode (CRYPTO_gcm128_*: its PCLMUL GHASH) with the
 * AES-NI key schedule and CTR32 function in gcm_alt.c, and no EVP call per record (x86-64). Other keys and CPUs, or
 * TANDEM_GCM_EVP=1 in the environment when the key is set, stay on EVP. Everything else in mbedTLS (DTLS,
 * X.509, ECDSA) is unchanged. Built and installed by scripts/build-native-deps.sh, which runs mbedTLS's own GCM
 * and cipher test suites against both paths.
 */
#ifndef TANDEM_MBEDTLS_GCM_ALT_H
#define TANDEM_MBEDTLS_GCM_ALT_H

typedef struct mbedtls_gcm_context {
    void *enc;     /* EVP path: EVP_CIPHER_CTX keyed for encryption; also computes a streamed decryption's tag */
    void *dec;     /* EVP path: EVP_CIPHER_CTX keyed for decryption */
    int mode;      /* MBEDTLS_GCM_ENCRYPT or MBEDTLS_GCM_DECRYPT, from mbedtls_gcm_starts() */
    int started;   /* mbedtls_gcm_starts() succeeded and mbedtls_gcm_finish() has not run yet */
    unsigned long enc_iv_len, dec_iv_len;  /* the IV length each EVP context is set to (asking costs lookups) */
    void *fast;    /* AES-NI path: its key and GCM128_CONTEXT (enc and dec are NULL then); NULL on the EVP path */
} mbedtls_gcm_context;

#endif /* TANDEM_MBEDTLS_GCM_ALT_H */
